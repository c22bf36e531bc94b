#!/usr/bin/env bash
# Preload speed, side by side with redis-benchmark on the same local redis-server: redline's
# pipelined preload (load.preload = true) against `redis-benchmark -t set -P 16 -d SIZE`
# writing the same number of keys of the same value size. One run, one machine: compare
# the ratio, not the absolute numbers. Goal: ratio >= 0.8.
#
#   benches/preload-compare.sh                 # 200 000 keys of 2 KiB
#   KEYS=500000 SIZE=512 benches/preload-compare.sh
#
# Needs redis-server and redis-benchmark on PATH (apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-200000}
SIZE=${SIZE:-2048}
cargo build --release --quiet
BIN=target/release/redline
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

# redis-benchmark: KEYS SETs of SIZE-byte values over 50 connections, 16 per pipeline, keys
# drawn from a keyspace of KEYS (-r), as redline's preload writes KEYS distinct keys.
start=$(date +%s.%N)
redis-benchmark -h 127.0.0.1 -p "$port" -t set -c 50 -P 16 -d "$SIZE" -n "$KEYS" -r "$KEYS" \
  -q --csv >"$work/rb.csv"
rb=$(grep '"SET"' "$work/rb.csv" | cut -d, -f2 | tr -d '"')
redis-cli -p "$port" flushall >/dev/null

cat >"$work/preload.toml" <<TOML
name = "preload-compare"
thresholds = []
[target]
kind = "redis"
[keyspace]
keys = $KEYS
value_size = $SIZE
[[ops]]
kind = "get"
weight = 1
[load]
model = "closed"
clients = 1
preload = true
duration = "100ms"
TOML
"$BIN" run "$work/preload.toml" --redis "redis://127.0.0.1:$port" --quiet --out "$work/rl" \
  >/dev/null || true
python3 - "$work/rl/report.json" "$rb" "$KEYS" "$SIZE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["preload"]
rb = float(sys.argv[2])
print(f"keys {sys.argv[3]}, value size {sys.argv[4]} B")
print(f"redis-benchmark -t set -P 16 -c 50: {rb:,.0f} SET/s")
print(f"redline preload ({p['keys']:,} keys in {p['elapsed_s']:.2f}s): {p['keys_per_s']:,.0f} keys/s")
print(f"ratio redline / redis-benchmark: {p['keys_per_s'] / rb:.2f} (goal >= 0.8)")
PY
