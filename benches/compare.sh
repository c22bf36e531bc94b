#!/usr/bin/env bash
# Runs redline and redis-benchmark side by side against the same local redis-server and
# prints ratios (one run, one machine: compare ratios, not absolute numbers).
#
#   benches/compare.sh            # GET ceiling at pipeline 1 and 16, managed vs raw,
#                                 # open model vs closed model
#   benches/compare.sh --open     # only the open-versus-closed comparison
#   benches/compare.sh --soak     # also: 5-minute open-model run at 50 000 ops/s, RSS sampled
#   SECS=5 KEEP=1 benches/compare.sh --open   # shorter runs; keep the reports (work dir printed)
#
# Open versus closed (raw GET target, default settings): the closed model's ceiling C, then
# the open model at 0.6 × C and a closed model paced (think time) to about the same rate.
# Goals: open-model CPU per operation at most 1.3× the paced closed model's, and response
# p99 under 10 ms at 0.6 × C.
#
# On a shared machine, give the comparison its own high-priority scheduling group (Linux
# autogroup, as root), or other sessions' load decides the tail latencies:
#   setsid bash -c 'echo -20 > /proc/self/autogroup; exec nice -n -20 benches/compare.sh --open'
#
# Needs redis-server and redis-benchmark on PATH (apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-10}
CLIENTS=50
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

# A raw-GET scenario file: $1 = path, $2 = the [load] lines.
raw_get_scenario() {
  cat >"$1" <<TOML
name = "open-vs-closed"
thresholds = []
[target]
kind = "redis"
[keyspace]
keys = 10_000
distribution = "uniform"
value_size = "3B"
[[ops]]
kind = "get"
weight = 1
[load]
preload = true
duration = "${SECS}s"
$2
TOML
}

# Runs a scenario file; prints throughput, CPU seconds, operations (warmup included: the CPU
# covers them too), response p99 µs and whether the generator was saturated.
run_scenario() {
  /usr/bin/time -f '%U %S' -o "$work/sc.time" \
    "$BIN" run "$1" --redis "$url" --quiet --out "$work/out-$(basename "$1" .toml)" >/dev/null || true
  python3 - "$work/out-$(basename "$1" .toml)/report.json" "$work/sc.time" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
u, s = open(sys.argv[2]).read().split()[-2:]
ops = sum(p["ops"] for p in r["timeseries"])
print(r["totals"]["throughput"], float(u) + float(s), ops,
      r["latency"]["overall"]["response"]["p99_us"], r["generator"]["saturated"])
PY
}

open_vs_closed() {
  raw_get_scenario "$work/ceiling.toml" $'model = "closed"\nclients = 50\nconnections = 50'
  read -r c_rps c_cpu c_n _ _ < <(run_scenario "$work/ceiling.toml")
  local rate think
  rate=$(python3 -c "print(int($c_rps * 0.6))")
  # 50 clients each waiting think + ~one round trip: think ≈ 50 / rate.
  think=$(python3 -c "print(max(1, int(50 / $rate * 1e6)))")
  raw_get_scenario "$work/open.toml" "model = \"open\"
rate = $rate"
  raw_get_scenario "$work/paced.toml" "model = \"closed\"
clients = 50
connections = 50
think_time = \"${think}us\""
  read -r o_rps o_cpu o_n o_p99 o_sat < <(run_scenario "$work/open.toml")
  read -r p_rps p_cpu p_n p_p99 _ < <(run_scenario "$work/paced.toml")
  python3 - "$c_rps" "$rate" "$o_rps" "$o_cpu" "$o_n" "$o_p99" "$o_sat" "$p_rps" "$p_cpu" "$p_n" "$c_cpu" "$c_n" <<'PY'
import sys
c, rate, o, oc, on, op99, osat, p, pc, pn, cc, cn = sys.argv[1:]
c, rate, o, oc, on, op99, p, pc, pn, cc, cn = map(float, (c, rate, o, oc, on, op99, p, pc, pn, cc, cn))
print(f"{'closed-model ceiling (50 clients)':34s} {c:14,.0f}")
print(f"{'open ops/s vs scheduled (0.6×C)':34s} {o:14,.0f} {rate:14,.0f} {o/rate:8.2f}")
a, b = oc / on * 1e6, pc / pn * 1e6
print(f"{'CPU µs/op open vs paced closed':34s} {a:14.2f} {b:14.2f} {a/b:8.2f}  (goal <= 1.3; closed ran {p:,.0f} ops/s)")
# The paced closed model rarely reaches the open model's rate (its think time rounds to the
# timer's millisecond), and fewer operations per second cost more each; the closed ceiling,
# at a higher rate than the open run, is the stricter comparison.
d = cc / cn * 1e6
print(f"{'CPU µs/op open vs closed ceiling':34s} {a:14.2f} {d:14.2f} {a/d:8.2f}  (closed ceiling ran {c:,.0f} ops/s)")
print(f"{'open response p99 at 0.6×C (ms)':34s} {op99/1000:14.2f} {10:14.2f} {op99/1e4:8.2f}  (goal < 1; saturated: {osat})")
PY
}

if [ "${1:-}" = "--open" ]; then
  open_vs_closed
  exit 0
fi

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

open_vs_closed

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
