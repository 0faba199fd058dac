//! Backup and restore throughput on generated data, in memory and in a
//! local folder. Run: `cargo bench -p coffer-engine --bench throughput`.
//! Criterion reports MiB/s ("thrpt") over the dataset's size.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coffer_engine::{
    backup, restore, Backend, BackupOptions, DataKey, LocalBackend, MemoryBackend, NoCache,
    Repository, RestoreOptions,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng, RngCore, SeedableRng};

/// ~64 MiB: 300 small text-like files, 8 medium random files, one large
/// file that is half text, half random, and a few duplicates.
fn dataset(root: &Path) -> u64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let words = ["backup", "coffer", "restore", "pack", "index", "tree", "blob", "chunk"];
    let text = |rng: &mut rand::rngs::StdRng, len: usize| {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(words[rng.gen_range(0..words.len())]);
            s.push(if rng.gen_ratio(1, 12) { '\n' } else { ' ' });
        }
        s.into_bytes()
    };
    let mut total = 0u64;
    let write = |path: PathBuf, bytes: &[u8]| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        bytes.len() as u64
    };
    for i in 0..300 {
        let len = rng.gen_range(1_000..64_000);
        let bytes = text(&mut rng, len);
        total += write(root.join(format!("small/{}/{i}.txt", i % 10)), &bytes);
    }
    for i in 0..8 {
        let mut bytes = vec![0u8; rng.gen_range(1 << 20..4 << 20)];
        rng.fill_bytes(&mut bytes);
        total += write(root.join(format!("medium/{i}.bin")), &bytes);
        if i < 2 {
            total += write(root.join(format!("medium/copy-{i}.bin")), &bytes);
        }
    }
    let mut large = text(&mut rng, 12 << 20);
    let mut noise = vec![0u8; 12 << 20];
    rng.fill_bytes(&mut noise);
    large.extend_from_slice(&noise);
    total += write(root.join("large/big.dat"), &large);
    total
}

fn options(root: &Path) -> BackupOptions {
    BackupOptions {
        roots: vec![root.to_owned()],
        device_name: "bench".into(),
        device_id: "bench".into(),
        ..BackupOptions::default()
    }
}

fn benches(c: &mut Criterion) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Data");
    let size = dataset(&src);
    let key = DataKey::generate();

    let mut group = c.benchmark_group("backup");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(size));
    group.bench_function("memory", |b| {
        b.iter_batched(
            || Repository::open(Arc::new(MemoryBackend::new()), &key).unwrap(),
            |mut repo| backup(&mut repo, &options(&src), &NoCache, &mut |_| {}).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let mut n = 0;
    group.bench_function("local", |b| {
        b.iter_batched(
            || {
                n += 1;
                let dir = work.path().join(format!("repo-{n}"));
                let _ = fs::remove_dir_all(work.path().join(format!("repo-{}", n - 1)));
                let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir).unwrap());
                Repository::open(backend, &key).unwrap()
            },
            |mut repo| backup(&mut repo, &options(&src), &NoCache, &mut |_| {}).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(size));
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::new(work.path().join("restore-repo")).unwrap());
    for (name, backend) in [("memory", memory), ("local", local)] {
        let mut repo = Repository::open(backend, &key).unwrap();
        let snap = backup(&mut repo, &options(&src), &NoCache, &mut |_| {})
            .unwrap()
            .snapshot_id;
        let target = work.path().join(format!("target-{name}"));
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let _ = fs::remove_dir_all(&target);
                },
                |()| {
                    let opts = RestoreOptions {
                        target: target.clone(),
                        include: vec![],
                        on_conflict: Default::default(),
                    };
                    let summary = restore(&repo, &snap, &opts, &mut |_| {}).unwrap();
                    assert!(summary.skipped.is_empty());
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(throughput, benches);
criterion_main!(throughput);
