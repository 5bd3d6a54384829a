#!/usr/bin/env bash
# Runs every check and test gantry has. The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The real servers the store and distributed tests use (MariaDB ×2, Redis,
# a Kafka-protocol broker), started or installed when missing.
scripts/services.sh up
eval "$(scripts/services.sh env)"
# Independent Parquet readers the archive test reads the archive back with.
python3 -c 'import duckdb, pyarrow' 2>/dev/null ||
    pip install --quiet --disable-pip-version-check duckdb==2.0.1 pyarrow==26.0.1
cargo test --workspace --locked
scripts/browser-test.sh
