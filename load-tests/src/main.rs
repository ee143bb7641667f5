//! `originhub-load`: drives a hub on Postgres with concurrent members submitting certificates and
//! receiving and acknowledging their deliveries, and, in the same run against the same
//! database, the naive baseline: a bare tonic server (same mutual TLS, same `Submit` message,
//! same payloads) doing one Postgres INSERT per request.
//!
//! With `--sweep` it then drives both at each of a list of concurrencies and compares each at
//! its best ([`peak`]).
//!
//! Each run creates a fresh database next to `DATABASE_URL`'s and drops it at the end.

mod baseline;
mod cpu;
mod drive;
mod peak;
mod wal;

use std::process::ExitCode;

/// mimalloc: the hub allocates many short-lived buffers per request, where glibc's allocator
/// measured slower and noisier.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use originhub_hub::client::ClientFile;
use originhub_hub::config::HubConfig;
use originhub_hub::demo::write_config;
use originhub_hub::hub::Hub;
use originhub_hub::store::PostgresStore;
use serde_json::json;
use tokio::net::TcpListener;

/// Load test: the hub beside the naive baseline, on the Postgres of DATABASE_URL.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Seconds each side is driven.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Submissions in flight at once (spread over the sending members).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Rounds of [baseline, hub without its receipt log, hub], each phase --duration long;
    /// rates pool every round, so machine noise between phases averages out.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Goods items per certificate cycle through 1..=N (the document mix).
    #[arg(long, default_value_t = 3)]
    max_items: usize,
    /// Diagnosis: drive the hub without subscribers (deliveries are stored but not streamed),
    /// to separate the cost of submitting from the cost of delivering. `lost` is then not
    /// measured.
    #[arg(long)]
    submit_only: bool,
    /// Also sweep these concurrencies, comma-separated (e.g. 16,32,64,128): rounds of
    /// [baseline, hub] at each, then each side's best rate and their quotient, `peak_ratio`,
    /// in a `sweep` object. `ratio` stays the comparison at --concurrency.
    #[arg(
        long,
        value_name = "CONCURRENCIES",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u64).range(1..=4096)
    )]
    sweep: Vec<u64>,
    /// Postgres to create the run's database next to.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

async fn fresh_database(url: &str) -> anyhow::Result<(String, String)> {
    let name = format!("originhub_load_{}", run_suffix());
    let admin = sqlx::PgPool::connect(url)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let (base, _) = url
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    Ok((format!("{base}/{name}"), name))
}

/// Distinguishes this run's database from earlier ones: the start time in hex.
fn run_suffix() -> String {
    format!("{:x}", originhub_hub::hub::now_micros())
}

async fn drop_database(url: &str, name: &str) -> anyhow::Result<()> {
    let admin = sqlx::PgPool::connect(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<serde_json::Value> {
    if !args.database_url.starts_with("postgres") {
        bail!("DATABASE_URL must be a postgres:// URL (the load test compares against Postgres)");
    }
    let (url, name) = fresh_database(&args.database_url).await?;
    let result = measure(&args, &url).await;
    drop_database(&args.database_url, &name).await?;
    result
}

/// A loopback listener on a port the OS picks, and a demo config directory in `dir` for it.
async fn configured(dir: &std::path::Path) -> anyhow::Result<(TcpListener, HubConfig)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let layout = write_config(dir, listener.local_addr()?)?;
    Ok((listener, HubConfig::load(Some(&layout.config))?))
}

async fn measure(args: &Args, url: &str) -> anyhow::Result<serde_json::Value> {
    let phases = Phases {
        url,
        // The harness's own connection, for what it reads about the server (WAL positions).
        harness_pool: sqlx::PgPool::connect(url).await?,
        documents: Arc::new(drive::Documents::new(args.max_items)),
        duration: Duration::from_secs(args.duration),
        with_delivery: !args.submit_only,
    };

    let (mut base, mut bare, mut hub_run) = (
        drive::RunStats::default(),
        drive::RunStats::default(),
        drive::RunStats::default(),
    );
    let (mut round_ratios, mut round_costs) = (Vec::new(), Vec::new());
    for number in 1..=args.rounds.max(1) {
        eprintln!("round {number} of {}", args.rounds.max(1));
        // The baseline first, on its own port and table, with the same members and documents.
        // Every phase makes its own CA and client certificates before its timing starts.
        let base_round = phases.baseline(args.concurrency).await?;
        // The hub without its receipt log, then the hub: same database server, members and
        // documents, plus delivery. The later phase meets the earlier one's rows in its
        // tables, so if anything the comparison is against the log.
        let bare_round = phases.hub(args.concurrency, false).await?;
        let hub_round = phases.hub(args.concurrency, true).await?;
        round_ratios.push(round(
            hub_round.rate() / base_round.rate().max(f64::MIN_POSITIVE),
        ));
        round_costs.push(round(
            1.0 - hub_round.rate() / bare_round.rate().max(f64::MIN_POSITIVE),
        ));
        base.merge(base_round);
        bare.merge(bare_round);
        hub_run.merge(hub_round);
    }
    let sweep = sweep(args, &phases).await?;
    let hub_rate = hub_run.rate();
    let base_rate = base.rate();
    let bare_rate = bare.rate();
    let mut result = json!({
        "hub_submits_per_s": round(hub_rate),
        "baseline_submits_per_s": round(base_rate),
        "ratio": round(hub_rate / base_rate.max(f64::MIN_POSITIVE)),
        "hub_without_receipt_log_per_s": round(bare_rate),
        "receipt_log_cost": round(1.0 - hub_rate / bare_rate.max(f64::MIN_POSITIVE)),
        "rounds": args.rounds.max(1),
        "round_ratios": round_ratios,
        "round_receipt_log_costs": round_costs,
        "hub_cpu_ms_per_submit": hub_run.cpu_ms_per_submit().map(round3),
        "baseline_cpu_ms_per_submit": base.cpu_ms_per_submit().map(round3),
        "cpu_ratio": base
            .cpu_ms_per_submit()
            .zip(hub_run.cpu_ms_per_submit())
            .map(|(base, hub)| round(base / hub)),
        "hub_cpu_split_ms_per_submit": hub_run.cpu_split().map(split_json),
        "baseline_cpu_split_ms_per_submit": base.cpu_split().map(split_json),
        "hub_wal_bytes_per_submit": hub_run.wal_bytes_per_submit().map(f64::round),
        "baseline_wal_bytes_per_submit": base.wal_bytes_per_submit().map(f64::round),
        "submit_p50_ms": round(hub_run.submit_ms(50.0)),
        "submit_p99_ms": round(hub_run.submit_ms(99.0)),
        "baseline_submit_p99_ms": round(base.submit_ms(99.0)),
        "delivery_p50_ms": round(hub_run.delivery_ms(50.0)),
        "delivery_p99_ms": round(hub_run.delivery_ms(99.0)),
        "hub_batches_at_once": hub_run.batches.at_once,
        "hub_batches_sent_again": hub_run.batches.sent_again,
        "hub_batches_in_steps": hub_run.batches.in_steps,
        "hub_submissions_per_batch": hub_run
            .writer
            .and_then(|(w, _)| w.submissions_per_batch())
            .map(round),
        "hub_batch_ms": hub_run.writer.and_then(|(w, _)| w.ms_per_batch()).map(round),
        "hub_writer_waiting_for_slot": hub_run.writer_waits().map(|(slot, _)| round(slot)),
        "hub_writer_waiting_for_work": hub_run.writer_waits().map(|(_, work)| round(work)),
        "hub_accepted": hub_run.accepted,
        "hub_deliveries_expected": hub_run.expected,
        "hub_delivered": hub_run.delivered,
        "hub_acknowledged": hub_run.acknowledged,
        "lost": hub_run.lost,
        "hub_errors": hub_run.errors,
        "baseline_accepted": base.accepted,
        "baseline_errors": base.errors,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "submit_only": args.submit_only,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    });
    if let Some(sweep) = sweep {
        result["sweep"] = sweep.to_json(round);
    }
    Ok(result)
}

/// What every phase of a run shares: the run's database, the documents, how long to drive.
struct Phases<'a> {
    url: &'a str,
    harness_pool: sqlx::PgPool,
    documents: Arc<drive::Documents>,
    duration: Duration,
    /// Whether the hub's members subscribe and acknowledge (not with `--submit-only`).
    with_delivery: bool,
}

impl Phases<'_> {
    /// Drives the baseline server for one phase at `concurrency`.
    async fn baseline(&self, concurrency: usize) -> anyhow::Result<drive::RunStats> {
        let dir = tempfile::tempdir()?;
        let (listener, config) = configured(dir.path()).await?;
        let baseline = baseline::start(self.url, listener, config.server_tls()?).await?;
        eprintln!(
            "baseline: {} s at concurrency {concurrency}",
            self.duration.as_secs()
        );
        let stats = self.drive(dir.path(), concurrency, false).await;
        baseline.stop().await;
        stats
    }

    /// Drives a hub (with or without its receipt log) for one phase at `concurrency`.
    async fn hub(&self, concurrency: usize, receipts: bool) -> anyhow::Result<drive::RunStats> {
        let dir = tempfile::tempdir()?;
        let (listener, config) = configured(dir.path()).await?;
        let mut store = PostgresStore::connect(self.url).await?;
        if !receipts {
            store = store.without_receipt_log_for_measurement();
        }
        let hub = Hub::start(store, Some(&config.registry_dirs()), config.settings()?).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let tls = config.server_tls()?;
        let store = hub.store.clone();
        let writer = hub.shared.writer.clone();
        let server = tokio::spawn(originhub_hub::server::run(hub, listener, tls, async {
            let _ = stopped.await;
        }));
        eprintln!(
            "hub{}: {} s at concurrency {concurrency}",
            if receipts {
                ""
            } else {
                " without its receipt log"
            },
            self.duration.as_secs(),
        );
        let (writer_before, started) = (writer.snapshot(), std::time::Instant::now());
        let mut stats = self
            .drive(dir.path(), concurrency, self.with_delivery)
            .await?;
        stats.writer = Some((writer.snapshot().since(writer_before), started.elapsed()));
        stats.batches = store.batch_counts();
        let _ = stop.send(());
        server.await??;
        Ok(stats)
    }

    /// The load generator, with the clients of the config directory `dir`.
    async fn drive(
        &self,
        dir: &std::path::Path,
        concurrency: usize,
        with_delivery: bool,
    ) -> anyhow::Result<drive::RunStats> {
        drive::run(
            &self.harness_pool,
            &clients(dir)?,
            &self.documents,
            concurrency,
            self.duration,
            with_delivery,
        )
        .await
    }
}

/// `--sweep`: rounds of [baseline, hub] at each listed concurrency, pooled per concurrency;
/// `None` without the option.
async fn sweep(args: &Args, phases: &Phases<'_>) -> anyhow::Result<Option<peak::Sweep>> {
    if args.sweep.is_empty() {
        return Ok(None);
    }
    let levels: Vec<usize> = args
        .sweep
        .iter()
        .map(|&c| usize::try_from(c).context("--sweep: concurrency out of range"))
        .collect::<anyhow::Result<_>>()?;
    let mut pooled: Vec<(drive::RunStats, drive::RunStats)> = levels
        .iter()
        .map(|_| (drive::RunStats::default(), drive::RunStats::default()))
        .collect();
    for number in 1..=args.rounds.max(1) {
        for (&concurrency, (base, hub)) in levels.iter().zip(&mut pooled) {
            eprintln!(
                "sweep round {number} of {}, concurrency {concurrency}",
                args.rounds.max(1)
            );
            base.merge(phases.baseline(concurrency).await?);
            hub.merge(phases.hub(concurrency, true).await?);
        }
    }
    Ok(Some(peak::Sweep {
        levels: levels
            .iter()
            .zip(&pooled)
            .map(|(&concurrency, (base, hub))| peak::Level {
                concurrency,
                baseline_per_s: base.rate(),
                hub_per_s: hub.rate(),
                baseline_submit_p99_ms: base.submit_ms(99.0),
                hub_submit_p99_ms: hub.submit_ms(99.0),
                delivery_p99_ms: hub.delivery_ms(99.0),
                lost: hub.lost,
            })
            .collect(),
    }))
}

/// The client files of the members that send and receive, from a config directory.
fn clients(dir: &std::path::Path) -> anyhow::Result<Vec<(String, ClientFile)>> {
    drive::SENDERS
        .iter()
        .chain(["katanga"].iter())
        .map(|m| {
            Ok((
                (*m).to_owned(),
                ClientFile::load(&dir.join("clients").join(format!("{m}.toml")))?,
            ))
        })
        .collect()
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A phase's CPU split as JSON, in milliseconds per submission.
fn split_json(split: cpu::SplitMs) -> serde_json::Value {
    json!({
        "this_process": round3(split.this_process),
        "postgres": split.postgres.map(round3),
        "rest": round3(split.rest),
        "idle": round3(split.idle),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let json_out = args.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(result) => {
            if json_out {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&result).unwrap_or_default()
                );
            } else {
                for (key, value) in result.as_object().into_iter().flatten() {
                    println!("{key:<26} {value}");
                }
            }
            let sweep_lost = result["sweep"]["lost"].as_u64().unwrap_or(0);
            if result["lost"].as_u64() == Some(0)
                && result["hub_errors"].as_u64() == Some(0)
                && sweep_lost == 0
            {
                ExitCode::SUCCESS
            } else {
                eprintln!("error: submissions were lost or refused");
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
