//! Write throughput of the SQLite store: 200 000 synthetic passes with
//! random 18-digit ids into 2 shards, in batches of 20 000, with every
//! index maintained ("normal") or dropped and rebuilt at the end ("bulk").
//! Each iteration opens a fresh store and closes it, so the time includes
//! the index rebuild of bulk mode and the final WAL checkpoint.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use gantry_store::{Batch, SqliteStore, Store};

#[path = "synth.rs"]
mod synth;

const PASSES: usize = 200_000;
const BATCH: usize = 20_000;
const SHARDS: usize = 2;

fn load(batches: &[Batch], bulk: bool) -> Duration {
    let dir = tempfile::TempDir::new().unwrap();
    let start = Instant::now();
    let mut store = SqliteStore::open(dir.path(), SHARDS).unwrap();
    if bulk {
        store.begin_bulk().unwrap();
    }
    for batch in batches {
        store.write(batch).unwrap();
    }
    store.close().unwrap();
    start.elapsed()
}

fn write(c: &mut Criterion) {
    let batches: Vec<Batch> = synth::passes(0, PASSES)
        .chunks(BATCH)
        .map(|chunk| Batch {
            passes: chunk.to_vec(),
            ..Default::default()
        })
        .collect();
    let mut group = c.benchmark_group("sqlite_write_2_shards");
    group.throughput(Throughput::Elements(PASSES as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(20));
    for (name, bulk) in [("normal", false), ("bulk", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| load(&batches, bulk)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, write);
criterion_main!(benches);
