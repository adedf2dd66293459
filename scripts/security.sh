#!/usr/bin/env bash
# The security suite in one command: input properties (backend and harness)
# and the security checks on the local stack (chat authorizer bypass and
# rate limit, HTTP IDOR, QR replay and races, password hashing, sign-in
# limit, CORS, random bodies, secrets never logged). docs/security.md lists
# every check. All of them also run in `cargo test --workspace`.
#
#   scripts/security.sh [--fuzz SECONDS_PER_TARGET]
#
# --fuzz also runs scripts/fuzz.sh (nightly and cargo-fuzz needed).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p backend --test it input_properties::
# Two local stacks at a time: each test starts one (DynamoDB Local, every
# function), and bcrypt at cost 12 is slow on a busy machine.
cargo test -p harness --test it -- input_properties:: security_chat:: security_http:: \
  security_http_limits:: security_secrets:: --test-threads="${SECURITY_TEST_THREADS:-2}"
if [ "${1:-}" = "--fuzz" ]; then
  scripts/fuzz.sh "${2:-60}"
fi
