//! The hub's shared state: the store, the registry snapshot, the batch writer and the wakeups
//! that tell subscriptions a delivery was committed.
//!
//! Concurrency: request handlers read the registry through an `RwLock<Arc<Registry>>` held only
//! to clone the `Arc`; changes build a new snapshot from the store and swap it in. Submissions
//! and acknowledgements go through one [`Writer`] per process over an `mpsc` channel: it takes
//! whatever is queued (up to `max_batch`), writes it in one transaction with its receipt-log
//! leaves, and answers each caller through its `oneshot`; a semaphore allows `parallel_batches`
//! transactions in flight. Under load this is group commit: one fsync and one log append for
//! many submissions and acknowledgements. The writer runs on a thread and single-threaded
//! runtime of its own (see [`Writer::start`]), so its database replies never wait behind
//! request work; request handlers do the CPU-heavy part of a submission in place, or on the
//! blocking pool for a large document ([`crate::compute`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::error::ApiError;
use crate::feed::DeliveryFeed;
use crate::receipts::keys::NoteKey;
use crate::registry::{Registry, RegistryDirs, RegistryError, import};
use crate::store::{
    AckJob, AckOutcome, DeliveryRecord, NewSubmission, Store, StoreError, Stored, StoredBatch,
};
use crate::writer_stats::WriterCounters;

/// Unix microseconds now.
pub fn now_micros() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// Per-member wakeups: a `watch` counter each subscription holds a receiver of. A `watch`
/// remembers that it changed, so a commit between a subscription's query and its wait is not
/// missed.
#[derive(Debug, Default)]
pub struct Wakeups {
    members: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Wakeups {
    /// A receiver that changes whenever `member` gets a delivery.
    pub fn subscribe(&self, member: &str) -> watch::Receiver<u64> {
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members
            .entry(member.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes `member`'s subscriptions.
    pub fn wake(&self, member: &str) {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = members.get(member) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// Deliveries this process committed recently, by id, so subscriptions send them without
/// reading their bytes back from the database. The database stays the truth: a subscription
/// asks it which deliveries are pending and in what order, and fetches whatever is not here.
/// Bounded; entries leave when acknowledged or when the cache is full (oldest first).
#[derive(Debug, Default)]
pub struct DeliveryCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    by_id: HashMap<String, Arc<DeliveryRecord>>,
    order: std::collections::VecDeque<String>,
}

/// Most deliveries cached (a few tens of megabytes of typical certificates).
const CACHE_CAPACITY: usize = 4096;

impl DeliveryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers committed deliveries.
    pub fn insert(&self, records: &[Arc<DeliveryRecord>]) {
        let mut inner = self.lock();
        for record in records {
            inner.order.push_back(record.delivery_id.clone());
            inner
                .by_id
                .insert(record.delivery_id.clone(), record.clone());
        }
        while inner.by_id.len() > CACHE_CAPACITY {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.by_id.remove(&oldest);
        }
        if inner.order.len() > CACHE_CAPACITY * 2 {
            // Drop ids already removed by acknowledgement.
            let CacheInner { by_id, order } = &mut *inner;
            order.retain(|id| by_id.contains_key(id));
        }
    }

    /// A cached delivery.
    pub fn get(&self, delivery_id: &str) -> Option<Arc<DeliveryRecord>> {
        self.lock().by_id.get(delivery_id).cloned()
    }

    /// Forgets acknowledged deliveries.
    pub fn remove(&self, delivery_ids: &[String]) {
        let mut inner = self.lock();
        for id in delivery_ids {
            inner.by_id.remove(id);
        }
    }
}

/// What the writer tells subscriptions about each commit.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// Subscription wakeups.
    pub wakeups: Arc<Wakeups>,
    /// Recently committed deliveries, by id.
    pub cache: Arc<DeliveryCache>,
    /// Recently committed batches, in order.
    pub feed: Arc<DeliveryFeed>,
    /// How the writer spends its time.
    pub writer: Arc<WriterCounters>,
}

/// What the writer stores: a submission, or a receiver's acknowledgement.
#[derive(Debug)]
enum Job {
    Submit(
        Box<NewSubmission>,
        oneshot::Sender<Result<Stored, StoreError>>,
    ),
    Ack(AckJob, oneshot::Sender<Result<AckOutcome, StoreError>>),
}

/// Stores one batch, caches its deliveries, wakes its receivers' subscriptions, and answers
/// every submitter and acknowledger.
async fn store_batch<S: Store>(store: &S, shared: &Shared, batch: Vec<Job>) {
    let Shared {
        wakeups,
        cache,
        feed,
        writer,
    } = shared;
    let (mut submissions, mut replies) = (Vec::new(), Vec::new());
    let (mut acks, mut ack_replies) = (Vec::new(), Vec::new());
    for job in batch {
        match job {
            Job::Submit(submission, reply) => {
                submissions.push(*submission);
                replies.push(reply);
            }
            Job::Ack(ack, reply) => {
                acks.push(ack);
                ack_replies.push(reply);
            }
        }
    }
    let started = Instant::now();
    let result = store.write_batch(&submissions, &acks, now_micros()).await;
    writer.batch(submissions.len(), acks.len(), started.elapsed());
    match result {
        Ok(StoredBatch {
            outcomes,
            deliveries,
            acks: ack_outcomes,
            after_sequence,
            through_sequence,
        }) => {
            for ((ack, reply), outcome) in acks.iter().zip(ack_replies).zip(ack_outcomes) {
                if matches!(outcome, AckOutcome::Acknowledged(_)) {
                    cache.remove(&ack.delivery_ids);
                }
                let _ = reply.send(Ok(outcome));
            }
            let mut receivers: Vec<String> =
                deliveries.iter().map(|d| d.receiver.clone()).collect();
            receivers.sort_unstable();
            receivers.dedup();
            let deliveries: Vec<Arc<DeliveryRecord>> =
                deliveries.into_iter().map(Arc::new).collect();
            cache.insert(&deliveries);
            // Before the wakeups, so a woken subscription finds the batch.
            feed.push(after_sequence, through_sequence, deliveries);
            for receiver in &receivers {
                wakeups.wake(receiver);
            }
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::error!(%error, count = replies.len(), "storing a batch failed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
            for reply in ack_replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// The writer's loop: a batch of whatever is queued whenever a slot is free, until every
/// sender is gone; then waits for the batches in flight.
async fn write_batches<S: Store>(
    store: Arc<S>,
    shared: Shared,
    mut queue: mpsc::Receiver<Job>,
    max_batch: usize,
    parallel: u32,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(parallel as usize));
    loop {
        let waiting = Instant::now();
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        shared.writer.waited_for_slot(waiting.elapsed());
        let waiting = Instant::now();
        let mut batch = Vec::with_capacity(max_batch);
        if queue.recv_many(&mut batch, max_batch).await == 0 {
            break;
        }
        shared.writer.waited_for_work(waiting.elapsed());
        let (store, shared) = (store.clone(), shared.clone());
        tokio::spawn(async move {
            store_batch(&*store, &shared, batch).await;
            drop(slot);
        });
    }
    // The runtime, and any batch still on it, ends when this returns.
    let _ = slots.acquire_many(parallel).await;
}

fn shutting_down() -> ApiError {
    ApiError::Unavailable("the hub is shutting down".into())
}

/// The handle submitters use to reach the batch writer.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer on a thread and runtime of its own, with a store connected from there
    /// ([`Store::for_writer`]). It collects what is queued into a batch and stores it, with at
    /// most `parallel` batches in flight (a second batch writes its submissions while the first
    /// commits).
    ///
    /// Why a runtime of its own: a batch is a chain of database round trips, the later ones
    /// under the write lock, so the hub's throughput follows how fast those replies are
    /// handled. On the request runtime each reply waited for a worker busy with request tasks:
    /// about 0.7 ms per round trip in the load test, against 0.3–0.7 ms on a thread of its own
    /// (and 0.03 ms for a trivial query from another process).
    ///
    /// The thread ends once every [`Writer`] handle is dropped and the batches in flight are
    /// committed.
    pub async fn start<S: Store>(
        store: Arc<S>,
        shared: Shared,
        max_batch: usize,
        parallel: usize,
    ) -> Result<Self, StoreError> {
        let max_batch = max_batch.max(1);
        // Batches in flight: the semaphore's permits, and the writer's connections.
        let parallel = u32::try_from(parallel.clamp(1, tokio::sync::Semaphore::MAX_PERMITS))
            .unwrap_or(u32::MAX);
        let (jobs, queue) = mpsc::channel::<Job>(max_batch * 4);
        let (started, ready) = oneshot::channel();
        std::thread::Builder::new()
            .name("originhub-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started.send(Err(StoreError::Writer(error.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let store = match store.for_writer(parallel).await {
                        Ok(own) => Arc::new(own),
                        Err(error) => {
                            let _ = started.send(Err(error));
                            return;
                        }
                    };
                    let _ = started.send(Ok(()));
                    write_batches(store, shared, queue, max_batch, parallel).await;
                });
            })
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        ready
            .await
            .map_err(|_| StoreError::Writer("the writer thread ended at start".into()))??;
        Ok(Self { jobs })
    }

    /// Stores one submission (with whatever else is queued) and waits for the commit.
    pub async fn store(&self, submission: NewSubmission) -> Result<Stored, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit_job(Job::Submit(Box::new(submission), reply))
            .await?;
        Ok(answer.await.map_err(|_| shutting_down())??)
    }

    /// Applies an acknowledgement (with whatever else is queued) and waits for the commit.
    pub async fn acknowledge(&self, ack: AckJob) -> Result<AckOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit_job(Job::Ack(ack, reply)).await?;
        Ok(answer.await.map_err(|_| shutting_down())??)
    }

    async fn submit_job(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.send(job).await.map_err(|_| shutting_down())
    }
}

/// Tunables of a running hub.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Largest document accepted.
    pub max_document_bytes: usize,
    /// Deepest nesting accepted.
    pub max_depth: usize,
    /// Most submissions per transaction.
    pub max_batch: usize,
    /// Batches in flight at once.
    pub parallel_batches: usize,
    /// How often subscriptions look for deliveries committed by other replicas.
    pub poll_interval: Duration,
    /// How long a client's TLS handshake may take before its connection is dropped.
    pub tls_handshake_timeout: Duration,
    /// Signs checkpoints of the receipt log.
    pub key: NoteKey,
}

/// A throwaway signing key (tests, benchmarks): the defaults never write a key file.
fn ephemeral_key(origin: &str) -> NoteKey {
    match NoteKey::generate(origin) {
        Ok((key, _)) => key,
        Err(error) => unreachable!("the default log origin is a valid key name: {error}"),
    }
}

impl HubSettings {
    /// The tunables of `config`, with `key` as the signing key.
    pub fn from_config(config: &crate::config::HubConfig, key: NoteKey) -> Self {
        Self {
            max_document_bytes: config.max_document_bytes,
            max_depth: config.max_depth,
            max_batch: config.max_batch,
            parallel_batches: config.parallel_batches,
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            tls_handshake_timeout: Duration::from_millis(config.tls_handshake_timeout_ms),
            key,
        }
    }
}

impl Default for HubSettings {
    fn default() -> Self {
        let config = crate::config::HubConfig::default();
        let key = ephemeral_key(&config.log_origin);
        Self::from_config(&config, key)
    }
}

/// A running hub's state, shared by every request.
#[derive(Debug)]
pub struct Hub<S> {
    /// The database.
    pub store: Arc<S>,
    registry: RwLock<Arc<Registry>>,
    /// Held by a registry change from its check to its reload (see [`Hub::registry_change`]).
    registry_changes: tokio::sync::Mutex<()>,
    /// The batch writer.
    pub writer: Writer,
    /// What subscriptions learn from the writer.
    pub shared: Shared,
    /// Tunables.
    pub settings: HubSettings,
    /// Set when the server shuts down, so open subscriptions end and graceful shutdown does not
    /// wait for clients that never leave.
    closing: watch::Sender<bool>,
}

impl<S: Store> Hub<S> {
    /// Imports the config directories into the store, loads the registry and starts the writer.
    pub async fn start(
        store: S,
        dirs: Option<&RegistryDirs>,
        settings: HubSettings,
    ) -> Result<Arc<Self>, RegistryError> {
        if let Some(dirs) = dirs {
            import(&store, dirs, now_micros()).await?;
        }
        let moved = store.migrate_legacy_events().await?;
        if moved > 0 {
            tracing::info!(
                moved,
                "moved receipt events of an older version into the receipt log"
            );
        }
        let store = Arc::new(store);
        let shared = Shared::default();
        let hub = Self {
            registry: RwLock::new(Arc::new(Registry::default())),
            registry_changes: tokio::sync::Mutex::new(()),
            writer: Writer::start(
                store.clone(),
                shared.clone(),
                settings.max_batch,
                settings.parallel_batches,
            )
            .await?,
            store,
            shared,
            settings,
            closing: watch::channel(false).0,
        };
        hub.reload().await?;
        Ok(Arc::new(hub))
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits for the registry changes before this one, then lets the caller check its change
    /// against the current registry, store it and [`Hub::reload`] while it holds the guard.
    /// So two changes are never both checked against the registry without the other (each
    /// fine alone, broken together: an agreement naming a member whose country changes), and
    /// a slower reload never installs a snapshot older than a faster one's.
    pub async fn registry_change(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.registry_changes.lock().await
    }

    /// Ends every open subscription (at shutdown).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Changes to `true` when subscriptions must end.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Rebuilds the registry snapshot from the store.
    pub async fn reload(&self) -> Result<(), RegistryError> {
        let (mut registry, left_out) = Registry::from_rows(self.store.registry().await?);
        for error in &left_out {
            tracing::error!(
                "{error}; left out of routing until it is put right (originhub operator put, or \
                 its file in the config folder)"
            );
        }
        for entry in registry.profiles.values_mut() {
            if let Some(profile) = Arc::get_mut(&mut entry.current) {
                profile.plan.limits = originhub_core::limits::Limits {
                    max_bytes: self.settings.max_document_bytes,
                    max_depth: self.settings.max_depth,
                };
            }
        }
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
        Ok(())
    }
}
