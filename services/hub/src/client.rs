//! The client side: a client file (`clients/NAME.toml`: hub address, CA, certificate, key) and a
//! mutual-TLS channel made from it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::proto::audit_service_client::AuditServiceClient;
use crate::proto::member_service_client::MemberServiceClient;
use crate::proto::operator_service_client::OperatorServiceClient;
use crate::proto::{AckRequest, Delivery, SubmitRequest, SubscribeRequest};
use crate::receipts::keys::{KeyError, NoteKey};

/// Why a client could not connect.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The client file or a file it names could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The client file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The hub could not be reached or the TLS handshake failed.
    #[error("cannot connect to {hub}: {message}")]
    Connect {
        /// The address.
        hub: String,
        /// Why (with the transport's causes).
        message: String,
    },
}

/// How to reach the hub as one identity. Relative paths are relative to the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    /// The hub's address, e.g. `https://localhost:7443`.
    pub hub: String,
    /// The CA that signed the hub's certificate.
    pub ca: PathBuf,
    /// This identity's certificate.
    pub certificate: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The hub's receipt-log verifier key (`<origin>+<id>+<base64>`), pinned so audit commands
    /// check checkpoints against it rather than against a key the hub sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_key: Option<String>,
    /// A member's private signing key (signed-note format): `submit` signs documents with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Every cause of an error, joined, so TLS failures say why.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl ClientFile {
    /// Reads a client file; relative paths in it become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ClientError> {
        let text = String::from_utf8_lossy(&read(path)?).into_owned();
        let mut file: Self = toml::from_str(&text).map_err(|e| ClientError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for field in [&mut file.ca, &mut file.certificate, &mut file.key]
            .into_iter()
            .chain(file.signing_key.as_mut())
        {
            if field.is_relative() {
                *field = base.join(&*field);
            }
        }
        Ok(file)
    }

    /// The member's signing key, if the file names one.
    pub fn signer(&self) -> Result<Option<NoteKey>, ClientError> {
        let Some(path) = &self.signing_key else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&read(path)?).into_owned();
        NoteKey::from_text(&text)
            .map(Some)
            .map_err(|e| ClientError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })
    }

    /// The file as TOML.
    pub fn to_toml(&self) -> String {
        format!(
            "# How to reach the hub as this identity (paths relative to this file).\n{}",
            toml::to_string(self).unwrap_or_default()
        )
    }

    /// A mutual-TLS channel to the hub. Connecting (TCP and the TLS handshake) gives up after
    /// [`CONNECT_TIMEOUT`]; once connected, the channel pings the hub every
    /// [`KEEP_ALIVE_INTERVAL`] while a call is open and fails the call if a ping goes unanswered
    /// for [`KEEP_ALIVE_TIMEOUT`], so a stalled connection ends a call or a subscription with an
    /// error instead of leaving it waiting for good.
    pub async fn connect(&self) -> Result<Channel, ClientError> {
        let connect_error = |message: String| ClientError::Connect {
            hub: self.hub.clone(),
            message,
        };
        let uri: tonic::transport::Uri = self
            .hub
            .parse()
            .map_err(|e: tonic::codegen::http::uri::InvalidUri| connect_error(e.to_string()))?;
        let host = uri
            .host()
            .ok_or_else(|| connect_error("the address has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca)?))
            .identity(Identity::from_pem(
                read(&self.certificate)?,
                read(&self.key)?,
            ))
            .domain_name(host);
        let endpoint = Channel::builder(uri)
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .tls_config(tls)
            .map_err(|e| connect_error(error_chain(&e)))?;
        // The endpoint's own connect timeout covers the TCP connection only, not the handshake.
        match tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect()).await {
            Ok(connected) => connected.map_err(|e| connect_error(error_chain(&e))),
            Err(_) => Err(connect_error(format!(
                "no TLS connection within {} s (nothing answered, or the handshake never \
                 finished)",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// A member client.
    pub async fn member(&self) -> Result<MemberServiceClient<Channel>, ClientError> {
        Ok(MemberServiceClient::new(self.connect().await?)
            .max_decoding_message_size(crate::MAX_MESSAGE_BYTES))
    }

    /// An operator client.
    pub async fn operator(&self) -> Result<OperatorServiceClient<Channel>, ClientError> {
        Ok(OperatorServiceClient::new(self.connect().await?))
    }

    /// An audit client.
    pub async fn audit(&self) -> Result<AuditServiceClient<Channel>, ClientError> {
        Ok(AuditServiceClient::new(self.connect().await?))
    }
}

/// How long [`ClientFile::connect`] waits for the hub to accept a connection and finish the
/// TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an open channel pings the hub while a call is in progress.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// How long a ping may go unanswered before the channel's calls fail.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Unix microseconds of a delivery's acceptance, for latency figures.
pub fn accepted_micros(delivery: &Delivery) -> i64 {
    delivery
        .accepted_at
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

/// Most deliveries acknowledged in one `Ack`.
const ACK_BATCH: usize = 256;

/// Subscribes and acknowledges everything received until the stream ends: `received` sees each
/// delivery, and `acknowledged` each batch of ids once the hub confirmed it. Batches close at
/// 256 ids or after 10 ms without a new delivery, so a quiet stream is never left unacknowledged.
pub async fn acknowledge_all(
    client: &mut MemberServiceClient<Channel>,
    mut received: impl FnMut(&Delivery),
    mut acknowledged: impl FnMut(&[String]),
) -> Result<(), tonic::Status> {
    use tokio_stream::StreamExt;
    let mut stream = client
        .subscribe(SubscribeRequest {
            after_sequence: 0,
            stop_when_drained: false,
        })
        .await?
        .into_inner();
    let mut unacked: Vec<String> = Vec::new();
    loop {
        // None: time to acknowledge; Some(None): the stream ended.
        let next = if unacked.is_empty() {
            Some(stream.next().await)
        } else {
            tokio::time::timeout(std::time::Duration::from_millis(10), stream.next())
                .await
                .ok()
        };
        match next {
            Some(Some(message)) => {
                let delivery = message?.delivery.unwrap_or_default();
                received(&delivery);
                unacked.push(delivery.delivery_id);
                if unacked.len() < ACK_BATCH {
                    continue;
                }
            }
            Some(None) if unacked.is_empty() => return Ok(()),
            Some(None) | None => {}
        }
        let ids = std::mem::take(&mut unacked);
        client
            .ack(AckRequest {
                delivery_ids: ids.clone(),
            })
            .await?;
        acknowledged(&ids);
    }
}

/// Signs a submission's document with the issuer's key (none: unchanged).
pub fn sign(mut request: SubmitRequest, key: Option<&NoteKey>) -> Result<SubmitRequest, KeyError> {
    if let Some(key) = key {
        request.signature = key.sign_bytes(&request.document)?;
        request.signature_key_id = key.key_id();
    }
    Ok(request)
}
