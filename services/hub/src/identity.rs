//! Who is calling: the identity and role a client certificate carries. The common name (CN) is
//! the identity (a member id, or a name for operators and auditors) and the organizational unit
//! (OU) is the role. Nothing in a request body can change either.

use std::fmt;

use thiserror::Error;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A customs administration or issuing authority: submits and receives as itself.
    Member,
    /// Manages members, agreements and profiles.
    Operator,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    /// The OU value that carries the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(Role::Member),
            "operator" => Some(Role::Operator),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The certificate's CN.
    pub name: String,
    /// The certificate's OU.
    pub role: Role,
}

/// Why a certificate names no usable identity.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// No client certificate on the connection.
    #[error("no client certificate: connect with mutual TLS")]
    Missing,
    /// The certificate does not parse.
    #[error("the client certificate does not parse: {0}")]
    Unreadable(String),
    /// No CN, or no known role in the OU.
    #[error("the client certificate names no identity: {0}")]
    NoIdentity(String),
}

/// Reads the caller from a DER client certificate (already verified by TLS).
pub fn caller_from_der(der: &[u8]) -> Result<Caller, IdentityError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| IdentityError::NoIdentity("no common name (CN)".into()))?;
    let role_text = subject
        .iter_organizational_unit()
        .next()
        .and_then(|ou| ou.as_str().ok())
        .ok_or_else(|| {
            IdentityError::NoIdentity("no role in the organizational unit (OU)".into())
        })?;
    let role = Role::parse(role_text).ok_or_else(|| {
        IdentityError::NoIdentity(format!(
            "role {role_text:?} is not member, operator or auditor"
        ))
    })?;
    Ok(Caller {
        name: name.to_owned(),
        role,
    })
}
