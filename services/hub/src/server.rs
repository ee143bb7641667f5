//! Serving: the member and operator services plus gRPC health and reflection, over mutual TLS,
//! on a listener the caller binds (port 0 in tests) until `shutdown` completes.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::hub::Hub;
use crate::proto::audit_service_server::AuditServiceServer;
use crate::proto::member_service_server::MemberServiceServer;
use crate::proto::operator_service_server::OperatorServiceServer;
use crate::service::audit::AuditApi;
use crate::service::member::MemberApi;
use crate::service::operator::OperatorApi;
use crate::store::Store;

/// The encoded descriptors of `proto/originhub/v1`, for the reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("originhub_descriptor");

/// The hub's TLS material, PEM.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The CA whose client certificates are accepted.
    pub client_ca: Vec<u8>,
    /// The hub's certificate.
    pub certificate: Vec<u8>,
    /// Its key.
    pub key: Vec<u8>,
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// TLS settings were refused.
    #[error("TLS: {0}")]
    Tls(String),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// Connections from `listener` with Nagle's algorithm off. Tonic applies its `tcp_nodelay`
/// default only to listeners it binds itself; without this, small frames after large ones wait
/// for delayed ACKs (tens of milliseconds per response under load).
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves `hub` on `listener` until `shutdown` resolves. Client certificates signed by
/// `tls.client_ca` are required.
pub async fn run<S: Store>(
    hub: Arc<Hub<S>>,
    listener: TcpListener,
    tls: ServerTls,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for service in [
        "originhub.v1.MemberService",
        "originhub.v1.OperatorService",
        "originhub.v1.AuditService",
    ] {
        health
            .set_service_status(service, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Transport(e.to_string()))?;
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.certificate, &tls.key))
        .client_ca_root(Certificate::from_pem(&tls.client_ca))
        .timeout(hub.settings.tls_handshake_timeout);
    let max = crate::MAX_MESSAGE_BYTES;
    let closing = hub.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close_streams();
    };
    Server::builder()
        .tls_config(tls)
        .map_err(|e| ServeError::Tls(crate::client::error_chain(&e)))?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            MemberServiceServer::new(MemberApi::new(hub.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            OperatorServiceServer::new(OperatorApi::new(hub.clone()))
                .max_decoding_message_size(max),
        )
        .add_service(AuditServiceServer::new(AuditApi::new(hub)))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
        .map_err(|e| ServeError::Transport(crate::client::error_chain(&e)))
}
