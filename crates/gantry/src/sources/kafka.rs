//! Records from a Kafka topic, as a member of a consumer group (rdkafka).
//! Offsets are committed only by [`KafkaSource::commit`], which the worker
//! calls after the store holds the records: a crash or a rebalance
//! replays at most the uncommitted tail.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::config::KafkaConfig;

/// Notes each new assignment of partitions.
#[derive(Default)]
pub struct Assignments {
    assigned: AtomicBool,
}

impl ClientContext for Assignments {}

impl ConsumerContext for Assignments {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            if list.count() > 0 {
                self.assigned.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// One consumed record.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub payload: Vec<u8>,
    /// The `source` and `line` headers a gantry producer sets (the file
    /// and line the record was read from), for rejected rows. Records of
    /// one file share one `source`.
    pub source: Option<Arc<str>>,
    pub line: Option<u64>,
}

/// The group's committed offset in one partition, and the partition's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub partition: i32,
    pub committed: i64,
    pub high: i64,
}

impl Progress {
    /// Records produced and not committed yet.
    pub fn lag(&self) -> i64 {
        (self.high - self.committed).max(0)
    }
}

/// What [`KafkaSource::poll_batch`] got.
pub struct Polled {
    pub records: Vec<Record>,
    /// Partitions were (re)assigned before these records: whatever state
    /// was built from other records must be rebuilt before using them.
    pub reassigned: bool,
}

pub struct KafkaSource {
    consumer: BaseConsumer<Assignments>,
    topic: String,
    group: String,
    /// A record polled just after an assignment, kept for the next batch.
    carry: Option<Record>,
    /// The last record's `source`, for the next one from the same file.
    last_source: Option<Arc<str>>,
    reassigned_pending: bool,
}

impl KafkaSource {
    /// Joins the config's consumer group on its topic. A group new to the
    /// topic starts at the earliest record.
    pub fn subscribe(config: &KafkaConfig) -> anyhow::Result<Self> {
        let consumer: BaseConsumer<Assignments> = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("max.poll.interval.ms", "20000")
            // A broker that holds a fetch until its longest wait (tansu
            // does) would otherwise add up to 500 ms to every record.
            .set("fetch.wait.max.ms", "50")
            .create_with_context(Assignments::default())
            .with_context(|| format!("cannot create a Kafka consumer for {}", config.brokers))?;
        consumer
            .subscribe(&[&config.topic])
            .with_context(|| format!("cannot subscribe to topic {}", config.topic))?;
        Ok(KafkaSource {
            consumer,
            topic: config.topic.clone(),
            group: config.group.clone(),
            carry: None,
            last_source: None,
            reassigned_pending: false,
        })
    }

    /// Up to `max` records, waiting at most `linger` for them. A batch
    /// never mixes records from before and after a reassignment.
    pub fn poll_batch(&mut self, max: usize, linger: Duration) -> anyhow::Result<Polled> {
        let mut records: Vec<Record> = self.carry.take().into_iter().collect();
        let mut reassigned = std::mem::take(&mut self.reassigned_pending);
        let deadline = Instant::now() + linger;
        while records.len() < max {
            let left = deadline.saturating_duration_since(Instant::now());
            let polled = self.consumer.poll(left);
            let assigned = self.context_assigned();
            let record = match polled {
                Some(Ok(message)) => Some(record_of(&message, &mut self.last_source)),
                Some(Err(e)) => {
                    eprintln!("gantry: Kafka: {e}");
                    None
                }
                None => None,
            };
            if assigned {
                if records.is_empty() {
                    reassigned = true;
                } else {
                    self.reassigned_pending = true;
                    self.carry = record;
                    break;
                }
            }
            records.extend(record);
            if left.is_zero() {
                break;
            }
        }
        Ok(Polled {
            records,
            reassigned,
        })
    }

    fn context_assigned(&self) -> bool {
        self.consumer
            .context()
            .assigned
            .swap(false, Ordering::SeqCst)
    }

    /// The partitions of the topic this member holds now.
    pub fn assigned(&self) -> anyhow::Result<Vec<i32>> {
        let list = self
            .consumer
            .assignment()
            .context("cannot read the partition assignment")?;
        Ok(list
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect())
    }

    /// How many partitions the topic has.
    pub fn partition_count(&self) -> anyhow::Result<u32> {
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(10))
            .with_context(|| format!("cannot read the metadata of topic {}", self.topic))?;
        let count = metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic)
            .map_or(0, |t| t.partitions().len());
        u32::try_from(count)
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("topic {} has no partitions", self.topic))
    }

    /// Records of the topic the group has not committed, over all its
    /// partitions, whoever holds them: 0 once everything produced so far
    /// is stored.
    pub fn group_lag(&self) -> anyhow::Result<i64> {
        Ok(self.progress()?.iter().map(Progress::lag).sum())
    }

    /// Where the group stands on each partition of the topic, whoever
    /// holds it.
    pub fn progress(&self) -> anyhow::Result<Vec<Progress>> {
        let mut list = TopicPartitionList::new();
        for partition in 0..i32::try_from(self.partition_count()?).unwrap_or(i32::MAX) {
            list.add_partition(&self.topic, partition);
        }
        let committed = self
            .consumer
            .committed_offsets(list, Duration::from_secs(10))
            .with_context(|| {
                format!("cannot read the committed offsets of group {}", self.group)
            })?;
        let mut progress = Vec::new();
        for e in committed.elements() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(&self.topic, e.partition(), Duration::from_secs(10))
                .with_context(|| {
                    format!(
                        "cannot read the offsets of {}/{}",
                        self.topic,
                        e.partition()
                    )
                })?;
            let committed = match e.offset() {
                Offset::Offset(o) => o,
                _ => low,
            };
            progress.push(Progress {
                partition: e.partition(),
                committed,
                high,
            });
        }
        Ok(progress)
    }

    /// Leaves the group (closing the consumer sends LeaveGroup) and joins
    /// it again with a new member id. Uncommitted records are replayed.
    pub fn rejoin(self, config: &KafkaConfig) -> anyhow::Result<Self> {
        drop(self);
        Self::subscribe(config)
    }

    /// Commits, per partition, the offset after the last record given.
    /// A partition this member lost meanwhile fails to commit; its new
    /// owner replays those records, which the store skips.
    pub fn commit(&self, records: &[Record]) -> anyhow::Result<()> {
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in records {
            let n = next.entry(r.partition).or_insert(r.offset + 1);
            *n = (*n).max(r.offset + 1);
        }
        if next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (partition, offset) in next {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .context("bad offset")?;
        }
        if let Err(e) = self.consumer.commit(&list, CommitMode::Sync) {
            eprintln!("gantry: Kafka offsets not committed (a rebalance replays them): {e}");
        }
        Ok(())
    }
}

/// `message` as a record; its `source` is `last_source` when the same.
fn record_of(message: &BorrowedMessage<'_>, last_source: &mut Option<Arc<str>>) -> Record {
    let mut source = None;
    let mut line = None;
    if let Some(headers) = message.headers() {
        for header in headers.iter() {
            match (header.key, header.value) {
                ("source", Some(v)) => source = Some(shared_source(v, last_source)),
                ("line", Some(v)) => {
                    line = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok())
                }
                _ => {}
            }
        }
    }
    Record {
        partition: message.partition(),
        offset: message.offset(),
        payload: message.payload().unwrap_or_default().to_vec(),
        source,
        line,
    }
}

/// `bytes` as text, shared with the last record's when equal.
fn shared_source(bytes: &[u8], last: &mut Option<Arc<str>>) -> Arc<str> {
    let text = String::from_utf8_lossy(bytes);
    match last {
        Some(same) if **same == *text => Arc::clone(same),
        _ => Arc::clone(last.insert(Arc::from(text.as_ref()))),
    }
}
