//! Records into Kafka topics (rdkafka). Sends are asynchronous; [`KafkaSink::flush`]
//! waits until the broker acknowledged everything sent (`acks=all`) and
//! fails when any record was not delivered, so a caller moves its own
//! position (a tail's position file) only after Kafka has the records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::forward::PointSink;
use gantry_store::series::Queued;

/// How long a record may wait for the broker before it counts as failed.
const DELIVERY_TIMEOUT_MS: &str = "30000";

/// Counts failed deliveries, reported by the producer's thread.
#[derive(Default)]
pub struct Deliveries {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(e.to_string());
            }
        }
    }
}

pub struct KafkaSink {
    producer: ThreadedProducer<Deliveries>,
}

impl KafkaSink {
    /// A producer for `brokers` ("host:port,…"). Keys are hashed with
    /// murmur2, as Java's clients (and so Flume's Kafka sink) do, so one
    /// key (a plate) lands in the same partition whoever produces it.
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("message.timeout.ms", DELIVERY_TIMEOUT_MS)
            .create_with_context(Deliveries::default())
            .with_context(|| format!("cannot create a Kafka producer for {brokers}"))?;
        Ok(KafkaSink { producer })
    }

    /// Queues one record, waiting while the local queue is full.
    pub fn send(
        &self,
        topic: &str,
        key: Option<&str>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> anyhow::Result<()> {
        let mut record = BaseRecord::<str, [u8]>::to(topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e).context("cannot queue a Kafka record"),
            }
        }
    }

    /// Waits until every queued record is acknowledged; an error when any
    /// record since the last flush was not delivered.
    pub fn flush(&self, timeout: Duration) -> anyhow::Result<()> {
        self.producer
            .flush(timeout)
            .context("Kafka did not acknowledge the records in time")?;
        let context = self.producer.context();
        let failed = context.failed.swap(0, Ordering::SeqCst);
        if failed > 0 {
            let why = context
                .last_error
                .lock()
                .ok()
                .and_then(|mut e| e.take())
                .unwrap_or_default();
            bail!("{failed} records were not delivered to Kafka: {why}");
        }
        Ok(())
    }
}

/// IoT points as JSON records on a topic, keyed by series (so one
/// series stays in order within its partition).
pub struct KafkaReadings {
    sink: KafkaSink,
    brokers: String,
    topic: String,
}

impl KafkaReadings {
    pub fn new(brokers: &str, topic: &str) -> anyhow::Result<Self> {
        Ok(KafkaReadings {
            sink: KafkaSink::new(brokers)?,
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
        })
    }
}

/// One reading as the topic carries it.
#[derive(serde::Serialize)]
struct Reading<'a> {
    data_id: &'a str,
    value: f64,
    /// Epoch ms, UTC.
    ts: i64,
    tags: &'a std::collections::BTreeMap<String, String>,
}

impl PointSink for KafkaReadings {
    fn name(&self) -> String {
        format!("kafka:{}/{}", self.brokers, self.topic)
    }

    /// Sends the batch and waits for the broker's acknowledgement of all.
    fn send(&mut self, points: &[Queued]) -> anyhow::Result<()> {
        for p in points {
            let json = serde_json::to_vec(&Reading {
                data_id: &p.series,
                value: p.value,
                ts: p.time_ms,
                tags: &p.tags,
            })?;
            self.sink.send(&self.topic, Some(&p.series), &json, None)?;
        }
        self.sink.flush(Duration::from_secs(30))
    }
}
