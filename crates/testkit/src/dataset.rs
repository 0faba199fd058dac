//! Deterministic folder trees to back up, and a byte-for-byte comparison of
//! two trees for checking restores.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// Names a real folder holds: accents, other scripts, emoji, spaces, dots.
// Nothing Windows or macOS forbids.
const NAMES: &[&str] = &[
    "notes",
    "Café menu",
    "日本語のファイル",
    "résumé",
    "фотографии",
    "emoji 🎉",
    "Ünïcödé",
    "spaces in name",
    "data",
    ".hidden",
    "MixedCase",
    "a-b_c.d",
    "Ελληνικά",
    "עברית",
];
const EXTENSIONS: &[&str] = &["", ".txt", ".bin", ".jpg", ".tar.gz", ".md"];

/// Writes a deterministic random tree of `files` files under `dir` (which
/// is created if missing): nested folders, some empty folders, some empty
/// files, files up to `max_size` bytes (a mix of random and compressible
/// bytes), unicode names. The same `seed` always gives the same tree.
/// Returns the files written, in the order they were written.
///
/// # Panics
/// If writing fails.
pub fn write_tree(dir: &Path, seed: u64, files: usize, max_size: usize) -> Vec<PathBuf> {
    let mut rng = StdRng::seed_from_u64(seed);
    std::fs::create_dir_all(dir).expect("creating the tree root");
    let mut dirs = vec![dir.to_path_buf()];
    let mut written = Vec::with_capacity(files);
    for i in 0..files {
        if rng.gen_bool(0.25) {
            let parent = dirs[rng.gen_range(0..dirs.len())].clone();
            let sub = parent.join(format!("{} {i}", NAMES[rng.gen_range(0..NAMES.len())]));
            std::fs::create_dir_all(&sub).expect("creating a folder");
            if rng.gen_bool(0.2) {
                // Stays empty: no file ever picks it.
                std::fs::create_dir_all(sub.join(format!("empty {i}"))).expect("creating a folder");
            }
            dirs.push(sub);
        }
        let parent = &dirs[rng.gen_range(0..dirs.len())];
        let name = format!(
            "{}-{i}{}",
            NAMES[rng.gen_range(0..NAMES.len())],
            EXTENSIONS[rng.gen_range(0..EXTENSIONS.len())]
        );
        let size = match rng.gen_range(0..10) {
            _ if max_size == 0 => 0,
            0 => 0,
            1 => max_size,
            _ => rng.gen_range(1..=max_size),
        };
        let mut bytes = vec![0u8; size];
        if rng.gen_bool(0.5) {
            rng.fill(bytes.as_mut_slice());
        } else {
            let phrase = format!("line {i} of a compressible file, seed {seed}\n");
            for (b, p) in bytes.iter_mut().zip(phrase.bytes().cycle()) {
                *b = p;
            }
        }
        let path = parent.join(name);
        std::fs::write(&path, &bytes).expect("writing a file");
        written.push(path);
    }
    written
}

/// Adds the entries plain files do not cover (Unix only; a no-op
/// elsewhere): an executable script, a read-only file, a relative symlink
/// and a dangling symlink. Returns the paths added.
///
/// # Panics
/// If writing fails.
pub fn write_special_entries(dir: &Path) -> Vec<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{symlink, PermissionsExt};
        std::fs::create_dir_all(dir).expect("creating the tree root");
        let script = dir.join("run me.sh");
        std::fs::write(&script, "#!/bin/sh\necho hello\n").expect("writing a file");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let read_only = dir.join("read only.txt");
        std::fs::write(&read_only, "do not edit\n").expect("writing a file");
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444))
            .expect("chmod");
        let link = dir.join("link to script");
        symlink("run me.sh", &link).expect("symlink");
        let dangling = dir.join("dangling link");
        symlink("no/such/target", &dangling).expect("symlink");
        vec![script, read_only, link, dangling]
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Vec::new()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir { mode: u32 },
    File { mode: u32, len: u64 },
    Symlink { target: PathBuf },
    Other,
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    u32::from(meta.permissions().readonly())
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        let rel = path.strip_prefix(root).expect("inside root").to_path_buf();
        let kind = meta.file_type();
        let item = if kind.is_symlink() {
            Entry::Symlink {
                target: std::fs::read_link(&path).expect("read_link"),
            }
        } else if kind.is_dir() {
            collect(root, &path, out);
            Entry::Dir {
                mode: mode_of(&meta),
            }
        } else if kind.is_file() {
            Entry::File {
                mode: mode_of(&meta),
                len: meta.len(),
            }
        } else {
            Entry::Other
        };
        out.insert(rel, item);
    }
}

fn first_difference(a: &Path, b: &Path) -> Option<String> {
    let x = std::fs::read(a).unwrap_or_else(|e| panic!("reading {}: {e}", a.display()));
    let y = std::fs::read(b).unwrap_or_else(|e| panic!("reading {}: {e}", b.display()));
    if x == y {
        return None;
    }
    let at = x
        .iter()
        .zip(&y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    Some(format!(
        "contents differ from byte {at} ({} vs {} bytes)",
        x.len(),
        y.len()
    ))
}

/// Panics, listing every difference, unless the trees under `a` and `b` are
/// the same: the same names, kinds, file contents byte for byte, symlink
/// targets and (on Unix) permission bits. The roots' own modes are not
/// compared.
///
/// # Panics
/// When the trees differ or cannot be read.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
    collect(a, a, &mut left);
    collect(b, b, &mut right);
    let mut problems = Vec::new();
    for (rel, l) in &left {
        let shown = rel.display();
        match right.get(rel) {
            None => problems.push(format!("{shown}: only in the first tree")),
            Some(r) => match (l, r) {
                (Entry::File { mode: m1, .. }, Entry::File { mode: m2, .. }) => {
                    if let Some(diff) = first_difference(&a.join(rel), &b.join(rel)) {
                        problems.push(format!("{shown}: {diff}"));
                    }
                    if m1 != m2 {
                        problems.push(format!("{shown}: mode {m1:o} vs {m2:o}"));
                    }
                }
                (Entry::Dir { mode: m1 }, Entry::Dir { mode: m2 }) if m1 != m2 => {
                    problems.push(format!("{shown}/: mode {m1:o} vs {m2:o}"));
                }
                (Entry::Symlink { target: t1 }, Entry::Symlink { target: t2 }) if t1 != t2 => {
                    problems.push(format!(
                        "{shown}: symlink to {} vs {}",
                        t1.display(),
                        t2.display()
                    ));
                }
                (l, r) if std::mem::discriminant(l) != std::mem::discriminant(r) => {
                    problems.push(format!("{shown}: {l:?} vs {r:?}"));
                }
                _ => {}
            },
        }
    }
    for rel in right.keys().filter(|rel| !left.contains_key(*rel)) {
        problems.push(format!("{}: only in the second tree", rel.display()));
    }
    if problems.is_empty() {
        return;
    }
    let mut message = format!(
        "trees differ ({} problems)\n  first:  {}\n  second: {}\n",
        problems.len(),
        a.display(),
        b.display()
    );
    for problem in problems.iter().take(30) {
        let _ = writeln!(message, "  - {problem}");
    }
    if problems.len() > 30 {
        let _ = writeln!(message, "  … and {} more", problems.len() - 30);
    }
    panic!("{message}");
}
