//! The hub end to end over real mutual TLS on a loopback port the OS picks, with one
//! backend-agnostic suite run against both SQLite and Postgres (a fresh database per test).
//! Postgres is at `ORIGINHUB_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use originhub_core::profile::Plan;
use originhub_hub::certs::DevCa;
use originhub_hub::client::{ClientFile, sign};
use originhub_hub::demo::{self, BILATERAL, Exchange, Factory, MULTILATERAL};
use originhub_hub::hub::{Hub, HubSettings, now_micros};
use originhub_hub::identity::Role;
use originhub_hub::proto::audit_service_client::AuditServiceClient;
use originhub_hub::proto::export_events_response::Part;
use originhub_hub::proto::member_service_client::MemberServiceClient;
use originhub_hub::proto::operator_service_client::OperatorServiceClient;
use originhub_hub::proto::{
    AckRequest, Delivery, DeliveryState, GetMemberRequest, GetProfileRequest, GetStatusRequest,
    ListAgreementsRequest, ListMembersRequest, PutAgreementRequest, PutMemberRequest,
    PutProfileRequest, SubmitRequest, SubmitResponse, SubscribeRequest, SubscribeResponse,
};
use originhub_hub::proto::{
    ExportEventsRequest, GetCheckpointRequest, GetConsistencyProofRequest,
    GetInclusionProofRequest, QueryEventsRequest, ReceiptEvent,
};
use originhub_hub::receipts::custody::{Attestation, IssuerKey};
use originhub_hub::receipts::entry::{Entry, EventKind, NewEvent};
use originhub_hub::receipts::keys::{NoteKey, verify_checkpoint};
use originhub_hub::receipts::tree::{self, Hash, leaf_hash};
use originhub_hub::server::run;
use originhub_hub::store::{PostgresStore, SqliteStore, Store};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

struct TestHub<S> {
    dir: TempDir,
    hub: Arc<Hub<S>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    factory: Factory,
    serial: std::sync::atomic::AtomicUsize,
}

/// What every test hub runs with: subscriptions look for other replicas' commits often.
fn test_settings() -> HubSettings {
    HubSettings {
        poll_interval: std::time::Duration::from_millis(200),
        ..HubSettings::default()
    }
}

/// A hub serving the config in `config` on `listener`.
async fn serve<S: Store>(
    store: S,
    config: &std::path::Path,
    listener: TcpListener,
    settings: HubSettings,
) -> (
    Arc<Hub<S>>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let config = originhub_hub::config::HubConfig::load(Some(config)).unwrap();
    let hub = Hub::start(store, Some(&config.registry_dirs()), settings)
        .await
        .unwrap();
    let tls = config.server_tls().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = hub.clone();
    let server = tokio::spawn(async move {
        run(served, listener, tls, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (hub, stop, server)
}

/// A second hub on the same database and config directory as a [`TestHub`] (a replica), on a
/// port of its own.
struct Replica {
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl<S: Store> TestHub<S> {
    async fn start(store: S) -> Self {
        Self::start_with(store, test_settings()).await
    }

    async fn start_with(store: S, settings: HubSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let layout = demo::write_config(dir.path(), listener.local_addr().unwrap()).unwrap();
        let (hub, stop, server) = serve(store, &layout.config, listener, settings).await;
        Self {
            dir,
            hub,
            stop: Some(stop),
            server,
            factory: Factory::new(),
            serial: Default::default(),
        }
    }

    /// Starts a replica of this hub on `store` (the same database).
    async fn replica(&self, store: S) -> Replica {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_, stop, server) = serve(
            store,
            &self.dir.path().join("hub.toml"),
            listener,
            test_settings(),
        )
        .await;
        Replica { port, stop, server }
    }

    /// A member client of `replica`.
    async fn member_of(&self, replica: &Replica, name: &str) -> MemberServiceClient<Channel> {
        let mut file = ClientFile::load(&self.client_file(name)).unwrap();
        let (host, _) = file.hub.rsplit_once(':').unwrap();
        file.hub = format!("{host}:{}", replica.port);
        MemberServiceClient::new(file.connect().await.unwrap())
    }

    /// A submission signed with `sender`'s key from this hub's config directory.
    fn request(
        &self,
        agreement: &str,
        sender: &str,
        document: Vec<u8>,
        key: &str,
    ) -> SubmitRequest {
        let path = self.dir.path().join(format!("certs/{sender}-signing.key"));
        let signer = NoteKey::from_text(&std::fs::read_to_string(path).unwrap()).unwrap();
        sign(unsigned(agreement, sender, document, key), Some(&signer)).unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.server.await;
    }

    fn client_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("clients").join(format!("{name}.toml"))
    }

    async fn channel(&self, name: &str) -> Channel {
        ClientFile::load(&self.client_file(name))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn member(&self, name: &str) -> MemberServiceClient<Channel> {
        MemberServiceClient::new(self.channel(name).await)
    }

    /// A fresh certificate from `sender` to `receiver` in the sender's profile.
    fn document(
        &self,
        sender: &'static str,
        agreement: &'static str,
        receiver: &'static str,
        items: usize,
    ) -> (String, Vec<u8>) {
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let serial = format!("T-{sender}-{n:05}");
        let plan = plan(demo::profile_of(sender));
        let exchange = Exchange {
            sender,
            agreement,
            receiver,
        };
        (
            serial.clone(),
            self.factory.document(&plan, &exchange, &serial, items),
        )
    }

    async fn submit(
        &self,
        sender: &'static str,
        agreement: &'static str,
        receiver: &'static str,
    ) -> SubmitResponse {
        let (_, document) = self.document(sender, agreement, receiver, 1);
        self.member(sender)
            .await
            .submit(self.request(agreement, sender, document, ""))
            .await
            .unwrap()
            .into_inner()
    }
}

fn plan(id: &str) -> Plan {
    demo::shipped_plan(id).unwrap()
}

fn unsigned(agreement: &str, sender: &str, document: Vec<u8>, key: &str) -> SubmitRequest {
    SubmitRequest {
        agreement: agreement.into(),
        profile: demo::profile_of(sender).into(),
        document,
        idempotency_key: key.into(),
        ..SubmitRequest::default()
    }
}

/// A subscription after `after`; with `drained`, it ends once the backlog is sent.
async fn subscribe(
    client: &mut MemberServiceClient<Channel>,
    after: u64,
    drained: bool,
) -> tonic::Streaming<SubscribeResponse> {
    client
        .subscribe(SubscribeRequest {
            after_sequence: after,
            stop_when_drained: drained,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Everything pending for `client`, ending when drained.
async fn drain(client: &mut MemberServiceClient<Channel>, after: u64) -> Vec<Delivery> {
    let mut stream = subscribe(client, after, true).await;
    let mut out = Vec::new();
    while let Some(message) = stream.next().await {
        out.push(message.unwrap().delivery.unwrap());
    }
    out
}

async fn sqlite_store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (
        SqliteStore::open(&dir.path().join("hub.db")).await.unwrap(),
        dir,
    )
}

fn postgres_admin_url() -> String {
    std::env::var("ORIGINHUB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database; dropped by [`drop_postgres`].
async fn postgres_store() -> (PostgresStore, String) {
    let admin_url = postgres_admin_url();
    let name = format!("originhub_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("Postgres is not reachable at {admin_url} ({e}); start it or set ORIGINHUB_TEST_POSTGRES")
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    (
        PostgresStore::connect(&database_url(&name)).await.unwrap(),
        name,
    )
}

/// The URL of the test database `name`, beside the admin URL's.
fn database_url(name: &str) -> String {
    let admin_url = postgres_admin_url();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn drop_postgres(name: String) {
    let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

/// The ids of every delivery pending for `member`, in order.
async fn pending_ids<S: Store>(hub: &TestHub<S>, member: &str) -> Vec<String> {
    drain(&mut hub.member(member).await, 0)
        .await
        .into_iter()
        .map(|d| d.delivery_id)
        .collect()
}

/// Runs each scenario against both backends.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let (store, _dir) = super::sqlite_store().await;
                    super::$scenario(super::TestHub::start(store).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let (store, name) = super::postgres_store().await;
                    super::$scenario(super::TestHub::start(store).await).await;
                    super::drop_postgres(name).await;
                }
            )*
        }
    };
}

on_both_backends!(
    whole_flow,
    idempotent_resubmission,
    reconnect_resume_and_order,
    members_see_only_their_own,
    invalid_documents_store_nothing,
    operator_manages_the_registry,
    receipt_log,
    issuer_signatures_and_attestations,
);

async fn whole_flow<S: Store>(hub: TestHub<S>) {
    let (serial, document) = hub.document("borastria", MULTILATERAL, "concordia", 2);
    let mut borastria = hub.member("borastria").await;
    let response = borastria
        .submit(hub.request(MULTILATERAL, "borastria", document.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    assert!(!response.duplicate);
    let receipt = response.receipt.unwrap();
    assert_eq!(receipt.receivers, ["concordia"]);
    assert_eq!(receipt.certificate_id, serial);
    assert_eq!(
        receipt.content_hash,
        originhub_hub::pipeline::content_hash(&document)
    );
    assert!(receipt.sender_profile.starts_with("borastria-xml@"));

    let mut concordia = hub.member("concordia").await;
    let deliveries = drain(&mut concordia, 0).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.tracking_id, receipt.tracking_id);
    assert_eq!(delivery.sender, "borastria");
    assert_eq!(
        delivery.original, document,
        "the sender's bytes travel with the delivery"
    );
    assert!(delivery.profile.starts_with("edi3-coo-json@"));
    // The translated document reads back, with the receiver's profile, to the same certificate.
    let (record, _) = plan("edi3-coo-json").read(&delivery.document).unwrap();
    assert_eq!(record.value()["id"], serial.as_str());
    assert_eq!(record.value()["import_country"], "XC");

    // The same delivery read back from the database, not the in-process cache, is identical.
    hub.hub
        .shared
        .cache
        .remove(std::slice::from_ref(&delivery.delivery_id));
    assert!(hub.hub.shared.cache.get(&delivery.delivery_id).is_none());
    let from_database = drain(&mut concordia, 0).await;
    assert_eq!(from_database, deliveries);

    let acked = concordia
        .ack(AckRequest {
            delivery_ids: vec![delivery.delivery_id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.acknowledged, 1);
    assert!(
        drain(&mut concordia, 0).await.is_empty(),
        "acknowledged deliveries are not resent"
    );
    let status = borastria
        .get_status(GetStatusRequest {
            tracking_id: receipt.tracking_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.receivers.len(), 1);
    assert_eq!(
        status.receivers[0].state,
        DeliveryState::Acknowledged as i32
    );
    assert!(status.receivers[0].acknowledged_at.is_some());
    let events = hub.hub.store.events(&receipt.tracking_id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["accepted", "queued", "acknowledged"]);

    // Katanga's ChAFTA form cannot say which agreement; the delivery says so.
    hub.submit("adjikistan", MULTILATERAL, "katanga").await;
    let katanga = drain(&mut hub.member("katanga").await, 0).await;
    assert_eq!(katanga.len(), 1);
    assert!(katanga[0].profile.starts_with("chafta-form-json@"));
    assert!(
        !katanga[0].not_representable.is_empty(),
        "the ChAFTA form cannot carry everything the canonical record holds"
    );

    // Both submissions and the acknowledgement went through the batch writer, one batch each
    // (each waited for the answer before it), and the writer counted them.
    let writer = hub.hub.shared.writer.snapshot();
    assert_eq!(
        (writer.batches, writer.submissions, writer.acknowledgements),
        (3, 2, 1)
    );
    assert!(writer.writing > std::time::Duration::ZERO);
    assert!(writer.waiting_for_work > std::time::Duration::ZERO);
    hub.stop().await;
}

async fn idempotent_resubmission<S: Store>(hub: TestHub<S>) {
    let (serial, document) = hub.document("concordia", BILATERAL, "borastria", 1);
    let mut concordia = hub.member("concordia").await;
    let first = concordia
        .submit(hub.request(BILATERAL, "concordia", document.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    let again = concordia
        .submit(hub.request(BILATERAL, "concordia", document.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(
        again.receipt, first.receipt,
        "the original receipt comes back"
    );
    assert_eq!(drain(&mut hub.member("borastria").await, 0).await.len(), 1);

    // Same certificate id, other content: refused.
    let exchange = Exchange {
        sender: "concordia",
        agreement: BILATERAL,
        receiver: "borastria",
    };
    let changed = hub
        .factory
        .document(&plan("edi3-coo-json"), &exchange, &serial, 3);
    let status = concordia
        .submit(hub.request(BILATERAL, "concordia", changed.clone(), ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    // An explicit key: the same rule, answered before translation.
    let keyed = concordia
        .submit(hub.request(
            BILATERAL,
            "concordia",
            hub.document("concordia", BILATERAL, "borastria", 1).1,
            "k-1",
        ))
        .await
        .unwrap()
        .into_inner();
    let (_, other) = hub.document("concordia", BILATERAL, "borastria", 1);
    let other_bytes = other.clone();
    let status = concordia
        .submit(hub.request(BILATERAL, "concordia", other, "k-1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status
            .message()
            .contains(&keyed.receipt.unwrap().tracking_id)
    );
    assert_eq!(drain(&mut hub.member("borastria").await, 0).await.len(), 2);

    // Both replays with other content left a "refused" event naming the refused bytes.
    let refused = events_of(&mut audit(&hub, "auditor").await, "refused").await;
    let replays: Vec<(&str, &str)> = refused
        .iter()
        .map(|e| {
            (
                e.detail["code"].as_str(),
                e.detail["content_sha256"].as_str(),
            )
        })
        .collect();
    let (changed_hash, other_hash) = (sha256_hex(&changed), sha256_hex(&other_bytes));
    assert_eq!(
        replays,
        [
            ("AlreadyExists", changed_hash.as_str()),
            ("AlreadyExists", other_hash.as_str()),
        ]
    );

    // A key as long as allowed is stored; a longer one is refused before anything is written
    // (Postgres could not index it, and its batch would fail for everyone in it).
    let longest: String = (0u8..4).map(|i| sha256_hex(&[i])).collect();
    assert_eq!(
        longest.len(),
        originhub_hub::service::member::MAX_IDEMPOTENCY_KEY_BYTES
    );
    let (_, document) = hub.document("concordia", BILATERAL, "borastria", 1);
    concordia
        .submit(hub.request(BILATERAL, "concordia", document, &longest))
        .await
        .unwrap();
    let (_, document) = hub.document("concordia", BILATERAL, "borastria", 1);
    let status = concordia
        .submit(hub.request(BILATERAL, "concordia", document, &format!("{longest}x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(field_of(&status), "idempotency_key");
    assert!(
        status
            .message()
            .contains("257 bytes, over the limit of 256"),
        "{}",
        status.message()
    );
    assert_eq!(drain(&mut hub.member("borastria").await, 0).await.len(), 3);
    hub.stop().await;
}

async fn reconnect_resume_and_order<S: Store>(hub: TestHub<S>) {
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(
            hub.submit("adjikistan", MULTILATERAL, "concordia")
                .await
                .receipt
                .unwrap()
                .certificate_id,
        );
    }
    let mut concordia = hub.member("concordia").await;
    // Read two, then disconnect without acknowledging.
    {
        let mut stream = subscribe(&mut concordia, 0, false).await;
        for _ in 0..2 {
            stream.next().await.unwrap().unwrap();
        }
    }
    let all = drain(&mut hub.member("concordia").await, 0).await;
    let ids: Vec<_> = all.iter().map(|d| d.certificate_id.clone()).collect();
    assert_eq!(
        ids, sent,
        "everything unacknowledged comes back, in submission order"
    );
    assert!(all.windows(2).all(|w| w[0].sequence < w[1].sequence));
    let ack: Vec<_> = all[..3].iter().map(|d| d.delivery_id.clone()).collect();
    concordia
        .ack(AckRequest { delivery_ids: ack })
        .await
        .unwrap();
    let rest = drain(&mut concordia, 0).await;
    assert_eq!(
        rest.iter().map(|d| &d.certificate_id).collect::<Vec<_>>(),
        [&sent[3], &sent[4]]
    );
    let after = drain(&mut concordia, all[3].sequence).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].certificate_id, sent[4]);

    // A live subscription gets new deliveries as they are committed.
    let mut live = subscribe(&mut concordia, all[4].sequence, false).await;
    let newest = hub
        .submit("borastria", BILATERAL, "concordia")
        .await
        .receipt
        .unwrap();
    let arrived = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
        .await
        .expect("a live subscription receives new deliveries")
        .unwrap()
        .unwrap()
        .delivery
        .unwrap();
    assert_eq!(arrived.tracking_id, newest.tracking_id);
    hub.stop().await;
    // Stopping the hub ends the live subscription with UNAVAILABLE (subscribe again), not as if
    // its backlog were done.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
        .await
        .expect("the subscription ends when the hub stops")
        .expect("with a status, not a bare end");
    let status = ended.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("shutting down"), "{status:?}");
}

async fn members_see_only_their_own<S: Store>(hub: TestHub<S>) {
    let receipt = hub
        .submit("borastria", BILATERAL, "concordia")
        .await
        .receipt
        .unwrap();
    let delivery = drain(&mut hub.member("concordia").await, 0).await.remove(0);
    assert!(
        drain(&mut hub.member("adjikistan").await, 0)
            .await
            .is_empty()
    );

    let mut adjikistan = hub.member("adjikistan").await;
    let status = adjikistan
        .ack(AckRequest {
            delivery_ids: vec![delivery.delivery_id.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = adjikistan
        .get_status(GetStatusRequest {
            tracking_id: receipt.tracking_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Submitting as another member: Katanga is no party to the bilateral agreement, and
    // Borastria cannot certify Concordia's exports.
    let (_, document) = hub.document("borastria", BILATERAL, "concordia", 1);
    let status = hub
        .member("katanga")
        .await
        .submit(SubmitRequest {
            profile: "borastria-xml".into(),
            ..hub.request(BILATERAL, "borastria", document, "")
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let exchange = Exchange {
        sender: "concordia",
        agreement: BILATERAL,
        receiver: "borastria",
    };
    let forged = hub
        .factory
        .document(&plan("borastria-xml"), &exchange, "FORGED-1", 1);
    let status = hub
        .member("borastria")
        .await
        .submit(hub.request(BILATERAL, "borastria", forged, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("export_country"));
    assert_eq!(
        status
            .get_details_precondition_failure()
            .unwrap()
            .violations[0]
            .subject,
        "export_country"
    );

    // The operator cannot submit; a member cannot operate.
    let (_, document) = hub.document("borastria", BILATERAL, "concordia", 1);
    let status = MemberServiceClient::new(hub.channel("operator").await)
        .submit(hub.request(BILATERAL, "borastria", document, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = operator_client(hub.channel("borastria").await)
        .put_profile(PutProfileRequest {
            toml: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Certificates from another CA, or expired ones, never get a call through.
    let stranger = DevCa::generate("Some other CA", 30).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let own_ca = read_ca(&hub);
    for (label, client_pem) in [
        (
            "unknown CA",
            stranger.client("borastria", Role::Member, now, 30).unwrap(),
        ),
        (
            "expired",
            own_ca
                .client("borastria", Role::Member, now - time::Duration::days(30), 1)
                .unwrap(),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), &client_pem.certificate).unwrap();
        std::fs::write(dir.path().join("c.key"), &client_pem.key).unwrap();
        let file = ClientFile {
            hub: ClientFile::load(&hub.client_file("borastria")).unwrap().hub,
            ca: hub.dir.path().join("certs/ca.pem"),
            certificate: dir.path().join("c.pem"),
            key: dir.path().join("c.key"),
            hub_key: None,
            signing_key: None,
        };
        let outcome = match file.connect().await {
            Err(_) => Err(()),
            Ok(channel) => MemberServiceClient::new(channel)
                .get_status(GetStatusRequest {
                    tracking_id: receipt.tracking_id.clone(),
                })
                .await
                .map(|_| ())
                .map_err(|_| ()),
        };
        assert!(outcome.is_err(), "{label} client certificate was accepted");
    }
    hub.stop().await;
}

/// The hub's own CA, reloaded for issuing an expired certificate.
fn read_ca<S>(hub: &TestHub<S>) -> DevCa {
    DevCa::load(&originhub_hub::certs::Pem {
        certificate: std::fs::read_to_string(hub.dir.path().join("certs/ca.pem")).unwrap(),
        key: std::fs::read_to_string(hub.dir.path().join("certs/ca.key")).unwrap(),
    })
    .unwrap()
}

fn operator_client(
    channel: Channel,
) -> originhub_hub::proto::operator_service_client::OperatorServiceClient<Channel> {
    originhub_hub::proto::operator_service_client::OperatorServiceClient::new(channel)
}

/// What the hub answers Concordia's submission of `document` under `agreement`: a refusal.
async fn refusal<S: Store>(hub: &TestHub<S>, agreement: &str, document: Vec<u8>) -> Status {
    hub.member("concordia")
        .await
        .submit(hub.request(agreement, "concordia", document, ""))
        .await
        .unwrap_err()
}

async fn invalid_documents_store_nothing<S: Store>(hub: TestHub<S>) {
    let (_, document) = hub.document("concordia", BILATERAL, "borastria", 1);
    let text = String::from_utf8(document).unwrap();
    let broken = text.replacen("\"XC\"", "\"Concordiaa\"", 1);
    assert_ne!(broken, text);
    let status = refusal(&hub, BILATERAL, broken.into_bytes()).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = status.get_details_bad_request().unwrap().field_violations;
    assert!(!violations.is_empty());
    assert!(
        violations
            .iter()
            .any(|v| v.description.contains("Concordiaa")),
        "{violations:?}"
    );
    let status = refusal(&hub, BILATERAL, b"{not json".to_vec()).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    // Hundreds of violations: the refusal still arrives as one, listing the first that fit
    // (all of them would overflow what a client accepts in a response's trailers).
    let (_, document) = hub.document("concordia", BILATERAL, "borastria", 400);
    let text = String::from_utf8(document).unwrap();
    let broken = text.replace("\"XC\"", "\"Concordiaa\"");
    let wrong = broken.matches("Concordiaa").count();
    assert!(wrong > 400, "{wrong}");
    let status = refusal(&hub, BILATERAL, broken.into_bytes()).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let listed = status.get_details_bad_request().unwrap().field_violations;
    assert!(
        listed.len() > 10 && listed.len() < wrong,
        "{}",
        listed.len()
    );
    assert!(
        status
            .message()
            .contains(&format!("(the details list the first {} of ", listed.len())),
        "{}",
        status.message()
    );
    // A name the caller sent is echoed back clipped.
    let long = "A".repeat(20_000);
    let (_, document) = hub.document("concordia", BILATERAL, "borastria", 1);
    let status = refusal(&hub, &long, document).await;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        status.message().starts_with("no agreement \"AAA"),
        "{}",
        status.message()
    );
    assert!(status.message().len() <= originhub_hub::error::MAX_MESSAGE_BYTES);
    assert!(
        hub.hub.store.stats().await.unwrap().is_empty(),
        "nothing was stored"
    );
    assert!(
        drain(&mut hub.member("borastria").await, 0)
            .await
            .is_empty()
    );
    hub.stop().await;
}

/// Writes a config file as changed `seconds` from now, after the last put: set explicitly, as
/// the kernel stamps files with a coarse clock.
fn edit_after_the_put(file: &Path, text: &str, seconds: u64) {
    std::fs::write(file, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(seconds))
        .unwrap();
}

/// The member definition the database holds under `id`.
async fn stored_member<S: Store>(hub: &TestHub<S>, id: &str) -> String {
    let rows = hub.hub.store.registry().await.unwrap();
    let row = rows.members.into_iter().find(|m| m.id == id).unwrap();
    row.definition
}

async fn operator_manages_the_registry<S: Store>(hub: TestHub<S>) {
    let mut operator = operator_client(hub.channel("operator").await);
    let status = operator
        .put_profile(PutProfileRequest {
            toml: "[profile]\nid = \"x\"\n".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        !status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .is_empty()
    );

    let source = demo::SHIPPED_PROFILES
        .iter()
        .find(|(f, _)| *f == "edi3-coo-json.toml")
        .unwrap()
        .1;
    let current = plan("edi3-coo-json").version;
    let bumped = source.replacen(&format!("version = \"{current}\""), "version = \"99\"", 1);
    assert_ne!(bumped, source);
    let put = operator
        .put_profile(PutProfileRequest {
            toml: bumped.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(put.created);
    let again = operator
        .put_profile(PutProfileRequest {
            toml: bumped.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    let status = operator
        .put_profile(PutProfileRequest {
            toml: format!("{bumped}\n# changed\n"),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    let got = operator
        .get_profile(GetProfileRequest {
            id: "edi3-coo-json".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.versions, [current.clone(), "99".to_owned()]);

    // Deliveries record the version that made them.
    hub.submit("borastria", BILATERAL, "concordia").await;
    let delivery = drain(&mut hub.member("concordia").await, 0).await.remove(0);
    assert_eq!(delivery.profile, "edi3-coo-json@99");

    let status = operator
        .put_agreement(PutAgreementRequest {
            toml: "id = \"X\"\nname = \"x\"\n[[party]]\nmember = \"borastria\"\nprofile = \"borastria-xml\"\n[[party]]\nmember = \"nobody\"\nprofile = \"borastria-xml\"\n".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("nobody"));

    // A member that would make two parties of an agreement act for one country is refused, and
    // the database keeps the member as it was: the hub rebuilds its registry from it at start.
    let concordia = hub.dir.path().join("members/concordia.toml");
    let concordia = std::fs::read_to_string(concordia).unwrap();
    let moved = concordia.replacen("country = \"XC\"", "country = \"XB\"", 1);
    assert_ne!(moved, concordia);
    let status = operator
        .put_member(PutMemberRequest { toml: moved })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains(&format!(
            "it would break agreement \"{BILATERAL}\": members \"borastria\" and \"concordia\" \
             both act for country XB"
        )),
        "{}",
        status.message()
    );
    let stored = stored_member(&hub, "concordia").await;
    assert!(stored.contains("country = \"XC\""), "{stored}");
    let rows = hub.hub.store.registry().await.unwrap();
    let (_, left_out) = originhub_hub::registry::Registry::from_rows(rows);
    assert!(left_out.is_empty(), "{left_out:?}");

    // A definition only the database holds that does not pass the checks (written by an older
    // version, or by hand) is left out of routing; the hub goes on with the rest, and the
    // operator API can put it right.
    let broken = "id = \"BROKEN\"\nname = \"b\"\n[[party]]\nmember = \"borastria\"\n\
                  profile = \"borastria-xml\"\n[[party]]\nmember = \"nobody\"\n\
                  profile = \"edi3-coo-json\"\n";
    hub.hub
        .store
        .put_agreement("BROKEN", broken, now_micros())
        .await
        .unwrap();
    hub.hub.reload().await.unwrap();
    let listed = operator
        .list_agreements(ListAgreementsRequest {})
        .await
        .unwrap()
        .into_inner()
        .agreements;
    let ids: Vec<&str> = listed.iter().map(|a| a.id.as_str()).collect();
    assert!(
        ids.contains(&BILATERAL) && !ids.contains(&"BROKEN"),
        "{ids:?}"
    );
    hub.submit("borastria", BILATERAL, "concordia").await;
    let fixed = broken.replace("nobody", "concordia");
    operator
        .put_agreement(PutAgreementRequest { toml: fixed })
        .await
        .unwrap();

    // A member changed through the API keeps that change when the hub imports its config folder
    // again (as at a restart), unless the file is changed after it.
    let dirs = originhub_hub::config::HubConfig::load(Some(&hub.dir.path().join("hub.toml")))
        .unwrap()
        .registry_dirs();
    let reimport = || async {
        originhub_hub::registry::import(&*hub.hub.store, &dirs, now_micros())
            .await
            .unwrap();
        hub.hub.reload().await.unwrap();
    };
    let member_toml = |operator: &OperatorServiceClient<Channel>| {
        let mut operator = operator.clone();
        async move {
            operator
                .get_member(GetMemberRequest {
                    id: "katanga".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .member
                .unwrap()
                .toml
        }
    };
    let file = hub.dir.path().join("members/katanga.toml");
    let on_file = std::fs::read_to_string(&file).unwrap();
    let renamed = on_file.replacen("name = \"", "name = \"Renamed ", 1);
    assert_ne!(renamed, on_file);
    operator
        .put_member(PutMemberRequest {
            toml: renamed.clone(),
        })
        .await
        .unwrap();
    reimport().await;
    assert_eq!(member_toml(&operator).await, renamed);
    let edited = on_file.replacen("name = \"", "name = \"Edited ", 1);
    edit_after_the_put(&file, &edited, 1);
    reimport().await;
    assert_eq!(member_toml(&operator).await, edited);
    // A member file that would give an agreement two parties for one country stops the import,
    // naming the file, and is not stored.
    let file = hub.dir.path().join("members/concordia.toml");
    let on_file = std::fs::read_to_string(&file).unwrap();
    edit_after_the_put(&file, &on_file.replacen("\"XC\"", "\"XB\"", 1), 2);
    let error = originhub_hub::registry::import(&*hub.hub.store, &dirs, now_micros())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&file.display().to_string()) && error.contains("both act for country XB"),
        "{error}"
    );
    let stored = stored_member(&hub, "concordia").await;
    assert!(stored.contains("country = \"XC\""), "{stored}");
    std::fs::write(&file, on_file).unwrap();

    let stats = operator
        .get_delivery_stats(originhub_hub::proto::GetDeliveryStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.rows.len(), 1);
    assert_eq!((stats.rows[0].delivered, stats.rows[0].pending), (2, 2));

    // Health and reflection answer over the same TLS port.
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(hub.channel("auditor").await);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "originhub.v1.MemberService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    hub.stop().await;
}

async fn audit(hub: &TestHub<impl Store>, name: &str) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(hub.channel(name).await)
}

/// Proof hashes as the API sends them.
fn proof_path(bytes: Vec<Vec<u8>>) -> Vec<Hash> {
    bytes
        .into_iter()
        .map(|h| Hash(h.try_into().unwrap()))
        .collect()
}

/// Every event of `kind` (one page is enough in these tests).
async fn events_of(auditor: &mut AuditServiceClient<Channel>, kind: &str) -> Vec<Entry> {
    let page = auditor
        .query_events(QueryEventsRequest {
            kinds: vec![kind.into()],
            ..QueryEventsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    entries(&page.events)
}

fn entries(events: &[ReceiptEvent]) -> Vec<Entry> {
    events
        .iter()
        .map(|e| serde_json::from_str(&e.entry).unwrap())
        .collect()
}

/// Checkpoint, export, proofs and read access of the receipt log.
async fn receipt_log<S: Store>(hub: TestHub<S>) {
    let sent = hub.submit("borastria", BILATERAL, "concordia").await;
    let mut concordia = hub.member("concordia").await;
    let got = drain(&mut concordia, 0).await;
    concordia
        .ack(AckRequest {
            delivery_ids: vec![got[0].delivery_id.clone()],
        })
        .await
        .unwrap();
    let mut auditor = audit(&hub, "auditor").await;
    let key = hub.hub.settings.key.verifier_key().to_owned();

    // A checkpoint signed by the hub's key over accepted, queued, acknowledged.
    let first = auditor
        .get_checkpoint(GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let signed = verify_checkpoint(&first.checkpoint, &key).unwrap();
    assert_eq!(signed.size, 3);
    assert_eq!(first.verifier_key, key);

    // The export's leaves make the signed root, and each leaf's proof from the API checks.
    let mut stream = auditor
        .export_events(ExportEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut leaves = Vec::new();
    while let Some(message) = stream.next().await {
        if let Some(Part::Events(batch)) = message.unwrap().part {
            leaves.extend(batch.events);
        }
    }
    let kinds: Vec<EventKind> = entries(&leaves).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Accepted,
            EventKind::Queued,
            EventKind::Acknowledged
        ]
    );
    let hashes: Vec<_> = leaves
        .iter()
        .map(|l| leaf_hash(l.entry.as_bytes()))
        .collect();
    let (tree, size) = tree::build(hashes.iter().copied()).unwrap();
    assert_eq!(tree.root(size).unwrap(), signed.root);
    for (index, hash) in hashes.iter().enumerate() {
        let proof = auditor
            .get_inclusion_proof(GetInclusionProofRequest {
                leaf_index: index as u64,
                tree_size: 3,
            })
            .await
            .unwrap()
            .into_inner();
        let path = proof_path(proof.hashes);
        tree::verify_inclusion(&path, index as u64, *hash, 3, signed.root).unwrap();
    }
    let queued = &entries(&leaves)[1];
    assert_eq!(
        queued.tracking_id.as_deref(),
        Some(sent.receipt.as_ref().unwrap().tracking_id.as_str())
    );
    assert!(queued.detail["profile"].contains('@'), "{queued:?}");

    // The log grows; the new checkpoint is consistent with the first.
    let later = hub.submit("adjikistan", MULTILATERAL, "borastria").await;
    let second = auditor
        .get_checkpoint(GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let grown = verify_checkpoint(&second.checkpoint, &key).unwrap();
    assert!(grown.size > 3);
    let proof = auditor
        .get_consistency_proof(GetConsistencyProofRequest {
            from_size: 3,
            to_size: grown.size,
        })
        .await
        .unwrap()
        .into_inner();
    let path = proof_path(proof.hashes);
    tree::verify_consistency(&path, 3, signed.root, grown.size, grown.root).unwrap();

    // Filters: by certificate (every leaf of it, though only the accepted one is indexed by it),
    // by certificate and kind, a page of them, and by kind.
    let first_certificate = sent.receipt.as_ref().unwrap().certificate_id.clone();
    let later_certificate = later.receipt.unwrap().certificate_id;
    assert_ne!(first_certificate, later_certificate);
    let all = vec![
        EventKind::Accepted,
        EventKind::Queued,
        EventKind::Acknowledged,
    ];
    for (certificate, kinds, page_size, expected, pages) in [
        (&first_certificate, vec![], 0, all.clone(), 1),
        (
            &later_certificate,
            vec![],
            0,
            vec![EventKind::Accepted, EventKind::Queued],
            1,
        ),
        (
            &first_certificate,
            vec!["acknowledged".to_owned(), "accepted".to_owned()],
            0,
            vec![EventKind::Accepted, EventKind::Acknowledged],
            1,
        ),
        // A full page, then the rest.
        (&first_certificate, vec![], 2, all.clone(), 2),
    ] {
        let (mut found, mut page_token, mut fetched) = (Vec::new(), String::new(), 0);
        loop {
            let page = auditor
                .query_events(QueryEventsRequest {
                    certificate_id: certificate.clone(),
                    kinds: kinds.clone(),
                    page_size,
                    page_token,
                    ..QueryEventsRequest::default()
                })
                .await
                .unwrap()
                .into_inner();
            fetched += 1;
            found.extend(entries(&page.events));
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        let what = format!("{certificate} {kinds:?} in pages of {page_size}");
        assert_eq!(fetched, pages, "{what}");
        assert_eq!(
            found.iter().map(|e| e.kind).collect::<Vec<_>>(),
            expected,
            "{what}"
        );
        assert!(
            found
                .iter()
                .all(|e| e.certificate_id.as_deref() == Some(certificate.as_str())),
            "{what}"
        );
        assert!(found.windows(2).all(|w| w[0].index < w[1].index), "{what}");
    }
    let acknowledged = auditor
        .query_events(QueryEventsRequest {
            kinds: vec!["acknowledged".into()],
            ..QueryEventsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acknowledged.events.len(), 1);

    // A member sees only events it is party to, and nothing of others.
    let mut katanga = audit(&hub, "katanga").await;
    let seen = katanga
        .query_events(QueryEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(entries(&seen.events).iter().all(|e| e.involves("katanga")));
    let mut concordia_audit = audit(&hub, "concordia").await;
    let own = concordia_audit
        .query_events(QueryEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.events.len(), 2, "queued and acknowledged for concordia");
    let refused = concordia_audit
        .query_events(QueryEventsRequest {
            member: "borastria".into(),
            ..QueryEventsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = katanga
        .get_inclusion_proof(GetInclusionProofRequest {
            leaf_index: 0,
            tree_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = katanga
        .export_events(ExportEventsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = audit(&hub, "operator")
        .await
        .query_events(QueryEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let past = auditor
        .get_inclusion_proof(GetInclusionProofRequest {
            leaf_index: 0,
            tree_size: 1_000_000,
        })
        .await
        .unwrap_err();
    assert_eq!(past.code(), Code::OutOfRange);

    // Each refused read left a "denied" event naming who tried what.
    let denied = events_of(&mut auditor, "denied").await;
    let who: Vec<(String, String)> = denied
        .into_iter()
        .map(|e| (e.member, e.detail["method"].clone()))
        .collect();
    assert_eq!(
        who,
        [
            ("concordia".to_owned(), "QueryEvents".to_owned()),
            ("katanga".to_owned(), "GetInclusionProof".to_owned()),
            ("katanga".to_owned(), "ExportEvents".to_owned()),
            ("operator".to_owned(), "QueryEvents".to_owned()),
        ]
    );
    hub.stop().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    originhub_hub::pipeline::content_hash(bytes)
}

fn field_of(status: &Status) -> String {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations[0].field.clone())
        .unwrap_or_default()
}

/// Issuer signatures are checked on submit; every delivery carries the hub's attestation.
async fn issuer_signatures_and_attestations<S: Store>(hub: TestHub<S>) {
    let mut adjikistan = hub.member("adjikistan").await;
    let (_, document) = hub.document("adjikistan", MULTILATERAL, "borastria", 1);

    // The multilateral agreement requires signatures.
    let status = adjikistan
        .submit(unsigned(MULTILATERAL, "adjikistan", document.clone(), ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("requires the issuer's signature"),
        "{status:?}"
    );

    // A tampered signature, a key that is not the member's, and another member's key.
    let mut tampered = hub.request(MULTILATERAL, "adjikistan", document.clone(), "");
    tampered.signature[5] ^= 0x40;
    let status = adjikistan.submit(tampered).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(field_of(&status), "signature");
    let mut unknown = hub.request(MULTILATERAL, "adjikistan", document.clone(), "");
    unknown.signature_key_id ^= 1;
    let status = adjikistan.submit(unknown).await.unwrap_err();
    assert_eq!(field_of(&status), "signature_key_id", "{status:?}");
    let borrowed = SubmitRequest {
        profile: demo::profile_of("adjikistan").into(),
        signature_key_id: 0,
        ..hub.request(MULTILATERAL, "borastria", document.clone(), "")
    };
    let status = adjikistan.submit(borrowed).await.unwrap_err();
    assert_eq!(field_of(&status), "signature", "{status:?}");

    // Signed properly: accepted; unsigned under the bilateral agreement: accepted too.
    let accepted = adjikistan
        .submit(hub.request(MULTILATERAL, "adjikistan", document.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    let (_, plain) = hub.document("concordia", BILATERAL, "borastria", 1);
    hub.member("concordia")
        .await
        .submit(unsigned(BILATERAL, "concordia", plain, ""))
        .await
        .unwrap();

    // Borastria's deliveries: each attestation verifies with the hub's key and binds the bytes
    // delivered; the signed one names the issuer's key, and its signature checks.
    let hub_key = hub.hub.settings.key.verifier_key().to_owned();
    let mut borastria = hub.member("borastria").await;
    let got = drain(&mut borastria, 0).await;
    assert_eq!(got.len(), 2);
    for delivery in &got {
        let attestation = Attestation::verify(&delivery.attestation, &hub_key).unwrap();
        assert_eq!(attestation.delivery_id, delivery.delivery_id);
        assert_eq!(attestation.receiver, "borastria");
        assert_eq!(attestation.sender, delivery.sender);
        assert_eq!(attestation.original_sha256, sha256_hex(&delivery.original));
        assert_eq!(
            attestation.translated_sha256,
            sha256_hex(&delivery.document)
        );
        assert_eq!(attestation.translated_profile, delivery.profile);
        assert_eq!(attestation.original_profile, delivery.original_profile);
        if delivery.sender == "adjikistan" {
            let tracking = &accepted.receipt.as_ref().unwrap().tracking_id;
            assert_eq!(&attestation.tracking_id, tracking);
            let issuer = IssuerKey::parse(attestation.issuer_key.as_deref().unwrap()).unwrap();
            assert_eq!(issuer.name, "adjikistan");
            assert!(issuer.verifies(&delivery.original, &delivery.issuer_signature));
        } else {
            assert_eq!(attestation.issuer_key, None);
            assert!(delivery.issuer_signature.is_empty());
        }
        // Another key cannot have made it.
        let (other, _) = NoteKey::generate("origin-hub.local/receipts").unwrap();
        assert!(Attestation::verify(&delivery.attestation, other.verifier_key()).is_err());
    }

    // Registering a key that is not a verifier key, or is named for another member, is refused.
    let mut operator = operator_client(hub.channel("operator").await);
    for keys in [
        "\"not-a-key\"",
        &format!("{:?}", hub.hub.settings.key.verifier_key()),
    ] {
        let status = operator
            .put_member(PutMemberRequest {
                toml: format!(
                    "id = \"katanga\"\nname = \"K\"\ncountry = \"XT\"\nsigning_keys = [{keys}]\n"
                ),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains("signing_keys"), "{status:?}");
    }

    // A member and an auditor calling the operator API are refused.
    for who in ["adjikistan", "auditor"] {
        let status = operator_client(hub.channel(who).await)
            .list_members(ListMembersRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{who}: {status:?}");
    }

    // Every refused attempt left an event: the four refused submissions (with the reason and
    // the refused bytes' hash) and the two refused operator calls.
    let mut auditor = audit(&hub, "auditor").await;
    let refused = events_of(&mut auditor, "refused").await;
    let codes: Vec<&str> = refused.iter().map(|e| e.detail["code"].as_str()).collect();
    assert_eq!(
        codes,
        [
            "FailedPrecondition",
            "InvalidArgument",
            "InvalidArgument",
            "InvalidArgument"
        ]
    );
    for event in &refused {
        assert_eq!(event.member, "adjikistan");
        assert_eq!(event.agreement.as_deref(), Some(MULTILATERAL));
        assert_eq!(event.detail["content_sha256"], sha256_hex(&document));
    }
    let denied = events_of(&mut auditor, "denied").await;
    let who: Vec<(&str, &str)> = denied
        .iter()
        .map(|e| (e.member.as_str(), e.detail["method"].as_str()))
        .collect();
    assert_eq!(
        who,
        [("adjikistan", "ListMembers"), ("auditor", "ListMembers")]
    );
    hub.stop().await;
}

/// Receipt events stored before the receipt log existed (migration 1's table) move into the log
/// when the hub starts, once, as leaves whose hashes make a sound tree.
/// Two hubs on one database (replicas). Each keeps the log head its own last append left, so
/// an append after the other replica's must find the size changed and read the frontier back;
/// appends at the same moment queue on the write lock. The log must come out as one tree.
async fn replicas_append_to_one_log<S: Store>(a: S, b: S) {
    let events = |from: usize, count: usize| -> Vec<NewEvent> {
        (from..from + count)
            .map(|n| NewEvent::new(EventKind::Refused, "borastria", n as i64))
            .collect()
    };
    let mut total = 0;
    for (turn, count) in [3, 1, 5, 32, 2, 40, 7, 1].into_iter().enumerate() {
        let store = if turn % 2 == 0 { &a } else { &b };
        store.record_events(events(total, count)).await.unwrap();
        total += count;
    }
    for count in [9, 33] {
        let (first, second) = tokio::join!(
            a.record_events(events(total, count)),
            b.record_events(events(total + count, count))
        );
        first.unwrap();
        second.unwrap();
        total += 2 * count;
    }
    assert_eq!(a.log_size().await.unwrap(), total as u64);
    assert_sound_log(&b).await;
}

/// The stored log has no gaps and no forks, and the stored root of every prefix is the root of
/// a tree rebuilt from the leaves.
async fn assert_sound_log(store: &impl Store) {
    let size = store.log_size().await.unwrap();
    let leaves = store.log_entries(0, size).await.unwrap();
    let indexes: Vec<u64> = leaves.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, (0..size).collect::<Vec<_>>(), "no gaps, no forks");
    let (rebuilt, _) = tree::build(leaves.iter().map(|(_, e)| leaf_hash(e.as_bytes()))).unwrap();
    let stored = store
        .log_hashes(&(0..tree::stored_count(size)).collect::<Vec<_>>())
        .await
        .unwrap();
    for prefix in 1..=size {
        assert_eq!(
            stored.root(prefix).unwrap(),
            rebuilt.root(prefix).unwrap(),
            "root of the first {prefix} leaves"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replicas_append_to_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    replicas_append_to_one_log(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_append_to_one_log() {
    let (a, name) = postgres_store().await;
    let b = PostgresStore::connect(&database_url(&name)).await.unwrap();
    replicas_append_to_one_log(a, b).await;
    drop_postgres(name).await;
}

/// On Postgres a batch goes to the database in one statement, with the leaves hashed on the
/// log head the last commit left; wherever that assumes too much (no head cached yet, a
/// resubmission inside the batch, another replica appended, a delivery acknowledged meanwhile)
/// the statement writes nothing and the batch is written in steps, with the same outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_go_at_once_or_in_steps() {
    use originhub_hub::pipeline::{Submission, prepare};
    use originhub_hub::store::{AckJob, AckOutcome, ReceiptLog, Stored};

    let (store, name) = postgres_store().await;
    let hub = TestHub::start(store).await;
    let store = hub.hub.store.clone();
    // Batches written (in one statement, in steps).
    let ways = || {
        let counts = store.batch_counts();
        (counts.at_once, counts.in_steps)
    };
    // The first batch finds no head cached: steps. Then one statement each.
    hub.submit("borastria", BILATERAL, "concordia").await;
    assert_eq!(ways(), (0, 1));
    for _ in 0..3 {
        hub.submit("borastria", BILATERAL, "concordia").await;
    }
    assert_eq!(ways(), (3, 1));

    // Two submissions of one certificate in one batch: the statement finds the key taken by
    // the first, and the steps answer the second with the first's receipt.
    let (_, document) = hub.document("borastria", BILATERAL, "concordia", 1);
    let request = hub.request(BILATERAL, "borastria", document, "");
    let prepared = || {
        prepare(
            &hub.hub.registry(),
            &hub.hub.settings.key,
            Submission {
                sender: "borastria",
                agreement: BILATERAL,
                profile: &request.profile,
                document: &request.document,
                idempotency_key: "",
                signature: &request.signature,
                signature_key_id: request.signature_key_id,
            },
            originhub_hub::hub::now_micros(),
        )
        .unwrap()
    };
    let (first, second) = (prepared(), prepared());
    let stored = store
        .write_batch(&[first.clone(), second], &[], 0)
        .await
        .unwrap();
    assert_eq!(
        stored.outcomes,
        [
            Stored::Created(first.receipt()),
            Stored::Duplicate(first.receipt())
        ]
    );
    assert_eq!(stored.deliveries.len(), 1);
    assert_eq!(ways(), (3, 2));
    hub.submit("borastria", BILATERAL, "concordia").await;
    assert_eq!(ways(), (4, 2));

    // Another replica appends: the cached head is stale, so the next batch goes in steps and
    // the one after it in one statement again.
    let replica = PostgresStore::connect(&database_url(&name)).await.unwrap();
    replica
        .record_events(vec![NewEvent::new(EventKind::Refused, "borastria", 1)])
        .await
        .unwrap();
    hub.submit("borastria", BILATERAL, "concordia").await;
    assert_eq!(ways(), (4, 3));
    hub.submit("borastria", BILATERAL, "concordia").await;
    assert_eq!(ways(), (5, 3));

    // The same acknowledgement twice at once: both check the deliveries pending, one commits,
    // and the other's statement finds them acknowledged and goes in steps (or checks after the
    // commit). Either way each delivery is acknowledged once, with one event.
    let ids = pending_ids(&hub, "concordia").await;
    assert_eq!(ids.len(), 8);
    let job = AckJob {
        receiver: "concordia".into(),
        delivery_ids: ids.clone(),
    };
    let (a, b) = tokio::join!(
        store.write_batch(&[], std::slice::from_ref(&job), 2),
        store.write_batch(&[], std::slice::from_ref(&job), 3)
    );
    let mut counts: Vec<AckOutcome> = [a.unwrap().acks, b.unwrap().acks].concat();
    counts.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        counts,
        [AckOutcome::Acknowledged(0), AckOutcome::Acknowledged(8)]
    );
    let acknowledged = events_of(&mut audit(&hub, "auditor").await, "acknowledged").await;
    let mut acknowledged_ids: Vec<String> = acknowledged
        .iter()
        .map(|e| e.delivery_id.clone().unwrap())
        .collect();
    acknowledged_ids.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(acknowledged_ids, expected, "one event per delivery");
    assert_sound_log(&*store).await;
    hub.stop().await;
    drop_postgres(name).await;
}

/// A Postgres store remembers the deliveries it committed, so acknowledging them does not read
/// them back first; what it remembers may be stale. A delivery acknowledged through another
/// replica (here one without the receipt log, so the log head this store cached still holds) is
/// acknowledged again through this one: the statement finds it acknowledged already (OH002),
/// the steps read it, and the answer is the one a read would have given, with no second event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledgement_of_a_remembered_delivery_acknowledged_elsewhere() {
    use originhub_hub::store::{AckJob, AckOutcome};

    let (store, name) = postgres_store().await;
    let hub = TestHub::start(store).await;
    let store = hub.hub.store.clone();
    for _ in 0..2 {
        hub.submit("borastria", BILATERAL, "concordia").await;
    }
    let ids = pending_ids(&hub, "concordia").await;
    assert_eq!(ids.len(), 2);
    let job = |ids: &[String]| AckJob {
        receiver: "concordia".into(),
        delivery_ids: ids.to_vec(),
    };

    // Remembered and pending: one statement.
    let before = store.batch_counts();
    let stored = store.write_batch(&[], &[job(&ids[..1])], 2).await.unwrap();
    assert_eq!(stored.acks, [AckOutcome::Acknowledged(1)]);
    assert_eq!(store.batch_counts().at_once, before.at_once + 1);
    assert_eq!(store.batch_counts().in_steps, before.in_steps);

    // Acknowledged through another replica, then here: in steps, nothing acknowledged twice.
    let replica = PostgresStore::connect(&database_url(&name))
        .await
        .unwrap()
        .without_receipt_log_for_measurement();
    let elsewhere = replica
        .write_batch(&[], &[job(&ids[1..])], 3)
        .await
        .unwrap();
    assert_eq!(elsewhere.acks, [AckOutcome::Acknowledged(1)]);
    let before = store.batch_counts();
    let again = store.write_batch(&[], &[job(&ids[1..])], 4).await.unwrap();
    assert_eq!(again.acks, [AckOutcome::Acknowledged(0)]);
    assert_eq!(store.batch_counts().in_steps, before.in_steps + 1);

    // A member acknowledging another's remembered delivery is still refused.
    let theirs = AckJob {
        receiver: "adjikistan".into(),
        delivery_ids: ids[..1].to_vec(),
    };
    let refused = store.write_batch(&[], &[theirs], 5).await.unwrap();
    assert_eq!(refused.acks, [AckOutcome::NotYours(ids[0].clone())]);

    let acknowledged = events_of(&mut audit(&hub, "auditor").await, "acknowledged").await;
    let logged: Vec<_> = acknowledged
        .iter()
        .map(|e| e.delivery_id.clone().unwrap())
        .collect();
    assert_eq!(
        logged,
        ids[..1],
        "the replica without the log appended nothing"
    );
    assert_sound_log(&*store).await;
    hub.stop().await;
    drop_postgres(name).await;
}

/// One batch call of `originhub_write_batch` (migrations 0005, 0007) with one submission and
/// its one leaf, at log index `size`: ticket `ticket`, hashed on the batch with ticket `after`.
/// On success, the rows returned: with no deliveries, just the one naming the last sequence.
async fn call_write_batch(
    conn: &mut sqlx::PgConnection,
    size: i64,
    ticket: i32,
    after: Option<i32>,
) -> Result<u64, sqlx::Error> {
    let id = format!("T-{size}");
    let rows = sqlx::query(
        "SELECT * FROM originhub_write_batch(
            p_expected_log_size => $1, p_read_block => '{}', p_read_offset => '{}',
            p_read_hash => '{}', p_write_lock => 7, p_ticket_space => 99, p_ticket => $2,
            p_after_ticket => $3,
            p_s_tracking_id => ARRAY[$4], p_s_sender => '{borastria}',
            p_s_agreement => '{BCFTA}', p_s_certificate_id => ARRAY[$4],
            p_s_idempotency_key => ARRAY[$4], p_s_content_hash => '{h}',
            p_s_sender_profile => '{p@1}', p_s_original => ARRAY['\\x00'::bytea],
            p_s_canonical => '{c}', p_s_receivers => '{concordia}', p_s_accepted_at => '{1}',
            p_s_issuer_signature => ARRAY[NULL::bytea], p_s_issuer_key => ARRAY[NULL::text],
            p_ack_ids => '{}', p_acked_at => 1,
            p_l_idx => ARRAY[$1], p_l_kind => '{accepted}', p_l_at => '{1}',
            p_l_member => '{borastria}', p_l_sender => '{borastria}',
            p_l_receiver => ARRAY[NULL::text], p_l_tracking_id => ARRAY[$4],
            p_l_certificate_id => ARRAY[$4], p_l_agreement => '{BCFTA}',
            p_l_delivery_id => ARRAY[NULL::text], p_l_entry => '{e}',
            p_b_block => '{}', p_b_hashes => '{}',
            p_d_delivery_id => '{}', p_d_tracking_id => '{}', p_d_receiver => '{}',
            p_d_profile => '{}', p_d_document => '{}', p_d_not_representable => '{}',
            p_d_created_at => '{}', p_d_attestation => '{}')",
    )
    .bind(size)
    .bind(ticket)
    .bind(after)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.len() as u64)
}

/// A batch call that the database starts before the call of the batch it was hashed on waits
/// for that one (migration 0007) instead of finding the log short and failing; and one whose
/// predecessor never comes gives up after a bounded wait with the log check's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batch_waits_for_a_predecessor_not_started() {
    use sqlx::Connection;

    let (store, name) = postgres_store().await;
    drop(store);
    let url = database_url(&name);
    let (mut first, mut second) = (
        sqlx::PgConnection::connect(&url).await.unwrap(),
        sqlx::PgConnection::connect(&url).await.unwrap(),
    );
    let second_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut second)
        .await
        .unwrap();
    // The second batch (ticket 2, hashed on ticket 1) starts first...
    let later = tokio::spawn(async move { call_write_batch(&mut second, 1, 2, Some(1)).await });
    let mut observer = sqlx::PgConnection::connect(&url).await.unwrap();
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')",
        )
        .bind(second_pid)
        .fetch_one(&mut observer)
        .await
        .unwrap();
        assert!(
            !later.is_finished(),
            "the later batch returned before its predecessor started: {:?}",
            later.await.unwrap()
        );
        if waiting {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // ...then the first one runs, and both commit, in the order they were hashed.
    assert_eq!(call_write_batch(&mut first, 0, 1, None).await.unwrap(), 1);
    assert_eq!(later.await.unwrap().unwrap(), 1);
    let leaves: Vec<(i64, String)> =
        sqlx::query_as("SELECT idx, tracking_id FROM receipt_log ORDER BY idx")
            .fetch_all(&mut observer)
            .await
            .unwrap();
    assert_eq!(leaves, [(0, "T-0".to_owned()), (1, "T-1".to_owned())]);

    // A predecessor that never starts: the wait ends, the log is short, nothing is written.
    let error = call_write_batch(&mut first, 3, 4, Some(3))
        .await
        .unwrap_err();
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("OH003"), "{error}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM submissions")
        .fetch_one(&mut observer)
        .await
        .unwrap();
    assert_eq!(stored, 2);
    drop((first, observer));
    drop_postgres(name).await;
}

/// Two hubs on one database. A subscriber on the first receives what the second committed
/// between the first's own batches, in sequence order: the first learns of its own commits in
/// memory, and must notice the gap the other's left in the sequence and ask the database.
async fn replicas_deliver_everything<S: Store>(a: TestHub<S>, b_store: S) {
    let b = a.replica(b_store).await;
    let mut stream = subscribe(&mut a.member("concordia").await, 0, false).await;
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("a delivery arrives")
            .unwrap()
            .unwrap()
            .delivery
            .unwrap()
    };
    let first = a.submit("borastria", BILATERAL, "concordia").await;
    assert_eq!(next().await.tracking_id, first.receipt.unwrap().tracking_id);
    let mut sent = Vec::new();
    for _ in 0..3 {
        let (_, document) = a.document("borastria", BILATERAL, "concordia", 1);
        let through_b = a
            .member_of(&b, "borastria")
            .await
            .submit(a.request(BILATERAL, "borastria", document, ""))
            .await
            .unwrap()
            .into_inner();
        let through_a = a.submit("borastria", BILATERAL, "concordia").await;
        sent.push(through_b.receipt.unwrap().tracking_id);
        sent.push(through_a.receipt.unwrap().tracking_id);
    }
    let mut received = Vec::new();
    for _ in 0..sent.len() {
        received.push(next().await);
    }
    assert!(
        received.windows(2).all(|w| w[0].sequence < w[1].sequence),
        "in sequence order"
    );
    assert_eq!(
        received.iter().map(|d| &d.tracking_id).collect::<Vec<_>>(),
        sent.iter().collect::<Vec<_>>(),
        "every delivery, whichever replica committed it"
    );
    let _ = b.stop.send(());
    let _ = b.server.await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replicas_deliver_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    replicas_deliver_everything(TestHub::start(a).await, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_deliver_everything() {
    let (a, name) = postgres_store().await;
    let b = PostgresStore::connect(&database_url(&name)).await.unwrap();
    replicas_deliver_everything(TestHub::start(a).await, b).await;
    drop_postgres(name).await;
}

/// A connection that never starts its TLS handshake is closed by the hub once
/// `tls_handshake_timeout` has passed, and the hub goes on serving everyone else.
#[tokio::test]
async fn a_connection_that_stalls_its_tls_handshake_is_closed() {
    use tokio::io::AsyncReadExt;
    let (store, _db) = sqlite_store().await;
    let settings = HubSettings {
        tls_handshake_timeout: std::time::Duration::from_millis(300),
        ..test_settings()
    };
    let hub = TestHub::start_with(store, settings).await;
    let address = ClientFile::load(&hub.client_file("borastria")).unwrap().hub;
    let (_, port) = address.rsplit_once(':').unwrap();
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    // The outer bound only keeps a hub that never closes from hanging the suite.
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), silent.read(&mut byte))
        .await
        .expect("the hub kept a connection that sent nothing open for 60 s");
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "expected the hub to close the connection, read {read:?}"
    );
    let receipt = hub.submit("borastria", BILATERAL, "concordia").await;
    assert!(receipt.receipt.is_some());
    hub.stop().await;
}

/// Against an address that accepts TCP connections and then says nothing, a client gives up
/// after its connect timeout with an error that names the address.
#[tokio::test]
async fn connecting_to_a_hub_that_never_answers_gives_up() {
    let (store, _db) = sqlite_store().await;
    let hub = TestHub::start(store).await;
    let mute = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = mute.accept().await {
            held.push(stream);
        }
    });
    let mut file = ClientFile::load(&hub.client_file("borastria")).unwrap();
    file.hub = format!("https://localhost:{port}");
    // The outer bound only keeps a client that never gives up from hanging the suite.
    let error = tokio::time::timeout(std::time::Duration::from_secs(60), file.connect())
        .await
        .expect("the client was still connecting after 60 s")
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("localhost:{port}")), "{error}");
    assert!(error.contains("no TLS connection within"), "{error}");
    holder.abort();
    hub.stop().await;
}

#[tokio::test]
async fn legacy_receipt_events_move_into_the_log() {
    use originhub_hub::store::ReceiptLog;
    let (store, _dir) = sqlite_store().await;
    sqlx::query(
        "INSERT INTO receipt_events (tracking_id, delivery_id, member, kind, at, detail) VALUES \
         ('t-1', NULL, 'borastria', 'accepted', 1, 'abc'), \
         ('t-1', 'd-1', 'concordia', 'queued', 2, 'edi3-coo-json@1.0.0'), \
         ('t-1', 'd-1', 'concordia', 'acknowledged', 3, '')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert_eq!(store.migrate_legacy_events().await.unwrap(), 3);
    assert_eq!(
        store.migrate_legacy_events().await.unwrap(),
        0,
        "moved once"
    );
    let leaves = store.log_entries(0, 3).await.unwrap();
    let moved: Vec<Entry> = leaves
        .iter()
        .map(|(_, e)| serde_json::from_str(e).unwrap())
        .collect();
    let kinds: Vec<EventKind> = moved.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Accepted,
            EventKind::Queued,
            EventKind::Acknowledged
        ]
    );
    assert_eq!(moved[1].receiver.as_deref(), Some("concordia"));
    assert_eq!(moved[1].delivery_id.as_deref(), Some("d-1"));
    assert_eq!(moved[0].detail["legacy_detail"], "abc");
    let stored = store.log_hashes(&tree::frontier(3)).await.unwrap();
    let (rebuilt, _) = tree::build(leaves.iter().map(|(_, e)| leaf_hash(e.as_bytes()))).unwrap();
    assert_eq!(stored.root(3).unwrap(), rebuilt.root(3).unwrap());
}
