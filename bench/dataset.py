#!/usr/bin/env python3
"""Deterministic benchmark dataset for Coffer, restic and borg.

    dataset.py generate DIR [--size-mb 300] [--seed 1]
    dataset.py mutate   DIR [--seed 2] [--percent 1]
    dataset.py stats    DIR

`generate` writes a tree shaped like a person's files: many small files
(source code, notes, icons), some medium ones (photos, documents, archives),
a few large ones (a video, a disk image, a log), partly compressible text,
partly incompressible random bytes, partly structured "database pages", and
some exact duplicates. The same size and seed give byte-identical files,
names and modification times on every machine (only Python's
`random.Random`, whose sequence is stable across versions, is used).

`mutate` changes about `--percent` % of the dataset's bytes, again
deterministically for a given tree and seed: rewrites part of ~1 % of the
files, inserts bytes in the middle of the largest file (content-defined
chunking must cope with the shift), adds new files and removes some.
"""

import argparse
import os
import random
import sys

MIB = 1024 * 1024
BASE_MTIME = 1_704_067_200  # 2024-01-01 00:00:00 UTC
MUTATION_MTIME = 1_717_200_000  # 2024-06-01

# The mix, as fractions of the total size.
SMALL_SHARE = 0.20  # ~4 KiB median; 2 GiB -> ~50k files
MEDIUM_SHARE = 0.33
LARGE_SHARE = 0.40
DUPLICATE_SHARE = 0.07


class Text:
    """Pseudo-natural text: Zipf-weighted made-up words arranged in a pool of
    lines; files are random draws of lines. zstd -3 shrinks it about 3x."""

    def __init__(self, rng):
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        weights = [13, 9, 8, 8, 7, 7, 6, 6, 6, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
        words = []
        for _ in range(6000):
            n = rng.choice((2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 11))
            words.append("".join(rng.choices(letters, weights, k=n)))
        zipf = [1.0 / (i + 1) for i in range(len(words))]
        self.lines = []
        for i in range(30000):
            n = rng.randint(3, 16)
            line = " ".join(rng.choices(words, zipf, k=n))
            if i % 7 == 0:
                line = "    " + line + " {"
            elif i % 11 == 0:
                line = "# " + line.capitalize() + "."
            elif i % 13 == 0:
                line = f"{rng.randint(0, 99999):05d} {line} = {rng.random():.6f};"
            self.lines.append(line + "\n")

    def make(self, rng, size):
        out, total = [], 0
        while total < size:
            batch = rng.choices(self.lines, k=max(16, (size - total) // 40))
            out.extend(batch)
            total += sum(len(x) for x in batch)
        return "".join(out).encode()[:size]


def random_bytes(rng, size):
    return rng.randbytes(size)


def pages(rng, text, size):
    """Database-like: 4 KiB pages, 40 % random, 30 % mostly zero, 30 % text."""
    out, total = [], 0
    while total < size:
        r = rng.random()
        if r < 0.4:
            page = rng.randbytes(4096)
        elif r < 0.7:
            head = rng.randbytes(rng.randint(16, 512))
            page = head + bytes(4096 - len(head))
        else:
            page = text.make(rng, 4096)
        out.append(page)
        total += 4096
    return b"".join(out)[:size]


def write_file(path, data, mtime):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def write_streamed(path, rng, text, kind, size, mtime):
    """Large files are written 4 MiB at a time (constant memory)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(4 * MIB, left)
            if kind == "random":
                f.write(random_bytes(rng, n))
            elif kind == "pages":
                f.write(pages(rng, text, n))
            else:
                f.write(text.make(rng, n))
            left -= n
    os.utime(path, (mtime, mtime))


SMALL_DIRS = ["src", "docs", "tests", "assets", "notes", "config"]
SMALL_TEXT_EXT = [".rs", ".py", ".md", ".txt", ".json", ".toml", ".html", ".c"]
SMALL_BIN_EXT = [".png", ".ico", ".gz", ".bin"]


def generate(root, size_mb, seed):
    if os.path.exists(root) and os.listdir(root):
        sys.exit(f"{root} exists and is not empty")
    os.makedirs(root, exist_ok=True)
    rng = random.Random(seed)
    text = Text(random.Random(seed * 1000 + 7))
    total = size_mb * MIB
    mtime = BASE_MTIME
    written = 0
    files = []  # (path, size) of small/medium files, for duplicates

    # Small files: log-normal sizes around 4 KiB, 100 B .. 64 KiB; 40 a folder.
    budget, i = total * SMALL_SHARE, 0
    while budget > 0:
        size = int(min(64 * 1024, max(100, rng.lognormvariate(8.3, 1.0))))
        project, sub = i // 1200, SMALL_DIRS[(i // 40) % len(SMALL_DIRS)]
        folder = os.path.join(root, "projects", f"project{project:02d}", sub, f"m{(i // 240) % 5}")
        if rng.random() < 0.75:
            name = f"file{i:06d}{rng.choice(SMALL_TEXT_EXT)}"
            data = text.make(rng, size)
        else:
            name = f"file{i:06d}{rng.choice(SMALL_BIN_EXT)}"
            data = random_bytes(rng, size)
        path = os.path.join(folder, name)
        write_file(path, data, mtime + i)
        files.append((path, size))
        budget -= size
        written += size
        i += 1
    small_count = i

    # Medium files: log-uniform 64 KiB .. 16 MiB (capped by the budget).
    budget, j = total * MEDIUM_SHARE, 0
    cap = max(256 * 1024, min(16 * MIB, int(total * MEDIUM_SHARE / 8)))
    while budget > 64 * 1024:
        size = int(min(budget, 2 ** rng.uniform(16, cap.bit_length() - 1)))
        r = rng.random()
        if r < 0.45:
            path = os.path.join(root, "photos", f"{2015 + j % 10}", f"IMG_{j:05d}.jpg")
            data = random_bytes(rng, size)
        elif r < 0.75:
            path = os.path.join(root, "documents", f"d{j % 12:02d}", f"report{j:04d}.txt")
            data = text.make(rng, size)
        else:
            path = os.path.join(root, "documents", "databases", f"store{j:04d}.db")
            data = pages(rng, text, size)
        write_file(path, data, mtime + small_count + j)
        files.append((path, size))
        budget -= size
        written += size
        j += 1

    # Large files: a video (random), a disk image (pages), a log (text).
    large = int(total * LARGE_SHARE)
    for k, (name, kind, share) in enumerate(
        [("videos/holiday.mp4", "random", 0.45), ("vm/disk.img", "pages", 0.35), ("logs/server.log", "text", 0.20)]
    ):
        size = int(large * share)
        write_streamed(os.path.join(root, name), rng, text, kind, size, mtime + 900_000 + k)
        written += size

    # Duplicates: exact copies of earlier files under other names.
    budget, k = total * DUPLICATE_SHARE, 0
    while budget > 0 and files:
        src, size = files[rng.randrange(len(files))]
        with open(src, "rb") as f:
            data = f.read()
        dst = os.path.join(root, "backup-copies", f"c{k // 50:02d}", f"copy{k:05d}-{os.path.basename(src)}")
        write_file(dst, data, mtime + 950_000 + k)
        budget -= size
        written += size
        k += 1

    # Folder mtimes last (writing into a folder changes its mtime).
    for dirpath, _, _ in sorted(os.walk(root), key=lambda t: -t[0].count(os.sep)):
        os.utime(dirpath, (BASE_MTIME, BASE_MTIME))
    print(f"generated {root}: {small_count} small, {j} medium, 3 large, {k} duplicate files, "
          f"{written / MIB:.1f} MiB")


def all_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            out.append((p, os.path.getsize(p)))
    return out


def mutate(root, seed, percent):
    rng = random.Random(seed)
    text = Text(random.Random(seed * 1000 + 7))
    files = all_files(root)
    total = sum(s for _, s in files)
    target = total * percent / 100.0
    largest = max(files, key=lambda t: t[1])
    candidates = [f for f in files if f[0] != largest[0]]
    changed = added = removed = 0
    modified = []

    # 1. Insert 64 KiB in the middle of the largest file (rewritten in place).
    path, size = largest
    insert = random_bytes(rng, 64 * 1024)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        tail = f.read()
        f.seek(size // 2)
        f.write(insert)
        f.write(tail)
    os.utime(path, (MUTATION_MTIME, MUTATION_MTIME))
    changed += len(insert)

    # 2. Modify ~1 % of the other files (count); each edit overwrites or
    #    appends a region of up to 64 KiB, until half the budget is used.
    picks = rng.sample(candidates, max(1, len(candidates) // 100))
    for path, size in picks:
        if changed >= target * 0.5:
            break
        n = max(1, min(size // 4 + 1, 64 * 1024))
        data = text.make(rng, n) if path.endswith(tuple(SMALL_TEXT_EXT) + (".txt", ".log")) else random_bytes(rng, n)
        with open(path, "r+b") as f:
            if rng.random() < 0.5:
                f.seek(0, os.SEEK_END)  # append
            else:
                f.seek(rng.randrange(max(1, size - n + 1)))
            f.write(data)
        os.utime(path, (MUTATION_MTIME, MUTATION_MTIME))
        modified.append(path)
        changed += n

    # 3. Remove ~0.5 % of the files (never one just modified).
    keep = set(modified)
    removable = [f for f in candidates if f[0] not in keep]
    for path, size in rng.sample(removable, max(1, len(removable) // 200)):
        os.remove(path)
        removed += 1

    # 4. Add new files for the rest of the budget.
    n = 0
    while changed < target:
        size = int(min(2 * MIB, max(200, rng.lognormvariate(9.5, 1.5))))
        path = os.path.join(root, "projects", "new-work", f"n{n // 40:02d}", f"added{n:05d}.txt")
        data = text.make(rng, size) if n % 3 else random_bytes(rng, size)
        write_file(path, data, MUTATION_MTIME)
        changed += size
        added += 1
        n += 1
    print(f"mutated {root}: {len(modified) + 1} files changed (one with 64 KiB inserted mid-file), "
          f"{added} added, {removed} removed; {changed / MIB:.2f} MiB new bytes "
          f"= {100 * changed / total:.2f} % of {total / MIB:.1f} MiB")


def stats(root):
    files = all_files(root)
    total = sum(s for _, s in files)
    small = sum(1 for _, s in files if s < 64 * 1024)
    large = sum(1 for _, s in files if s >= 16 * MIB)
    dirs = sum(1 for _ in os.walk(root))
    print(f"{len(files)} files ({small} < 64 KiB, {len(files) - small - large} medium, {large} >= 16 MiB), "
          f"{dirs} folders, {total} bytes ({total / MIB:.1f} MiB)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir")
    g.add_argument("--size-mb", type=int, default=300)
    g.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("mutate")
    m.add_argument("dir")
    m.add_argument("--seed", type=int, default=2)
    m.add_argument("--percent", type=float, default=1.0)
    s = sub.add_parser("stats")
    s.add_argument("dir")
    a = p.parse_args()
    if a.cmd == "generate":
        generate(a.dir, a.size_mb, a.seed)
    elif a.cmd == "mutate":
        mutate(a.dir, a.seed, a.percent)
    else:
        stats(a.dir)


if __name__ == "__main__":
    main()
