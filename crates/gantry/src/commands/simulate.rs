//! `gantry simulate`: format (a) lines from the built-in highway network.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDateTime;
use gantry_core::formats::write_line;
use gantry_core::time::parse_pass_time;
use gantry_sim::{SimConfig, Simulator};

use crate::cli::SimulateArgs;
use crate::clock::china_now_seconds;
use crate::sources::simulator::PacedSimulator;

/// How often real-time output is flushed, so a tailing reader sees it.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let config = sim_config(&args)?;
    if args.fast && args.records.is_none() {
        bail!("--fast needs --records: as fast as possible, forever, would fill the disk");
    }
    let sim = Simulator::new(config);
    if let Some(path) = &args.checkpoints_out {
        write_file(path, &sim.network().checkpoints().to_csv())?;
    }
    if let Some(path) = &args.truth {
        let mut truth = String::from("hphm,hpzl\n");
        for (plate, plate_type) in sim.cloned_plates() {
            truth.push_str(&format!("{plate},{plate_type}\n"));
        }
        write_file(path, &truth)?;
    }
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let stop = super::stop_flag()?;
    let mut source = PacedSimulator::new(sim, !args.fast);
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(256);
    let mut last_flush = Instant::now();
    let mut written = 0u64;
    while args.records.is_none_or(|n| written < n) {
        let Some(event) = source.next_event(&stop) else {
            break;
        };
        line.clear();
        write_line(&event.pass.as_ref(), &mut line);
        line.push('\n');
        if let Err(e) = out.write_all(line.as_bytes()) {
            return broken_pipe_is_fine(e);
        }
        written += 1;
        if !args.fast && last_flush.elapsed() >= FLUSH_EVERY {
            out.flush().or_else(broken_pipe_is_fine)?;
            last_flush = Instant::now();
        }
    }
    out.flush().or_else(broken_pipe_is_fine)
}

fn sim_config(args: &SimulateArgs) -> anyhow::Result<SimConfig> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of records per second");
    }
    for (name, share) in [
        ("--placeholders", args.placeholders),
        ("--duplicates", args.duplicates),
    ] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{name} is a share between 0 and 1, not {share}");
        }
    }
    let start = match &args.start {
        Some(text) => parse_start(text)?,
        None if args.fast => parse_start("2023-12-01 00:00:00")?,
        None => china_now_seconds(),
    };
    let mut config = SimConfig::for_rate(args.rate);
    if let Some(vehicles) = args.vehicles {
        if vehicles == 0 {
            bail!("--vehicles must be at least 1");
        }
        config.vehicles = vehicles;
    }
    config.seed = args.seed;
    config.start = start;
    config.clones = args.clones;
    config.placeholder_ratio = args.placeholders;
    config.max_delay_s = args.max_delay;
    config.duplicate_ratio = args.duplicates;
    Ok(config)
}

fn parse_start(text: &str) -> anyhow::Result<NaiveDateTime> {
    parse_pass_time(text)
        .with_context(|| format!("--start {text:?} is not a time like 2023-12-01 08:00:00"))
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `gantry simulate | head` closes the pipe early; that is not an error.
fn broken_pipe_is_fine(e: io::Error) -> anyhow::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e).context("cannot write output")
    }
}
