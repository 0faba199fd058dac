//! A bounded load test: N agents at once back up generated folders through
//! a load balancer in front of running service replicas, change a tenth of
//! their files and back up again, then restore everything on a new device
//! and compare it byte for byte. Prints (and with `--out`, writes) a
//! Markdown report: throughput, request latency p50/p99 from the replicas'
//! own histograms, and every error.
//!
//! `bench/load.sh` starts PostgreSQL, Garage and two `coffer-server`
//! replicas and runs this against them:
//!
//! ```text
//! cargo run --release -p coffer-tests --example load -- \
//!     --server http://127.0.0.1:8801 --server http://127.0.0.1:8802 \
//!     --agents 8 --files 300 --max-size 400000 [--out report.md]
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffer_client::{Agent, AgentOptions, KeyMode, RestoreRequest, SignInRequest, SignUpRequest};
use coffer_testkit::{dataset, Balancer};

const PASSWORD: &str = "load test Quartz Lantern 9731";

struct Args {
    servers: Vec<String>,
    agents: usize,
    files: usize,
    max_size: usize,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { servers: Vec::new(), agents: 8, files: 300, max_size: 400_000, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => args.servers.push(value()?),
            "--agents" => args.agents = value()?.parse().map_err(|e| format!("--agents: {e}"))?,
            "--files" => args.files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            "--max-size" => args.max_size = value()?.parse().map_err(|e| format!("--max-size: {e}"))?,
            "--out" => args.out = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.servers.is_empty() {
        return Err("give at least one --server URL".into());
    }
    if args.agents == 0 || args.files == 0 {
        return Err("--agents and --files must be positive".into());
    }
    Ok(args)
}

fn socket_addr(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").ok_or(format!("{url}: only http:// URLs"))?;
    rest.trim_end_matches('/').parse().map_err(|e| format!("{url}: {e}"))
}

/// What one agent did.
#[derive(Default)]
struct Run {
    uploaded: u64,
    files: u64,
    bytes: u64,
    restored_bytes: u64,
    errors: Vec<String>,
}

fn agent_in(dir: &Path) -> Result<Agent, String> {
    let mut options = AgentOptions::new(dir);
    options.use_keychain = false;
    Agent::open(&options).map_err(|e| e.message)
}

/// One agent's whole session; errors are collected, not panicked on.
fn one_agent(n: usize, url: &str, args: &Args, tag: &str) -> Run {
    let mut run = Run::default();
    if let Err(e) = one_agent_inner(n, url, args, tag, &mut run) {
        run.errors.push(format!("agent {n}: {e}"));
    }
    run
}

fn one_agent_inner(n: usize, url: &str, args: &Args, tag: &str, run: &mut Run) -> Result<(), String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = home.path().join("Documents");
    let files = dataset::write_tree(&data, 1000 + n as u64, args.files, args.max_size);
    let email = format!("load{n}-{tag}@example.com");
    let laptop = agent_in(&home.path().join("laptop"))?;
    laptop
        .sign_up(&SignUpRequest {
            first_name: "Load".into(),
            last_name: format!("Agent {n}"),
            email: email.clone(),
            password: PASSWORD.into(),
            confirm_age: true,
            server_url: Some(url.to_owned()),
            key_mode: KeyMode::Default,
            private_key: None,
        })
        .map_err(|e| format!("sign-up: {}", e.message))?;
    laptop.add_folder(&data.to_string_lossy()).map_err(|e| e.message)?;
    let first = laptop.backup_now(&mut |_| {}).map_err(|e| format!("first backup: {}", e.message))?;
    run.uploaded += first.bytes_uploaded;
    run.files += first.files_total;
    run.bytes += first.bytes_read;
    // Change a tenth of the files and back up again.
    for (i, file) in files.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        fs::write(file, format!("changed by the load test, file {i}")).map_err(|e| e.to_string())?;
    }
    let second = laptop.backup_now(&mut |_| {}).map_err(|e| format!("second backup: {}", e.message))?;
    run.uploaded += second.bytes_uploaded;
    // A new device restores the latest backup; it must be what is on disk.
    let desktop = agent_in(&home.path().join("desktop"))?;
    desktop
        .sign_in(&SignInRequest { email, password: PASSWORD.into(), server_url: Some(url.to_owned()), totp_code: None })
        .map_err(|e| format!("sign-in: {}", e.message))?;
    let target = home.path().join("restored");
    let request = RestoreRequest {
        snapshot_id: "latest".into(),
        paths: vec![],
        target: Some(target.to_string_lossy().into()),
        conflict: Default::default(),
    };
    let summary = desktop.restore(&request, &mut |_| {}).map_err(|e| format!("restore: {}", e.message))?;
    run.restored_bytes += summary.bytes;
    let same = std::panic::catch_unwind(|| dataset::assert_same_tree(&data, &target.join("Documents")));
    if same.is_err() {
        return Err("the restored folder differs from the original".into());
    }
    Ok(())
}

/// Cumulative histogram buckets (upper bound → count) for all requests and
/// by kind of request, and request counts by status, summed over every
/// replica.
#[derive(Default, Clone)]
struct Scrape {
    buckets: BTreeMap<u64, f64>,
    by_kind: BTreeMap<(&'static str, u64), f64>,
    by_status: BTreeMap<String, f64>,
    received: f64,
}

/// Bucket bounds as integer microseconds (`+Inf` as `u64::MAX`) so they sort.
fn bound_key(le: &str) -> Option<u64> {
    if le == "+Inf" {
        return Some(u64::MAX);
    }
    le.parse::<f64>().ok().map(|s| (s * 1e6).round() as u64)
}

fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(&line[start..end])
}

/// Uploads, downloads and everything else (sign-in, listings, snapshots…).
fn kind_of(method: &str, route: &str) -> &'static str {
    match (method, route) {
        ("PUT", "/v1/repo/{kind}/{id}") => "uploads (PUT of packs, indexes, snapshots)",
        ("GET", "/v1/repo/{kind}/{id}") => "downloads (GET, whole or ranges)",
        _ => "other requests",
    }
}

fn scrape(urls: &[String]) -> Result<Scrape, String> {
    let http = reqwest::blocking::Client::new();
    let mut total = Scrape::default();
    for url in urls {
        let text = http
            .get(format!("{}/metrics", url.trim_end_matches('/')))
            .send()
            .and_then(|r| r.text())
            .map_err(|e| format!("{url}/metrics: {e}"))?;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else { continue };
            if line.starts_with("coffer_http_request_duration_seconds_bucket{") {
                if let Some(key) = label(line, "le").and_then(bound_key) {
                    *total.buckets.entry(key).or_default() += value;
                    let kind = kind_of(label(line, "method").unwrap_or(""), label(line, "route").unwrap_or(""));
                    *total.by_kind.entry((kind, key)).or_default() += value;
                }
            } else if line.starts_with("coffer_http_requests_total{") {
                if let Some(status) = label(line, "status") {
                    *total.by_status.entry(status.to_owned()).or_default() += value;
                }
            } else if line.starts_with("coffer_http_received_bytes_total ") {
                total.received += value;
            }
        }
    }
    Ok(total)
}

fn sub<K: Ord + Clone>(a: &BTreeMap<K, f64>, b: &BTreeMap<K, f64>) -> BTreeMap<K, f64> {
    a.iter().map(|(k, v)| (k.clone(), v - b.get(k).copied().unwrap_or(0.0))).collect()
}

fn minus(after: &Scrape, before: &Scrape) -> Scrape {
    Scrape {
        buckets: sub(&after.buckets, &before.buckets),
        by_kind: sub(&after.by_kind, &before.by_kind),
        by_status: sub(&after.by_status, &before.by_status),
        received: after.received - before.received,
    }
}

/// The q-quantile in seconds from cumulative buckets, interpolating linearly
/// inside the bucket it falls in (as Prometheus' `histogram_quantile`).
fn quantile(buckets: &BTreeMap<u64, f64>, q: f64) -> Option<f64> {
    let total = *buckets.get(&u64::MAX)?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (&bound, &count) in buckets {
        if count >= rank {
            if bound == u64::MAX {
                return Some(lower);
            }
            let upper = bound as f64 / 1e6;
            let share = if count > below { (rank - below) / (count - below) } else { 1.0 };
            return Some(lower + (upper - lower) * share);
        }
        lower = bound as f64 / 1e6;
        below = count;
    }
    None
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let addrs: Vec<SocketAddr> = match args.servers.iter().map(|u| socket_addr(u)).collect() {
        Ok(addrs) => addrs,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let balancer = Balancer::start(addrs);
    let tag = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis());
    let before = scrape(&args.servers).unwrap_or_else(|e| {
        eprintln!("load: {e}");
        std::process::exit(1)
    });
    eprintln!("load: {} agents × {} files (≤ {} bytes) through {}", args.agents, args.files, args.max_size, balancer.url);
    let started = Instant::now();
    let runs: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for n in 0..args.agents {
            let (url, args, tag, runs) = (&balancer.url, &args, &tag, &runs);
            scope.spawn(move || {
                let run = one_agent(n, url, args, tag);
                runs.lock().expect("runs lock").push(run);
            });
        }
    });
    let wall = started.elapsed();
    let after = scrape(&args.servers).unwrap_or_else(|e| {
        eprintln!("load: {e}");
        std::process::exit(1)
    });
    let delta = minus(&after, &before);
    let runs = runs.into_inner().expect("runs lock");
    let report = report(&args, &runs, &delta, wall, &balancer.served());
    println!("{report}");
    if let Some(out) = &args.out {
        if let Err(e) = fs::write(out, &report) {
            eprintln!("load: writing {out}: {e}");
            std::process::exit(1);
        }
    }
    let failed = runs.iter().any(|r| !r.errors.is_empty())
        || delta.by_status.iter().any(|(s, n)| s.starts_with('5') && *n > 0.0);
    std::process::exit(if failed { 1 } else { 0 });
}

fn report(args: &Args, runs: &[Run], delta: &Scrape, wall: Duration, served: &[usize]) -> String {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let uploaded: u64 = runs.iter().map(|r| r.uploaded).sum();
    let bytes: u64 = runs.iter().map(|r| r.bytes).sum();
    let restored: u64 = runs.iter().map(|r| r.restored_bytes).sum();
    let files: u64 = runs.iter().map(|r| r.files).sum();
    let requests: f64 = delta.by_status.values().sum();
    let server_errors: u64 =
        delta.by_status.iter().filter(|(s, _)| s.starts_with('5')).map(|(_, n)| n.round() as u64).sum();
    let errors: Vec<&String> = runs.iter().flat_map(|r| &r.errors).collect();
    let ms = |q: f64| quantile(&delta.buckets, q).map_or("–".to_owned(), |s| format!("{:.1} ms", s * 1000.0));
    let statuses: Vec<String> = delta.by_status.iter().filter(|(_, n)| **n > 0.0).map(|(s, n)| format!("{s}: {n}")).collect();
    let mut out = String::new();
    out.push_str(&format!(
        "| load | figure |\n|---|---|\n\
         | agents at once | {} (each: sign up, back up {} files, change a tenth, back up, restore on a new device and compare) |\n\
         | replicas behind the balancer | {} (connections taken: {:?}) |\n\
         | data backed up | {files} files, {:.1} MiB read, {:.1} MiB uploaded |\n\
         | restored and compared | {:.1} MiB |\n\
         | wall time | {:.1} s |\n\
         | throughput | {:.1} MiB/s uploaded, {:.1} MiB/s read |\n\
         | requests | {requests} ({}) |\n\
         | request latency p50 / p99 | {} / {} (all routes, from the replicas' histograms) |\n\
         | errors | {} agent errors, {server_errors} server errors (5xx) |\n",
        args.agents,
        args.files,
        served.len(),
        served,
        mib(bytes as f64),
        mib(uploaded as f64),
        mib(restored as f64),
        wall.as_secs_f64(),
        mib(uploaded as f64) / wall.as_secs_f64(),
        mib(bytes as f64) / wall.as_secs_f64(),
        statuses.join(", "),
        ms(0.5),
        ms(0.99),
        errors.len(),
    ));
    let kinds: std::collections::BTreeSet<&str> = delta.by_kind.keys().map(|(k, _)| *k).collect();
    for kind in kinds {
        let buckets: BTreeMap<u64, f64> =
            delta.by_kind.iter().filter(|((k, _), _)| *k == kind).map(|((_, le), n)| (*le, *n)).collect();
        let count = buckets.get(&u64::MAX).copied().unwrap_or(0.0);
        let ms = |q: f64| quantile(&buckets, q).map_or("–".to_owned(), |s| format!("{:.1} ms", s * 1000.0));
        out.push_str(&format!("| … {kind} | {count} requests, p50 {} / p99 {} |\n", ms(0.5), ms(0.99)));
    }
    for e in errors {
        out.push_str(&format!("\n- {e}"));
    }
    out
}
