//! Builds the dashboard (`web/`, Vite + TypeScript) into `$OUT_DIR/web`,
//! which the binary embeds, so `cargo run -- demo` serves it with no manual
//! npm step. `GANTRY_WEB=skip` builds without it (the API still works and
//! `/` says how to get the dashboard); without Node.js it is skipped with a
//! warning. A failing web build fails the cargo build.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files whose change rebuilds the dashboard.
const INPUTS: &[&str] = &[
    "src",
    "public",
    "index.html",
    "query.html",
    "trail.html",
    "iot.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

fn main() {
    let web = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../../web");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("web");
    println!("cargo:rerun-if-env-changed=GANTRY_WEB");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    if env::var("GANTRY_WEB").is_ok_and(|v| v == "skip") {
        return;
    }
    if !web.join("package.json").exists() {
        return;
    }
    if Command::new("npm").arg("--version").output().is_err() {
        println!("cargo:warning=npm not found: building without the dashboard (install Node.js 20+ and rebuild)");
        return;
    }
    if needs_install(&web) {
        run(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    let out_dir = out.display().to_string();
    run(
        &web,
        &["run", "build", "--", "--outDir", &out_dir, "--emptyOutDir"],
    );
}

/// True when `node_modules` is missing or older than the lock file.
fn needs_install(web: &Path) -> bool {
    let stamp = web.join("node_modules/.package-lock.json");
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(&stamp), modified(&web.join("package-lock.json"))) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

/// Runs npm in `web/`; its output is shown only when it fails (stdout of a
/// build script is cargo's to parse).
fn run(web: &Path, args: &[&str]) {
    let out = Command::new("npm")
        .args(args)
        .current_dir(web)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm {args:?}: {e}"));
    assert!(
        out.status.success(),
        "npm {args:?} in web/ failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
