//! `gantry`: ingest checkpoint pass records, store them in MyCat-placed
//! shards, and raise cloned-plate warnings as they arrive.

mod api;
mod cli;
mod clock;
mod commands;
mod config;
mod pipeline;
mod sinks;
mod sources;

use std::process::ExitCode;

use clap::Parser;

/// jemalloc keeps memory compact under many small strings and lets the
/// detector's per-plate table (hundreds of MiB at millions of plates) sit on
/// transparent huge pages, which removes most of its TLB misses. On Linux
/// it also serves the C libraries' `malloc`: librdkafka allocates a few
/// times per record, and with glibc's `malloc` that was about 40 % of the
/// tail's CPU.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at start-up: huge pages where the kernel
/// allows them (`madvise` mode), memory returned to the OS after 1 s.
#[allow(non_upper_case_globals)]
#[cfg_attr(target_os = "linux", export_name = "malloc_conf")]
#[cfg_attr(not(target_os = "linux"), export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"thp:always,metadata_thp:auto,dirty_decay_ms:1000\0";

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if prints_for_a_pipe(&cli.command) {
        restore_sigpipe();
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gantry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The commands whose output is made for a pipe and that talk to no
/// server: they end quietly when the reader goes away (`gantry simulate |
/// head`). The others keep SIGPIPE ignored, because a socket closed by its
/// peer (a browser leaving, a database restarting) must be an error they
/// handle, not a signal that ends the process.
fn prints_for_a_pipe(command: &cli::Command) -> bool {
    matches!(
        command,
        cli::Command::Simulate(_)
            | cli::Command::Detect(_)
            | cli::Command::ShardOf(_)
            | cli::Command::Config(_)
    )
}

/// Rust ignores SIGPIPE, so printing into a closed pipe would panic; like
/// other Unix tools gantry then ends quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
