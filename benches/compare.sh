#!/usr/bin/env bash
# Runs redline and redis-benchmark side by side against the same local redis-server and
# prints ratios (one run, one machine: compare ratios, not absolute numbers).
#
#   benches/compare.sh            # GET ceiling at pipeline 1 and 16, managed vs raw
#   benches/compare.sh --soak     # also: 5-minute open-model run at 50 000 ops/s, RSS sampled
#
# Needs redis-server and redis-benchmark on PATH (apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-10}
CLIENTS=50
cargo build --release --quiet
BIN=target/release/redline
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port"
redis-cli -p "$port" set key:__rand_int__ xxx >/dev/null


bench_redis() { # pipeline
  local p=$1 n=$((400000 * p / (p > 1 ? 4 : 1)))
  /usr/bin/time -f '%U %S' -o "$work/rb.time" \
    redis-benchmark -h 127.0.0.1 -p "$port" -t get -c $CLIENTS -n "$n" -P "$p" -q --csv >"$work/rb.csv"
  local rps
  rps=$(grep '"GET"' "$work/rb.csv" | cut -d, -f2 | tr -d '"')
  local cpu
  cpu=$(awk '{print $1+$2}' "$work/rb.time")
  echo "$rps $cpu $n"
}

bench_redline() { # pipeline kind
  local p=$1 kind=$2
  /usr/bin/time -f '%U %S' -o "$work/rl.time" \
    "$BIN" run scenarios/ceiling.toml --redis "$url" --quiet --out "$work/rl-$kind-$p" \
      --set "load.pipeline_depth=$p" --set "load.duration=\"${SECS}s\"" --set "target.kind=\"$kind\"" \
      --set "load.preload=false" >/dev/null || true
  python3 - "$work/rl-$kind-$p/report.json" "$work/rl.time" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
u, s = open(sys.argv[2]).read().split()[-2:]
t = r["totals"]
print(t["throughput"], float(u) + float(s), t["ops"])
PY
}

printf '%-34s %14s %14s %8s\n' "comparison (GET, $CLIENTS conns)" "redline" "baseline" "ratio"
for p in 1 16; do
  read -r rb_rps rb_cpu rb_n < <(bench_redis "$p")
  read -r rl_rps rl_cpu rl_n < <(bench_redline "$p" redis)
  python3 - "$p" "$rl_rps" "$rb_rps" "$rl_cpu" "$rl_n" "$rb_cpu" "$rb_n" <<'PY'
import sys
p, rl, rb, rlc, rln, rbc, rbn = sys.argv[1:]
rl, rb, rlc, rln, rbc, rbn = map(float, (rl, rb, rlc, rln, rbc, rbn))
print(f"{'raw ops/s vs redis-benchmark P=' + p:34s} {rl:14,.0f} {rb:14,.0f} {rl/rb:8.2f}")
a, b = rlc / rln * 1e6, rbc / rbn * 1e6
print(f"{'CPU µs/op vs redis-benchmark P=' + p:34s} {a:14.2f} {b:14.2f} {a/b:8.2f}")
PY
done
read -r raw_rps _ _ < <(bench_redline 1 redis)
read -r man_rps _ _ < <(bench_redline 1 managed)
python3 -c "import sys; m,r=float('$man_rps'),float('$raw_rps'); print(f\"{'managed vs raw ops/s (P=1)':34s} {m:14,.0f} {r:14,.0f} {m/r:8.2f}\")"

if [ "${1:-}" = "--soak" ]; then
  echo "soak: 5 minutes open model at 50 000 ops/s (RSS in MiB every 10 s)"
  "$BIN" run scenarios/smoke.toml --redis "$url" --quiet --out "$work/soak" \
    --set load.rate=50000 --set 'load.duration="5m"' --set load.connections=16 \
    --set load.pipeline_depth=16 --set 'origin.latency="1ms"' --set origin.concurrency=256 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    ps -o rss= -p $pid | awk '{printf "%.1f ", $1/1024}'
    sleep 10
  done
  echo
  wait $pid || true
  python3 -c "
import json; r=json.load(open('$work/soak/report.json'))
print('soak throughput', r['totals']['throughput'], 'saturated', r['generator']['saturated'],
      'lag p99 us', r['generator']['schedule_lag_p99_us'], 'response p99 us',
      r['latency']['overall']['response']['p99_us'], 'verdict', r['verdict'])"
fi
