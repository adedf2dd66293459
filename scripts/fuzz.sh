#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and fails on a crash.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET defaults to every target
# (`cargo fuzz list`). Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). Corpora grow in fuzz/corpus/ (git-ignored;
# the checked-in seeds are in fuzz/seeds/), crashes land in fuzz/artifacts/.
# Prints one line per target: executions, corpus size, verdict. Exit status 1
# when any target crashed (a panic, a timeout over FUZZ_TIMEOUT seconds per
# input, or more than FUZZ_RSS_MB of memory). Environment: FUZZ_TARGET_DIR
# (default ~/.cache/speechgate/fuzz-target), FUZZ_JOBS (default 1).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/speechgate/fuzz-target}"
timeout="${FUZZ_TIMEOUT:-10}"
rss="${FUZZ_RSS_MB:-2048}"
fuzz=(cargo +nightly fuzz)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

cd "$root"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi

# -s none: the workspace forbids unsafe code; -a: debug assertions and
# overflow checks on, so arithmetic overflow is a crash too.
build_flags=(-s none -a --target-dir "$target_dir")
"${fuzz[@]}" build "${build_flags[@]}"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
# The repository's own files are seeds too: scenario files, the template,
# and the recorded clips small enough for -max_len.
mkdir -p "$logs/seeds/scenario_file" "$logs/seeds/template_file" "$logs/seeds/wav_clip"
find scenarios -name '*.yaml' -size -64k -exec cp {} "$logs/seeds/scenario_file/" \;
cp backend/template.yaml "$logs/seeds/template_file/"
find harness/tests/fixtures -name '*.yaml' -size -64k -exec cp {} "$logs/seeds/template_file/" \; 2>/dev/null || true
find scenarios/audio -name '*.wav' -size -64k -exec cp {} "$logs/seeds/wav_clip/" \;
failed=()
printf '%-22s %14s %8s  %s\n' target executions corpus result
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds+=("fuzz/seeds/$target")
  [ -d "$logs/seeds/$target" ] && seeds+=("$logs/seeds/$target")
  log="$logs/$target.log"
  status=0
  "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss" \
    -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  units="$(find "$corpus" -type f | wc -l)"
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $status): $(ls -t "fuzz/artifacts/$target" | head -1)"
    failed+=("$target")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
  fi
  printf '%-22s %14s %8s  %s\n' "$target" "${executions:-?}" "$units" "$result"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; reproduce with cargo +nightly fuzz run -s none -a --target-dir $target_dir TARGET FILE)" >&2
  exit 1
fi
