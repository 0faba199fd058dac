#!/usr/bin/env bash
# Coffer vs restic vs borg on the same deterministic dataset, same run.
#
#   bench/compare.sh [--size-mb 300] [--runs 3] [--tools "coffer restic borg"]
#                    [--workdir DIR] [--out DIR] [--timeout SECS] [--keep]
#
# For each run and tool, on a fresh copy of the dataset and a fresh store:
#   backup-initial, backup-nochange, (mutate ~1 %), backup-mutated,
#   restore (latest, verified with diff -r), check (full data read).
# Each phase runs under `/usr/bin/time -v` (wall time, peak RSS and CPU of
# the client process) and `timeout`. Coffer's client talks to a
# `coffer-server` on 127.0.0.1 with a temporary data dir; its peak RSS and
# CPU are sampled from /proc separately. restic and borg write to a local
# folder. Results go to OUT/results.tsv and OUT/table.md (medians).
#
# Environment: COFFER_BIN_DIR (default $CARGO_TARGET_DIR/release or
# ~/.cache/coffer-target/release) with `coffer` and `coffer-server`;
# DROP_CACHES=1 drops the page cache before each phase (root only; off by
# default because it slows everything else on a shared machine); NICE
# (default 10) is the niceness of every measured command and the service.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SIZE_MB=300
RUNS=3
TOOLS="coffer restic borg"
WORKDIR=""
OUT=""
TIMEOUT=3600
KEEP=0
NICE="${NICE:-10}"
DROP_CACHES="${DROP_CACHES:-0}"
. "$HERE/lib.sh"

while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) SIZE_MB="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --tools) TOOLS="$2"; shift 2 ;;
        --workdir) WORKDIR="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --timeout) TIMEOUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

BIN_SRC="${COFFER_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}/release}"
for t in $TOOLS; do
    case "$t" in
        coffer) require_coffer_binaries "$BIN_SRC" ;;
        restic|borg) command -v "$t" >/dev/null || { echo "missing $t: apt-get install -y restic borgbackup" >&2; exit 1; } ;;
        *) echo "unknown tool $t" >&2; exit 2 ;;
    esac
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install -y time)" >&2; exit 1; }

setup_dirs coffer-bench "${SIZE_MB}mb"

say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# Binaries are copied so a rebuild in the source tree cannot swap them mid-run.
mkdir -p "$W/bin"
if [[ " $TOOLS " == *" coffer "* ]]; then
    cp "$BIN_SRC/coffer" "$BIN_SRC/coffer-server" "$W/bin/"
fi
COFFER="$W/bin/coffer"
COFFER_SERVER="$W/bin/coffer-server"

# ---------------------------------------------------------------- machine
{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
    echo "mem=$(free -m | awk '/Mem:/{print $2}') MiB"
    echo "kernel=$(uname -r)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "fs=$(df -T "$W" | awk 'NR==2{print $2" on "$1}')"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ " $TOOLS " == *" coffer "* ]]; then
        # HEAD at the time of the run; the binaries may have been built from
        # another state of the tree, so record when and what they are too.
        echo "coffer=$("$COFFER" --version) (tree at run: $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$HERE/.." diff --quiet 2>/dev/null || echo ', dirty'))"
        echo "coffer_binaries=built $(date -u -r "$BIN_SRC/coffer" +%Y-%m-%dT%H:%M:%SZ), sha256 coffer $(sha256sum "$COFFER" | cut -c1-16), coffer-server $(sha256sum "$COFFER_SERVER" | cut -c1-16)"
    fi
    command -v restic >/dev/null && echo "restic=$(restic version | head -1)"
    command -v borg >/dev/null && echo "borg=$(borg --version)"
    echo "size_mb=$SIZE_MB runs=$RUNS nice=$NICE drop_caches=$DROP_CACHES"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" | tee -a "$LOG" >&2

# ---------------------------------------------------------------- dataset
say "generating ${SIZE_MB} MB dataset (seed 1)"
nice -n "$NICE" python3 "$HERE/dataset.py" generate "$W/pristine" --size-mb "$SIZE_MB" --seed 1 | tee -a "$LOG" >&2
python3 "$HERE/dataset.py" stats "$W/pristine" | tee "$OUT/dataset.txt" | tee -a "$LOG" >&2

DATA="$W/data"   # every tool backs up this same path
printf 'tool\trun\tphase\twall_s\tmaxrss_kb\tuser_s\tsys_s\tstore_bytes\tstore_added\tuploaded_bytes\tserver_maxrss_kb\tserver_cpu_s\tcache_bytes\tload1\tok\n' > "$TSV"

drop_caches() {
    if [ "$DROP_CACHES" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches || true; fi
}

bytes_of() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }

# Server-side samples (coffer only): reset the peak RSS before a phase,
# read it and the CPU time after.
server_reset() {
    [ -n "$SERVER_PID" ] || return 0
    echo 5 > "/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
    SERVER_CPU0=$(server_cpu)
}
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$SERVER_PID/stat"
}
server_hwm() { awk '/VmHWM/{print $2}' "/proc/$SERVER_PID/status"; }
metric() { curl -s "$COFFER_URL/metrics" | awk -v m="$1" '$1==m{print $2}' | head -1; }

# store_path TOOL -> what counts as "stored"
store_path() {
    case "$1" in
        coffer) echo "$W/coffer-data/objects" ;;
        restic) echo "$W/restic-repo" ;;
        borg) echo "$W/borg-repo" ;;
    esac
}
cache_path() {
    case "$1" in
        coffer) echo "$W/coffer-agent" ;;
        restic) echo "$W/restic-cache" ;;
        borg) echo "$W/borg-base" ;;
    esac
}

# measure TOOL RUN PHASE cmd... : one timed phase, one TSV row.
measure() {
    local tool="$1" run="$2" phase="$3"; shift 3
    local tf="$W/time.txt" plog="$OUT/logs/$tool-$run-$phase.log"
    mkdir -p "$OUT/logs"
    local store0 up0=0
    store0=$(bytes_of "$(store_path "$tool")")
    if [ "$tool" = coffer ]; then up0=$(metric coffer_http_received_bytes_total); server_reset; fi
    drop_caches
    local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
    local ok=1
    nice -n "$NICE" /usr/bin/time -v -o "$tf" timeout "$TIMEOUT" "$@" > "$plog" 2>&1 || ok=0
    local wall rss usr sys
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tf")
    usr=$(awk -F': ' '/User time/{print $2}' "$tf")
    sys=$(awk -F': ' '/System time/{print $2}' "$tf")
    local store1 added up="" shwm="" scpu=""
    store1=$(bytes_of "$(store_path "$tool")")
    added=$((store1 - store0))
    if [ "$tool" = coffer ]; then
        up=$(( $(metric coffer_http_received_bytes_total) - up0 ))
        shwm=$(server_hwm)
        scpu=$(awk -v a="$(server_cpu)" -v b="$SERVER_CPU0" 'BEGIN{printf "%.2f", a-b}')
    fi
    local cache; cache=$(bytes_of "$(cache_path "$tool")")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$tool" "$run" "$phase" "$wall" "$rss" "$usr" "$sys" "$store1" "$added" "$up" "$shwm" "$scpu" "$cache" "$load1" "$ok" >> "$TSV"
    say "  $tool run $run $phase: ${wall}s, ${rss} KiB peak, store $store1 B (+$added)${up:+, uploaded $up B}${shwm:+, service peak ${shwm} KiB, ${scpu}s CPU}$([ $ok = 1 ] || echo ' FAILED')"
    if [ $ok = 0 ]; then tail -5 "$plog" | sed 's/^/      /' | tee -a "$LOG" >&2; return 1; fi
}

fresh_data() { rm -rf "$DATA"; cp -a "$W/pristine" "$DATA"; }
mutate_data() { nice -n "$NICE" python3 "$HERE/dataset.py" mutate "$DATA" --seed 2 >> "$LOG"; }
verify_restore() {
    if diff -rq "$DATA" "$1" > "$OUT/logs/diff-$2.txt" 2>&1; then return 0; fi
    say "  RESTORE MISMATCH for $2 (see logs/diff-$2.txt)"; return 1
}

# ---------------------------------------------------------------- tools
start_server() {
    rm -rf "$W/coffer-data"
    mkdir -p "$W/coffer-data"
    start_coffer_server "$COFFER_SERVER" "$W/coffer-data" "$OUT/logs/server-$1.log"
}

run_coffer() {
    local r="$1"
    export COFFER_CONFIG_DIR="$W/coffer-agent" COFFER_PASSWORD="bench-Quartz-Lantern-9731-violet"
    unset DBUS_SESSION_BUS_ADDRESS
    rm -rf "$COFFER_CONFIG_DIR"
    start_server "$r"
    "$COFFER" --server "$COFFER_URL" signup --first Bench --last Mark --email "bench$r@example.com" --confirm-age >> "$LOG" 2>&1
    "$COFFER" folders add "$DATA" >> "$LOG" 2>&1
    measure coffer "$r" backup-initial "$COFFER" backup &&
    measure coffer "$r" backup-nochange "$COFFER" backup &&
    mutate_data &&
    measure coffer "$r" backup-mutated "$COFFER" backup &&
    { rm -rf "$W/restore"; mkdir -p "$W/restore"; measure coffer "$r" restore "$COFFER" restore --to "$W/restore"; } &&
    { verify_restore "$W/restore/$(basename "$DATA")" coffer-$r || true; rm -rf "$W/restore"; } &&
    measure coffer "$r" check-read-data "$COFFER" check --read-data || true
    stop_coffer_server
    rm -rf "$W/coffer-data" "$COFFER_CONFIG_DIR"
}

run_restic() {
    local r="$1"
    export RESTIC_REPOSITORY="$W/restic-repo" RESTIC_PASSWORD="bench-Quartz-Lantern-9731-violet" RESTIC_CACHE_DIR="$W/restic-cache"
    rm -rf "$RESTIC_REPOSITORY" "$RESTIC_CACHE_DIR"
    restic init >> "$LOG" 2>&1
    measure restic "$r" backup-initial restic backup "$DATA" &&
    measure restic "$r" backup-nochange restic backup "$DATA" &&
    mutate_data &&
    measure restic "$r" backup-mutated restic backup "$DATA" &&
    { rm -rf "$W/restore"; mkdir -p "$W/restore"; measure restic "$r" restore restic restore latest --target "$W/restore"; } &&
    { verify_restore "$W/restore$DATA" restic-$r || true; rm -rf "$W/restore"; } &&
    measure restic "$r" check-read-data restic check --read-data || true
    rm -rf "$RESTIC_REPOSITORY" "$RESTIC_CACHE_DIR"
}

run_borg() {
    local r="$1"
    export BORG_REPO="$W/borg-repo" BORG_PASSPHRASE="bench-Quartz-Lantern-9731-violet" BORG_BASE_DIR="$W/borg-base"
    export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
    rm -rf "$BORG_REPO" "$BORG_BASE_DIR"
    borg init --encryption=repokey >> "$LOG" 2>&1
    measure borg "$r" backup-initial borg create ::b1 "$DATA" &&
    measure borg "$r" backup-nochange borg create ::b2 "$DATA" &&
    mutate_data &&
    measure borg "$r" backup-mutated borg create ::b3 "$DATA" &&
    { rm -rf "$W/restore"; mkdir -p "$W/restore"; measure borg "$r" restore sh -c "cd '$W/restore' && exec borg extract ::b3"; } &&
    { verify_restore "$W/restore$DATA" borg-$r || true; rm -rf "$W/restore"; } &&
    measure borg "$r" check-read-data borg check --verify-data || true
    rm -rf "$BORG_REPO" "$BORG_BASE_DIR"
}

# ---------------------------------------------------------------- runs
read -r -a tools <<< "$TOOLS"
for r in $(seq 1 "$RUNS"); do
    # The reading floor: the dataset through tar, warm or cold as the tools see it.
    fresh_data
    measure tar "$r" read-floor sh -c "tar -cf - -C '$W' data | cat > /dev/null" || true
    # Rotate the order each run so slow drifts in background load spread evenly.
    n=${#tools[@]}
    for i in $(seq 0 $((n - 1))); do
        t="${tools[$(( (i + r - 1) % n ))]}"
        say "run $r/$RUNS: $t"
        fresh_data
        "run_$t" "$r"
    done
done
rm -rf "$DATA"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/table.md"
say "results in $OUT"
