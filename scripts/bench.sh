#!/usr/bin/env bash
# Benchmarks behind the README's performance table. Long: not part of CI.
#   scripts/bench.sh [detect|import|detector|api|all|distributed|iot]
# `distributed` (not part of `all`) starts the real servers and measures the
# MariaDB/Kafka/Redis path against the LOAD DATA ceiling (benches/distributed.rs).
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

# p99 latency of the API over the 10M-record store (imported above if
# missing): wrk, 2 threads and 4 connections, 8 s per route.
if [[ $what == api || $what == all ]]; then
  store=$data/store-10000000
  if [ ! -s "$store/gantry-store.meta" ]; then
    rm -rf "$store"
    "$bin" import --data-dir "$store" --checkpoints "$data/checkpoints.csv" "$(simulate 10000000)"
  fi
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
  log=$(mktemp)
  "$bin" serve --data-dir "$store" --port 0 >"$log" 2>&1 &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null; rm -f "$log"' EXIT
  url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -n1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log"; exit 1; }
  # A plate and a checkpoint + 30-minute range taken from the data.
  routes=$(curl -s "${url}api/query?size=1" | python3 -c '
import json, sys, urllib.parse as u
from datetime import datetime, timedelta
row = json.load(sys.stdin)["rows"][0]
end = datetime.strptime(row["gcsj"], "%Y-%m-%d %H:%M:%S")
start = end - timedelta(minutes=30)
q = lambda **kw: u.urlencode(kw)
for path in ["api/stats/summary", "api/stats/kkmc_count?limit=10", "api/stats/flow_24h",
             "api/stats/map_data", "api/stats/vehicle_type", "api/warnings/realtime?limit=10",
             "api/query?" + q(hphm=row["hphm"]),
             "api/query?" + q(kkmc=row["kkmc"], start=str(start), end=str(end))]:
    print(path)')
  echo "== API p99 over 10M records (wrk -t2 -c4 -d8s)"
  while read -r route; do
    p99=$(wrk -t2 -c4 -d8s --latency "${url}${route}" | awk '/ 99%/ {print $2}')
    printf '%-70s p99 %s\n' "/$route" "$p99"
  done <<< "$routes"
fi

if [[ $what == iot ]]; then
  scripts/services.sh up
  eval "$(scripts/services.sh env)"
  cargo bench -q --locked -p gantry --bench iot
fi

if [[ $what == distributed ]]; then
  scripts/services.sh up
  eval "$(scripts/services.sh env)"
  cargo bench -q --locked -p gantry --bench distributed
fi
