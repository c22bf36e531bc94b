#!/usr/bin/env bash
# Three local shards against one generator, side by side, in the ceiling scenario
# (scenarios/ceiling.toml: closed model, raw GET, 50 clients on 50 connections). The three
# shards (`--shard i/3`) share the same 50 clients and 50 connections between them
# (17 + 17 + 16), so both sides put the same connections on the same redis-server, which is
# the limit either way. Goal (issue 10): merged shard throughput >= 0.9x the single one.
#
#   benches/shards.sh              # 10 s per side
#   SECS=5 KEEP=1 benches/shards.sh
#
# One run on one machine: compare the ratio, not the absolute numbers. Needs redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-10}
cargo build --release --quiet
BIN=target/release/redline
work=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "work dir: $work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
server=$!
trap 'kill $server 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port"
common=(scenarios/ceiling.toml --redis "$url" --quiet --force --set "load.duration=\"${SECS}s\"")

"$BIN" run "${common[@]}" --out "$work/one" >/dev/null || true

start=$(( $(date +%s) + 2 ))
pids=()
for i in 0 1 2; do
  "$BIN" run "${common[@]}" --shard "$i/3" --run-id "bench-$$" --start-at "$start" \
    --out "$work/shard-$i" >/dev/null &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
"$BIN" merge "$work"/shard-{0,1,2} --out "$work/merged" --force >/dev/null || true

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
one = json.load(open(f"{w}/one/report.json"))
merged = json.load(open(f"{w}/merged/report.json"))
a, b = one["totals"]["throughput"], merged["totals"]["throughput"]
print(f"one generator, 50 connections : {a:12,.0f} ops/s  p99 {one['latency']['overall']['response']['p99_us']} us")
for s in merged["merged"]["shards"]:
    print(f"  shard {s['index']}/3 : {s['throughput']:12,.0f} ops/s  (started +{s['offset_s']:.3f} s)")
print(f"three shards, 17+17+16        : {b:12,.0f} ops/s  p99 {merged['latency']['overall']['response']['p99_us']} us")
print(f"ratio three shards / one      : {b / a:.3f}  (goal >= 0.9)")
PY
