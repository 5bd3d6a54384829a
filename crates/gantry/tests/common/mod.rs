//! Helpers the integration tests share: running the real binary.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `gantry` with `args` and asserts it succeeded.
pub fn gantry(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .output()
        .expect("the gantry binary runs");
    assert!(
        out.status.success(),
        "gantry {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The number after `key` in `gantry import`'s summary.
pub fn summary_value(stdout: &[u8], key: &str) -> u64 {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
