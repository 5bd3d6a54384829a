//! Records into Kafka topics (rdkafka). Sends are asynchronous; [`KafkaSink::flush`]
//! waits until the broker acknowledged everything sent (`acks=all`) and
//! fails when any record was not delivered, so a caller moves its own
//! position (a tail's position file) only after Kafka has the records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// Counts delivery reports, which the producer's thread receives: every
/// queued record gets exactly one, delivered or failed.
#[derive(Default)]
pub struct Deliveries {
    reports: Mutex<Reports>,
    reported: Condvar,
}

struct Reports {
    count: u64,
    /// Failed deliveries since the last flush, and the last one's error.
    failed: u64,
    last_error: Option<String>,
    /// The least count a flush waits for (`u64::MAX`: none waits). Reports
    /// below it wake nobody: a wake-up per record was a third of a tail's
    /// CPU time.
    wake_at: u64,
}

impl Default for Reports {
    fn default() -> Self {
        Reports {
            count: 0,
            failed: 0,
            last_error: None,
            wake_at: u64::MAX,
        }
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut reports = self.reports.lock().unwrap_or_else(PoisonError::into_inner);
        reports.count += 1;
        if let Err((e, _)) = result {
            reports.failed += 1;
            reports.last_error = Some(e.to_string());
        }
        if reports.count >= reports.wake_at {
            // Every waiter wakes and asks again for what it still needs.
            reports.wake_at = u64::MAX;
            drop(reports);
            self.reported.notify_all();
        }
    }
}

pub struct KafkaSink {
    producer: ThreadedProducer<Deliveries>,
    /// Records handed to the producer so far.
    queued: AtomicU64,
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
        Ok(KafkaSink {
            producer,
            queued: AtomicU64::new(0),
        })
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
                Ok(()) => {
                    self.queued.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e).context("cannot queue a Kafka record"),
            }
        }
    }

    /// Waits until every queued record is acknowledged; an error when any
    /// record since the last flush was not delivered. It waits for the
    /// delivery reports themselves: rdkafka's own flush, beside the
    /// producer's polling thread, sleeps in steps of 100 ms, which capped a
    /// tail that flushes every few thousand lines at ~65,000 lines/s.
    pub fn flush(&self, timeout: Duration) -> anyhow::Result<()> {
        let context = self.producer.context();
        let queued = self.queued.load(Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        let mut reports = context
            .reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while reports.count < queued {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                bail!("Kafka did not acknowledge the records in time");
            };
            reports.wake_at = reports.wake_at.min(queued);
            reports = context
                .reported
                .wait_timeout(reports, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let failed = std::mem::take(&mut reports.failed);
        if failed > 0 {
            let why = reports.last_error.take().unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    mod broker {
        include!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/common/kafka.rs"
        ));
    }
    use broker::{create_topic, kafka_brokers as brokers};

    /// Against the real broker: each flush returns with a report for every
    /// record sent before it, all deliveries, and a consumer then reads
    /// back every record once.
    #[test]
    fn flush_returns_once_the_broker_acknowledged_every_record() {
        let sink = KafkaSink::new(&brokers()).unwrap();
        let topic = format!("gantry-sink-flush-{}", std::process::id());
        create_topic(&topic, 2);
        for round in 1..=3 {
            for i in 0..5000 {
                let key = format!("川A{i:05}");
                sink.send(&topic, Some(&key), key.as_bytes(), None).unwrap();
            }
            sink.flush(Duration::from_secs(30)).unwrap();
            let reports = sink.producer.context().reports.lock().unwrap().count;
            assert_eq!(reports, round * 5000);
        }
        let mut seen = std::collections::HashMap::<Vec<u8>, u32>::new();
        for payload in read_back(&topic, 2, 15_000) {
            *seen.entry(payload).or_default() += 1;
        }
        assert_eq!(seen.len(), 5000);
        assert!(seen.values().all(|&n| n == 3));
    }

    /// The payloads of `topic` from its start: `expected` of them, plus
    /// any that arrive within a second after.
    fn read_back(topic: &str, partitions: i32, expected: usize) -> Vec<Vec<u8>> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::{Message, Offset, TopicPartitionList};
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("group.id", format!("{topic}-check"))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut payloads = Vec::new();
        let mut deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                payloads.push(message.unwrap().payload().unwrap_or_default().to_vec());
                if payloads.len() == expected {
                    deadline = std::time::Instant::now() + Duration::from_secs(1);
                }
            }
        }
        payloads
    }

    /// Nothing listens on port 1: the record is never acknowledged, and
    /// flush says so rather than succeeding.
    #[test]
    fn flush_fails_when_nothing_acknowledges() {
        let sink = KafkaSink::new("127.0.0.1:1").unwrap();
        sink.send("gantry-nowhere", Some("川A00001"), b"line", None)
            .unwrap();
        let err = sink.flush(Duration::from_millis(300)).unwrap_err();
        assert!(err.to_string().contains("did not acknowledge"), "{err}");
    }
}
