//! `Body`: the payload of a request, response or message, kept as text or as
//! bytes, and its JSON form (`body` for text, `body_base64` for bytes).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::error::{CapError, Result};
use crate::message::Fields;

/// A payload: UTF-8 text or arbitrary bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Body {
    /// Text.
    Text(String),
    /// Bytes (written and shown as base64 in JSON files).
    Binary(Vec<u8>),
}

impl Default for Body {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) if s.len() <= 64 => f.debug_tuple("Text").field(s).finish(),
            Self::Text(s) => write!(f, "Text({} bytes)", s.len()),
            Self::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl Body {
    /// The payload's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(s) => s.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Text if `bytes` are UTF-8, bytes otherwise (for what arrives from the
    /// network, whose kind is not otherwise known).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(s) => Self::Text(s),
            Err(e) => Self::Binary(e.into_bytes()),
        }
    }

    /// Turns the payload into its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Text(s) => s.into_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// Adds the body to a JSON object: `body` (text) or `body_base64`.
    pub(crate) fn put_json(&self, map: &mut Map<String, Value>) {
        match self {
            Self::Text(s) => map.insert("body".into(), Value::String(s.clone())),
            Self::Binary(b) => map.insert("body_base64".into(), Value::String(BASE64.encode(b))),
        };
    }

    /// Reads `body` or `body_base64` (at most one of them) from a message.
    pub(crate) fn from_fields(fields: &Fields) -> Result<Self> {
        match (fields.opt_str("body")?, fields.opt_str("body_base64")?) {
            (Some(_), Some(_)) => Err(CapError::invalid(
                "fields `body` and `body_base64` cannot both be given",
            )),
            (Some(text), None) => Ok(Self::Text(text.to_owned())),
            (None, Some(b64)) => BASE64.decode(b64).map(Self::Binary).map_err(|e| {
                CapError::invalid(format!("field `body_base64`: not valid base64 ({e})"))
            }),
            (None, None) => Ok(Self::default()),
        }
    }
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Self::Binary(b)
    }
}

impl From<&[u8]> for Body {
    fn from(b: &[u8]) -> Self {
        Self::Binary(b.to_vec())
    }
}
