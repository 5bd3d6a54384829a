//! `gantry`: ingest checkpoint pass records, store them in MyCat-placed
//! shards, and raise cloned-plate warnings as they arrive.

mod cli;
mod clock;
mod commands;
mod pipeline;
mod sinks;
mod sources;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gantry: {err:#}");
            ExitCode::FAILURE
        }
    }
}
