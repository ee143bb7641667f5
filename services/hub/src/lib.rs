//! The Origin Hub server and the client side of its API.
//!
//! Layout, in the order a submission meets it:
//! - [`identity`]: the caller and role from the TLS client certificate;
//! - [`service`]: the gRPC services (`MemberService`, `OperatorService`);
//! - [`pipeline`]: validate, route and translate one submission (no I/O);
//! - [`hub`]: shared state, the batch writer (group commit) and subscription wakeups;
//! - [`writer_stats`]: how the batch writer spends its time (batch sizes, waits);
//! - [`feed`]: the batches this process committed, for subscriptions that are up to date;
//! - [`store`]: the storage trait and its SQLite and Postgres backends;
//! - [`receipts`]: the receipt log (RFC 9162 Merkle tree), checkpoints, the hub's key, exports;
//! - [`registry`]: members, agreements and compiled profiles, imported from the config folders;
//! - [`error`]: every client-visible error and its gRPC status, in one place;
//! - [`server`]: `run(hub, listener, tls, shutdown)` with health and reflection;
//! - [`launch`]: start a hub from a config on the configured backend;
//! - [`config`]: `hub.toml`, environment variables and every default;
//! - [`demo`]: the demo world (members, agreements, shipped profiles, documents);
//! - [`certs`]: development certificates and client files; [`client`]: connecting with one;
//! - [`files`]: owner-only private keys, and folders synced so new files survive a power cut.

pub mod certs;
pub mod client;
pub mod compute;
pub mod config;
pub mod demo;
pub mod error;
pub mod feed;
pub mod files;
pub mod hub;
pub mod identity;
pub mod launch;
pub mod pipeline;
pub mod receipts;
pub mod registry;
pub mod server;
pub mod service;
pub mod store;
pub mod writer_stats;

/// Generated protobuf and gRPC code for `proto/originhub/v1`.
pub mod proto {
    #![allow(
        missing_docs,
        unreachable_pub,
        clippy::all,
        missing_debug_implementations
    )]
    tonic::include_proto!("originhub.v1");
}

/// Largest gRPC message: the largest document plus its translations and envelope.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The fictional members of the demo and the tests: id, name, country (ISO 3166-1
/// user-assigned codes).
pub const DEMO_MEMBERS: &[(&str, &str, &str)] = &[
    ("adjikistan", "Customs Administration of Adjikistan", "XA"),
    ("borastria", "Borastria Revenue and Customs", "XB"),
    ("concordia", "Concordia Chamber of Commerce", "XC"),
    ("katanga", "Katanga Customs Service", "XT"),
];
