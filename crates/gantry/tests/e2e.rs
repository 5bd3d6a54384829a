//! End to end through the real binary: simulate with known clones →
//! import → `warnings` equals the ground truth; re-import changes nothing;
//! `detect` agrees with what `import` stored.

mod common;
use common::{gantry, summary_value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn warnings_of(jsonl: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

fn ids(warnings: &[Value]) -> BTreeSet<String> {
    warnings
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn simulated_clones_are_found_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (records, truth, checkpoints, data) = (
        path(dir.path(), "passes.tsv"),
        path(dir.path(), "truth.csv"),
        path(dir.path(), "checkpoints.csv"),
        path(dir.path(), "data"),
    );
    gantry(&[
        "simulate",
        "--fast",
        "--records",
        "150000",
        "--seed",
        "7",
        "--clones",
        "12",
        "--vehicles",
        "20000",
        "--placeholders",
        "0.02",
        "--max-delay",
        "120",
        "--duplicates",
        "0.01",
        "--out",
        &records,
        "--truth",
        &truth,
        "--checkpoints-out",
        &checkpoints,
    ]);
    let want: BTreeSet<String> = std::fs::read_to_string(&truth)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(want.len(), 12);

    let first = gantry(&[
        "import",
        "--data-dir",
        &data,
        "--checkpoints",
        &checkpoints,
        &records,
    ]);
    assert!(summary_value(&first.stdout, "accepted") > 140_000);
    assert!(
        summary_value(&first.stdout, "duplicates") > 0,
        "the simulator wrote duplicates"
    );

    let stored = warnings_of(&gantry(&["warnings", "--data-dir", &data]).stdout);
    let plates: BTreeSet<String> = stored
        .iter()
        .map(|w| w["hphm"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(plates, want, "warned plates equal the cloned plates");
    for w in &stored {
        assert!(w["speed_kmh"].as_f64().is_none_or(|s| s > 200.0), "{w}");
        assert_ne!(w["first"]["kkmc"], w["second"]["kkmc"]);
    }

    // Importing the same file again changes nothing.
    let again = gantry(&[
        "import",
        "--data-dir",
        &data,
        "--checkpoints",
        &checkpoints,
        &records,
    ]);
    assert_eq!(summary_value(&again.stdout, "accepted"), 0);
    let restored = warnings_of(&gantry(&["warnings", "--data-dir", &data]).stdout);
    assert_eq!(ids(&restored), ids(&stored));

    // The store-less path finds the same warnings.
    let detected =
        warnings_of(&gantry(&["detect", "--checkpoints", &checkpoints, &records]).stdout);
    assert_eq!(ids(&detected), ids(&stored));
}

#[test]
fn shard_of_prints_mycat_placement() {
    let out = gantry(&[
        "shard-of",
        "--shards",
        "3",
        "成都东卡口",
        "G42沪蓉高速K1893+200卡口",
    ]);
    // Values from Guava + MyCat's definition (gantry-core/tests/mycat/vectors.txt).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "成都东卡口\t0\nG42沪蓉高速K1893+200卡口\t2\n"
    );
}

#[test]
fn errors_are_sentences_not_panics() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(args)
            .output()
            .unwrap()
    };
    let missing = run(&[
        "import",
        "--data-dir",
        "/tmp/gantry-never",
        "/no/such/file.tsv",
    ]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("/no/such/file.tsv"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let input = dir.path().join("in.tsv");
    std::fs::write(&input, "").unwrap();
    let bad_dir = run(&[
        "import",
        "--data-dir",
        blocker.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(!bad_dir.status.success());
    let err = String::from_utf8_lossy(&bad_dir.stderr);
    assert!(err.starts_with("gantry: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let no_store = run(&["warnings", "--data-dir", "/tmp/gantry-never-created"]);
    assert!(String::from_utf8_lossy(&no_store.stderr).contains("does not exist"));

    let bad_option = run(&["detect", "--speed-limit=-3", "/dev/null"]);
    assert!(String::from_utf8_lossy(&bad_option.stderr).contains("--speed-limit"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["simulate", "--records", "200000", "--fast"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one chunk, then close the pipe as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    assert!(stdout.read(&mut first).unwrap() > 0);
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.status.success());
}
