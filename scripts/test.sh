#!/usr/bin/env bash
# Sets Coffer up and runs every test: UI component tests and page flows
# (headless Chromium), the Rust suites (engine, service, agent, CLI — with a
# real keychain daemon; the service, agent and CLI suites twice: embedded and
# on PostgreSQL + Garage), the share page in headless Chromium, the API fuzzed by
# schemathesis, and the real app window over WebDriver under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
artifacts=$PWD/test-artifacts
mkdir -p "$artifacts"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "UI: type check, component tests, build, page flows in headless Chromium"
(cd ui && npm run check && npm test && npm run build && npm run test:flows)

step "Rust: build everything"
cargo build --workspace --all-targets

step "Rust: unit, property, service, agent and CLI tests (with a real keychain daemon)"
# A private D-Bus session with an unlocked gnome-keyring: the agent's secrets
# go to a real Secret Service, under a test-only service name.
dbus-run-session -- bash -c '
  keyring=$(scripts/keyring.sh coffer-test-keyring) || exit 1
  eval "$keyring"
  export COFFER_KEYCHAIN_SERVICE=coffer-test COFFER_TEST_REQUIRE_KEYCHAIN=1
  cargo test --workspace --no-fail-fast
'

step "Scaled: the service, agent and CLI suites again on PostgreSQL + Garage (S3), replicas included"
# The same tests, each on a schema and key prefix of its own in a real
# PostgreSQL and a one-node Garage on loopback (scripts/scaled.sh).
scaled_dir=$(mktemp -d /tmp/coffer-scaled.XXXXXX)
trap 'scripts/scaled.sh stop "$scaled_dir"' EXIT
# Free loopback ports, so a PostgreSQL or Garage already running elsewhere
# on this machine is left alone.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export COFFER_PG_PORT=$(free_port) COFFER_GARAGE_PORT=$(free_port) COFFER_GARAGE_RPC_PORT=$(free_port)
scaled_env=$(scripts/scaled.sh start "$scaled_dir")
eval "$scaled_env"
dbus-run-session -- bash -c '
  keyring=$(scripts/keyring.sh coffer-test-keyring) || exit 1
  eval "$keyring"
  export COFFER_KEYCHAIN_SERVICE=coffer-test COFFER_TEST_REQUIRE_KEYCHAIN=1
  cargo test -p coffer-server -p coffer-testkit -p coffer-tests -p coffer-cli --no-fail-fast
'
scripts/scaled.sh stop "$scaled_dir"
trap - EXIT

step "Share links in headless Chromium against a real coffer-server"
node --test tests/share-page/

step "The API fuzzed from its OpenAPI document (schemathesis): no server errors"
scripts/schemathesis.sh

step "The real app window over WebDriver (Xvfb, tauri-driver)"
tests/e2e/run.sh "$artifacts/e2e"
