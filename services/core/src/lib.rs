//! Origin Hub's pure domain: no I/O, no async, no database.
//!
//! Layout:
//! - [`canonical`]: the canonical certificate-of-origin dataset, its validated types, JSON Schema
//!   and leaf catalog;
//! - [`codelists`]: countries, units, currencies and origin-criterion vocabularies;
//! - [`tree`]: the document tree every syntax is read into (JSON as is, XML mapped onto it), and
//!   path patterns over it;
//! - [`profile`]: the profile file format, its checks, and compilation into a [`profile::Plan`];
//! - [`engine`]: translation member → canonical and canonical → member with one plan, validation
//!   rules, and the report of what went to extensions or could not be represented;
//! - [`limits`]: size, depth and XML-feature limits applied before anything is parsed;
//! - [`agreement`]: members, agreements, and routing a certificate to its receivers.

pub mod agreement;
pub mod canonical;
pub mod codelists;
pub mod engine;
pub mod limits;
pub mod profile;
pub mod tree;
