#!/usr/bin/env python3
"""Medians of bench/compare.sh's results.tsv as Markdown tables.

    summarize.py OUTDIR     (reads OUTDIR/results.tsv, OUTDIR/dataset.txt)
"""

import csv
import os
import statistics
import sys

PHASES = ["backup-initial", "backup-nochange", "backup-mutated", "restore", "check-read-data"]
TOOLS = ["coffer", "restic", "borg"]
MIB = 1024 * 1024


def main():
    out = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))
    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    dataset_bytes = None
    try:
        text = open(os.path.join(out, "dataset.txt")).read()
        dataset_bytes = int(text.split(" bytes")[0].split()[-1])
    except (OSError, ValueError, IndexError):
        pass

    def vals(tool, phase, key):
        v = []
        for r in rows:
            if r["tool"] == tool and r["phase"] == phase and r["ok"] == "1" and r[key] not in ("", None):
                v.append(float(r[key]))
        return v

    def med(tool, phase, key):
        v = vals(tool, phase, key)
        return statistics.median(v) if v else None

    def cell_time(tool, phase):
        v = vals(tool, phase, "wall_s")
        if not v:
            return "failed" if any(r["tool"] == tool and r["phase"] == phase for r in rows) else "–"
        m = statistics.median(v)
        s = f"{m:.2f} s"
        if len(v) > 1:
            s += f" ({min(v):.1f}–{max(v):.1f})"
        if dataset_bytes and phase in ("backup-initial", "restore", "check-read-data"):
            s += f", {dataset_bytes / MIB / m:.0f} MiB/s"
        return s

    def mib(x):
        return "–" if x is None else f"{x / MIB:.1f} MiB"

    def kib_as_mib(x):
        return "–" if x is None else f"{x / 1024:.0f} MiB"

    n_runs = len({r["run"] for r in rows})
    lines = []
    floor = vals("tar", "read-floor", "wall_s")
    lines.append(f"Medians of {n_runs} run(s); wall time (min–max) and throughput over the dataset's size.")
    if floor:
        lines.append(f"Reading the dataset (`tar -cf - data | cat > /dev/null`, same cache state): "
                     f"{statistics.median(floor):.2f} s median.")
    lines.append("")
    lines.append("| wall time | " + " | ".join(tools) + " |")
    lines.append("|---|" + "---|" * len(tools))
    for p in PHASES:
        lines.append(f"| {p} | " + " | ".join(cell_time(t, p) for t in tools) + " |")
    lines.append("")
    lines.append("| client peak RSS | " + " | ".join(tools) + " |")
    lines.append("|---|" + "---|" * len(tools))
    for p in PHASES:
        lines.append(f"| {p} | " + " | ".join(kib_as_mib(med(t, p, "maxrss_kb")) for t in tools) + " |")
    lines.append("")
    lines.append("| client CPU (user+sys) | " + " | ".join(tools) + " |")
    lines.append("|---|" + "---|" * len(tools))
    for p in PHASES:
        cells = []
        for t in tools:
            u, s = vals(t, p, "user_s"), vals(t, p, "sys_s")
            cells.append(f"{statistics.median([a + b for a, b in zip(u, s)]):.1f} s" if u else "–")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| store | " + " | ".join(tools) + " |")
    lines.append("|---|" + "---|" * len(tools))
    lines.append("| after initial backup | " + " | ".join(mib(med(t, "backup-initial", "store_bytes")) for t in tools) + " |")
    lines.append("| added by no-change run | " + " | ".join(
        "–" if med(t, "backup-nochange", "store_added") is None else f"{med(t, 'backup-nochange', 'store_added') / 1024:.1f} KiB"
        for t in tools) + " |")
    lines.append("| added by 1 % run | " + " | ".join(mib(med(t, "backup-mutated", "store_added")) for t in tools) + " |")
    lines.append("| after all three | " + " | ".join(mib(med(t, "backup-mutated", "store_bytes")) for t in tools) + " |")
    lines.append("| client cache / catalog | " + " | ".join(mib(med(t, "backup-mutated", "cache_bytes")) for t in tools) + " |")
    if "coffer" in tools:
        lines.append("")
        lines.append("Coffer through the service (loopback HTTP): bytes uploaded (request bodies, from the "
                     "service's `/metrics`), the service's own peak RSS and CPU in each phase.")
        lines.append("")
        lines.append("| coffer phase | uploaded | service peak RSS | service CPU |")
        lines.append("|---|---|---|---|")
        for p in PHASES:
            up = med("coffer", p, "uploaded_bytes")
            up_s = "–" if up is None else (f"{up / 1024:.1f} KiB" if up < MIB else f"{up / MIB:.1f} MiB")
            cpu = med("coffer", p, "server_cpu_s")
            lines.append(f"| {p} | {up_s} | {kib_as_mib(med('coffer', p, 'server_maxrss_kb'))} | "
                         f"{'–' if cpu is None else f'{cpu:.1f} s'} |")
    loads = [float(r["load1"]) for r in rows if r["load1"]]
    if loads:
        lines.append("")
        lines.append(f"1-minute load average when phases started: median {statistics.median(loads):.2f}, "
                     f"min {min(loads):.2f}, max {max(loads):.2f} (2 cores).")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
