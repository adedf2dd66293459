#!/usr/bin/env bash
# Before a release: run the criterion benchmarks of BASE (default: the latest
# tag, else main) and of the working tree on this machine, one after the
# other, and print each benchmark's change against the base (criterion's
# "Performance has regressed/improved" lines and ratios). Both measurements
# come from the same run on the same machine, so the ratios mean something.
#
#   scripts/bench-compare.sh [BASE_REF] [criterion filter]
set -euo pipefail
cd "$(dirname "$0")/.."
base_ref="${1:-$(git describe --tags --abbrev=0 2>/dev/null || echo main)}"
filter="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/speechgate/target}"
export CRITERION_HOME="${CARGO_TARGET_DIR}/criterion-compare"
worktree="$(mktemp -d)/base"
trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || true' EXIT

echo "== baseline: $base_ref"
git worktree add --detach "$worktree" "$base_ref" >/dev/null
(cd "$worktree" && cargo bench -p benches -- --save-baseline base --noplot ${filter:+"$filter"})

echo "== working tree against $base_ref"
cargo bench -p benches -- --baseline base --noplot ${filter:+"$filter"}
