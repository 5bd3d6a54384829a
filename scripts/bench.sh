#!/usr/bin/env bash
# Benchmarks behind the README's performance table. Long: not part of CI.
#   scripts/bench.sh [detect|import|detector|all]
# Data goes to target/bench-data (10M simulated records, ~1.4 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
data=target/bench-data
bin=target/release/gantry
mkdir -p "$data"

[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
cargo build --release --locked -q

# 10M records of format (a) from 2M vehicles (so ~2M active plates), 50 clones;
# smaller inputs are its first N lines.
simulate() {
  local n=$1 full=$data/passes-10000000.tsv
  if [ ! -s "$full" ]; then
    "$bin" simulate --fast --records 10000000 --vehicles 2000000 --seed 3 --clones 50 \
      --out "$full" --truth "$data/truth.csv" --checkpoints-out "$data/checkpoints.csv"
  fi
  if [ "$n" = 10000000 ]; then echo "$full"; return; fi
  [ -s "$data/passes-$n.tsv" ] || head -n "$n" "$full" > "$data/passes-$n.tsv"
  echo "$data/passes-$n.tsv"
}

# Runs a command under GNU time; prints its stderr's last lines and peak RSS.
measure() {
  /usr/bin/time -f "peak RSS %M KiB, %e s wall, %P CPU" "$@"
}

if [[ $what == detector || $what == all ]]; then
  echo "== detector alone, 2M active plates (criterion)"
  cargo bench -q -p gantry-core --bench detector -- --noplot 2>&1 | grep -E "thrpt|time:" || true
fi

if [[ $what == detect || $what == all ]]; then
  file=$(simulate 10000000)
  echo "== detect, 10M lines, 2M plates"
  measure "$bin" detect --checkpoints "$data/checkpoints.csv" "$file" >/dev/null
fi

if [[ $what == import || $what == all ]]; then
  for n in 1000000 10000000; do
    file=$(simulate "$n")
    rm -rf "$data/store-$n"
    echo "== import $n records into 2 shards"
    measure "$bin" import --data-dir "$data/store-$n" --checkpoints "$data/checkpoints.csv" "$file"
  done
fi
