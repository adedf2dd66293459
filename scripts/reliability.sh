#!/usr/bin/env bash
# Reliability and security in one command: the chaos suite (`harness chaos`:
# faults injected into real sessions on the local stack, six invariants
# checked after each case; docs/reliability.md), then the security suite
# (input properties and the security checks on the local stack;
# docs/security.md). Exit status 0 only when both pass.
#
#   scripts/reliability.sh [--fuzz SECONDS_PER_TARGET]
#
# --fuzz also runs every cargo-fuzz target for that long (nightly and
# cargo-fuzz needed; opt-in, slow to build the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/speechgate/target}"
echo "== chaos suite (docs/reliability.md)"
cargo run -q --bin harness -- chaos
echo "== security suite (docs/security.md)"
scripts/security.sh "$@"
