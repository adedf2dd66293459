#!/usr/bin/env bash
# Runs the whole test suite N times (`cargo test --workspace --no-fail-fast`)
# from a fresh clone of HEAD in a temporary folder, keeps every run's log, and
# lists every test that failed at least once, with how many runs it failed in.
#
#   scripts/flake-hunt.sh N            # N runs (build directory: $FLAKE_HUNT_TARGET_DIR,
#                                      # default ~/.cache/speechgate/flake-hunt-target)
#   scripts/flake-hunt.sh --parse LOG...   # only the summary, from existing logs
#
# The clone is made once; before each later run `git clean -ffdx` puts it back
# to HEAD's files (what a run wrote is gone, the sources keep their mtimes so
# cargo does not rebuild them). Logs: $FLAKE_HUNT_DIR (default a new temporary
# folder), printed at the end. Exit status 1 when any test failed.
set -euo pipefail

# Summary of cargo test logs: "count/runs  binary: test" for every failed test,
# plus test binaries that failed without a failed test line (a crash, a panic
# outside a test, a build error).
summarise() {
  python3 - "$@" <<'PY'
import re, sys
from collections import Counter

logs = sys.argv[1:]
tests, binaries = Counter(), Counter()
running = re.compile(r"^\s*Running (?:(?:unittests )?(\S+)) \(")
doc = re.compile(r"^\s*Doc-tests (\S+)")
failed = re.compile(r"^test (.+?) \.\.\. FAILED\s*$")
rerun = re.compile(r"^error: test failed, to rerun pass `([^`]+)`")
listed = re.compile(r"^\s+`(-p [^`]+)`\s*$")  # under "error: N targets failed:"
for log in logs:
    seen_tests, seen_binaries = set(), set()
    binary = "?"
    with open(log, errors="replace") as text:
        for line in text:
            line = line.rstrip("\n")
            if m := running.match(line):
                binary = m.group(1)
            elif m := doc.match(line):
                binary = f"doctests {m.group(1)}"
            elif m := failed.match(line):
                seen_tests.add(f"{binary}: {m.group(1)}")
            elif m := rerun.match(line) or listed.match(line):
                seen_binaries.add(m.group(1))
    tests.update(seen_tests)
    binaries.update(seen_binaries)
runs = len(logs)
if not tests and not binaries:
    print(f"no test failed in {runs} run(s)")
    sys.exit(0)
print(f"failed tests over {runs} run(s) (runs failed / runs):")
for name, count in sorted(tests.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f"  {count}/{runs}  {name}")
if binaries:
    print("failing test binaries (cargo's rerun hints):")
    for name, count in sorted(binaries.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count}/{runs}  {name}")
sys.exit(1)
PY
}

if [ "${1:-}" = "--parse" ]; then
  shift
  [ "$#" -gt 0 ] || { echo "usage: $0 --parse LOG..." >&2; exit 2; }
  summarise "$@"
  exit $?
fi

runs="${1:-}"
case "$runs" in
  '' | *[!0-9]* | 0) echo "usage: $0 N   (N >= 1 runs of cargo test --workspace --no-fail-fast)" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
# Its own build directory: test binaries bake in their checkout's path
# (CARGO_MANIFEST_DIR), and cargo judges freshness by modification times, so a
# clone built into the working copy's target directory leaves binaries there
# that cargo takes as fresh for the working copy yet read the deleted clone.
export CARGO_TARGET_DIR="${FLAKE_HUNT_TARGET_DIR:-$HOME/.cache/speechgate/flake-hunt-target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_TERM_COLOR=never
dir="${FLAKE_HUNT_DIR:-$(mktemp -d -t speechgate-flake-hunt.XXXXXX)}"
mkdir -p "$dir/logs"
head="$(git -C "$repo" rev-parse HEAD)"
rm -rf "$dir/clone"
git clone --quiet --no-hardlinks "$repo" "$dir/clone"
git -C "$dir/clone" -c advice.detachedHead=false checkout --quiet "$head"
echo "flake hunt: $runs run(s) of HEAD $head in $dir/clone, logs in $dir/logs"

logs=()
for i in $(seq 1 "$runs"); do
  [ "$i" -eq 1 ] || git -C "$dir/clone" clean -ffdxq
  log="$dir/logs/run-$i.log"
  started=$(date +%s)
  status=0
  (cd "$dir/clone" && cargo test --workspace --locked --no-fail-fast) >"$log" 2>&1 || status=$?
  echo "run $i/$runs: exit $status in $(( $(date +%s) - started )) s ($log)"
  logs+=("$log")
done
summarise "${logs[@]}"
