//! `originhub serve`.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use anyhow::Context;
use originhub_hub::certs::{DevCertsPlan, write_dev_certs};
use originhub_hub::config::HubConfig;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// Logs to stderr at `RUST_LOG` (default `info`).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Ctrl-C, or SIGTERM (what service managers send). The handlers are in place once this
/// returns, not when the future is first polled (which is only once the hub serves): a signal
/// that comes while the hub is still starting stops it gracefully as soon as it runs, instead of
/// killing it with the signal's default action.
fn stop_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = term.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let stop = stop_signal();
    let config = HubConfig::load(args.config.as_deref())?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let tls_missing = [&config.tls.ca, &config.tls.certificate, &config.tls.key]
        .iter()
        .all(|path| !path.exists());
    if args.config.is_none() && tls_missing {
        // A bare `serve` must work on a fresh machine: make development certificates once.
        let made = write_dev_certs(
            &config.data_dir,
            &DevCertsPlan::demo(&format!("https://localhost:{}", address.port())),
        )?;
        eprintln!(
            "made development certificates in {}; client files in {}",
            config.data_dir.join("certs").display(),
            made.clients
                .first()
                .and_then(|p| p.parent())
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    eprintln!(
        "originhub listening on https://{address} (mutual TLS; {}; data in {})",
        config.database().describe(),
        config.data_dir.display()
    );
    originhub_hub::launch::serve(&config, listener, async {
        stop.await;
        eprintln!("shutting down: open subscriptions end, requests in flight finish");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
