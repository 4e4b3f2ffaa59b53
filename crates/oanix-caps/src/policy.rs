//! The egress policy: which URLs a capability may reach, with what, and which
//! addresses an executor may connect to once a host name is resolved.
//!
//! Everything here is a pure function of the policy and its arguments: no
//! DNS, no sockets. Services check the URL of every request or connection
//! when it is written ([`EgressPolicy::check_http`], [`EgressPolicy::check_ws`]);
//! executors receive the policy with the work and call
//! [`EgressPolicy::check_ip`] on every address they resolve, before
//! connecting, because that check can only be made then.
//!
//! The [`Default`] policy refuses everything. A policy is built, and
//! checked, by an [`EgressPolicyBuilder`]; [`EgressPolicy::allow_hosts`]
//! starts one from a list of host patterns:
//!
//! ```
//! use oanix_caps::{CapError, EgressPolicy, HttpMethod};
//!
//! let policy = EgressPolicy::allow_hosts(["api.example.com", "*.github.com"])
//!     .deny_hosts(["gist.github.com"])
//!     .methods([HttpMethod::Get, HttpMethod::Post])
//!     .inject_header("api.example.com", "authorization", "Bearer s3cret")
//!     .build()?;
//! assert!(policy.check_http(HttpMethod::Get, "https://api.github.com/repos", 0).is_ok());
//! assert!(policy.check_http(HttpMethod::Get, "https://gist.github.com/", 0).is_err());
//! assert!(policy.check_http(HttpMethod::Get, "http://api.example.com/", 0).is_err()); // http: not allowed
//! assert!(policy.check_http(HttpMethod::Delete, "https://api.example.com/", 0).is_err());
//! assert!(policy.check_ip("10.0.0.7".parse().unwrap()).is_err()); // private
//! assert!(policy.check_ip("140.82.112.3".parse().unwrap()).is_ok());
//! // The secret never shows in the policy's debug output.
//! assert!(!format!("{policy:?}").contains("s3cret"));
//!
//! // A malformed pattern is an error, never a rule that matches nothing.
//! let e = EgressPolicy::allow_hosts(["*.github.com"]).deny_hosts(["gist.*"]).build();
//! assert_eq!(
//!     e.unwrap_err().to_string(),
//!     "invalid deny pattern `gist.*`: a `*` may only stand alone or begin `*.suffix`"
//! );
//! # Ok::<(), CapError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::error::{CapError, Result};
use crate::method::HttpMethod;

/// A host pattern: an exact host (`api.example.com`, `127.0.0.1`, `[::1]`),
/// `*.suffix` for every subdomain of `suffix` at any depth (not `suffix`
/// itself), or `*` for any host. Matching ignores ASCII case and a trailing
/// dot; internationalised names match their ASCII (punycode) form, as URLs
/// carry them.
///
/// A pattern is checked when it is made ([`HostPattern::new`]): a malformed
/// one (empty, a `*` anywhere but at the start of `*.suffix`, a port, a
/// path, characters no host has) is an error naming the pattern and what is
/// wrong, never a rule that silently matches nothing.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    text: String,
    kind: PatternKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum PatternKind {
    Any,
    Exact(String),
    Suffix(String),
}

/// The error for a malformed host pattern.
fn bad_pattern(pattern: &str, problem: impl Into<String>) -> CapError {
    CapError::InvalidPolicy {
        setting: "host pattern",
        value: pattern.to_owned(),
        problem: problem.into(),
    }
}

/// The canonical form of one host (no wildcard): an IP address as Rust
/// prints it, a domain in lowercase ASCII.
fn canonical_host(pattern: &str, host: &str) -> Result<String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if host.contains(':') {
        return Err(bad_pattern(
            pattern,
            "a host pattern has no port (the ports are the policy's `ports`)",
        ));
    }
    if host.contains('/') {
        return Err(bad_pattern(
            pattern,
            "a host pattern names a host, not a URL (no `/`)",
        ));
    }
    if host.split('.').any(str::is_empty) {
        return Err(bad_pattern(pattern, "a host name has no empty labels"));
    }
    match Host::parse(host) {
        Ok(Host::Domain(d)) => Ok(d),
        Ok(Host::Ipv4(a)) => Ok(a.to_string()),
        Ok(Host::Ipv6(a)) => Ok(a.to_string()),
        Err(e) => Err(bad_pattern(pattern, format!("not a host name ({e})"))),
    }
}

impl HostPattern {
    /// Parses a pattern; see the type's docs for what is refused.
    pub fn new(pattern: &str) -> Result<Self> {
        // `*.` would normalise (the trailing dot dropped) to `*`: any host.
        if pattern.trim().ends_with("*.") {
            return Err(bad_pattern(pattern, "`*.` needs a domain after it"));
        }
        let norm = normalize_host(pattern);
        let kind = if norm.is_empty() {
            return Err(bad_pattern(pattern, "the pattern is empty"));
        } else if norm == "*" {
            PatternKind::Any
        } else if let Some(rest) = norm.strip_prefix("*.") {
            if rest.is_empty() {
                return Err(bad_pattern(pattern, "`*.` needs a domain after it"));
            }
            if rest.contains('*') {
                return Err(bad_pattern(
                    pattern,
                    "a `*` may only stand alone or begin `*.suffix`",
                ));
            }
            let suffix = canonical_host(pattern, rest)?;
            if rest.parse::<IpAddr>().is_ok() || suffix.parse::<IpAddr>().is_ok() {
                return Err(bad_pattern(
                    pattern,
                    "the suffix of `*.suffix` is a domain name, not an address",
                ));
            }
            PatternKind::Suffix(suffix)
        } else if norm.contains('*') {
            return Err(bad_pattern(
                pattern,
                "a `*` may only stand alone or begin `*.suffix`",
            ));
        } else {
            PatternKind::Exact(canonical_host(pattern, &norm)?)
        };
        Ok(Self {
            text: pattern.to_owned(),
            kind,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `host` (as a URL spells it) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = normalize_host(host);
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host,
        };
        match &self.kind {
            PatternKind::Any => !host.is_empty(),
            PatternKind::Exact(h) => *h == host,
            PatternKind::Suffix(s) => {
                host.len() > s.len() + 1
                    && host.ends_with(s.as_str())
                    && host.as_bytes()[host.len() - s.len() - 1] == b'.'
            }
        }
    }
}

/// Lowercases, strips one trailing dot and the brackets of an IPv6 literal.
fn normalize_host(host: &str) -> String {
    let h = host.trim();
    let h = h.strip_suffix('.').unwrap_or(h);
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    h.to_ascii_lowercase()
}

impl FromStr for HostPattern {
    type Err = CapError;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for HostPattern {
    type Error = CapError;
    fn try_from(s: String) -> Result<Self> {
        Self::new(&s)
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> Self {
        p.text
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A block of IP addresses, written `10.0.0.0/8` or `fd00::/8` (a bare
/// address is a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The block of `prefix` leading bits of `addr`, or an error if `prefix`
    /// is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(CapError::invalid(format!(
                "prefix /{prefix} is longer than the address ({max} bits)"
            )));
        }
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` lies in the block (IPv4 and IPv6 never match each other).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                prefix_eq(&a.octets(), &b.octets(), u32::from(self.prefix))
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                prefix_eq(&a.octets(), &b.octets(), u32::from(self.prefix))
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

impl FromStr for Cidr {
    type Err = CapError;
    fn from_str(s: &str) -> Result<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| CapError::invalid(format!("`{s}` is not an address block")))?;
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|_| CapError::invalid(format!("`{s}`: the prefix is not a number")))?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = CapError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> Self {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A secret string (an injected header value): serialised as is, so a policy
/// can be stored and loaded, but shown as `<redacted>` by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; for executors, which put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Headers the host adds to requests for matching hosts, so that an agent can
/// use an authenticated API without ever seeing the credential. Injected
/// values replace headers of the same name written by the agent. Made by
/// [`EgressPolicyBuilder::inject_header`], checked by its `build`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderInjection {
    /// Which hosts get the headers.
    pub host: HostPattern,
    /// Header names (lowercase) and their secret values.
    pub headers: BTreeMap<String, SecretValue>,
}

/// What kind of address an IP address is, as far as egress is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IpClass {
    /// A public unicast address.
    Global,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, `fc00::/7`, `fec0::/10`.
    Private,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `169.254/16` (cloud metadata services live here), `fe80::/10`.
    LinkLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Everything else not for public unicast: `240/4`, `192.0.0/24`,
    /// `198.18/15`, `192.88.99/24`, Teredo and other `2001::/23` blocks,
    /// `100::/64`, local-use NAT64, and IPv6 outside `2000::/3`.
    Reserved,
}

impl IpClass {
    /// The class as words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "reserved for documentation",
            Self::Reserved => "reserved",
        }
    }
}

/// The IPv4 address carried inside an IPv6 one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, not `::` or `::1`), 6to4
/// (`2002:AABB:CCDD::/48`) or the NAT64 well-known prefix (`64:ff9b::/96`).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(last),
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

/// Classifies an address; an IPv6 address carrying an IPv4 one (see
/// [`embedded_ipv4`]) has the class of the IPv4 address.
pub fn classify_ip(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    match ip.octets() {
        [0, ..] => IpClass::Unspecified,
        [127, ..] => IpClass::Loopback,
        [10, ..] | [192, 168, ..] => IpClass::Private,
        [172, b, ..] if (16..=31).contains(&b) => IpClass::Private,
        [100, b, ..] if (64..=127).contains(&b) => IpClass::SharedCgnat,
        [169, 254, ..] => IpClass::LinkLocal,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => IpClass::Documentation,
        [192, 0, 0, _] | [192, 88, 99, _] | [198, 18 | 19, ..] => IpClass::Reserved,
        [255, 255, 255, 255] => IpClass::Broadcast,
        [224..=239, ..] => IpClass::Multicast,
        [240..=255, ..] => IpClass::Reserved,
        _ => IpClass::Global,
    }
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    if ip.is_unspecified() {
        return IpClass::Unspecified;
    }
    if ip.is_loopback() {
        return IpClass::Loopback;
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    match s[0] {
        0x2001 if s[1] == 0x0db8 => IpClass::Documentation,
        0x3fff if s[1] < 0x1000 => IpClass::Documentation,
        // 2001::/23: IETF protocol assignments, Teredo (2001::/32) included.
        0x2001 if s[1] < 0x0200 => IpClass::Reserved,
        0x2000..=0x3fff => IpClass::Global,
        0xfc00..=0xfdff | 0xfec0..=0xfeff => IpClass::Private,
        0xfe80..=0xfebf => IpClass::LinkLocal,
        0xff00..=0xffff => IpClass::Multicast,
        // 100::/64 (discard), 64:ff9b:1::/48 (local-use NAT64), the rest of
        // ::/8 and everything else outside 2000::/3.
        _ => IpClass::Reserved,
    }
}

/// The egress policy of a capability (see the [module docs](self)).
///
/// A policy is a value that is valid by construction: it is made by
/// [`EgressPolicyBuilder::build`] (from [`EgressPolicy::builder`] or
/// [`EgressPolicy::allow_hosts`]), which checks every pattern, scheme and
/// header and reports the first that is malformed, or by deserialising the
/// same fields, with the same checks. The fields are read through the
/// accessors below; [`to_builder`](Self::to_builder) starts a changed copy.
/// [`Default`] (and [`deny_all`](Self::deny_all)) refuses everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EgressPolicyBuilder", into = "EgressPolicyBuilder")]
pub struct EgressPolicy {
    schemes: BTreeSet<String>,
    hosts: Vec<HostPattern>,
    deny_hosts: Vec<HostPattern>,
    ports: BTreeSet<u16>,
    methods: Option<BTreeSet<HttpMethod>>,
    max_request_body: u64,
    max_response_body: u64,
    inject: Vec<HeaderInjection>,
    allow_loopback: bool,
    allow_private: bool,
    allow_cidrs: Vec<Cidr>,
}

/// The default largest request body: 1 MiB.
pub const DEFAULT_MAX_REQUEST_BODY: u64 = 1 << 20;
/// The default largest response body: 10 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 10 << 20;

/// The URL schemes a policy may allow.
const SCHEMES: &[&str] = &["http", "https", "ws", "wss"];

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            schemes: BTreeSet::new(),
            hosts: Vec::new(),
            deny_hosts: Vec::new(),
            ports: BTreeSet::new(),
            methods: None,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            inject: Vec::new(),
            allow_loopback: false,
            allow_private: false,
            allow_cidrs: Vec::new(),
        }
    }
}

/// One host's injected headers, as a builder holds them before checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct InjectionSpec {
    host: String,
    headers: BTreeMap<String, SecretValue>,
}

/// Builds an [`EgressPolicy`]: every method sets one part, [`build`](Self::build)
/// checks them all. The serialised form of a policy is this builder's
/// fields (every one optional), so a policy in a configuration file passes
/// the same checks.
///
/// [`Default`] (and [`EgressPolicy::builder`]) allows nothing: no scheme,
/// no host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EgressPolicyBuilder {
    schemes: BTreeSet<String>,
    hosts: Vec<String>,
    deny_hosts: Vec<String>,
    ports: BTreeSet<u16>,
    methods: Option<BTreeSet<HttpMethod>>,
    max_request_body: u64,
    max_response_body: u64,
    inject: Vec<InjectionSpec>,
    allow_loopback: bool,
    allow_private: bool,
    allow_cidrs: Vec<Cidr>,
}

impl Default for EgressPolicyBuilder {
    fn default() -> Self {
        EgressPolicy::default().into()
    }
}

impl From<EgressPolicy> for EgressPolicyBuilder {
    fn from(p: EgressPolicy) -> Self {
        Self {
            schemes: p.schemes,
            hosts: p.hosts.into_iter().map(String::from).collect(),
            deny_hosts: p.deny_hosts.into_iter().map(String::from).collect(),
            ports: p.ports,
            methods: p.methods,
            max_request_body: p.max_request_body,
            max_response_body: p.max_response_body,
            inject: p
                .inject
                .into_iter()
                .map(|i| InjectionSpec {
                    host: i.host.into(),
                    headers: i.headers,
                })
                .collect(),
            allow_loopback: p.allow_loopback,
            allow_private: p.allow_private,
            allow_cidrs: p.allow_cidrs,
        }
    }
}

impl TryFrom<EgressPolicyBuilder> for EgressPolicy {
    type Error = CapError;
    fn try_from(b: EgressPolicyBuilder) -> Result<Self> {
        b.build()
    }
}

/// Parses patterns, naming the list a malformed one is in.
fn patterns(list: &'static str, items: Vec<String>) -> Result<Vec<HostPattern>> {
    items
        .iter()
        .map(|h| {
            HostPattern::new(h).map_err(|e| match e {
                CapError::InvalidPolicy { value, problem, .. } => CapError::InvalidPolicy {
                    setting: list,
                    value,
                    problem,
                },
                other => other,
            })
        })
        .collect()
}

impl EgressPolicyBuilder {
    /// Adds hosts to allow (patterns, see [`HostPattern`]).
    #[must_use]
    pub fn allow_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.hosts
            .extend(hosts.into_iter().map(|h| h.as_ref().to_owned()));
        self
    }

    /// Refuses `hosts` (patterns) even where allowed.
    #[must_use]
    pub fn deny_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.deny_hosts
            .extend(hosts.into_iter().map(|h| h.as_ref().to_owned()));
        self
    }

    /// Replaces the allowed schemes (`http`, `https`, `ws`, `wss`; any case).
    #[must_use]
    pub fn schemes<I, S>(mut self, schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.schemes = schemes
            .into_iter()
            .map(|s| s.as_ref().to_ascii_lowercase())
            .collect();
        self
    }

    /// Replaces the allowed ports (empty: the schemes' default ports only).
    #[must_use]
    pub fn ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.ports = ports.into_iter().collect();
        self
    }

    /// Restricts the HTTP methods.
    #[must_use]
    pub fn methods(mut self, methods: impl IntoIterator<Item = HttpMethod>) -> Self {
        self.methods = Some(methods.into_iter().collect());
        self
    }

    /// Sets the largest request body (or WebSocket message sent), in bytes.
    #[must_use]
    pub fn max_request_body(mut self, bytes: u64) -> Self {
        self.max_request_body = bytes;
        self
    }

    /// Sets the largest response body (or WebSocket message received), in bytes.
    #[must_use]
    pub fn max_response_body(mut self, bytes: u64) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// Adds header `name: value` to requests for hosts matching `host` (a
    /// pattern); the name is case-insensitive and stored in lowercase.
    #[must_use]
    pub fn inject_header(mut self, host: &str, name: &str, value: impl Into<String>) -> Self {
        let name = name.to_ascii_lowercase();
        let value = SecretValue::new(value);
        match self.inject.iter_mut().find(|i| i.host == host) {
            Some(i) => {
                i.headers.insert(name, value);
            }
            None => self.inject.push(InjectionSpec {
                host: host.to_owned(),
                headers: BTreeMap::from([(name, value)]),
            }),
        }
        self
    }

    /// Lets executors connect to loopback addresses (tests against local servers).
    #[must_use]
    pub fn allow_loopback(mut self, on: bool) -> Self {
        self.allow_loopback = on;
        self
    }

    /// Lets executors connect to private addresses.
    #[must_use]
    pub fn allow_private(mut self, on: bool) -> Self {
        self.allow_private = on;
        self
    }

    /// Lets executors connect to the addresses of `block`, whatever their class.
    #[must_use]
    pub fn allow_cidr(mut self, block: Cidr) -> Self {
        self.allow_cidrs.push(block);
        self
    }

    /// Checks every part and makes the policy. The first malformed part is
    /// an [`CapError::InvalidPolicy`] naming the setting, the value and
    /// what is wrong: a host or deny pattern (see [`HostPattern`]), a
    /// scheme other than `http`, `https`, `ws` and `wss`, port 0, an
    /// injected header whose host pattern or name is malformed or whose
    /// value holds a line break or NUL.
    pub fn build(self) -> Result<EgressPolicy> {
        for scheme in &self.schemes {
            if !SCHEMES.contains(&scheme.as_str()) {
                return Err(CapError::InvalidPolicy {
                    setting: "scheme",
                    value: scheme.clone(),
                    problem: "expected one of http, https, ws, wss".into(),
                });
            }
        }
        if self.ports.contains(&0) {
            return Err(CapError::InvalidPolicy {
                setting: "port",
                value: "0".into(),
                problem: "no connection goes to port 0".into(),
            });
        }
        let hosts = patterns("host pattern", self.hosts)?;
        let deny_hosts = patterns("deny pattern", self.deny_hosts)?;
        let mut inject = Vec::with_capacity(self.inject.len());
        for spec in self.inject {
            let host = patterns("injection host pattern", vec![spec.host])?
                .pop()
                .ok_or_else(|| CapError::invalid("an injection without a host"))?;
            for (name, value) in &spec.headers {
                if !is_token(name) {
                    return Err(CapError::InvalidPolicy {
                        setting: "injected header name",
                        value: name.clone(),
                        problem: "not a valid header name".into(),
                    });
                }
                if value.0.contains(['\r', '\n', '\0']) {
                    return Err(CapError::InvalidPolicy {
                        setting: "injected header",
                        value: name.clone(),
                        problem: "the value has a line break or NUL".into(),
                    });
                }
            }
            inject.push(HeaderInjection {
                host,
                headers: spec.headers,
            });
        }
        Ok(EgressPolicy {
            schemes: self.schemes,
            hosts,
            deny_hosts,
            ports: self.ports,
            methods: self.methods,
            max_request_body: self.max_request_body,
            max_response_body: self.max_response_body,
            inject,
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
            allow_cidrs: self.allow_cidrs,
        })
    }
}

impl EgressPolicy {
    /// The policy that refuses everything (the same as [`Default`]).
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Starts building a policy from nothing allowed.
    pub fn builder() -> EgressPolicyBuilder {
        EgressPolicyBuilder::default()
    }

    /// Starts building a policy that allows `hosts` (patterns, see
    /// [`HostPattern`]) over `https` and `wss` on their default port, with
    /// any method; finish it with [`EgressPolicyBuilder::build`].
    pub fn allow_hosts<I, S>(hosts: I) -> EgressPolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::builder().schemes(["https", "wss"]).allow_hosts(hosts)
    }

    /// A builder holding this policy, to make a changed copy.
    pub fn to_builder(&self) -> EgressPolicyBuilder {
        self.clone().into()
    }

    /// URL schemes allowed (`https`, `wss`, `http`, `ws`). Empty: none.
    pub fn schemes(&self) -> &BTreeSet<String> {
        &self.schemes
    }

    /// Hosts allowed. Empty: none.
    pub fn hosts(&self) -> &[HostPattern] {
        &self.hosts
    }

    /// Hosts refused even if allowed.
    pub fn deny_hosts(&self) -> &[HostPattern] {
        &self.deny_hosts
    }

    /// Ports allowed. Empty: only the scheme's default port (443 for
    /// `https`/`wss`, 80 for `http`/`ws`).
    pub fn ports(&self) -> &BTreeSet<u16> {
        &self.ports
    }

    /// HTTP methods allowed. `None`: any.
    pub fn methods(&self) -> Option<&BTreeSet<HttpMethod>> {
        self.methods.as_ref()
    }

    /// The largest request body (or WebSocket message) sent, in bytes.
    pub fn max_request_body(&self) -> u64 {
        self.max_request_body
    }

    /// The largest response body (or WebSocket message) received, in bytes.
    pub fn max_response_body(&self) -> u64 {
        self.max_response_body
    }

    /// The header injections (their values are secrets, redacted by `Debug`).
    pub fn injections(&self) -> &[HeaderInjection] {
        &self.inject
    }

    /// Whether loopback addresses may be reached.
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// Whether private (RFC 1918, unique local) addresses may be reached.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Address blocks that may be reached whatever their class.
    pub fn allowed_cidrs(&self) -> &[Cidr] {
        &self.allow_cidrs
    }

    /// Checks a URL against the schemes, hosts and ports, and an IP literal
    /// host against [`check_ip`](Self::check_ip); returns the parsed URL.
    pub fn check_url(&self, url: &str) -> Result<Url> {
        let parsed = Url::parse(url)
            .map_err(|e| CapError::invalid(format!("field `url`: not an absolute URL ({e})")))?;
        let scheme = parsed.scheme();
        if !self.schemes.contains(scheme) {
            let allowed: Vec<&str> = self.schemes.iter().map(String::as_str).collect();
            return Err(CapError::refused(if allowed.is_empty() {
                format!("scheme `{scheme}` is not allowed (no scheme is)")
            } else {
                format!(
                    "scheme `{scheme}` is not allowed (allowed: {})",
                    allowed.join(", ")
                )
            }));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(CapError::refused(
                "credentials in the url are not allowed (use header injection)",
            ));
        }
        let Some(host) = parsed.host() else {
            return Err(CapError::invalid("field `url`: the url has no host"));
        };
        let host_text = match host {
            Host::Domain(d) => d.to_owned(),
            Host::Ipv4(a) => a.to_string(),
            Host::Ipv6(a) => a.to_string(),
        };
        if let Some(p) = self.deny_hosts.iter().find(|p| p.matches(&host_text)) {
            return Err(CapError::refused(format!(
                "host `{host_text}` is denied (by `{p}`)"
            )));
        }
        if !self.hosts.iter().any(|p| p.matches(&host_text)) {
            return Err(CapError::refused(format!(
                "host `{host_text}` is not in the allow list"
            )));
        }
        match host {
            Host::Ipv4(a) => self.check_ip(IpAddr::V4(a))?,
            Host::Ipv6(a) => self.check_ip(IpAddr::V6(a))?,
            Host::Domain(_) => {}
        }
        let port = parsed.port_or_known_default();
        let port_ok = match port {
            Some(_) if self.ports.is_empty() => parsed.port().is_none(),
            Some(p) => self.ports.contains(&p),
            None => false,
        };
        if !port_ok {
            let p = port.map_or_else(|| "none".to_owned(), |p| p.to_string());
            return Err(CapError::refused(if self.ports.is_empty() {
                format!("port {p} is not allowed (only the scheme's default port is)")
            } else {
                format!("port {p} is not allowed")
            }));
        }
        Ok(parsed)
    }

    /// Checks an HTTP request: its URL (see [`check_url`](Self::check_url)),
    /// method and body size; `http` and `https` are the only schemes it takes.
    pub fn check_http(&self, method: HttpMethod, url: &str, body_len: u64) -> Result<Url> {
        let parsed = self.check_url(url)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CapError::refused(format!(
                "scheme `{}` is not an http scheme",
                parsed.scheme()
            )));
        }
        if let Some(methods) = &self.methods
            && !methods.contains(&method)
        {
            return Err(CapError::refused(format!(
                "method {} is not allowed",
                method.as_str()
            )));
        }
        if body_len > self.max_request_body {
            return Err(CapError::TooLarge {
                what: "request body",
                limit: self.max_request_body,
            });
        }
        Ok(parsed)
    }

    /// Checks a WebSocket URL (see [`check_url`](Self::check_url)); `ws` and
    /// `wss` are the only schemes it takes.
    pub fn check_ws(&self, url: &str) -> Result<Url> {
        let parsed = self.check_url(url)?;
        if !matches!(parsed.scheme(), "ws" | "wss") {
            return Err(CapError::refused(format!(
                "scheme `{}` is not a websocket scheme",
                parsed.scheme()
            )));
        }
        Ok(parsed)
    }

    /// Checks an address an executor is about to connect to: global unicast
    /// addresses pass; loopback passes with `allow_loopback`, private with
    /// `allow_private`; any address in `allow_cidrs` passes (an IPv6 address
    /// carrying an IPv4 one is also checked as that IPv4 address); every
    /// other class is refused.
    pub fn check_ip(&self, ip: IpAddr) -> Result<()> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        if self
            .allow_cidrs
            .iter()
            .any(|c| c.contains(ip) || embedded.is_some_and(|e| c.contains(e)))
        {
            return Ok(());
        }
        let class = classify_ip(ip);
        let ok = match class {
            IpClass::Global => true,
            IpClass::Loopback => self.allow_loopback,
            IpClass::Private => self.allow_private,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        Err(CapError::refused(match embedded {
            Some(e) => format!("address {ip} (carrying {e}) is {}", class.describe()),
            None => format!("address {ip} is {}", class.describe()),
        }))
    }

    /// The headers to inject for `host`, as (lowercase name, value) pairs.
    /// For executors only: the values are secrets.
    pub fn injected_headers(&self, host: &str) -> Vec<(String, String)> {
        let mut out: BTreeMap<&str, &str> = BTreeMap::new();
        for i in self.inject.iter().filter(|i| i.host.matches(host)) {
            for (name, value) in &i.headers {
                out.insert(name, value.expose());
            }
        }
        out.into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Whether `s` is an HTTP token (a valid header name).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests;
