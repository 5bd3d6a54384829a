//! `gantry import`: files into the embedded store through the pipeline.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::Context;
use gantry_core::formats::InputParser;
use gantry_core::Detector;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ImportArgs;
use crate::pipeline::{Pipeline, Summary, BATCH};
use crate::sources::file;

/// Inputs at least this large (about half a million records) are bulk
/// loaded: secondary indexes are dropped during the load and rebuilt after.
const BULK_BYTES: u64 = 64 << 20;

/// Passes per batch in a bulk load. A batch's rollup upserts and its
/// statements cost about the same whatever its size, so larger batches
/// spread them over more passes (measured on MariaDB shards).
const BULK_BATCH: usize = 4 * BATCH;

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let config = super::detector_config(&args.detector)?;
    for path in &args.files {
        if path.as_os_str() != "-" && !path.is_file() {
            anyhow::bail!("{} is not a readable file", path.display());
        }
    }
    let mut store = super::open_store(&args.store)?;
    let checkpoints =
        super::checkpoints_with(store.as_mut(), args.detector.checkpoints.as_deref())?;
    let total_bytes: u64 = args.files.iter().filter_map(|p| file::size_of(p)).sum();
    let bulk = total_bytes >= BULK_BYTES;
    if bulk {
        // Load first, index after, as databases' own loaders do.
        store.begin_bulk().context("cannot start a bulk load")?;
    }
    let progress = progress_bar(total_bytes);
    let started = Instant::now();
    let batch = if bulk { BULK_BATCH } else { BATCH };
    let mut pipeline = Pipeline::new(Detector::new(config, checkpoints), store, batch);
    for path in &args.files {
        let input = file::open(path)?;
        let mut parser = InputParser::new(file::source_name(path));
        file::feed_all(input, &mut parser, &mut pipeline, |n| progress.inc(n))
            .with_context(|| format!("cannot read {}", path.display()))?;
        pipeline.checkpoint()?;
    }
    let (mut summary, mut store) = pipeline.finish()?;
    let loaded = started.elapsed();
    let repeats = store
        .end_bulk()
        .context("cannot end the bulk load (rebuilding indexes)")?;
    // Passes a bulk load found to repeat a GCXH only when it indexed them.
    summary.written.inserted = summary.written.inserted.saturating_sub(repeats);
    summary.written.duplicates += repeats;
    store.close().context("cannot close the store")?;
    progress.finish_and_clear();
    let phases = Phases {
        load: loaded.as_secs_f64(),
        total: started.elapsed().as_secs_f64(),
    };
    print_summary(&summary, &phases);
    Ok(())
}

fn progress_bar(total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Where an import's time went: reading, parsing, detecting and writing
/// (`load`), then the index builds a bulk load leaves to the end.
struct Phases {
    load: f64,
    total: f64,
}

fn print_summary(summary: &Summary, phases: &Phases) {
    let seconds = phases.total;
    let w = &summary.written;
    let records = w.inserted + w.duplicates;
    let rejected: u64 = summary.rejected.values().sum();
    println!("accepted    {}", w.inserted);
    println!("duplicates  {}", w.duplicates);
    println!("rejected    {rejected}");
    for (kind, n) in &summary.rejected {
        println!("  {kind:<12}{n}");
    }
    println!("warnings    {} new", w.warnings_inserted);
    let d = &summary.detector;
    println!(
        "untracked   {} (placeholder or unreadable plates)",
        d.untracked
    );
    println!("late        {} (beyond the lateness, not compared)", d.late);
    println!(
        "records/s   {:.0} ({records} records in {seconds:.2} s)",
        records as f64 / seconds.max(1e-9)
    );
    println!(
        "time        {:.2} s load (read, parse, detect, write), {:.2} s indexes and close",
        phases.load,
        phases.total - phases.load
    );
}
