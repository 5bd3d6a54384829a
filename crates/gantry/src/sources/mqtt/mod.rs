//! MQTT source: follows a broker's topics (default `sensors/#`) and stores
//! every reading IoT devices publish, in any payload shape
//! [`gantry_core::iot::parse_payload`] reads.
//!
//! QoS 1 messages are acknowledged by hand, only once their points (or the
//! payload, when refused) are in the series store; with a persistent
//! session (`clean_session = false`) the broker redelivers whatever was not
//! acknowledged, and queues what arrives while gantry is down, so a restart
//! loses nothing. A lost connection is retried with growing back-off.

pub mod broker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_core::iot::parse_payload;
use rumqttc::{Client, Connection, Event, MqttOptions, Packet, Publish, QoS, RecvTimeoutError};

use crate::config::MqttConfig;
use crate::sinks::series::{now_ms, Ingested, SharedSeries};

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often the loop looks at its stop flag.
const TICK: Duration = Duration::from_millis(200);

/// Where the connection stands, for callers that wait for it.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Connecting,
    Connected,
    Failed(String),
}

/// A running MQTT source; stops when [`MqttSource::stop`] is called.
pub struct MqttSource {
    client: Client,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<Status>>,
    address: String,
    thread: Option<JoinHandle<()>>,
}

impl MqttSource {
    /// Connects (in the background) and starts storing readings.
    pub fn start(config: &MqttConfig, series: SharedSeries) -> anyhow::Result<MqttSource> {
        let (client, connection) = Client::new(options(config), REQUESTS);
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(Status::Connecting));
        let follower = Follower {
            client: client.clone(),
            topics: config.topics.clone(),
            qos: qos(config.qos),
            series,
            stop: Arc::clone(&stop),
            status: Arc::clone(&status),
            unacked: VecDeque::new(),
        };
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || follower.run(connection))
            .context("cannot start the MQTT thread")?;
        Ok(MqttSource {
            client,
            stop,
            status,
            address: format!("{}:{}", config.host, config.port),
            thread: Some(thread),
        })
    }

    /// Waits up to `limit` for the broker to accept the connection; the
    /// first failed attempt ends the wait, with its reason.
    pub fn wait_connected(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let status = self
                .status
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match status {
                Status::Connected => return Ok(()),
                Status::Failed(why) => {
                    bail!("cannot connect to MQTT broker {}: {why}", self.address)
                }
                _ if Instant::now() >= deadline => {
                    bail!(
                        "MQTT broker {} did not answer within {limit:?}",
                        self.address
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Publishes `payload` on `topic` at QoS 1 (queued while reconnecting).
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .with_context(|| format!("cannot publish to MQTT topic {topic:?}"))
    }

    /// Disconnects and waits for the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Requests (acks, subscriptions, publishes) queued for the connection.
const REQUESTS: usize = 1024;

/// Largest MQTT packet taken or sent. rumqttc's default (10 KiB) drops
/// the connection on a batched payload; a dropped connection under a kept
/// session gets the same message again, so one big payload would stall
/// the source for good.
const MAX_PACKET: usize = 16 << 20;

fn options(config: &MqttConfig) -> MqttOptions {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(config.clean_session)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_manual_acks(true);
    if !config.username.is_empty() {
        options.set_credentials(&config.username, &config.password);
    }
    options
}

fn qos(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

struct Follower {
    client: Client,
    topics: Vec<String>,
    qos: QoS,
    series: SharedSeries,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<Status>>,
    /// Stored messages whose acks did not fit the request queue yet; they
    /// go out in order as the connection drains it.
    unacked: VecDeque<Publish>,
}

impl Follower {
    fn set(&self, status: Status) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }

    fn run(mut self, mut connection: Connection) {
        let mut backoff = Duration::from_millis(100);
        while !self.stop.load(Ordering::SeqCst) {
            self.send_acks();
            match connection.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    backoff = Duration::from_millis(100);
                    self.set(Status::Connected);
                    eprintln!("gantry: MQTT connected; subscribing to {:?}", self.topics);
                    // Also with a session kept from before: the topics may
                    // have changed since, and subscribing again is harmless.
                    self.subscribe();
                }
                Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => self.store(publish),
                Ok(Ok(_)) => {}
                Ok(Err(_)) if self.stop.load(Ordering::SeqCst) => return,
                Ok(Err(e)) => {
                    // Packet ids start over on the new connection; the
                    // broker sends what was not acknowledged again.
                    self.unacked.clear();
                    self.set(Status::Failed(e.to_string()));
                    eprintln!("gantry: MQTT broker unavailable ({e}); retrying in {backoff:?}");
                    self.pause(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Sleeps `how_long`, or less when asked to stop.
    fn pause(&self, how_long: Duration) {
        let until = Instant::now() + how_long;
        while !self.stop.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
        }
    }

    fn subscribe(&self) {
        for topic in &self.topics {
            if let Err(e) = self.client.try_subscribe(topic, self.qos) {
                eprintln!("gantry: cannot subscribe to MQTT topic {topic}: {e}");
            }
        }
    }

    /// Acknowledges stored messages, oldest first, as far as the request
    /// queue takes them.
    fn send_acks(&mut self) {
        while let Some(publish) = self.unacked.front() {
            if self.client.try_ack(publish).is_err() {
                return;
            }
            self.unacked.pop_front();
        }
    }

    /// Stores the message's points (or keeps it as rejected), then
    /// acknowledges it; a store error leaves it unacknowledged, so the
    /// broker sends it again after a reconnect.
    fn store(&mut self, publish: Publish) {
        let arrival = now_ms();
        let parsed = parse_payload(&publish.payload, &publish.topic, arrival);
        match self
            .series
            .ingest(&publish.payload, &publish.topic, parsed, arrival)
        {
            Ok(Ingested::Stored { .. }) => {}
            Ok(Ingested::Rejected(e)) => {
                eprintln!("gantry: MQTT payload on {} refused: {e}", publish.topic);
            }
            Err(e) => {
                eprintln!(
                    "gantry: cannot store MQTT readings from {}: {e}",
                    publish.topic
                );
                return;
            }
        }
        if publish.qos != QoS::AtMostOnce {
            self.unacked.push_back(publish);
            self.send_acks();
        }
    }
}

/// The one MQTT connection of a server, which `POST /connect/` may move to
/// another broker at run time (as the classic Flask app does).
pub struct MqttLink {
    series: SharedSeries,
    current: Mutex<Option<MqttSource>>,
}

/// How long `POST /connect/` waits for the new broker.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

impl MqttLink {
    /// A link following `config` (connecting in the background, retrying
    /// while the broker is down), or none yet.
    pub fn start(config: Option<&MqttConfig>, series: SharedSeries) -> anyhow::Result<MqttLink> {
        let current = config
            .map(|c| MqttSource::start(c, series.clone()))
            .transpose()?;
        Ok(MqttLink {
            series,
            current: Mutex::new(current),
        })
    }

    /// Follows `config` from now on, once its broker accepts the
    /// connection; until then, and if it refuses, the old one stays.
    pub fn connect(&self, config: &MqttConfig) -> anyhow::Result<()> {
        let next = MqttSource::start(config, self.series.clone())?;
        if let Err(e) = next.wait_connected(CONNECT_WAIT) {
            next.stop();
            return Err(e);
        }
        let old = self.lock().replace(next);
        if let Some(old) = old {
            old.stop();
        }
        Ok(())
    }

    /// Publishes on the current broker.
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        match self.lock().as_ref() {
            Some(source) => source.publish(topic, payload),
            None => bail!("no MQTT broker is connected: POST /connect/ first"),
        }
    }

    pub fn stop(&self) {
        if let Some(source) = self.lock().take() {
            source.stop();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MqttSource>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
