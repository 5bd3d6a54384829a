//! MQTT sink: publishes messages to a broker, as devices do (the sensor
//! simulator uses it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{Client, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS};

/// Longest wait for the broker to take what was queued, at [`close`](MqttPublisher::close).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that publishes; the network runs on its own thread and
/// reconnects by itself (messages queue meanwhile).
pub struct MqttPublisher {
    client: Client,
    qos: QoS,
    /// Messages queued, and those the broker has (QoS 1: acknowledged;
    /// QoS 0: written to the socket).
    queued: u64,
    delivered: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl MqttPublisher {
    /// Connects to `host:port` as `client_id`; `qos` 0 or 1.
    pub fn connect(host: &str, port: u16, client_id: &str, qos: u8) -> anyhow::Result<Self> {
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(16 << 20, 16 << 20);
        let (client, mut connection) = Client::new(options, 1024);
        let address = format!("{host}:{port}");
        let qos = if qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let delivered = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&delivered);
        let thread = std::thread::Builder::new()
            .name("mqtt-publish".into())
            .spawn(move || {
                let mut failing = false;
                for event in connection.iter() {
                    match event {
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                        Ok(Event::Incoming(Packet::ConnAck(_))) => failing = false,
                        Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(ConnectionError::RequestsDone) => return,
                        Err(e) => {
                            if !failing {
                                eprintln!(
                                    "gantry: MQTT broker {address} unavailable ({e}); retrying"
                                );
                            }
                            failing = true;
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            })
            .context("cannot start the MQTT publishing thread")?;
        Ok(MqttPublisher {
            client,
            qos,
            queued: 0,
            delivered,
            thread: Some(thread),
        })
    }

    /// Queues a message (blocks while the queue is full).
    pub fn publish(&mut self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .publish(topic, self.qos, false, payload)
            .with_context(|| format!("cannot publish to MQTT topic {topic:?}"))?;
        self.queued += 1;
        Ok(())
    }

    /// Waits (a while at most) until the broker has every queued message,
    /// then disconnects: a disconnect right after the last publish may
    /// close the socket before the last messages are written.
    pub fn close(mut self) {
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while self.delivered.load(Ordering::SeqCst) < self.queued && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}
