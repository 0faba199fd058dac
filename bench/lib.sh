# Sourced by the bench scripts (compare.sh, single-file-restore.sh): their
# work and results folders, the cleanup when they exit, and a coffer-server
# on a free loopback port. Each script sets HERE, WORKDIR, OUT, KEEP and
# NICE before sourcing this file.

# require_coffer_binaries DIR: exits unless DIR holds `coffer` and `coffer-server`.
require_coffer_binaries() {
    local b
    for b in coffer coffer-server; do
        [ -x "$1/$b" ] || { echo "missing $1/$b: cargo build --release -p coffer-server -p coffer-cli" >&2; exit 1; }
    done
}

# setup_dirs TEMP_NAME OUT_NAME: W is WORKDIR (or a new /tmp/TEMP_NAME.XXXXXX),
# OUT is OUT (or results/<UTC time>-OUT_NAME), with OUT/results.tsv (TSV) and
# OUT/run.log (LOG). On exit the service is stopped and W removed (unless
# KEEP=1).
setup_dirs() {
    W="${WORKDIR:-$(mktemp -d "/tmp/$1.XXXXXX")}"
    mkdir -p "$W"
    W="$(cd "$W" && pwd)"
    OUT="${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)-$2}"
    mkdir -p "$OUT"
    OUT="$(cd "$OUT" && pwd)"
    TSV="$OUT/results.tsv"
    LOG="$OUT/run.log"
    SERVER_PID=""
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

cleanup() {
    local rc=$?
    stop_coffer_server
    if [ "$KEEP" = 0 ]; then rm -rf "$W"; else echo "kept $W"; fi
    exit $rc
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_coffer_server BINARY DATA_DIR STDERR_LOG: the service (at NICE) on a
# free port, stdout to W/server.out; sets SERVER_PID and COFFER_URL once it
# answers /v1/health. Returns 1 if it does not within 10 s.
start_coffer_server() {
    local port; port=$(free_port)
    COFFER_URL="http://127.0.0.1:$port"
    nice -n "$NICE" "$1" --data-dir "$2" --listen "127.0.0.1:$port" > "$W/server.out" 2> "$3" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        curl -sf "$COFFER_URL/v1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "coffer-server did not start" >&2; return 1
}

stop_coffer_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
