#!/usr/bin/env bash
# Sets Coffer up, starts the service on loopback (embedded default: SQLite and
# a local folder) and opens the desktop app. Closing the app's tray "Quit"
# stops the service this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/setup.sh run
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}

echo "==> Building the UI and the app (the first build takes a few minutes)"
(cd ui && npm run build --silent)
cargo build -p coffer-server -p coffer-desktop -p coffer-cli

listen=${COFFER_LISTEN:-127.0.0.1:8750}
server_pid=
if curl -fsS "http://$listen/v1/health" >/dev/null 2>&1; then
  echo "==> A Coffer service already answers on $listen; using it"
else
  data_dir=${COFFER_DATA_DIR:-$HOME/.local/share/coffer-server}
  mkdir -p "$data_dir"
  echo "==> Starting the Coffer service on http://$listen (data in $data_dir)"
  "$CARGO_TARGET_DIR/debug/coffer-server" --listen "$listen" --data-dir "$data_dir" \
    >>"$data_dir/server.log" 2>&1 &
  server_pid=$!
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    curl -fsS "http://$listen/v1/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
fi

app=("$CARGO_TARGET_DIR/debug/coffer-desktop")
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  # No desktop session means no unlocked keychain either: the app keeps its
  # secrets in memory for this run (and says so) rather than prompting.
  echo "==> No display found: running the app on a virtual one (xvfb-run), without a keychain"
  export COFFER_KEYCHAIN=off
  app=(xvfb-run -a -s "-screen 0 1280x800x24" "${app[@]}")
fi
echo "==> Opening Coffer (the command line is $CARGO_TARGET_DIR/debug/coffer)"
COFFER_SERVER_URL="http://$listen" "${app[@]}"
