//! Limits applied to every input before and while it is parsed, and the refusals they produce.
//!
//! A document over the size limit is refused before it is read. Nesting is bounded while parsing
//! (XML depth is counted as elements open; the JSON parser stops at 128 levels) and checked
//! against the limit right after. A DOCTYPE (and with it any entity declaration) is refused
//! outright, so no entity is ever expanded.

use thiserror::Error;

/// Default maximum document size: 4 MiB.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Default maximum nesting depth of objects, lists or elements.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Input limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why a document was refused before its fields were looked at.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InputError {
    /// Larger than [`Limits::max_bytes`].
    #[error("document is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("document nests deeper than {limit} levels (at {at})")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the limit was crossed: a path, or a byte offset.
        at: String,
    },
    /// XML with a DOCTYPE (which is where DTDs and entity declarations live).
    #[error("XML with a DOCTYPE or entity declarations is refused (byte {offset})")]
    Doctype {
        /// Where it was found.
        offset: usize,
    },
    /// An XML entity reference other than the five predefined ones or a character reference.
    #[error(
        "XML entity reference &{name}; is not defined (only &lt; &gt; &amp; &apos; &quot; and character references are)"
    )]
    UndefinedEntity {
        /// The entity name.
        name: String,
    },
    /// Not well-formed in its syntax.
    #[error("malformed {syntax}: {message}")]
    Malformed {
        /// `JSON` or `XML`.
        syntax: &'static str,
        /// The parser's message, with the position.
        message: String,
    },
    /// The XML root element is not the profile's.
    #[error("XML root element is {found}, expected {expected}")]
    WrongRoot {
        /// What the profile declares.
        expected: String,
        /// What the document has.
        found: String,
    },
    /// The JSON document is not an object.
    #[error("JSON document must be an object, found {found}")]
    NotAnObject {
        /// What was found.
        found: &'static str,
    },
}

impl Limits {
    /// Refuses `input` if it is over the size limit.
    pub fn check_size(&self, input: &[u8]) -> Result<(), InputError> {
        if input.len() > self.max_bytes {
            return Err(InputError::TooLarge {
                size: input.len(),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limit() {
        let limits = Limits {
            max_bytes: 3,
            max_depth: 2,
        };
        assert!(limits.check_size(b"abc").is_ok());
        assert_eq!(
            limits.check_size(b"abcd"),
            Err(InputError::TooLarge { size: 4, limit: 3 })
        );
    }
}
