//! An egress proxy for native programs: `HTTP_PROXY` for an agent's tools,
//! under the policy of the environment's HTTP capability.
//!
//! A native agent's tools (`curl`, `pip`, `git`, an SDK) speak HTTP
//! themselves. A [`Proxy`] over the environment's [`HttpFs`](oanix_caps::HttpFs)
//! gives them the same rules as the files of `/cap/http`:
//!
//! - **Plain HTTP** (`GET http://host/path` to the proxy): the request is
//!   submitted to the `HttpFs` as if written to `/cap/http/request`, so the
//!   policy checks it (host, scheme, port, method, body size), the executor
//!   carries it out with its SSRF guard (every resolved address checked),
//!   header injection and response limits, and the records go where the
//!   capability's go. A refusal is answered `403` with the reason in one
//!   line the tool prints; a failure `502`, a timeout `504`. Hop-by-hop
//!   headers are dropped both ways. The whole body is held in memory,
//!   bounded by the policy.
//! - **`CONNECT host:port`** (HTTPS): allowed only when the policy allows
//!   `https://host:port/`. The proxy then reads the client's TLS
//!   ClientHello and requires its server name to be the `CONNECT` host
//!   (an IP literal may send none; anything but TLS is refused), resolves
//!   the host once under the guard, connects, and copies both ways; the TLS
//!   session stays end to end. Each tunnel is one record
//!   ([`RecordAction::Tunnel`](oanix_caps::RecordAction::Tunnel)) with its
//!   bytes and the digest of the ClientHello; each refusal is one too.
//! - **Bounds**: at most [`ProxyConfig::max_connections`] client
//!   connections at once (further ones are closed and recorded), a timeout
//!   per forwarded request and for a tunnel's hello and upstream connect.
//!
//! ```no_run
//! use oanix_caps::{EgressPolicy, HttpFs};
//! use oanix_proxy::Proxy;
//!
//! let http = HttpFs::builder()
//!     .policy(EgressPolicy::allow_hosts(["pypi.org"]).build()?)
//!     .build();
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let proxy = Proxy::new(http).serve(listener)?;
//! println!("HTTP_PROXY=http://{}", proxy.local_addr());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where it sits
//!
//! Above `oanix-caps` (the policy, the records) and `oanix-exec` (the guard
//! and the executor); `oanix-native` serves one on each native sandbox's
//! own loopback.
//!
//! # Secrets
//!
//! [`Proxy::with_secrets`] takes [`Secret`]s: a name, the hosts it may be
//! sent to, and the value, which stays in the host process. The agent is
//! given a random placeholder (`oanix-secret-NAME-…`); in a request to a
//! bound host the proxy puts the value in its place in the headers (inside
//! `Basic` credentials too, as `git` sends a token of its URL), and a
//! request that carries a placeholder anywhere (headers or URL) to another
//! host is refused with `403` and recorded. HTTPS to a bound host is read by
//! the proxy: it ends the agent's TLS with a certificate for that host
//! signed by a [`CertAuthority`] made for the proxy, whose certificate
//! ([`Proxy::ca_pem`]) the sandbox trusts, and sends each request through
//! the executor, which verifies the host's own certificate as usual. Hosts
//! with no secret bound stay tunnelled end to end.
//!
//! Limits: secrets are put into headers only, never into URLs or bodies (a
//! URL goes into the records, which the agent can read); a server that
//! echoes a request header back shows the agent the value; a read HTTPS
//! exchange is HTTP/1.1, carried whole in memory.

mod ca;
mod error;
mod secrets;
mod server;
mod sni;

pub use ca::CertAuthority;
pub use error::{ProxyError, Result};
pub use secrets::Secret;
pub use server::{Proxy, ProxyConfig, ProxyHandle};
