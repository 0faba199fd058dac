#!/usr/bin/env bash
# The scaled service under load, on loopback: PostgreSQL and Garage
# (scripts/scaled.sh), two `coffer-server` replicas sharing them, and N
# agents at once backing up, changing, backing up and restoring through a
# load balancer (tests/examples/load.rs). Writes the report to
# OUT/report.md, with the replicas' logs beside it.
#
#   bench/load.sh [--agents 8] [--files 300] [--max-size 400000] [--out DIR]
#
# Binaries: release builds from this tree (built here if missing or older
# than the sources). Ports: PostgreSQL 55452, Garage 3920/3921, replicas on
# free ports.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
AGENTS=8
FILES=300
MAX_SIZE=400000
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --agents) AGENTS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --max-size) MAX_SIZE="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
OUT="${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)-load}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}"

echo "building release binaries" >&2
# Two commands: `--example` would narrow the first package to no target.
(cd "$ROOT" && cargo build --release -p coffer-server && cargo build --release -p coffer-tests --example load)
SERVER="$CARGO_TARGET_DIR/release/coffer-server"
LOAD="$CARGO_TARGET_DIR/release/examples/load"

W="$(mktemp -d /tmp/coffer-load.XXXXXX)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    COFFER_PG_PORT=55452 COFFER_GARAGE_PORT=3920 COFFER_GARAGE_RPC_PORT=3921 \
        "$ROOT/scripts/scaled.sh" stop "$W/stores" || true
    rm -rf "$W"
}
trap cleanup EXIT

# PostgreSQL runs as its own user: it must reach the stores folder.
chmod 755 "$W"
stores=$(COFFER_PG_PORT=55452 COFFER_GARAGE_PORT=3920 COFFER_GARAGE_RPC_PORT=3921 \
    "$ROOT/scripts/scaled.sh" start "$W/stores")
eval "$stores"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
URLS=()
for r in 1 2; do
    port=$(free_port)
    mkdir -p "$W/replica$r"
    # Same stores, same escrow key (the first replica makes it).
    COFFER_DATABASE="$SCALED_DATABASE" COFFER_OBJECTS="$SCALED_OBJECTS" \
        "$SERVER" --data-dir "$W/replica$r" --escrow-key "$W/escrow.key" --listen "127.0.0.1:$port" --log-format json \
        --sign-ups-per-ip 0 > "$OUT/replica$r.out" 2> "$OUT/replica$r.log" &
    PIDS+=($!)
    URLS+=("http://127.0.0.1:$port")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "replica $r did not become ready" >&2; exit 1; }
done

{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
    echo "mem=$(free -m | awk '/Mem:/{print $2}') MiB"
    echo "coffer_tree=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ', dirty')"
    echo "agents=$AGENTS files=$FILES max_size=$MAX_SIZE replicas=${URLS[*]}"
} > "$OUT/machine.txt"

args=()
for u in "${URLS[@]}"; do args+=(--server "$u"); done
status=0
"$LOAD" "${args[@]}" --agents "$AGENTS" --files "$FILES" --max-size "$MAX_SIZE" --out "$OUT/report.md" || status=$?
echo "report in $OUT/report.md" >&2
exit $status
