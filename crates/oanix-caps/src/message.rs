//! Reading the JSON messages agents write, with errors that say which field
//! is wrong and what was expected.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{CapError, Result};

/// The fields of one JSON object message.
#[derive(Debug)]
pub(crate) struct Fields {
    map: Map<String, Value>,
}

/// Describes a JSON value's type for messages ("a number", "an array"...).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses `bytes` as one JSON object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Fields> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| CapError::invalid(format!("not valid JSON ({e})")))?;
    match value {
        Value::Object(map) => Ok(Fields { map }),
        other => Err(CapError::invalid(format!(
            "expected a JSON object, found {}",
            type_name(&other)
        ))),
    }
}

fn wrong(name: &str, expected: &str, found: &Value) -> CapError {
    CapError::invalid(format!(
        "field `{name}`: expected {expected}, found {}",
        type_name(found)
    ))
}

impl Fields {
    /// Fails on the first field not in `allowed`.
    pub(crate) fn check_known(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(CapError::invalid(format!(
                "unknown field `{k}` (expected one of: {})",
                allowed.join(", ")
            ))),
            None => Ok(()),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A raw field value.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code))]
    pub(crate) fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }

    /// A required string.
    pub(crate) fn req_str(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            None => Err(CapError::invalid(format!(
                "missing field `{name}` (expected a string)"
            ))),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(wrong(name, "a string", v)),
        }
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(wrong(name, "a string", v)),
        }
    }

    /// An optional non-negative integer.
    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                CapError::invalid(format!(
                    "field `{name}`: expected a non-negative integer, found {n}"
                ))
            }),
            Some(v) => Err(wrong(name, "a non-negative integer", v)),
        }
    }

    /// A required non-negative integer.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code))]
    pub(crate) fn req_u64(&self, name: &str) -> Result<u64> {
        self.opt_u64(name)?.ok_or_else(|| {
            CapError::invalid(format!(
                "missing field `{name}` (expected a non-negative integer)"
            ))
        })
    }

    /// An optional object whose values are all strings.
    pub(crate) fn opt_string_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        other => {
                            return Err(CapError::invalid(format!(
                                "field `{name}.{k}`: expected a string, found {}",
                                type_name(other)
                            )));
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(wrong(name, "an object of strings", v)),
        }
    }

    /// An optional array of strings.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code))]
    pub(crate) fn opt_str_array(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(CapError::invalid(format!(
                        "field `{name}[{i}]`: expected a string, found {}",
                        type_name(other)
                    ))),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(wrong(name, "an array of strings", v)),
        }
    }

    /// An optional array of arrays of strings (Nostr tags).
    #[cfg_attr(not(feature = "nostr"), allow(dead_code))]
    pub(crate) fn opt_str_matrix(&self, name: &str) -> Result<Option<Vec<Vec<String>>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(rows)) => {
                let mut out = Vec::with_capacity(rows.len());
                for (i, row) in rows.iter().enumerate() {
                    let Value::Array(cells) = row else {
                        return Err(CapError::invalid(format!(
                            "field `{name}[{i}]`: expected an array of strings, found {}",
                            type_name(row)
                        )));
                    };
                    let mut r = Vec::with_capacity(cells.len());
                    for (j, c) in cells.iter().enumerate() {
                        match c {
                            Value::String(s) => r.push(s.clone()),
                            other => {
                                return Err(CapError::invalid(format!(
                                    "field `{name}[{i}][{j}]`: expected a string, found {}",
                                    type_name(other)
                                )));
                            }
                        }
                    }
                    out.push(r);
                }
                Ok(Some(out))
            }
            Some(v) => Err(wrong(name, "an array of arrays of strings", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_the_expectation() {
        let f = parse_object(br#"{"url": 3, "h": {"a": 1}, "n": -1, "t": [["a", 2]]}"#).unwrap();
        assert_eq!(
            f.req_str("url").unwrap_err().to_string(),
            "invalid input: field `url`: expected a string, found a number"
        );
        assert_eq!(
            f.req_str("method").unwrap_err().to_string(),
            "invalid input: missing field `method` (expected a string)"
        );
        assert_eq!(
            f.opt_string_map("h").unwrap_err().to_string(),
            "invalid input: field `h.a`: expected a string, found a number"
        );
        assert_eq!(
            f.opt_u64("n").unwrap_err().to_string(),
            "invalid input: field `n`: expected a non-negative integer, found -1"
        );
        assert_eq!(
            f.opt_str_matrix("t").unwrap_err().to_string(),
            "invalid input: field `t[0][1]`: expected a string, found a number"
        );
        assert_eq!(
            f.check_known(&["url", "h", "n"]).unwrap_err().to_string(),
            "invalid input: unknown field `t` (expected one of: url, h, n)"
        );
        assert_eq!(
            parse_object(b"[1]").unwrap_err().to_string(),
            "invalid input: expected a JSON object, found an array"
        );
        assert!(
            parse_object(b"{")
                .unwrap_err()
                .to_string()
                .starts_with("invalid input: not valid JSON (")
        );
    }
}
