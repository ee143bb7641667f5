//! The member commands: `submit`, `inbox` and `status`, each acting as the identity of a client
//! file. A refusal by the hub exits 1 with its reasons; a connection or usage problem exits 2,
//! except under `inbox --follow`, which subscribes again until the hub is back.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use originhub_hub::client::{ClientFile, sign};
use originhub_hub::proto::member_service_client::MemberServiceClient;
use originhub_hub::proto::{
    AckRequest, Delivery, DeliveryState, GetStatusRequest, Receipt, SubmitRequest, SubscribeRequest,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::cli::{ClientArg, InboxArgs, StatusArgs, SubmitArgs};

async fn connect(client: &ClientArg) -> anyhow::Result<MemberServiceClient<Channel>> {
    let file = ClientFile::load(&client.client)?;
    Ok(file.member().await?)
}

/// Prints a refusal with its field violations; exit 1.
pub(crate) fn refused(status: &tonic::Status) -> ExitCode {
    eprintln!("refused ({:?}): {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            eprintln!("  {}: {}", v.field, v.description);
        }
    }
    ExitCode::from(1)
}

pub(crate) fn time_text(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| {
        time::OffsetDateTime::from_unix_timestamp(t.seconds)
            .ok()
            .map(|d| d + time::Duration::nanoseconds(i64::from(t.nanos)))
    })
    .and_then(|d| {
        d.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_default()
}

fn receipt_json(receipt: &Receipt) -> serde_json::Value {
    json!({
        "tracking_id": receipt.tracking_id,
        "certificate_id": receipt.certificate_id,
        "content_hash": receipt.content_hash,
        "receivers": receipt.receivers,
        "accepted_at": time_text(receipt.accepted_at.as_ref()),
        "sender_profile": receipt.sender_profile,
    })
}

pub(crate) async fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let mut document = Vec::new();
    match args.file.as_deref() {
        None => std::io::stdin()
            .read_to_end(&mut document)
            .context("cannot read stdin")?,
        Some(path) if path.as_os_str() == "-" => std::io::stdin()
            .read_to_end(&mut document)
            .context("cannot read stdin")?,
        Some(path) => std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut document))
            .with_context(|| format!("cannot read {}", path.display()))?,
    };
    let file = ClientFile::load(&args.client.client)?;
    let signer = if args.unsigned { None } else { file.signer()? };
    let mut client = file.member().await?;
    let request = sign(
        SubmitRequest {
            agreement: args.agreement,
            profile: args.profile,
            document,
            idempotency_key: args.idempotency_key.unwrap_or_default(),
            ..SubmitRequest::default()
        },
        signer.as_ref(),
    )?;
    let response = match client.submit(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused(&status)),
    };
    let receipt = response.receipt.unwrap_or_default();
    if args.json {
        let mut out = receipt_json(&receipt);
        out["duplicate"] = json!(response.duplicate);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if response.duplicate {
            println!("already accepted earlier; the original receipt:");
        }
        println!("tracking id:  {}", receipt.tracking_id);
        println!("certificate:  {}", receipt.certificate_id);
        println!("receivers:    {}", receipt.receivers.join(", "));
        println!("sha-256:      {}", receipt.content_hash);
        println!("accepted at:  {}", time_text(receipt.accepted_at.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

fn extension(document: &[u8]) -> &'static str {
    match document.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => "xml",
        _ => "json",
    }
}

/// Writes `bytes` to `path` via a temporary file and a rename, so a crash never leaves a
/// half-written file under the final name.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Saves one delivery's three files. `hub_key` is the hub key the client file pins, kept in the
/// envelope so `verify-delivery` can check the attestation offline.
fn save(dir: &Path, delivery: &Delivery, hub_key: Option<&str>) -> anyhow::Result<()> {
    use base64::Engine;
    let id = &delivery.delivery_id;
    // The id names the files: whatever a hub sends, nothing is written outside `dir`.
    if id.is_empty()
        || id.starts_with('.')
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        anyhow::bail!("the hub sent a delivery id that cannot name a file: {id:?}");
    }
    let document_file = format!("{id}.document.{}", extension(&delivery.document));
    let original_file = format!("{id}.original.{}", extension(&delivery.original));
    let envelope = json!({
        "delivery_id": id,
        "sequence": delivery.sequence,
        "tracking_id": delivery.tracking_id,
        "certificate_id": delivery.certificate_id,
        "agreement": delivery.agreement,
        "sender": delivery.sender,
        "profile": delivery.profile,
        "original_profile": delivery.original_profile,
        "original_hash": delivery.original_hash,
        "accepted_at": time_text(delivery.accepted_at.as_ref()),
        "not_representable": delivery.not_representable.iter()
            .map(|n| json!({"path": n.path, "reason": n.reason})).collect::<Vec<_>>(),
        "document_file": document_file,
        "original_file": original_file,
        "attestation": delivery.attestation,
        "issuer_signature": (!delivery.issuer_signature.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&delivery.issuer_signature)),
        "hub_key": hub_key,
    });
    write_atomically(&dir.join(&document_file), &delivery.document)?;
    write_atomically(&dir.join(&original_file), &delivery.original)?;
    // The envelope last: its presence means the delivery is complete on disk.
    write_atomically(
        &dir.join(format!("{id}.json")),
        &serde_json::to_vec_pretty(&envelope)?,
    )?;
    // The renames are durable only once the folder is synced, and the caller acknowledges next:
    // after a power cut the hub would not send again what the folder had lost.
    originhub_hub::files::sync_folder(dir).with_context(|| format!("cannot sync {}", dir.display()))
}

/// How one subscription of `inbox` ended.
enum Ended {
    /// The backlog is saved (without `--follow`).
    Drained,
    /// The hub went away, is stopping or could not be reached: subscribing again may work.
    Lost(String),
    /// The hub refused, and asking again will not change that.
    Refused(tonic::Status),
}

impl From<tonic::Status> for Ended {
    fn from(status: tonic::Status) -> Self {
        use tonic::Code;
        match status.code() {
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
                Self::Lost(format!("{:?}: {}", status.code(), status.message()))
            }
            _ => Self::Refused(status),
        }
    }
}

/// The first wait before `inbox --follow` subscribes again after losing the hub; each failed
/// attempt doubles it, up to [`RESUBSCRIBE_MAX`].
const RESUBSCRIBE_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const RESUBSCRIBE_MAX: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) async fn inbox(args: InboxArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let file = ClientFile::load(&args.client.client)?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut saved = 0usize;
    let mut wait = RESUBSCRIBE_FIRST;
    loop {
        let mut subscribed = false;
        let ended = tokio::select! {
            ended = receive(&file, &args, &mut saved, &mut subscribed) => ended?,
            _ = &mut ctrl_c => break,
        };
        match ended {
            Ended::Drained => break,
            Ended::Refused(status) => return Ok(refused(&status)),
            Ended::Lost(reason) if args.follow => {
                if subscribed {
                    wait = RESUBSCRIBE_FIRST;
                }
                eprintln!(
                    "lost the hub ({reason}); subscribing again in {} s",
                    wait.as_secs()
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = &mut ctrl_c => break,
                }
                wait = (wait * 2).min(RESUBSCRIBE_MAX);
            }
            Ended::Lost(reason) => anyhow::bail!(
                "lost the hub: {reason} ({saved} delivery(ies) saved and acknowledged before; run \
                 inbox again for the rest)"
            ),
        }
    }
    eprintln!(
        "{saved} delivery(ies) saved and acknowledged in {}",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One subscription: saves and acknowledges deliveries until it ends. It always asks from
/// `--after`: everything saved before was acknowledged, so the hub sends only the rest.
async fn receive(
    file: &ClientFile,
    args: &InboxArgs,
    saved: &mut usize,
    subscribed: &mut bool,
) -> anyhow::Result<Ended> {
    let mut client = match file.member().await {
        Ok(client) => client,
        Err(error) if args.follow => return Ok(Ended::Lost(error.to_string())),
        Err(error) => return Err(error.into()),
    };
    let mut stream = match client
        .subscribe(SubscribeRequest {
            after_sequence: args.after,
            stop_when_drained: !args.follow,
        })
        .await
    {
        Ok(stream) => stream.into_inner(),
        Err(status) => return Ok(status.into()),
    };
    *subscribed = true;
    while let Some(message) = stream.next().await {
        let delivery = match message {
            Ok(message) => message.delivery.unwrap_or_default(),
            Err(status) => return Ok(status.into()),
        };
        save(&args.out, &delivery, file.hub_key.as_deref())?;
        if let Err(status) = client
            .ack(AckRequest {
                delivery_ids: vec![delivery.delivery_id.clone()],
            })
            .await
        {
            return Ok(status.into());
        }
        *saved += 1;
        let losses = delivery.not_representable.len();
        println!(
            "#{} {} from {} under {} -> {}{}",
            delivery.sequence,
            delivery.certificate_id,
            delivery.sender,
            delivery.agreement,
            args.out
                .join(format!("{}.json", delivery.delivery_id))
                .display(),
            if losses > 0 {
                format!(
                    " ({losses} field(s) not representable in {})",
                    delivery.profile
                )
            } else {
                String::new()
            }
        );
    }
    // A followed subscription ends only when the hub goes; an unfollowed one after its backlog.
    Ok(if args.follow {
        Ended::Lost("the hub ended the subscription".into())
    } else {
        Ended::Drained
    })
}

pub(crate) async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(&args.client).await?;
    let status = match client
        .get_status(GetStatusRequest {
            tracking_id: args.tracking_id,
        })
        .await
    {
        Ok(status) => status.into_inner(),
        Err(status) => return Ok(refused(&status)),
    };
    let receipt = status.receipt.unwrap_or_default();
    let state = |s: i32| match DeliveryState::try_from(s) {
        Ok(DeliveryState::Acknowledged) => "acknowledged",
        Ok(DeliveryState::Pending) => "pending",
        _ => "unknown",
    };
    if args.json {
        let receivers: Vec<_> = status
            .receivers
            .iter()
            .map(|r| {
                json!({"receiver": r.receiver, "delivery_id": r.delivery_id, "state": state(r.state),
                       "profile": r.profile, "acknowledged_at": time_text(r.acknowledged_at.as_ref())})
            })
            .collect();
        let out = json!({"agreement": status.agreement, "receipt": receipt_json(&receipt), "receivers": receivers});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} ({}) under {}, accepted {}",
            receipt.tracking_id,
            receipt.certificate_id,
            status.agreement,
            time_text(receipt.accepted_at.as_ref())
        );
        // Member ids are the operator's to choose: the columns follow the longest.
        let width = status
            .receivers
            .iter()
            .map(|r| r.receiver.len())
            .max()
            .unwrap_or_default();
        for r in &status.receivers {
            let line = format!(
                "  {:<width$} {:<13} {} {}",
                r.receiver,
                state(r.state),
                r.profile,
                time_text(r.acknowledged_at.as_ref())
            );
            println!("{}", line.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_delivery_is_saved_as_three_files_named_by_its_id_and_never_outside_the_folder() {
        let root = tempfile::tempdir().unwrap();
        let inbox = root.path().join("inbox");
        std::fs::create_dir(&inbox).unwrap();
        let delivery = Delivery {
            delivery_id: "0b6c1a52-4c1e-4d8e-9d7a-2f0c9d1e7a11".into(),
            document: b"<certificate/>".to_vec(),
            original: b"{\"certificate\": {}}".to_vec(),
            ..Delivery::default()
        };
        save(&inbox, &delivery, None).unwrap();
        let id = &delivery.delivery_id;
        assert_eq!(
            files_in(&inbox),
            [
                format!("{id}.document.xml"),
                format!("{id}.json"),
                format!("{id}.original.json")
            ]
        );

        for id in ["../escaped", "sub/escaped", "..", "", ".hidden", "a\\b"] {
            let error = save(
                &inbox,
                &Delivery {
                    delivery_id: id.into(),
                    ..delivery.clone()
                },
                None,
            )
            .unwrap_err();
            assert!(
                error.to_string().contains("cannot name a file"),
                "{id:?}: {error}"
            );
        }
        assert_eq!(files_in(root.path()), ["inbox"]);
        assert_eq!(files_in(&inbox).len(), 3);
    }
}
