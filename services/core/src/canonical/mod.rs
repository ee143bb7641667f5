//! The canonical e-CO dataset: the one shape every member's format is translated to and from.
//!
//! - [`model`]: the record as typed Rust ([`Certificate`] and its parts);
//! - [`newtypes`]: validated leaf types (country codes, HS codes, dates with offsets, ...);
//! - [`kind`]: the checks behind those types, usable on loose JSON values;
//! - [`catalog`]: every leaf path and its kind, read off the generated JSON Schema.

pub mod catalog;
pub mod kind;
pub mod model;
pub mod newtypes;

pub use catalog::{Catalog, Leaf, catalog, json_schema};
pub use kind::{Kind, RuleFailure};
pub use model::*;
