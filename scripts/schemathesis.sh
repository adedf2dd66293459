#!/usr/bin/env bash
# Property-based contract test of the IELTS HTTP API: starts the local stack
# (`harness up`), signs in an admin account on the full plan, and runs
# schemathesis (PyPI) against the REST API with backend/spec/http.openapi.yaml.
# Passes when no answer is a 5xx, every status, content type, header and body
# matches the contract, and invalid input is refused.
#
#   scripts/schemathesis.sh [extra schemathesis arguments, e.g. --max-examples 20]
#
# Needs Python 3; installs schemathesis into $SPEECHGATE_VENV
# (default ~/.cache/speechgate/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${SPEECHGATE_VENV:-$HOME/.cache/speechgate/venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis>=4.32,<5"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/speechgate/target}"

admin="schemathesis-admin@ieltsaiprep.test"
password="schemathesis-password"
work="$(mktemp -d)"
cargo build --quiet -p harness -p backend --bins
"$CARGO_TARGET_DIR/debug/harness" up --no-build --parameter-overrides "AdminEmails=$admin" \
  >"$work/ready.json" 2>"$work/stack.log" &
stack=$!
cleanup() {
  kill -TERM "$stack" 2>/dev/null || true
  wait "$stack" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  [ -s "$work/ready.json" ] && break
  kill -0 "$stack" 2>/dev/null || { cat "$work/stack.log" >&2; exit 1; }
  sleep 1
done
url="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["rest_apis"]["IeltsRestApi"]["url"])' <"$work/ready.json")"
echo "local HTTP API: $url" >&2

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
body="{\"email\":\"$admin\",\"password\":\"$password\"}"
user_id="$(curl -sSf -H 'content-type: application/json' -d "$body" "$url/api/auth/register" | json '["user"]["user_id"]')"
token="$(curl -sSf -H 'content-type: application/json' -d "$body" "$url/api/auth/login" | json '["session_token"]')"
curl -sSf -X PUT -H 'content-type: application/json' -H "authorization: Bearer $token" \
  -d '{"subscription_tier":"full"}' "$url/api/admin/users/$user_id" >/dev/null

# logout would end the session the run uses; everything else is exercised.
"$venv/bin/schemathesis" run backend/spec/http.openapi.yaml \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
  --exclude-operation-id logout \
  --phases examples,coverage,fuzzing \
  --workers 2 \
  --request-timeout 60 \
  --generation-database none \
  --no-color \
  "$@"
