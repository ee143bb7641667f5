//! `originhub demo`: a whole hub and its four members in one process, talking real gRPC over
//! mutual TLS. Members submit from several tasks at once; each member's inbox task acknowledges
//! what it receives; the summary counts what arrived, per agreement.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use originhub_hub::DEMO_MEMBERS;
use originhub_hub::client::{ClientFile, accepted_micros, acknowledge_all, sign};
use originhub_hub::config::HubConfig;
use originhub_hub::demo::{Exchange, Factory, exchanges, profile_of, shipped_plan, write_config};
use originhub_hub::hub::now_micros;
use originhub_hub::proto::SubmitRequest;
use originhub_hub::proto::member_service_client::MemberServiceClient;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use crate::cli::DemoArgs;

/// What one receiver saw of one delivery.
#[derive(Debug, Clone)]
struct Seen {
    tracking_id: String,
    receiver: String,
    agreement: String,
    latency_ms: f64,
    not_representable: usize,
    acknowledged: bool,
}

#[derive(Debug, Default)]
struct Tally {
    /// Per agreement: submissions accepted.
    submitted: BTreeMap<String, usize>,
    /// (tracking id, receiver) expected from the receipts.
    expected: HashSet<(String, String)>,
    /// Deliveries by id (de-duplicated: delivery is at-least-once).
    seen: BTreeMap<String, Seen>,
    refused: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn member_client(dir: &Path, member: &str) -> anyhow::Result<MemberServiceClient<Channel>> {
    let file = ClientFile::load(&dir.join("clients").join(format!("{member}.toml")))?;
    Ok(file.member().await?)
}

/// A member's inbox: saves nothing, acknowledges everything, in batches.
async fn inbox(
    dir: PathBuf,
    member: &'static str,
    tally: Arc<Mutex<Tally>>,
    bar: ProgressBar,
) -> anyhow::Result<()> {
    let mut client = member_client(&dir, member).await?;
    let lock = || tally.lock().unwrap_or_else(|e| e.into_inner());
    acknowledge_all(
        &mut client,
        |delivery| {
            lock()
                .seen
                .entry(delivery.delivery_id.clone())
                .or_insert(Seen {
                    tracking_id: delivery.tracking_id.clone(),
                    receiver: member.to_owned(),
                    agreement: delivery.agreement.clone(),
                    latency_ms: (now_micros() - accepted_micros(delivery)) as f64 / 1000.0,
                    not_representable: delivery.not_representable.len(),
                    acknowledged: false,
                });
        },
        |ids| {
            let mut tally = lock();
            for id in ids {
                if let Some(seen) = tally.seen.get_mut(id)
                    && !seen.acknowledged
                {
                    seen.acknowledged = true;
                    bar.inc(1);
                }
            }
        },
    )
    .await?;
    Ok(())
}

/// Submits `count` certificates round-robin over the demo's exchanges.
async fn submit_all(
    dir: &Path,
    count: usize,
    concurrency: usize,
    tally: Arc<Mutex<Tally>>,
    bar: ProgressBar,
) -> anyhow::Result<()> {
    let factory = Arc::new(Factory::new());
    let run = now_micros() / 1_000_000;
    let routes = exchanges();
    let mut clients = BTreeMap::new();
    let mut signers = BTreeMap::new();
    for (member, _, _) in DEMO_MEMBERS {
        let file = ClientFile::load(&dir.join("clients").join(format!("{member}.toml")))?;
        signers.insert(*member, Arc::new(file.signer()?));
        clients.insert(*member, file.member().await?);
    }
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let exchange: Exchange = routes[n % routes.len()].clone();
        let mut client = clients[exchange.sender].clone();
        let signer = signers[exchange.sender].clone();
        let permit = permits.clone().acquire_owned().await?;
        let (factory, tally, bar) = (factory.clone(), tally.clone(), bar.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let profile = profile_of(exchange.sender);
            let plan = shipped_plan(profile).expect("shipped profile compiles");
            let serial = format!("DEMO-{run}-{n:05}");
            let document = factory.document(&plan, &exchange, &serial, 1 + n % 3);
            let request = SubmitRequest {
                agreement: exchange.agreement.into(),
                profile: profile.into(),
                document,
                ..SubmitRequest::default()
            };
            let result = match sign(request, signer.as_ref().as_ref()) {
                Ok(request) => client.submit(request).await,
                Err(error) => Err(tonic::Status::internal(error.to_string())),
            };
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(response) => {
                    let receipt = response.into_inner().receipt.unwrap_or_default();
                    *tally
                        .submitted
                        .entry(exchange.agreement.to_owned())
                        .or_default() += 1;
                    for receiver in receipt.receivers {
                        tally
                            .expected
                            .insert((receipt.tracking_id.clone(), receiver));
                    }
                    bar.set_length(count as u64 + tally.expected.len() as u64);
                }
                Err(status) => tally.refused.push(format!(
                    "{serial}: {:?}: {}",
                    status.code(),
                    status.message()
                )),
            }
            bar.inc(1);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(())
}

/// Waits until the hub accepts a connection, or its task ended (and says why).
async fn wait_until_up(
    dir: &Path,
    server: &tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut last = String::new();
    for _ in 0..100 {
        if server.is_finished() {
            bail!("the hub stopped during start-up");
        }
        match member_client(dir, "borastria").await {
            Ok(_) => return Ok(()),
            Err(error) => last = format!("{error:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the hub did not come up: {last}")
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => tempfile::Builder::new()
            .prefix("originhub-demo-")
            .tempdir()?
            .keep(),
    };
    let dir = std::path::absolute(&dir)?;
    let config_path = dir.join("hub.toml");
    let listener = if config_path.is_file() {
        let config = HubConfig::load(Some(&config_path))?;
        TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?
    } else {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        write_config(&dir, listener.local_addr()?)?;
        listener
    };
    let config = HubConfig::load(Some(&config_path))?;
    eprintln!(
        "data directory: {} (hub on https://{}, {})",
        dir.display(),
        listener.local_addr()?,
        config.database().describe()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let config = config.clone();
        async move {
            originhub_hub::launch::serve(&config, listener, async {
                let _ = stopped.await;
            })
            .await
            .map_err(anyhow::Error::from)
        }
    });
    if let Err(error) = wait_until_up(&dir, &server).await {
        if server.is_finished() {
            server.await??;
        }
        return Err(error);
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let bar = ProgressBar::new(args.certificates as u64 * 2);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} submitted + acknowledged ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("exchanging");
    let mut inboxes = tokio::task::JoinSet::new();
    for (member, _, _) in DEMO_MEMBERS {
        inboxes.spawn(inbox(dir.clone(), member, tally.clone(), bar.clone()));
    }
    let started = std::time::Instant::now();
    submit_all(
        &dir,
        args.certificates,
        args.concurrency,
        tally.clone(),
        bar.clone(),
    )
    .await?;
    // Wait for every expected delivery to be acknowledged (or give up after a minute).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            let acked: HashSet<(String, String)> = tally
                .seen
                .values()
                .filter(|s| s.acknowledged)
                .map(|s| (s.tracking_id.clone(), s.receiver.clone()))
                .collect();
            tally.expected.is_subset(&acked)
        };
        if done || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    while let Some(finished) = inboxes.try_join_next() {
        if let Ok(Err(error)) = finished {
            eprintln!("error: a member's inbox stopped: {error:#}");
        }
    }
    let _ = stop.send(());
    inboxes.shutdown().await;
    server.await??;

    let tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    summarize(&tally, &dir, &config, elapsed, args.json)
}

fn summarize(
    tally: &Tally,
    dir: &Path,
    config: &HubConfig,
    elapsed: Duration,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let delivered: HashSet<(String, String)> = tally
        .seen
        .values()
        .map(|s| (s.tracking_id.clone(), s.receiver.clone()))
        .collect();
    let missing = tally.expected.difference(&delivered).count();
    let mut rows = Vec::new();
    for (agreement, submitted) in &tally.submitted {
        let seen: Vec<&Seen> = tally
            .seen
            .values()
            .filter(|s| &s.agreement == agreement)
            .collect();
        let mut latencies: Vec<f64> = seen.iter().map(|s| s.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        rows.push(json!({
            "agreement": agreement,
            "submitted": submitted,
            "delivered": seen.len(),
            "acknowledged": seen.iter().filter(|s| s.acknowledged).count(),
            "not_representable": seen.iter().map(|s| s.not_representable).sum::<usize>(),
            "latency_ms": {"p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0)},
        }));
    }
    let submitted: usize = tally.submitted.values().sum();
    let acknowledged = tally.seen.values().filter(|s| s.acknowledged).count();
    let ok = tally.refused.is_empty() && missing == 0 && submitted > 0;
    if json_out {
        let out = json!({
            "submitted": submitted,
            "delivered": tally.seen.len(),
            "acknowledged": acknowledged,
            "expected_deliveries": tally.expected.len(),
            "missing_deliveries": missing,
            "refused": tally.refused.len(),
            "seconds": elapsed.as_secs_f64(),
            "backend": config.database().describe(),
            "data_dir": dir.display().to_string(),
            "agreements": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", agreement_table(&rows));
        println!(
            "total: {submitted} submitted, {} delivered, {acknowledged} acknowledged in {:.1} s on {}",
            tally.seen.len(),
            elapsed.as_secs_f64(),
            config.database().describe()
        );
        println!(
            "continue this hub with: originhub serve --config {}",
            dir.join("hub.toml").display()
        );
        println!("member client files:    {}", dir.join("clients").display());
    }
    for refusal in tally.refused.iter().take(10) {
        eprintln!("refused: {refusal}");
    }
    if missing > 0 {
        eprintln!("error: {missing} delivery(ies) did not reach their receiver");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The summary's table, one line per agreement: each column right-aligned under its heading, the
/// first as wide as the longest agreement id (they are the operator's to choose).
fn agreement_table(rows: &[serde_json::Value]) -> String {
    use std::fmt::Write as _;
    let width = rows
        .iter()
        .filter_map(|row| row["agreement"].as_str())
        .map(str::len)
        .chain(["agreement".len()])
        .max()
        .unwrap_or_default();
    let mut table = format!(
        "{:<width$} {:>9} {:>9} {:>12} {:>17} {:>9} {:>9}\n",
        "agreement",
        "submitted",
        "delivered",
        "acknowledged",
        "not representable",
        "p50 ms",
        "p99 ms"
    );
    for row in rows {
        let _ = writeln!(
            table,
            "{:<width$} {:>9} {:>9} {:>12} {:>17} {:>9.1} {:>9.1}",
            row["agreement"].as_str().unwrap_or(""),
            row["submitted"].as_u64().unwrap_or(0),
            row["delivered"].as_u64().unwrap_or(0),
            row["acknowledged"].as_u64().unwrap_or(0),
            row["not_representable"].as_u64().unwrap_or(0),
            row["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
            row["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_table_keeps_its_columns_under_their_headings() {
        let row = |agreement: &str| {
            json!({"agreement": agreement, "submitted": 38, "delivered": 38, "acknowledged": 38,
                "not_representable": 319, "latency_ms": {"p50": 3.0, "p99": 46.9}})
        };
        let table = super::agreement_table(&[row("BCFTA"), row("ASEAN-AUSTRALIA-NZ")]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        // Every column but the first is right-aligned: each line ends its cells where the
        // heading ends its names.
        let ends = |line: &str| -> Vec<usize> {
            let mut ends = Vec::new();
            let bytes = line.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b != b' ' && bytes.get(i + 1).is_none_or(|next| *next == b' ') {
                    ends.push(i);
                }
            }
            ends
        };
        let heading = lines[0].replace("not representable", "not_representable");
        let heading = heading.replace(" ms", "_ms");
        let expected = ends(&heading);
        for line in &lines[1..] {
            assert_eq!(ends(line)[1..], expected[1..], "{table}");
        }
    }
}
