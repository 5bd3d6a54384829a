//! Loads synthetic passes into a SQLite store and reports throughput and
//! peak memory: `cargo run --release -p gantry-store --example load --
//! [passes=1000000] [shards=2] [normal|bulk] [batch=50000] [dir]`
//! (`PAGE_SIZE=4096` in the environment tries another page size).

use std::time::{Duration, Instant};

use gantry_store::{Batch, SqliteOptions, SqliteStore, Store};

#[path = "../benches/synth.rs"]
mod synth;

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let n: usize = arg(0, "1000000").parse().expect("passes");
    let shards: usize = arg(1, "2").parse().expect("shards");
    let bulk = arg(2, "normal") == "bulk";
    let batch: usize = arg(3, "50000").parse().expect("batch");
    let tmp = tempfile::TempDir::new().unwrap();
    let dir = args
        .get(4)
        .map_or_else(|| tmp.path().to_owned(), Into::into);

    let mut options = SqliteOptions::default();
    if let Some(size) = std::env::var("PAGE_SIZE").ok().and_then(|s| s.parse().ok()) {
        options.page_size = size;
    }
    let mut store = SqliteStore::open_with(&dir, shards, options).unwrap();
    if bulk {
        store.begin_bulk().unwrap();
    }
    let (mut writing, mut generating) = (Duration::ZERO, Duration::ZERO);
    let mut inserted = 0;
    let mut done = 0;
    while done < n {
        let t = Instant::now();
        let passes = synth::passes(done as u64, batch.min(n - done));
        generating += t.elapsed();
        done += passes.len();
        let t = Instant::now();
        inserted += store
            .write(&Batch {
                passes,
                ..Default::default()
            })
            .unwrap()
            .inserted;
        writing += t.elapsed();
    }
    let rss_after_writes = peak_rss_mib();
    let t = Instant::now();
    store.close().unwrap();
    let closing = t.elapsed();
    let total = writing + closing;
    println!(
        "{n} passes ({inserted} new) into {shards} shards, {} mode, batches of {batch}: \
         write {:.2}s + close/reindex {:.2}s = {:.0} rows/s (data generation {:.2}s not counted); peak RSS {} MiB ({} MiB before close)",
        if bulk { "bulk" } else { "normal" },
        writing.as_secs_f64(),
        closing.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        generating.as_secs_f64(),
        peak_rss_mib(),
        rss_after_writes
    );
}
