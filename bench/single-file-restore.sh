#!/usr/bin/env bash
# Restoring one small file from a large backup: how long until the file is
# there, and how many bytes the service sent compared with the repository.
#
#   bench/single-file-restore.sh [--size-mb 2048] [--runs 5] [--workdir DIR]
#                                [--out DIR] [--keep]
#
# One `coffer-server` on 127.0.0.1 and the release `coffer` CLI. The dataset is
# bench/dataset.py's (seed 1; 2048 MiB is about 72k files). After one full
# backup (not measured) it times, RUNS times each:
#   baseline   `coffer snapshots` — what every command pays anyway (sign-in
#              from COFFER_PASSWORD, the catalog, the snapshot list)
#   warm       `coffer restore --path FILE` on the device that made the backup
#   cold       the same on a new device: `coffer login` first (not timed),
#              then the restore, with an empty local cache
#   medium     a 0.5–4 MiB file on the backup device, for scale
# and reads `coffer_http_sent_bytes_total` and the request count from the
# service's /metrics before and after each command. Every restored file is
# compared with the original (cmp). Output: OUT/results.tsv, OUT/summary.md.
#
# Environment: COFFER_BIN_DIR (default $CARGO_TARGET_DIR/release or
# ~/.cache/coffer-target/release) with `coffer` and `coffer-server`; NICE
# (default 10) for every measured command and the service.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SIZE_MB=2048
RUNS=5
WORKDIR=""
OUT=""
KEEP=0
NICE="${NICE:-10}"
. "$HERE/lib.sh"

while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) SIZE_MB="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --workdir) WORKDIR="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

BIN="${COFFER_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/coffer-target}/release}"
require_coffer_binaries "$BIN"
for tool in curl python3 cmp; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

setup_dirs coffer-restore-bench single-file-restore

say() { echo "$*" | tee -a "$LOG"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }

# The service, with its own data folder, on a free loopback port. A kept
# workdir (--keep) keeps only the dataset for the next run.
rm -rf "$W/server" "$W"/device-* "$W"/restore-*
mkdir -p "$W/server"
start_coffer_server "$BIN/coffer-server" "$W/server" "$OUT/server.log" || exit 1

metrics() { curl -s "$COFFER_URL/metrics"; }
sent() { metrics | awk '$1=="coffer_http_sent_bytes_total"{print $2}'; }
requests() { metrics | awk '/^coffer_http_requests_total\{/{n+=$2} END{print n+0}'; }

# No keychain: every command signs in from COFFER_PASSWORD, as in compare.sh.
unset DBUS_SESSION_BUS_ADDRESS
export COFFER_PASSWORD="bench-Quartz-Lantern-9731-violet"
EMAIL="restore-bench@example.com"

DATA="$W/data"
if [ ! -d "$DATA" ]; then
    say "generating ${SIZE_MB} MiB of data"
    nice -n "$NICE" python3 "$HERE/dataset.py" generate "$DATA" --size-mb "$SIZE_MB" --seed 1 >>"$LOG"
fi
FILES=$(find "$DATA" -type f | wc -l)
DATA_BYTES=$(du -sb --apparent-size "$DATA" | cut -f1)

# The files to restore: the first (by name) small text file and a 0.5–4 MiB file.
SMALL=$(find "$DATA/projects" -type f -size -8k -size +1k | LC_ALL=C sort | sed -n 1p)
MEDIUM=$(find "$DATA" -type f -size +512k -size -4096k | LC_ALL=C sort | sed -n 1p)
[ -n "$SMALL" ] && [ -n "$MEDIUM" ] || { echo "no small or medium file in the dataset" >&2; exit 1; }

A="$W/device-a"
"$BIN/coffer" --config-dir "$A" --server "$COFFER_URL" signup --first Bench --last Mark --email "$EMAIL" --confirm-age >>"$LOG" 2>&1
"$BIN/coffer" --config-dir "$A" folders add "$DATA" >>"$LOG" 2>&1
say "backing up $FILES files ($DATA_BYTES bytes)"
t0=$(now)
nice -n "$NICE" "$BIN/coffer" --config-dir "$A" backup >>"$LOG" 2>&1
say "  backup took $(elapsed "$t0" "$(now)") s"
REPO_BYTES=$(du -sb --apparent-size "$W/server/objects" | cut -f1)
PACKS=$(find "$W/server/objects" -type f | wc -l)

printf 'case\trun\tseconds\tsent_bytes\trequests\tfile_bytes\n' >"$TSV"

# measure CASE RUN CONFIG_DIR FILE: one restore of FILE, one TSV row.
measure_restore() {
    local case="$1" run="$2" config="$3" file="$4" to="$W/restore-$1-$2"
    rm -rf "$to"
    local s0 r0 t0 t1 s1 r1
    s0=$(sent); r0=$(requests); t0=$(now)
    nice -n "$NICE" "$BIN/coffer" --config-dir "$config" restore --to "$to" --path "$file" >>"$LOG" 2>&1
    t1=$(now); s1=$(sent); r1=$(requests)
    local restored; restored=$(find "$to" -type f -name "$(basename "$file")" | sed -n 1p)
    [ -n "$restored" ] && cmp -s "$file" "$restored" || { echo "$case run $run: the restored file differs or is missing" >&2; exit 1; }
    [ "$(find "$to" -type f | wc -l)" = 1 ] || { echo "$case run $run: more than one file was restored" >&2; exit 1; }
    # Each /metrics scrape is itself a request: r1 - r0 - 1 for the one in between.
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$run" "$(elapsed "$t0" "$t1")" "$((s1 - s0))" "$((r1 - r0 - 1))" "$(stat -c %s "$file")" >>"$TSV"
    rm -rf "$to"
}

measure_baseline() {
    local run="$1" s0 r0 t0 t1 s1 r1
    s0=$(sent); r0=$(requests); t0=$(now)
    nice -n "$NICE" "$BIN/coffer" --config-dir "$A" snapshots >/dev/null 2>>"$LOG"
    t1=$(now); s1=$(sent); r1=$(requests)
    printf 'baseline\t%s\t%s\t%s\t%s\t0\n' "$run" "$(elapsed "$t0" "$t1")" "$((s1 - s0))" "$((r1 - r0 - 1))" >>"$TSV"
}

for run in $(seq 1 "$RUNS"); do
    measure_baseline "$run"
    measure_restore warm "$run" "$A" "$SMALL"
    B="$W/device-b-$run"
    "$BIN/coffer" --config-dir "$B" --server "$COFFER_URL" login --email "$EMAIL" >>"$LOG" 2>&1
    measure_restore cold "$run" "$B" "$SMALL"
    rm -rf "$B"
    measure_restore medium "$run" "$A" "$MEDIUM"
    say "  run $run done"
done

# Medians per case.
python3 - "$TSV" "$REPO_BYTES" "$PACKS" "$FILES" "$DATA_BYTES" "${SMALL#"$DATA"/}" "${MEDIUM#"$DATA"/}" >"$OUT/summary.md" <<'PY'
import csv, statistics, sys
tsv, repo, packs, files, data, small, medium = sys.argv[1:]
repo, packs, files, data = int(repo), int(packs), int(files), int(data)
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
print(f"dataset: {files} files, {data:,} bytes; repository: {repo:,} bytes in {packs} objects")
print(f"small file: {small}; medium file: {medium}\n")
print("| case | runs | seconds (median, min–max) | bytes sent (median) | share of repository | requests (median) | file bytes |")
print("|---|---|---|---|---|---|---|")
for case in ("baseline", "warm", "cold", "medium"):
    rs = [r for r in rows if r["case"] == case]
    if not rs:
        continue
    secs = [float(r["seconds"]) for r in rs]
    sent = statistics.median(int(r["sent_bytes"]) for r in rs)
    reqs = statistics.median(int(r["requests"]) for r in rs)
    print(f"| {case} | {len(rs)} | {statistics.median(secs):.2f} ({min(secs):.2f}–{max(secs):.2f}) | {sent:,.0f} | {100 * sent / repo:.4f} % | {reqs:.0f} | {rs[0]['file_bytes']} |")
PY
{
    echo
    echo "machine: $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); coffer $("$BIN/coffer" --version 2>/dev/null || echo '?'), built $(date -u -r "$BIN/coffer" +%Y-%m-%dT%H:%M:%SZ)"
} >>"$OUT/summary.md"
cat "$OUT/summary.md" | tee -a "$LOG"
