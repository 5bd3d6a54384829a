//! The detector alone, with 2M active plates: how many events per second
//! one core takes through reorder buffer, per-plate state and rules.
//!
//! 100 checkpoints sit 10 km apart on a ring; plate `i` is seen at the next
//! checkpoint every 1,000 s (36 km/h), 2,000 events per event-second, so the
//! state holds 2M plates and the reorder buffer 300 s × 2,000 events.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::geo::GeoPoint;
use gantry_core::{CheckpointDirectory, Detector, DetectorConfig, PassRef};

/// The allocator and options the `gantry` binary ships with: the plate
/// table sits on transparent huge pages, as it does in production.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"thp:always,metadata_thp:auto,dirty_decay_ms:1000\0";

const PLATES: usize = 2_000_000;
const CHECKPOINTS: usize = 100;
const EVENTS_PER_SECOND: usize = 2_000;
const BATCH: usize = 1_000_000;

struct Workload {
    plates: Vec<String>,
    checkpoints: Vec<String>,
    ids: Vec<String>,
    start: NaiveDateTime,
}

impl Workload {
    fn new() -> Self {
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        let plates = (0..PLATES)
            .map(|mut i| {
                let mut p = String::from("川A");
                for _ in 0..5 {
                    p.push(LETTERS[i % LETTERS.len()] as char);
                    i /= LETTERS.len();
                }
                p
            })
            .collect();
        Workload {
            plates,
            checkpoints: (0..CHECKPOINTS)
                .map(|i| format!("G5测试卡口{i:03}"))
                .collect(),
            ids: (0..PLATES * 4)
                .map(|i| format!("{:018}", 510_000_000_000_000_000u64 + i as u64))
                .collect(),
            start: NaiveDate::from_ymd_opt(2023, 12, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        }
    }

    fn directory(&self) -> CheckpointDirectory {
        let mut dir = CheckpointDirectory::new();
        let radius_deg = 1000.0 / (2.0 * std::f64::consts::PI) / 111.2;
        for (i, name) in self.checkpoints.iter().enumerate() {
            let a = i as f64 / CHECKPOINTS as f64 * 2.0 * std::f64::consts::PI;
            dir.upsert(Checkpoint {
                name: name.clone(),
                code: String::new(),
                location: Some(GeoPoint {
                    lon: 104.0 + radius_deg * a.cos() / 30f64.to_radians().cos(),
                    lat: 30.0 + radius_deg * a.sin(),
                }),
            });
        }
        dir
    }

    /// Event `n` of the endless stream.
    fn event(&self, n: usize) -> PassRef<'_> {
        let plate = n % PLATES;
        let round = n / PLATES;
        PassRef {
            id: &self.ids[n % self.ids.len()],
            district: "",
            checkpoint: &self.checkpoints[(plate + round) % CHECKPOINTS],
            direction: "",
            time: self.start + chrono::Duration::seconds((n / EVENTS_PER_SECOND) as i64),
            plate_type: Cow::Borrowed("02"),
            plate: &self.plates[plate],
            brand: "-",
        }
    }
}

fn detector(c: &mut Criterion) {
    let work = Workload::new();
    let mut detector = Detector::new(DetectorConfig::default(), work.directory());
    let mut out = Vec::new();
    let now = work.start;
    // Warm up: every plate seen once.
    for n in 0..PLATES {
        detector.observe(&work.event(n), now, &mut out);
    }
    let mut next = PLATES;
    let mut group = c.benchmark_group("detector");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function("observe_2M_active_plates", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                for n in next..next + BATCH {
                    detector.observe(&work.event(n), now, &mut out);
                }
                spent += started.elapsed();
                next += BATCH;
                out.clear();
            }
            spent
        })
    });
    group.finish();
    let stats = detector.stats();
    assert!(
        stats.tracked_plates as usize >= PLATES * 9 / 10,
        "{stats:?}"
    );
    eprintln!("detector stats after the bench: {stats:?}");
}

criterion_group!(benches, detector);
criterion_main!(benches);
