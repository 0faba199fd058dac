#!/usr/bin/env bash
# Runs the WebDriver suite against the real app: a real coffer-server on
# 127.0.0.1 (random port), the built coffer-desktop under Xvfb with its own
# HOME, D-Bus session and unlocked keychain, driven through tauri-driver.
# Usage: tests/e2e/run.sh [ARTIFACT_DIR [TEST_FILE...]]  (default: every *.e2e.mjs here)
# Each test file launches the app through lib.mjs's `launch`, which gives every
# app session (a "device") its own HOME, config folder and keychain entries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}
artifacts=$(mkdir -p "${1:-$here/../../test-artifacts/e2e}" && cd "${1:-$here/../../test-artifacts/e2e}" && pwd)
shift || true
tests=("$@")
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  cp "$work/server.log" "$artifacts/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for bin in coffer-server coffer-desktop; do
  [ -x "$target/debug/$bin" ] || { echo "missing $target/debug/$bin: run cargo build --workspace first" >&2; exit 1; }
done

# A published privacy policy, as a real service has (Settings → Privacy shows it).
"$target/debug/coffer-server" publish-policy --data-dir "$work/server" --version 2026-01 --file "$here/fixtures/policy.md" >"$work/policy.log" 2>&1 \
  || { echo "could not publish the test policy:" >&2; cat "$work/policy.log" >&2; exit 1; }
# Background jobs (held-deletion mails, purges) every 5 s instead of 5 minutes,
# so a test sees their effects without waiting.
"$target/debug/coffer-server" --listen 127.0.0.1:0 --data-dir "$work/server" --job-interval-secs 5 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^coffer-server listening on \(http:[^ ]*\).*/\1/p' "$work/server.out" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the service did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export COFFER_E2E_SERVER=$url
export COFFER_E2E_APP=$target/debug/coffer-desktop
export COFFER_E2E_ARTIFACTS=$artifacts
export COFFER_E2E_WORK=$work
# The service's data folder: its mail outbox (<dir>/outbox/*.eml) and operator commands (send-mail).
export COFFER_E2E_SERVER_DATA=$work/server
export COFFER_E2E_DRIVER_PORT=$(free_port)
export COFFER_E2E_NATIVE_PORT=$(free_port)
# The app never touches the real user's data or keychain entries.
export HOME=$work/home XDG_DATA_HOME=$work/home/.local/share XDG_CONFIG_HOME=$work/home/.config XDG_CACHE_HOME=$work/home/.cache
export COFFER_CONFIG_DIR=$work/agent COFFER_KEYCHAIN_SERVICE=coffer-e2e
mkdir -p "$HOME"

cd "$here"
[ ${#tests[@]} -gt 0 ] || tests=(*.e2e.mjs)
export COFFER_E2E_TESTS="${tests[*]}"
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  keyring=$(../../scripts/keyring.sh coffer-e2e-keyring) || exit 1
  eval "$keyring"
  tauri-driver --port "$COFFER_E2E_DRIVER_PORT" --native-port "$COFFER_E2E_NATIVE_PORT" >"$COFFER_E2E_WORK/driver.log" 2>&1 &
  driver=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$COFFER_E2E_DRIVER_PORT") 2>/dev/null && break
    sleep 0.1
  done
  status=0
  node --test --test-concurrency=1 $COFFER_E2E_TESTS 2>&1 || status=$?
  kill "$driver" 2>/dev/null || true
  cp "$COFFER_E2E_WORK/driver.log" "$COFFER_E2E_ARTIFACTS/" 2>/dev/null || true
  exit $status
' 2>>"$artifacts/session.log"  # D-Bus, keyring and X noise; the test report stays on stdout
