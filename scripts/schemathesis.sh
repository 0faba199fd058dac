#!/usr/bin/env bash
# Fuzzes the service's API from its own document (/v1/openapi.json) with
# schemathesis (PyPI) against a fresh coffer-server on loopback, signed in
# as a throwaway account: no request may get a server error (5xx).
#
# schemathesis is installed into a venv under $HOME/.cache/coffer-venv on
# first use. Options: SCHEMATHESIS_MAX_EXAMPLES (per operation, default 30),
# SCHEMATHESIS_SEED, COFFER_VENV. Artifacts: test-artifacts/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}
venv=${COFFER_VENV:-$HOME/.cache/coffer-venv}
version=4.32.5
artifacts=$PWD/test-artifacts/schemathesis
mkdir -p "$artifacts"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

cargo build --quiet -p coffer-server
data=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

# Generous limits: the fuzzer signs up and guesses passwords many times, and
# a 429 is a correct answer but would hide what comes after it.
NO_COLOR=1 "$CARGO_TARGET_DIR/debug/coffer-server" --listen 127.0.0.1:0 --data-dir "$data/service" \
  --sign-ups-per-ip 100000 --job-interval-secs 0 >"$artifacts/server.log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$artifacts/server.log" | head -1 | sed 's/listening on //') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$artifacts/server.log"; echo "coffer-server did not start" >&2; exit 1; }

password='schemathesis fuzzing password'
curl -sf -X POST "$url/v1/accounts" -H 'content-type: application/json' -d "{\"first_name\":\"Fuzz\",\"last_name\":\"Er\",
  \"email\":\"fuzz@example.com\",\"password\":\"$password\",\"age_confirmed\":true,\"key_mode\":\"default\",
  \"data_key\":\"$(head -c 32 /dev/urandom | base64)\"}" >/dev/null
token=$(curl -sf -X POST "$url/v1/sessions" -H 'content-type: application/json' \
  -d "{\"email\":\"fuzz@example.com\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Operations that end the fuzzer's own session or account are left out: they
# would turn every later request into a 401 and test nothing more. Run from
# the artifacts folder, where schemathesis keeps its cache.
status=0
(cd "$artifacts" && "$venv/bin/schemathesis" run "$url/v1/openapi.json" \
  --checks not_a_server_error \
  --header "Authorization: Bearer $token" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
  --exclude-operation-id sign_out --exclude-operation-id revoke_all \
  --exclude-operation-id change_password --exclude-operation-id put_key \
  --exclude-operation-id delete_account \
  --phases examples,coverage,fuzzing \
  --workers 2 \
  --generation-database none \
  --no-color \
  --report junit --report-dir "$artifacts") || status=$?
if grep -q 'internal error' "$artifacts/server.log"; then
  echo "the service logged an internal error (see $artifacts/server.log)" >&2
  exit 1
fi
exit $status
