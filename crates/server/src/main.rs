//! `coffer-server`: the Coffer service as a program.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use coffer_server::{start, Config};

/// The Coffer backup service.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (loopback only until TLS is supported).
    #[arg(long, env = "COFFER_LISTEN", default_value = coffer_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Folder for the database, escrow key and objects
    /// [default: the platform data folder + coffer-server].
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Storage quota for each new account, in GiB.
    #[arg(long, env = "COFFER_QUOTA_GB", default_value_t = 50)]
    quota_gb: u64,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the listening line.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .context("no platform data folder; pass --data-dir")?
            .join("coffer-server"),
    };
    let quota_bytes = args
        .quota_gb
        .checked_mul(1024 * 1024 * 1024)
        .context("--quota-gb is too large")?;
    let server = start(Config {
        listen: args.listen,
        data_dir,
        quota_bytes,
    })
    .await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "coffer-server listening on {}", server.url())?;
        stdout.flush()?;
    }
    server.run_until(shutdown_signal()).await
}
