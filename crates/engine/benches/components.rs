//! The backup's building blocks one at a time, each on the engine's own
//! code path: content-defined chunking, blob ids (keyed BLAKE3), zstd
//! compression (level 3) and AES-256-GCM encryption. Run:
//! `cargo bench -p coffer-engine --bench components`. Criterion reports
//! MiB/s ("thrpt"); compare encryption with `openssl speed -evp aes-256-gcm`.
//!
//! Inputs: "text" is made-up words in lines (zstd shrinks it to about a
//! third), "random" does not compress. 4 KiB is a typical small file (one
//! blob), 1 MiB the average chunk of a large file.

use std::time::Duration;

use coffer_engine::bench_support::Components;
use coffer_engine::DataKey;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, RngCore, SeedableRng};

fn text(len: usize, rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "backup", "coffer", "restore", "pack", "index", "tree", "blob", "chunk", "the", "of",
        "and", "snapshot", "folder", "file", "a", "key",
    ];
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        // Skewed towards the first words, as real text is.
        let i = (rng.gen::<f64>().powi(3) * WORDS.len() as f64) as usize;
        out.push_str(WORDS[i]);
        out.push_str(if rng.gen_ratio(1, 10) { "\n" } else { " " });
        if rng.gen_ratio(1, 40) {
            out.push_str(&rng.gen_range(0..100_000).to_string());
        }
    }
    out.truncate(len);
    out.into_bytes()
}

fn random(len: usize, rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

fn benches(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut parts = Components::new(&DataKey::generate());
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", text(16 << 20, &mut rng)),
        ("random", random(16 << 20, &mut rng)),
    ];
    let sizes = [("4KiB", 4 << 10), ("1MiB", 1 << 20)];

    let mut group = c.benchmark_group("chunk");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    for (name, data) in &inputs {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new(*name, "16MiB"), data, |b, data| {
            b.iter(|| parts.chunk(data))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("blob_id");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    for (size_name, size) in sizes {
        let data = &inputs[1].1[..size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("keyed_blake3", size_name), data, |b, data| {
            b.iter(|| parts.blob_id(data))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("compress");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    let mut out = Vec::new();
    for (name, data) in &inputs {
        for (size_name, size) in sizes {
            let data = &data[..size];
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::new(format!("zstd3_{name}"), size_name), data, |b, data| {
                b.iter(|| parts.compress(data, &mut out))
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("encrypt");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    for (size_name, size) in [("4KiB", 4 << 10), ("16KiB", 16 << 10), ("1MiB", 1 << 20)] {
        let data = &inputs[1].1[..size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("aes256gcm", size_name), data, |b, data| {
            b.iter(|| parts.encrypt(data, &mut out))
        });
    }
    group.finish();
}

criterion_group!(components, benches);
criterion_main!(components);
