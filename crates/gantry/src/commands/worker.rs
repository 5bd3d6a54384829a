//! `gantry worker`: one member of a Kafka consumer group on the raw topic.
//! Per batch of records: parse, detect, store (idempotent on GCXH), push
//! the new warnings to Redis (at most once per id) and to the warnings
//! topic, and only then commit the offsets. A crash or a rebalance replays
//! at most the uncommitted records, which the store and Redis skip. The
//! store and the sinks work on a thread of their own ([`Writer`]), one
//! batch behind the loop that polls and detects.
//!
//! Records are keyed by plate, so one plate's records are in one partition,
//! in order: each partition gets a detector of its own, with its own event
//! time watermark, as partitions progress unevenly. When partitions are
//! assigned, each one's detector is rebuilt from the store's recent passes
//! of the plates that hash to it, so a plate moving between workers keeps
//! its history and a rebalance misses no clone.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use gantry_core::partition::partition_of;
use gantry_core::{CheckpointDirectory, Detector, DetectorConfig, Warning};
use gantry_store::{Batch, Store, WriteSummary};

use crate::cli::{StoreArgs, WorkerArgs};
use crate::clock::china_now;
use crate::config::Config;
use crate::pipeline::{detect_lines, SourcedLine};
use crate::sinks::kafka::KafkaSink;
use crate::sinks::redis::RedisWarnings;
use crate::sources::kafka::{KafkaSource, Progress, Record};

/// One detector per assigned partition.
struct Detectors {
    settings: DetectorConfig,
    checkpoints: CheckpointDirectory,
    by_partition: BTreeMap<i32, Detector>,
}

impl Detectors {
    fn new(settings: DetectorConfig, checkpoints: CheckpointDirectory) -> Self {
        Detectors {
            settings,
            checkpoints,
            by_partition: BTreeMap::new(),
        }
    }

    fn fresh(&self) -> Detector {
        Detector::new(self.settings.clone(), self.checkpoints.clone())
    }

    /// New detectors for the partitions `source` holds now, fed with the
    /// recent stored passes of their plates; returns the warnings that
    /// raised (already stored).
    fn rebuild(
        &mut self,
        source: &KafkaSource,
        store: &mut dyn gantry_store::Store,
    ) -> anyhow::Result<Vec<Warning>> {
        let partitions = source.partition_count()?;
        let assigned = source.assigned()?;
        eprintln!("gantry worker: partitions {assigned:?} of {partitions} assigned");
        self.by_partition = assigned.into_iter().map(|p| (p, self.fresh())).collect();
        let recent = super::recent_passes(store, self.settings.horizon_s)?;
        let by_partition = &mut self.by_partition;
        super::restore_with(store, &recent, |pass, now, out| {
            let partition = partition_of(pass.plate.as_bytes(), partitions) as i32;
            match by_partition.get_mut(&partition) {
                Some(detector) => {
                    detector.observe(&pass.as_ref(), now, out);
                    true
                }
                None => false,
            }
        })
    }

    /// The records' batch, each partition's through its own detector.
    fn detect(&mut self, records: &[Record], topic: &str) -> gantry_store::Batch {
        let mut by_partition: BTreeMap<i32, Vec<&Record>> = BTreeMap::new();
        for r in records {
            by_partition.entry(r.partition).or_default().push(r);
        }
        let mut batch = gantry_store::Batch::default();
        for (partition, records) in by_partition {
            if !self.by_partition.contains_key(&partition) {
                let fresh = self.fresh();
                self.by_partition.insert(partition, fresh);
            }
            let Some(detector) = self.by_partition.get_mut(&partition) else {
                continue;
            };
            let part = detect_records(&records, topic, detector);
            batch.passes.extend(part.passes);
            batch.warnings.extend(part.warnings);
            batch.rejected.extend(part.rejected);
        }
        batch
    }

    /// Releases what every detector holds back for late records.
    fn flush(&mut self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let now = china_now();
        for detector in self.by_partition.values_mut() {
            detector.flush(now, &mut warnings);
        }
        warnings
    }
}

/// How long the broker may take to acknowledge warnings.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often retention looks for days to drop.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// `store.retention_days`: passes older than that many days (China time)
/// are dropped at start and every hour; 0 keeps everything.
struct Retention {
    days: u32,
    every: Cooldown,
}

impl Retention {
    fn new(days: u32) -> Self {
        Retention {
            days,
            every: Cooldown::new(RETENTION_EVERY),
        }
    }

    fn run_if_due(&mut self, store: &mut dyn gantry_store::Store) -> anyhow::Result<()> {
        if self.days == 0 || !self.every.due() {
            return Ok(());
        }
        let today = china_now().date();
        let Some(cutoff) = today.checked_sub_days(chrono::Days::new(u64::from(self.days))) else {
            return Ok(());
        };
        let dropped = store
            .drop_passes_before(cutoff)
            .context("retention could not drop old passes")?;
        if dropped > 0 {
            eprintln!("gantry worker: retention dropped {dropped} passes before {cutoff}");
        }
        Ok(())
    }
}

/// Least time between two rejoins of the group, so a broker that keeps
/// handing out a poor assignment cannot make the worker churn.
const REJOIN_COOLDOWN: Duration = Duration::from_secs(15);

/// How often the worker looks for partitions nobody consumes.
const ORPHAN_CHECK_EVERY: Duration = Duration::from_secs(5);

/// How long a partition with records waiting may go without a commit
/// before it counts as orphaned: longer than the session timeout (10 s),
/// by which the broker has evicted a dead member.
const ORPHAN_AFTER: Duration = Duration::from_secs(15);

/// Watches for partitions nobody consumes. Kafka's assignors never leave
/// one so; tansu 0.6 does after a member dies: it evicts the member but
/// hands the survivors their old assignment again. Leaving the group and
/// joining again ([`KafkaSource::rejoin`]) makes it assign anew. (The
/// group's member list would tell sooner, but tansu lists no groups.)
#[derive(Default)]
struct OrphanWatch {
    /// Per partition with records waiting: its committed offset, and since
    /// when it has not moved.
    still: HashMap<i32, (i64, Instant)>,
}

impl OrphanWatch {
    /// Whether a partition another member holds has had records waiting
    /// and no commit for [`ORPHAN_AFTER`] while this member's own
    /// partitions did not stall: a store everyone waits on stalls them
    /// all, which a rejoin would not mend.
    fn orphaned(&mut self, progress: &[Progress], mine: &[i32], now: Instant) -> bool {
        let mut still = HashMap::new();
        let (mut mine_stalled, mut other_stalled) = (false, false);
        for p in progress.iter().filter(|p| p.lag() > 0) {
            let since = match self.still.get(&p.partition) {
                Some(&(committed, since)) if committed == p.committed => since,
                _ => now,
            };
            still.insert(p.partition, (p.committed, since));
            if now.duration_since(since) >= ORPHAN_AFTER {
                if mine.contains(&p.partition) {
                    mine_stalled = true;
                } else {
                    other_stalled = true;
                }
            }
        }
        self.still = still;
        other_stalled && !mine_stalled
    }
}

/// Allows an action at most once per period.
struct Cooldown {
    period: Duration,
    last: Option<Instant>,
}

impl Cooldown {
    fn new(period: Duration) -> Self {
        Cooldown { period, last: None }
    }

    /// True (and restarts the period) when the last time is long enough ago.
    fn due(&mut self) -> bool {
        if self.last.is_some_and(|t| t.elapsed() < self.period) {
            return false;
        }
        self.last = Some(Instant::now());
        true
    }
}

/// Where new warnings go besides the store.
struct Publisher {
    redis: Option<RedisWarnings>,
    kafka: KafkaSink,
    topic: String,
}

impl Publisher {
    /// Retries each sink with growing pauses until it takes the warnings:
    /// the offsets are not committed before, so nothing is lost, and
    /// Redis's id markers keep a retry from pushing twice.
    fn publish(&mut self, warnings: &[Warning], stop: &AtomicBool) -> anyhow::Result<()> {
        if warnings.is_empty() {
            return Ok(());
        }
        super::retry("Redis", stop, || match &mut self.redis {
            Some(redis) => redis.push(warnings).map(drop),
            None => Ok(()),
        })?;
        super::retry("Kafka", stop, || {
            for w in warnings {
                let json = serde_json::to_vec(w)?;
                self.kafka.send(&self.topic, Some(&w.plate), &json, None)?;
            }
            self.kafka.flush(FLUSH_TIMEOUT)
        })
    }
}

/// The store, shared by the writer thread and the loop (which reads it to
/// rebuild detectors only once the writer has drained).
type SharedStore = Arc<Mutex<Box<dyn Store>>>;

fn lock(store: &SharedStore) -> MutexGuard<'_, Box<dyn Store>> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// A batch for the writer, and the records whose offsets it settles.
struct Job {
    batch: Batch,
    records: Vec<Record>,
}

/// Stores and publishes batches on a thread of its own, in order, while
/// the loop polls and detects the next one: the store is busy all the
/// time instead of waiting for every poll. Each job's records come back
/// once their batch is stored and published, and only then are their
/// offsets committed. At most [`IN_FLIGHT`] batches are on their way, so
/// a slow store slows the polling.
struct Writer {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Vec<Record>>,
    handle: Option<JoinHandle<anyhow::Result<WriteSummary>>>,
    in_flight: usize,
}

/// Batches queued behind the one being written.
const IN_FLIGHT: usize = 1;

impl Writer {
    fn spawn(store: SharedStore, mut publisher: Publisher, stop: Arc<AtomicBool>) -> Self {
        let (jobs, queue) = mpsc::sync_channel::<Job>(IN_FLIGHT);
        let (report, done) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("worker-writer".into())
            .spawn(move || {
                let mut total = WriteSummary::default();
                for job in queue {
                    let summary = super::store_batch(lock(&store).as_mut(), &job.batch, &stop)?;
                    total.add(summary);
                    publisher.publish(&job.batch.warnings, &stop)?;
                    if report.send(job.records).is_err() {
                        break;
                    }
                }
                Ok(total)
            })
            .expect("spawning a thread only fails when the OS is out of threads");
        Writer {
            jobs: Some(jobs),
            done,
            handle: Some(handle),
            in_flight: 0,
        }
    }

    /// Queues a job, waiting while the writer is [`IN_FLIGHT`] behind.
    fn send(&mut self, job: Job) -> anyhow::Result<()> {
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        if !sent {
            return Err(self.failure());
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Commits the offsets of every batch written since the last call.
    fn commit_written(&mut self, source: &KafkaSource) -> anyhow::Result<()> {
        while let Ok(records) = self.done.try_recv() {
            self.in_flight -= 1;
            source.commit(&records)?;
        }
        Ok(())
    }

    /// Waits until every queued batch is written, committing their offsets.
    fn drain(&mut self, source: &KafkaSource) -> anyhow::Result<()> {
        while self.in_flight > 0 {
            let Ok(records) = self.done.recv() else {
                return Err(self.failure());
            };
            self.in_flight -= 1;
            source.commit(&records)?;
        }
        Ok(())
    }

    /// Writes what is queued, commits it and returns the writer's totals.
    fn finish(mut self, source: &KafkaSource) -> anyhow::Result<WriteSummary> {
        self.jobs = None;
        let total = self.join();
        self.commit_written(source)?;
        total
    }

    /// Why the writer stopped.
    fn failure(&mut self) -> anyhow::Error {
        self.jobs = None;
        match self.join() {
            Err(e) => e,
            Ok(_) => anyhow::anyhow!("the store writer stopped"),
        }
    }

    fn join(&mut self) -> anyhow::Result<WriteSummary> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(WriteSummary::default()),
        }
    }
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let kafka = config
        .kafka
        .clone()
        .context("the config has no [kafka] section: the worker consumes Kafka")?;
    let store_args = StoreArgs {
        config: Some(args.config.clone()),
        data_dir: None,
        shards: None,
    };
    let mut store = super::open_configured(&store_args, &config, false)?;
    let checkpoints =
        super::checkpoints_with(store.as_mut(), config.detector.checkpoints.as_deref())?;
    let settings = super::detector_from_config(&config.detector);
    let mut detectors = Detectors::new(settings, checkpoints);
    let publisher = Publisher {
        redis: config.redis.as_ref().map(RedisWarnings::new).transpose()?,
        kafka: KafkaSink::new(&kafka.brokers)?,
        topic: kafka.warnings_topic.clone(),
    };
    let mut source = KafkaSource::subscribe(&kafka)?;
    let stop = super::stop_flag()?;
    println!(
        "gantry worker: group {} on topic {} at {}",
        kafka.group, kafka.topic, kafka.brokers
    );
    let store: SharedStore = Arc::new(Mutex::new(store));
    let mut writer = Writer::spawn(Arc::clone(&store), publisher, Arc::clone(&stop));
    let linger = Duration::from_millis(kafka.batch_linger_ms);
    let idle_flush = Duration::from_millis(args.idle_flush_ms);
    let idle_exit = args.idle_exit_ms.map(Duration::from_millis);
    let mut retention = Retention::new(config.store.retention_days);
    let mut last_record = Instant::now();
    let mut flushed = true;
    let mut rejoin = Cooldown::new(REJOIN_COOLDOWN);
    let mut orphan_check = Cooldown::new(ORPHAN_CHECK_EVERY);
    let mut orphans = OrphanWatch::default();
    let mut drain_check = Cooldown::new(Duration::from_secs(1));
    while !stop.load(Ordering::SeqCst) {
        writer.commit_written(&source)?;
        if let Err(e) = retention.run_if_due(lock(&store).as_mut()) {
            // Old passes wait for the next round; ingest goes on.
            eprintln!("gantry worker: {e:#}");
        }
        let polled = source.poll_batch(kafka.batch_max.max(1), linger)?;
        if orphan_check.due() && orphaned(&source, &mut orphans) && rejoin.due() {
            // The polled records are not committed: whoever gets their
            // partition now reads them again.
            eprintln!("gantry worker: a partition has gone unconsumed; rejoining the group");
            writer.drain(&source)?;
            source = source.rejoin(&kafka)?;
            orphans = OrphanWatch::default();
            continue;
        }
        if polled.reassigned {
            // The rebuild reads the store: everything detected before
            // must be in it.
            writer.drain(&source)?;
            let mut restored = Vec::new();
            super::retry("the store", &stop, || {
                restored = detectors.rebuild(&source, lock(&store).as_mut())?;
                Ok(())
            })?;
            // Already stored; storing them again is a no-op.
            writer.send(Job {
                batch: warnings_only(restored),
                records: Vec::new(),
            })?;
            // The restored detectors hold their newest passes back for late
            // records like any other: the next idle spell releases them.
            flushed = false;
        }
        if polled.records.is_empty() {
            let idle = last_record.elapsed();
            if !flushed && idle >= idle_flush {
                // No record is coming to move the watermark: release
                // what the detector holds back for late records.
                writer.send(Job {
                    batch: warnings_only(detectors.flush()),
                    records: Vec::new(),
                })?;
                flushed = true;
            }
            // Idle is not done while the group has records left: a
            // partition nobody consumes yet, or one a peer still works on.
            if idle_exit.is_some_and(|limit| idle >= limit) && drain_check.due() {
                writer.drain(&source)?;
                if group_drained(&source) {
                    break;
                }
            }
            continue;
        }
        last_record = Instant::now();
        flushed = false;
        let batch = detectors.detect(&polled.records, &kafka.topic);
        writer.send(Job {
            batch,
            records: polled.records,
        })?;
    }
    let total = writer.finish(&source)?;
    lock(&store).close().context("cannot close the store")?;
    println!(
        "accepted {}  duplicates {}  rejected {}  warnings {} new",
        total.inserted, total.duplicates, total.rejected, total.warnings_inserted
    );
    Ok(())
}

fn warnings_only(warnings: Vec<Warning>) -> Batch {
    Batch {
        warnings,
        ..Default::default()
    }
}

/// Whether [`OrphanWatch`] finds a partition orphaned now; a broker that
/// cannot say is asked again later.
fn orphaned(source: &KafkaSource, watch: &mut OrphanWatch) -> bool {
    let progress = source.progress().and_then(|p| Ok((p, source.assigned()?)));
    match progress {
        Ok((progress, mine)) => watch.orphaned(&progress, &mine, Instant::now()),
        Err(e) => {
            eprintln!("gantry worker: cannot read the group's progress: {e:#}");
            false
        }
    }
}

/// Whether the group has committed every record of the topic; a broker
/// that cannot say is asked again later.
fn group_drained(source: &KafkaSource) -> bool {
    match source.group_lag() {
        Ok(lag) => lag == 0,
        Err(e) => {
            eprintln!("gantry worker: cannot read the group's lag: {e:#}");
            false
        }
    }
}

/// The batch of one partition's `records`: each a format (a) line;
/// rejected ones keep the file and line the producer named in headers,
/// else topic/partition and offset.
fn detect_records(
    records: &[&Record],
    topic: &str,
    detector: &mut Detector,
) -> gantry_store::Batch {
    let fallback = records
        .first()
        .map(|r| format!("kafka:{topic}/{}", r.partition))
        .unwrap_or_default();
    let lines = records.iter().map(|r| SourcedLine {
        source: r.source.as_deref().unwrap_or(&fallback),
        line: r
            .line
            .unwrap_or_else(|| u64::try_from(r.offset).unwrap_or(0) + 1),
        bytes: &r.payload,
    });
    detect_lines(lines, detector, china_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, committed: i64, high: i64) -> Progress {
        Progress {
            partition,
            committed,
            high,
        }
    }

    #[test]
    fn a_partition_of_another_member_with_no_commit_for_long_is_orphaned() {
        let mut watch = OrphanWatch::default();
        let t0 = Instant::now();
        let later = |s| t0 + Duration::from_secs(s);
        let mine = [0, 1];
        let progress = |own| [at(0, own, 900), at(1, own, 900), at(2, 10, 900)];
        assert!(!watch.orphaned(&progress(100), &mine, t0));
        assert!(!watch.orphaned(&progress(200), &mine, later(10)));
        assert!(watch.orphaned(&progress(300), &mine, later(15)));
    }

    #[test]
    fn a_partition_that_commits_or_is_caught_up_is_not_orphaned() {
        let mut watch = OrphanWatch::default();
        let t0 = Instant::now();
        let later = |s| t0 + Duration::from_secs(s);
        let mine = [0];
        // Partition 1 moves on; partition 2 has nothing waiting.
        for (i, s) in [0, 10, 20, 30].into_iter().enumerate() {
            let moved = 10 + i as i64;
            let progress = [at(0, 5, 5), at(1, moved, 900), at(2, 7, 7)];
            assert!(!watch.orphaned(&progress, &mine, later(s)));
        }
    }

    #[test]
    fn no_rejoin_when_this_members_partitions_stall_too() {
        // A shard everyone waits on stalls every partition alike.
        let mut watch = OrphanWatch::default();
        let t0 = Instant::now();
        let progress = [at(0, 10, 900), at(1, 10, 900)];
        assert!(!watch.orphaned(&progress, &[0], t0));
        assert!(!watch.orphaned(&progress, &[0], t0 + Duration::from_secs(30)));
    }
}
