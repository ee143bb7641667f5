//! The naive baseline: a bare tonic server implementing only `MemberService.Submit`, doing one
//! Postgres INSERT of the payload per request (autocommit), behind the same mutual TLS.

use std::pin::Pin;

use originhub_hub::proto::member_service_server::{MemberService, MemberServiceServer};
use originhub_hub::proto::{
    AckRequest, AckResponse, GetStatusRequest, GetStatusResponse, Receipt, SubmitRequest,
    SubmitResponse, SubscribeRequest, SubscribeResponse,
};
use originhub_hub::server::ServerTls;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

#[derive(Debug)]
struct Naive {
    pool: PgPool,
}

#[tonic::async_trait]
impl MemberService for Naive {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let request = request.into_inner();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO baseline_submissions (agreement, profile, document, idempotency_key) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&request.agreement)
        .bind(&request.profile)
        .bind(&request.document)
        .bind(&request.idempotency_key)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(SubmitResponse {
            receipt: Some(Receipt {
                tracking_id: id.to_string(),
                ..Receipt::default()
            }),
            duplicate: false,
        }))
    }

    type SubscribeStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<SubscribeResponse, Status>> + Send>>;

    async fn subscribe(
        &self,
        _: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(Status::unimplemented("the baseline only stores"))
    }

    async fn ack(&self, _: Request<AckRequest>) -> Result<Response<AckResponse>, Status> {
        Err(Status::unimplemented("the baseline only stores"))
    }

    async fn get_status(
        &self,
        _: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        Err(Status::unimplemented("the baseline only stores"))
    }
}

/// A running baseline server.
#[derive(Debug)]
pub(crate) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Creates its table and serves on `listener`.
pub(crate) async fn start(
    url: &str,
    listener: TcpListener,
    tls: ServerTls,
) -> anyhow::Result<Running> {
    // The same pool size as the hub's Postgres store.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS baseline_submissions (id BIGSERIAL PRIMARY KEY, agreement TEXT NOT NULL, \
         profile TEXT NOT NULL, document BYTEA NOT NULL, idempotency_key TEXT NOT NULL)",
    )
    .execute(&pool)
    .await?;
    // The hub stores its large values with lz4 where the server has it (migration 0003); the
    // baseline gets the same, so the ratio compares the work done, not a storage setting.
    if let Err(error) =
        sqlx::query("ALTER TABLE baseline_submissions ALTER COLUMN document SET COMPRESSION lz4")
            .execute(&pool)
            .await
    {
        eprintln!("baseline: lz4 not available ({error}); documents stay pglz-compressed");
    }
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.certificate, &tls.key))
        .client_ca_root(Certificate::from_pem(&tls.client_ca));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Server::builder().tls_config(tls)?.add_service(
        MemberServiceServer::new(Naive { pool })
            .max_decoding_message_size(originhub_hub::MAX_MESSAGE_BYTES),
    );
    let task = tokio::spawn(router.serve_with_incoming_shutdown(
        originhub_hub::server::incoming(listener),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Running { stop, task })
}
