//! Profiles: one data file per member format, used in both directions.
//!
//! - [`def`]: the file format as an operator writes it (TOML);
//! - [`compile`]: checks a file against the canonical catalog and builds a [`Plan`], collecting
//!   every problem with the line it is on.
//!
//! A plan is built once and then translates any number of documents without re-reading the
//! profile.

pub mod compile;
pub mod def;

pub use compile::{Plan, ProfileError, Syntax, compile};
