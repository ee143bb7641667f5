//! The load generator: `concurrency` workers submit certificates round-robin over the demo's
//! exchanges until the time is up; for the hub, every member also subscribes and acknowledges
//! in batches, and the run waits for every accepted submission to reach every receiver and be
//! acknowledged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use originhub_hub::client::{ClientFile, accepted_micros, acknowledge_all, sign};
use originhub_hub::demo::{Exchange, Factory, exchanges, profile_of, shipped_plan};
use originhub_hub::hub::now_micros;
use originhub_hub::proto::SubmitRequest;
use originhub_hub::proto::member_service_client::MemberServiceClient;
use tonic::transport::Channel;

/// The members that send in the demo world.
pub(crate) const SENDERS: [&str; 3] = ["adjikistan", "borastria", "concordia"];

const PLACEHOLDER: &str = "LOAD-PLACEHOLDER-0000000000";

/// Ready-made documents for every exchange and goods-item count, with a placeholder serial
/// replaced per submission (so generating load costs the clients almost nothing).
#[derive(Debug)]
pub(crate) struct Documents {
    templates: Vec<(Exchange, Vec<u8>)>,
}

impl Documents {
    pub(crate) fn new(max_items: usize) -> Self {
        let factory = Factory::new();
        let mut templates = Vec::new();
        for items in 1..=max_items.max(1) {
            for exchange in exchanges() {
                let plan =
                    shipped_plan(profile_of(exchange.sender)).expect("shipped profile compiles");
                let document = factory.document(&plan, &exchange, PLACEHOLDER, items);
                templates.push((exchange, document));
            }
        }
        Self { templates }
    }

    /// The `n`th document, its certificate id `prefix-n`.
    fn get(&self, n: usize, prefix: &str) -> (&Exchange, Vec<u8>) {
        let (exchange, template) = &self.templates[n % self.templates.len()];
        let text = String::from_utf8_lossy(template);
        let serial = format!("{prefix}-{n:010}");
        (exchange, text.replace(PLACEHOLDER, &serial).into_bytes())
    }
}

/// What one side of the run measured.
#[derive(Debug, Default)]
pub(crate) struct RunStats {
    pub(crate) accepted: usize,
    pub(crate) errors: usize,
    pub(crate) seconds: f64,
    submit_ms: Vec<f64>,
    delivery_ms: Vec<f64>,
    pub(crate) expected: usize,
    pub(crate) delivered: usize,
    /// Of the delivered, acknowledged when the phase ended.
    pub(crate) acknowledged: usize,
    pub(crate) lost: usize,
    /// CPU time the phase used, by whom (see [`crate::cpu`]), from the first submission to the
    /// last delivery.
    pub(crate) cpu: Option<crate::cpu::CpuTimes>,
    /// Bytes of WAL the Postgres server wrote in the same window (see [`crate::wal`]).
    pub(crate) wal_bytes: Option<u64>,
    /// Runs these figures pool.
    rounds: usize,
    /// How the hub's batches went to Postgres.
    pub(crate) batches: originhub_hub::store::BatchCounts,
    /// How the hub's batch writer spent the phase, and the phase's wall time it covers.
    pub(crate) writer: Option<(originhub_hub::writer_stats::WriterStats, Duration)>,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RunStats {
    /// Adds another run's figures (rounds of the same phase).
    pub(crate) fn merge(&mut self, other: Self) {
        self.accepted += other.accepted;
        self.errors += other.errors;
        self.seconds += other.seconds;
        self.submit_ms.extend(other.submit_ms);
        self.delivery_ms.extend(other.delivery_ms);
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.acknowledged += other.acknowledged;
        self.lost += other.lost;
        // Known only if known for every round.
        (self.cpu, self.wal_bytes, self.writer) = if self.rounds == 0 {
            (other.cpu, other.wal_bytes, other.writer)
        } else {
            (
                self.cpu.zip(other.cpu).map(|(a, b)| a.add(b)),
                self.wal_bytes.zip(other.wal_bytes).map(|(a, b)| a + b),
                self.writer
                    .zip(other.writer)
                    .map(|((a, wall_a), (b, wall_b))| (a + b, wall_a + wall_b)),
            )
        };
        self.rounds += other.rounds;
        self.batches.at_once += other.batches.at_once;
        self.batches.sent_again += other.batches.sent_again;
        self.batches.in_steps += other.batches.in_steps;
    }

    /// The share of the phase the hub's writer spent waiting for a free batch slot and for work.
    pub(crate) fn writer_waits(&self) -> Option<(f64, f64)> {
        let (stats, wall) = self.writer?;
        let wall = wall.as_secs_f64();
        (wall > 0.0).then(|| {
            (
                stats.waiting_for_slot.as_secs_f64() / wall,
                stats.waiting_for_work.as_secs_f64() / wall,
            )
        })
    }

    /// Accepted submissions per second.
    pub(crate) fn rate(&self) -> f64 {
        self.accepted as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    pub(crate) fn submit_ms(&self, p: f64) -> f64 {
        percentile(&self.submit_ms, p)
    }

    pub(crate) fn delivery_ms(&self, p: f64) -> f64 {
        percentile(&self.delivery_ms, p)
    }

    /// Milliseconds of machine CPU (busy time) per accepted submission.
    pub(crate) fn cpu_ms_per_submit(&self) -> Option<f64> {
        self.cpu?.busy_ms_per(self.accepted)
    }

    /// The phase's CPU time per accepted submission, by whom.
    pub(crate) fn cpu_split(&self) -> Option<crate::cpu::SplitMs> {
        self.cpu?.split_ms_per(self.accepted)
    }

    /// Bytes of WAL per accepted submission.
    pub(crate) fn wal_bytes_per_submit(&self) -> Option<f64> {
        let bytes = self.wal_bytes?;
        (self.accepted > 0).then(|| bytes as f64 / self.accepted as f64)
    }
}

/// What the members' subscriptions received: for each (tracking id, receiver), the time from
/// the submission's acceptance to its first arrival. A subscription also receives what an earlier
/// phase delivered but did not see acknowledged before it stopped (at-least-once delivery, as
/// designed); those are not this phase's submissions, and only this phase's count.
///
/// A phase ends once its own deliveries are acknowledged too, so that the acknowledgements'
/// work falls in the phase that caused it and the next phase starts with empty queues.
#[derive(Debug, Default)]
struct Inboxes {
    latency_ms: HashMap<(String, String), f64>,
    /// Received and not yet acknowledged: delivery id to (tracking id, receiver).
    unacknowledged: HashMap<String, (String, String)>,
    acknowledged: HashSet<(String, String)>,
}

/// The delivery latencies of this phase's submissions (`expected`) that arrived, leaving out
/// what the subscriptions received from earlier phases.
fn phase_latencies(
    expected: &HashSet<(String, String)>,
    arrived: &HashMap<(String, String), f64>,
) -> Vec<f64> {
    expected
        .iter()
        .filter_map(|key| arrived.get(key).copied())
        .collect()
}

async fn inbox(
    mut client: MemberServiceClient<Channel>,
    member: String,
    seen: Arc<Mutex<Inboxes>>,
) -> anyhow::Result<()> {
    acknowledge_all(
        &mut client,
        |delivery| {
            let latency = (now_micros() - accepted_micros(delivery)) as f64 / 1000.0;
            let key = (delivery.tracking_id.clone(), member.clone());
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.latency_ms.entry(key.clone()).or_insert(latency);
            seen.unacknowledged
                .insert(delivery.delivery_id.clone(), key);
        },
        |ids| {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                if let Some(key) = seen.unacknowledged.remove(id) {
                    seen.acknowledged.insert(key);
                }
            }
        },
    )
    .await?;
    Ok(())
}

/// Polls `done` every 20 ms until it holds or `limit` has passed.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Drives one server for `duration`; `harness_pool` reads the Postgres server's WAL position.
pub(crate) async fn run(
    harness_pool: &sqlx::PgPool,
    clients: &[(String, ClientFile)],
    documents: &Arc<Documents>,
    concurrency: usize,
    duration: Duration,
    with_delivery: bool,
) -> anyhow::Result<RunStats> {
    let mut channels = std::collections::BTreeMap::new();
    let mut signers = std::collections::BTreeMap::new();
    for (member, file) in clients {
        channels.insert(member.clone(), file.member().await?);
        // Members sign what they issue (the multilateral agreement requires it); the baseline
        // gets the same signed requests.
        signers.insert(member.clone(), file.signer()?);
    }
    let signers = Arc::new(signers);
    let seen = Arc::new(Mutex::new(Inboxes::default()));
    let mut inboxes = tokio::task::JoinSet::new();
    if with_delivery {
        for (member, client) in &channels {
            inboxes.spawn(inbox(client.clone(), member.clone(), seen.clone()));
        }
    }
    let prefix = format!("L{:x}", now_micros() % 0xffff_ffff);
    let cpu_before = crate::cpu::CpuTimes::now();
    let wal_before = crate::wal::position(harness_pool).await;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (documents, next, prefix) = (documents.clone(), next.clone(), prefix.clone());
        let (channels, signers) = (channels.clone(), signers.clone());
        workers.spawn(async move {
            let mut stats = RunStats::default();
            let mut expected = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let (exchange, document) = documents.get(n, &prefix);
                let mut client = channels[exchange.sender].clone();
                let sent = Instant::now();
                let request = sign(
                    SubmitRequest {
                        agreement: exchange.agreement.into(),
                        profile: profile_of(exchange.sender).into(),
                        document,
                        ..SubmitRequest::default()
                    },
                    signers[exchange.sender].as_ref(),
                );
                let result = match request {
                    Ok(request) => client.submit(request).await,
                    Err(error) => Err(tonic::Status::internal(error.to_string())),
                };
                stats.submit_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                match result {
                    Ok(response) => {
                        stats.accepted += 1;
                        let receipt = response.into_inner().receipt.unwrap_or_default();
                        for receiver in receipt.receivers {
                            expected.push((receipt.tracking_id.clone(), receiver));
                        }
                    }
                    Err(status) => {
                        if stats.errors == 0 {
                            eprintln!("refused: {:?}: {}", status.code(), status.message());
                        }
                        stats.errors += 1;
                    }
                }
            }
            (stats, expected, Instant::now())
        });
    }
    let mut total = RunStats {
        rounds: 1,
        ..RunStats::default()
    };
    let mut expected = HashSet::new();
    let mut finished = started;
    while let Some(done) = workers.join_next().await {
        let (stats, sent, at) = done?;
        total.accepted += stats.accepted;
        total.errors += stats.errors;
        total.submit_ms.extend(stats.submit_ms);
        expected.extend(sent);
        finished = finished.max(at);
    }
    total.seconds = (finished - started).as_secs_f64();
    total.expected = expected.len();
    if with_delivery {
        let all = |done: fn(&Inboxes, &(String, String)) -> bool| {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            expected.iter().all(|key| done(&seen, key))
        };
        // Every delivery, then (a subscription acknowledges within 10 ms of its last delivery)
        // every acknowledgement.
        wait_for(Duration::from_secs(120), || {
            all(|seen, key| seen.latency_ms.contains_key(key))
        })
        .await;
        wait_for(Duration::from_secs(10), || {
            all(|seen, key| seen.acknowledged.contains(key))
        })
        .await;
        inboxes.shutdown().await;
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        total.delivery_ms = phase_latencies(&expected, &seen.latency_ms);
        total.delivered = total.delivery_ms.len();
        total.lost = total.expected - total.delivered;
        total.acknowledged = expected
            .iter()
            .filter(|key| seen.acknowledged.contains(*key))
            .count();
    }
    total.cpu = crate::cpu::CpuTimes::since(cpu_before);
    total.wal_bytes = crate::wal::bytes_since(harness_pool, wal_before).await;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tracking_id: &str, receiver: &str) -> (String, String) {
        (tracking_id.to_owned(), receiver.to_owned())
    }

    #[test]
    fn a_phase_counts_only_its_own_submissions_deliveries() {
        let expected = HashSet::from([key("t1", "katanga"), key("t2", "borastria")]);
        let arrived = HashMap::from([
            (key("t1", "katanga"), 12.5),
            // Redelivered from an earlier phase that stopped before acknowledging it.
            (key("t0", "katanga"), 5_200.0),
        ]);
        assert_eq!(phase_latencies(&expected, &arrived), vec![12.5]);
    }
}
