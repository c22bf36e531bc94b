#!/usr/bin/env bash
# The fault proxy's cost with no toxic set: redline against one local redis-server, directly
# and through `redline proxy`, side by side, printed as ratios (one run, one machine: compare
# ratios, not absolute numbers; on a shared machine run it twice and look at both).
#
#   benches/proxy-compare.sh            # 8-second runs
#   SECS=5 KEEP=1 benches/proxy-compare.sh   # shorter runs; keep the reports (work dir printed)
#   NO_BUILD=1 benches/proxy-compare.sh      # use the release binary as it is
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
work=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "work dir: $work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pport=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
server=$!
"$BIN" proxy --listen "127.0.0.1:$pport" --upstream "127.0.0.1:$port" >"$work/proxy.log" 2>&1 &
proxy=$!
trap 'kill $proxy $server 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && redis-cli -p "$pport" ping >/dev/null 2>&1 && break
  sleep 0.05
done
direct="redis://127.0.0.1:$port"
proxied="redis://127.0.0.1:$pport"

# CPU seconds (user + system) a process has used so far.
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }

# Runs a scenario; prints throughput, response p50 µs, response p99 µs, saturated, and the
# proxy's CPU seconds during the run. $1 = label, $2 = URL, rest = scenario and overrides.
run() {
  local label=$1 url=$2; shift 2
  local before after
  before=$(cpu_of $proxy)
  "$BIN" run "$@" --redis "$url" --quiet --out "$work/$label" \
    --set "load.duration=\"${SECS}s\"" >/dev/null || true
  after=$(cpu_of $proxy)
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
# Direct and proxied alternate, so a change in the machine's load hits both alike.
read -r md_ops md_p50 md_p99 md_sat _ < <(run managed-direct "$direct" "${managed[@]}")
read -r mp_ops mp_p50 mp_p99 mp_sat mp_cpu < <(run managed-proxied "$proxied" "${managed[@]}")
read -r cd_ops cd_p50 _ _ _ < <(run ceiling-direct "$direct" "${ceiling[@]}")
read -r cp_ops cp_p50 _ _ cp_cpu < <(run ceiling-proxied "$proxied" "${ceiling[@]}")

python3 - "$SECS" "$md_ops" "$md_p50" "$md_p99" "$md_sat" "$mp_ops" "$mp_p50" "$mp_p99" "$mp_sat" \
  "$mp_cpu" "$cd_ops" "$cd_p50" "$cp_ops" "$cp_p50" "$cp_cpu" <<'PY'
import sys
a = sys.argv[1:]
secs = float(a[0])
md_ops, md_p50, md_p99 = map(float, a[1:4]); md_sat = a[4]
mp_ops, mp_p50, mp_p99 = map(float, a[5:8]); mp_sat = a[8]
mp_cpu, cd_ops, cd_p50, cp_ops, cp_p50, cp_cpu = map(float, a[9:15])
row = "{:44s} {:>12} {:>12} {:>8}"
print(row.format("no toxic, one run per line", "direct", "proxied", "ratio"))
print(row.format("managed @10k ops/s: response p50 (µs)", f"{md_p50:,.0f}", f"{mp_p50:,.0f}",
                 f"{mp_p50 / md_p50:.3f}") + "   goal <= 1.10")
print(row.format("managed @10k ops/s: response p99 (µs)", f"{md_p99:,.0f}", f"{mp_p99:,.0f}",
                 f"{mp_p99 / md_p99:.3f}"))
print(row.format("managed @10k ops/s: ops/s", f"{md_ops:,.0f}", f"{mp_ops:,.0f}",
                 f"{mp_ops / md_ops:.3f}") + f"   saturated: {md_sat} / {mp_sat}")
print(row.format("ceiling (closed, 50 clients): ops/s", f"{cd_ops:,.0f}", f"{cp_ops:,.0f}",
                 f"{cp_ops / cd_ops:.3f}") + "   goal >= 0.80")
print(row.format("ceiling: response p50 (µs)", f"{cd_p50:,.0f}", f"{cp_p50:,.0f}",
                 f"{cp_p50 / cd_p50:.3f}"))
print(f"proxy CPU: {mp_cpu / secs * 100:.0f}% of a core at 10k ops/s, "
      f"{cp_cpu / secs * 100:.0f}% at the ceiling (warmup and preload included)")
PY
