//! The document tree and paths over it.
//!
//! Every syntax is read into a [`Node`] tree: JSON as it is; XML by [`xml`], which maps
//! an element to an object (attributes as `@name` keys, mixed text as `$text`, repeated children
//! as arrays, names written with the profile's namespace prefixes) or, for an element holding
//! only text, to a string. Paths ([`path`]) then work the same over both.

mod node;
pub mod path;
pub mod xml;

pub use node::{Key, Node};
pub use path::{Pattern, Step};

/// The key under which an XML element that also has attributes or children keeps its text.
pub const TEXT_KEY: &str = "$text";
