#!/usr/bin/env bash
# The fault proxy's cost with no toxic set: redline against one local redis-server, directly
# and through `redline proxy`, side by side, printed as ratios (one run, one machine: compare
# ratios, not absolute numbers; on a shared machine run it twice and look at both).
#
#   benches/proxy-compare.sh                 # 8-second runs
#   SECS=5 KEEP=1 benches/proxy-compare.sh   # shorter runs; keep the reports (work dir printed)
#   NO_BUILD=1 benches/proxy-compare.sh      # use the release binary as it is
#   REF=1 benches/proxy-compare.sh           # also benches/proxy-ref.c (needs cc): the cheapest
#                                            # relay a user-space proxy can be, i.e. the best
#                                            # any proxy can do on this machine
#   INPROC=1 benches/proxy-compare.sh        # also the proxy as drills place it, inside
#                                            # `redline run` (a 1 ms latency fault during the
#                                            # warmup puts it there; none in the measured phase)
#
# PROXIES sets the proxies compared, `name=command;name=command`, LISTEN and UPSTREAM in each
# command replaced by host:port; e.g. a build from before a change beside this one:
#
#   PROXIES="new=target/release/redline proxy --listen LISTEN --upstream UPSTREAM;\
#   old=/tmp/redline-old proxy --listen LISTEN --upstream UPSTREAM" NO_BUILD=1 benches/proxy-compare.sh
#
# Goals (issue 7): through the proxy, the managed target's response p50 at 10 000 ops/s at
# most 1.10× the direct p50, and the ceiling scenario (scenarios/ceiling.toml, closed model,
# 50 clients) at least 0.8× the direct ops/s.
#
# Needs redis-server on PATH (apt-get install redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-8}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=target/release/redline
PROXIES=${PROXIES:-"proxy=$BIN proxy --listen LISTEN --upstream UPSTREAM"}
work=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "work dir: $work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
direct="redis://127.0.0.1:$port"
if [ -n "${REF:-}" ]; then
  cc -O2 -o "$work/proxy-ref" benches/proxy-ref.c
  PROXIES="$PROXIES;c-relay=$work/proxy-ref LISTEN UPSTREAM"
fi
names=(); urls=(); ppids=()
IFS=';' read -ra specs <<<"$PROXIES"
for spec in "${specs[@]}"; do
  pport=$(free_port)
  cmd=${spec#*=}; cmd=${cmd//LISTEN/127.0.0.1:$pport}; cmd=${cmd//UPSTREAM/127.0.0.1:$port}
  # shellcheck disable=SC2086 # the command is split into words on purpose
  $cmd >"$work/${spec%%=*}.log" 2>&1 &
  pids+=($!); ppids+=($!); names+=("${spec%%=*}"); urls+=("redis://127.0.0.1:$pport")
done
for _ in $(seq 100); do
  ok=1
  redis-cli -p "$port" ping >/dev/null 2>&1 || ok=
  for u in "${urls[@]}"; do redis-cli -p "${u##*:}" ping >/dev/null 2>&1 || ok=; done
  [ -n "$ok" ] && break
  sleep 0.05
done

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }

# Runs a scenario; prints throughput, response p50 µs, response p99 µs, saturated, and the
# CPU seconds process $3 used during the run. $1 = label, $2 = URL, $3 = pid, rest = scenario.
run() {
  local label=$1 url=$2 pid=$3; shift 3
  local before after
  before=$(cpu_of "$pid")
  "$BIN" run "$@" --redis "$url" --quiet --out "$work/$label" \
    --set "load.duration=\"${SECS}s\"" >/dev/null || true
  after=$(cpu_of "$pid")
  python3 - "$work/$label/report.json" "$before" "$after" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
resp = r["latency"]["overall"]["response"]
print(r["totals"]["throughput"], resp["p50_us"], resp["p99_us"], r["generator"]["saturated"],
      float(sys.argv[3]) - float(sys.argv[2]))
PY
}

managed=(scenarios/smoke.toml --set load.rate=10000 --set 'load.warmup="1s"')
ceiling=(scenarios/ceiling.toml)
# Direct and each proxy alternate, so a change in the machine's load hits all alike.
results=()
for scenario in managed ceiling; do
  declare -n args=$scenario
  results+=("$scenario direct $(run "$scenario-direct" "$direct" "${pids[0]}" "${args[@]}")")
  for i in "${!names[@]}"; do
    results+=("$scenario ${names[$i]} $(run "$scenario-${names[$i]}" "${urls[$i]}" "${ppids[$i]}" "${args[@]}")")
  done
  if [ -n "${INPROC:-}" ]; then
    # The proxy's CPU is redline's own here: the column shows the direct run's Redis CPU.
    results+=("$scenario in-process $(run "$scenario-inproc" "$direct" "${pids[0]}" "${args[@]}" \
      --set 'load.warmup="1s"' \
      --set 'faults=[{kind="latency",at="100ms",for="100ms",latency="1ms"}]')")
  fi
done

printf '%s\n' "${results[@]}" >"$work/results.txt"
python3 - "$SECS" "$work/results.txt" <<'PY'
import sys
secs = float(sys.argv[1])
rows = {}
for line in open(sys.argv[2]):
    scenario, name, ops, p50, p99, sat, cpu = line.split()
    rows[(scenario, name)] = (float(ops), float(p50), float(p99), sat, float(cpu))
names = [n for (s, n) in rows if s == "managed" and n != "direct"]
inproc = [n for n in names if n == "in-process"]
fmt = "{:40s} {:>9}" + " {:>9} {:>6}" * len(names)
print(fmt.format("no toxic, one run per cell", "direct", *[x for n in names for x in (n, "ratio")]))
def line(label, scenario, col, goal=""):
    d = rows[(scenario, "direct")][col]
    cells = []
    for n in names:
        v = rows[(scenario, n)][col]
        cells += [f"{v:,.0f}", f"{v / d:.3f}"]
    print(fmt.format(label, f"{d:,.0f}", *cells) + goal)
line("managed @10k ops/s: response p50 (µs)", "managed", 1, "   goal <= 1.10")
line("managed @10k ops/s: response p99 (µs)", "managed", 2)
line("managed @10k ops/s: ops/s", "managed", 0)
line("ceiling (closed, 50 clients): ops/s", "ceiling", 0, "   goal >= 0.80")
line("ceiling: response p50 (µs)", "ceiling", 1)
sat = ", ".join(n + " " + rows[("managed", n)][3] for n in ["direct"] + names)
print("managed generator saturated: " + sat)
for n in names:
    if n in inproc:
        continue
    m = rows[("managed", n)][4] / secs * 100
    c = rows[("ceiling", n)][4] / secs * 100
    print(f"{n} CPU: {m:.0f}% of a core at 10k ops/s, {c:.0f}% at the ceiling "
          "(warmup and preload included)")
PY
