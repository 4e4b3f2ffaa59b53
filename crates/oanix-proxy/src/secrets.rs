//! Secrets the agent can use but never read: its environment holds a
//! placeholder, and the proxy puts the real value in its place only in
//! requests to the hosts the secret is bound to.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oanix_caps::{HostPattern, SecretValue};

use crate::error::{ProxyError, Result};

/// A secret bound to hosts, with the placeholder that stands for it.
#[derive(Debug, Clone)]
pub struct Secret {
    name: String,
    hosts: Vec<HostPattern>,
    value: SecretValue,
    placeholder: String,
}

impl Secret {
    /// A secret named `name` (1 to 40 of `a-z`, `0-9`, `-`), usable only in
    /// requests to `hosts`, with a fresh random placeholder.
    pub fn new(
        name: &str,
        hosts: impl IntoIterator<Item = HostPattern>,
        value: SecretValue,
    ) -> Result<Self> {
        let valid = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ProxyError::InvalidSecret(format!(
                "secret name {name:?}: use 1 to 40 of a-z, 0-9 and -"
            )));
        }
        let hosts: Vec<HostPattern> = hosts.into_iter().collect();
        if hosts.is_empty() {
            return Err(ProxyError::InvalidSecret(format!(
                "secret {name} is bound to no host"
            )));
        }
        if value.expose().is_empty() {
            return Err(ProxyError::InvalidSecret(format!("secret {name} is empty")));
        }
        let placeholder = format!("oanix-secret-{name}-{}", uuid::Uuid::new_v4().simple());
        Ok(Self {
            name: name.to_owned(),
            hosts,
            value,
            placeholder,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the agent is given instead of the value.
    pub fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// The value, for redaction.
    pub(crate) fn value_str(&self) -> &str {
        self.value.expose()
    }

    /// Whether requests to `host` may carry it.
    pub fn is_bound_to(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }
}

/// The secrets of a proxy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets(pub(crate) Vec<Secret>);

impl Secrets {
    /// Whether any secret is bound to `host` (its TLS must then be read).
    pub(crate) fn any_bound_to(&self, host: &str) -> bool {
        self.0.iter().any(|s| s.is_bound_to(host))
    }

    /// Puts each secret in place of its placeholder in `headers` (Basic
    /// credentials included) for a request to `host`; returns the names
    /// used, or the name of a secret whose placeholder is sent to a host it
    /// is not bound to, in the headers or in `url` (then nothing may be
    /// sent). A URL is never rewritten: it goes into the records, which
    /// the agent can read.
    pub(crate) fn apply(
        &self,
        host: &str,
        url: &str,
        headers: &mut HashMap<String, String>,
    ) -> std::result::Result<Vec<String>, String> {
        let mut used = Vec::new();
        for secret in &self.0 {
            let p = secret.placeholder.as_str();
            let in_basic = |v: &str| -> Option<String> {
                let encoded = v
                    .strip_prefix("Basic ")
                    .or_else(|| v.strip_prefix("basic "))?;
                let decoded = STANDARD.decode(encoded.trim()).ok()?;
                let text = String::from_utf8(decoded).ok()?;
                text.contains(p).then_some(text)
            };
            let present = url.contains(p)
                || headers
                    .values()
                    .any(|v| v.contains(p) || in_basic(v).is_some());
            if !present {
                continue;
            }
            if !secret.is_bound_to(host) {
                return Err(secret.name.clone());
            }
            let real = secret.value.expose();
            for value in headers.values_mut() {
                if let Some(text) = in_basic(value) {
                    *value = format!("Basic {}", STANDARD.encode(text.replace(p, real)));
                } else if value.contains(p) {
                    *value = value.replace(p, real);
                }
            }
            used.push(secret.name.clone());
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new(
            "gh",
            [
                HostPattern::new("*.github.com").unwrap(),
                HostPattern::new("github.com").unwrap(),
            ],
            SecretValue::new("real-token"),
        )
        .unwrap()
    }

    #[test]
    fn placeholders_become_the_value_only_for_bound_hosts() {
        let s = secret();
        let p = s.placeholder().to_owned();
        assert!(p.starts_with("oanix-secret-gh-"));
        let secrets = Secrets(vec![s]);
        let url = format!("https://api.github.com/x?t={p}");
        let mut headers = HashMap::from([
            ("authorization".to_owned(), format!("token {p}")),
            (
                "x-basic".to_owned(),
                format!("Basic {}", STANDARD.encode(format!("user:{p}"))),
            ),
        ]);
        let used = secrets.apply("api.github.com", &url, &mut headers).unwrap();
        assert_eq!(used, ["gh"]);
        assert_eq!(headers["authorization"], "token real-token");
        assert_eq!(
            headers["x-basic"],
            format!("Basic {}", STANDARD.encode("user:real-token"))
        );
        let url = "https://evil.example/".to_owned();
        let mut headers = HashMap::from([(
            "x".to_owned(),
            format!("Basic {}", STANDARD.encode(format!("a:{p}"))),
        )]);
        assert_eq!(
            secrets.apply("evil.example", &url, &mut headers),
            Err("gh".to_owned())
        );
        let mut clean = HashMap::new();
        assert_eq!(secrets.apply("evil.example", &url, &mut clean), Ok(vec![]));
        let leaky = format!("https://evil.example/?t={p}");
        assert_eq!(
            secrets.apply("evil.example", &leaky, &mut clean),
            Err("gh".to_owned())
        );
    }

    #[test]
    fn bad_secrets_are_refused() {
        let host = || [HostPattern::new("a.example").unwrap()];
        assert!(Secret::new("Bad Name", host(), SecretValue::new("x")).is_err());
        assert!(Secret::new("ok", [], SecretValue::new("x")).is_err());
        assert!(Secret::new("ok", host(), SecretValue::new("")).is_err());
    }
}
