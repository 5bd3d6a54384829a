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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use gantry_core::iot::parse_payload;
use rumqttc::{Client, Connection, Event, MqttOptions, Packet, Publish, QoS, RecvTimeoutError};

use crate::config::MqttConfig;
use crate::sinks::series::{now_ms, Ingested, SharedSeries};

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often the loop looks at its stop flag.
const TICK: Duration = Duration::from_millis(200);

/// A running MQTT source; stops when [`MqttSource::stop`] is called.
pub struct MqttSource {
    client: Client,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MqttSource {
    /// Connects (in the background) and starts storing readings.
    pub fn start(config: &MqttConfig, series: SharedSeries) -> anyhow::Result<MqttSource> {
        let (client, connection) = Client::new(options(config), 64);
        let stop = Arc::new(AtomicBool::new(false));
        let follower = Follower {
            client: client.clone(),
            topics: config.topics.clone(),
            qos: qos(config.qos),
            series,
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || follower.run(connection))
            .context("cannot start the MQTT thread")?;
        Ok(MqttSource {
            client,
            stop,
            thread: Some(thread),
        })
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

fn options(config: &MqttConfig) -> MqttOptions {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(config.clean_session)
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
}

impl Follower {
    fn run(self, mut connection: Connection) {
        let mut backoff = Duration::from_millis(100);
        while !self.stop.load(Ordering::SeqCst) {
            match connection.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
                Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    backoff = Duration::from_millis(100);
                    eprintln!("gantry: MQTT connected; subscribing to {:?}", self.topics);
                    if !ack.session_present {
                        self.subscribe();
                    }
                }
                Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => self.store(&publish),
                Ok(Ok(_)) => {}
                Ok(Err(_)) if self.stop.load(Ordering::SeqCst) => return,
                Ok(Err(e)) => {
                    eprintln!("gantry: MQTT broker unavailable ({e}); retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn subscribe(&self) {
        for topic in &self.topics {
            if let Err(e) = self.client.try_subscribe(topic, self.qos) {
                eprintln!("gantry: cannot subscribe to MQTT topic {topic}: {e}");
            }
        }
    }

    /// Stores the message's points (or keeps it as rejected), then
    /// acknowledges it; a store error leaves it unacknowledged, so the
    /// broker sends it again after a reconnect.
    fn store(&self, publish: &Publish) {
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
        if let Err(e) = self.client.try_ack(publish) {
            eprintln!("gantry: cannot acknowledge an MQTT message: {e}");
        }
    }
}
