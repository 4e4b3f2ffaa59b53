//! Unit tests of the egress policy: host patterns, URL checks, address classes.

use super::*;

fn get(p: &EgressPolicy, url: &str) -> Result<Url> {
    p.check_http(HttpMethod::Get, url, 0)
}

fn refused(r: Result<Url>) -> String {
    match r {
        Err(CapError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn default_policy_refuses_everything() {
    let p = EgressPolicy::default();
    assert_eq!(
        refused(get(&p, "https://example.com/")),
        "scheme `https` is not allowed (no scheme is)"
    );
    let p = EgressPolicy::builder().schemes(["https"]).build().unwrap();
    assert_eq!(
        refused(get(&p, "https://example.com/")),
        "host `example.com` is not in the allow list"
    );
    assert!(p.check_ip("8.8.8.8".parse().unwrap()).is_ok());
    assert!(p.check_ip("127.0.0.1".parse().unwrap()).is_err());
}

#[test]
fn host_patterns_match_exactly_or_by_subdomain() {
    let p = HostPattern::new("*.github.com").unwrap();
    assert!(p.matches("api.github.com"));
    assert!(p.matches("a.b.GitHub.com."));
    assert!(!p.matches("github.com"));
    assert!(!p.matches("evilgithub.com"));
    assert!(!p.matches("github.com.evil.net"));
    let e = HostPattern::new("API.example.com.").unwrap();
    assert!(e.matches("api.example.com"));
    assert!(!e.matches("x.api.example.com"));
    assert!(HostPattern::new("*").unwrap().matches("anything.at.all"));
    assert!(HostPattern::new("[::1]").unwrap().matches("::1"));
    assert!(HostPattern::new("::1").unwrap().matches("[::1]"));
    assert!(HostPattern::new("127.0.0.1").unwrap().matches("127.0.0.1"));
    // Internationalised names match the ASCII form URLs carry.
    let idn = HostPattern::new("bücher.example").unwrap();
    assert!(idn.matches("xn--bcher-kva.example"));
    let url = Url::parse("https://bücher.example/").unwrap();
    assert!(idn.matches(url.host_str().unwrap()));
}

#[test]
fn malformed_host_patterns_are_errors_that_say_what_is_wrong() {
    let problem = |p: &str| match HostPattern::new(p) {
        Err(CapError::InvalidPolicy {
            setting: "host pattern",
            value,
            problem,
        }) => {
            assert_eq!(value, p);
            problem
        }
        other => panic!("expected an invalid pattern for {p:?}, got {other:?}"),
    };
    assert_eq!(problem(""), "the pattern is empty");
    assert_eq!(problem("  "), "the pattern is empty");
    assert_eq!(problem("*."), "`*.` needs a domain after it");
    for star in ["a.*.com", "**.x", "*.*.x", "api*.example", "a.*"] {
        assert_eq!(
            problem(star),
            "a `*` may only stand alone or begin `*.suffix`",
            "{star}"
        );
    }
    assert_eq!(
        problem("api.example.com:443"),
        "a host pattern has no port (the ports are the policy's `ports`)"
    );
    assert_eq!(
        problem("https://api.example.com"),
        "a host pattern has no port (the ports are the policy's `ports`)"
    );
    assert_eq!(
        problem("x/y"),
        "a host pattern names a host, not a URL (no `/`)"
    );
    assert_eq!(problem("a..b"), "a host name has no empty labels");
    assert!(problem("a b.example").starts_with("not a host name"));
    assert_eq!(
        problem("*.10.0.0.1"),
        "the suffix of `*.suffix` is a domain name, not an address"
    );
    let e = HostPattern::new("a.*").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid host pattern `a.*`: a `*` may only stand alone or begin `*.suffix`"
    );
}

#[test]
fn a_policy_with_a_malformed_part_is_never_built() {
    let err = |b: EgressPolicyBuilder| b.build().unwrap_err().to_string();
    assert_eq!(
        err(EgressPolicy::allow_hosts(["*.example.com"]).deny_hosts(["*.internal.*"])),
        "invalid deny pattern `*.internal.*`: a `*` may only stand alone or begin `*.suffix`"
    );
    assert_eq!(
        err(EgressPolicy::allow_hosts(["ok.example", ""])),
        "invalid host pattern ``: the pattern is empty"
    );
    assert_eq!(
        err(EgressPolicy::allow_hosts(["a.example"]).schemes(["https", "ftp"])),
        "invalid scheme `ftp`: expected one of http, https, ws, wss"
    );
    assert_eq!(
        err(EgressPolicy::allow_hosts(["a.example"]).ports([0])),
        "invalid port `0`: no connection goes to port 0"
    );
    assert_eq!(
        err(EgressPolicy::allow_hosts(["a.example"]).inject_header("a.*", "x-key", "v")),
        "invalid injection host pattern `a.*`: a `*` may only stand alone or begin `*.suffix`"
    );
    // The same checks when a policy is loaded from a file.
    let loaded: std::result::Result<EgressPolicy, _> =
        serde_json::from_str(r#"{"schemes": ["https"], "deny_hosts": ["x*"]}"#);
    let e = loaded.unwrap_err().to_string();
    assert!(e.contains("invalid deny pattern `x*`"), "{e}");
    let loaded: std::result::Result<EgressPolicy, _> =
        serde_json::from_str(r#"{"schemes": ["HTTPS"], "hosts": ["a.example"]}"#);
    let e = loaded.unwrap_err().to_string();
    assert!(e.contains("invalid scheme `HTTPS`"), "{e}");
    // The file side reports it as invalid input naming the file.
    let fs = HostPattern::new("").unwrap_err().into_fs_error("/policy");
    assert_eq!(fs.kind(), oanix_vfs::FsErrorKind::InvalidInput);
}

#[test]
fn urls_are_checked_for_scheme_host_port_and_credentials() {
    let p = EgressPolicy::allow_hosts(["api.example.com", "*.github.com"])
        .build()
        .unwrap();
    assert!(get(&p, "https://api.example.com/v1?q=1").is_ok());
    assert!(get(&p, "https://API.EXAMPLE.COM:443/").is_ok());
    assert!(get(&p, "https://raw.github.com/x").is_ok());
    assert_eq!(
        refused(get(&p, "http://api.example.com/")),
        "scheme `http` is not allowed (allowed: https, wss)"
    );
    assert_eq!(
        refused(get(&p, "ftp://api.example.com/")),
        "scheme `ftp` is not allowed (allowed: https, wss)"
    );
    assert_eq!(
        refused(get(&p, "https://github.com/")),
        "host `github.com` is not in the allow list"
    );
    assert_eq!(
        refused(get(&p, "https://api.example.com:8443/")),
        "port 8443 is not allowed (only the scheme's default port is)"
    );
    assert_eq!(
        refused(get(&p, "https://user:pw@api.example.com/")),
        "credentials in the url are not allowed (use header injection)"
    );
    assert!(matches!(get(&p, "not a url"), Err(CapError::Invalid(_))));
    let p = p.to_builder().ports([8443]).build().unwrap();
    assert!(get(&p, "https://api.example.com:8443/").is_ok());
    assert!(get(&p, "https://api.example.com/").is_err());
    // An https-only policy is not a websocket policy and vice versa.
    let p = EgressPolicy::allow_hosts(["api.example.com"])
        .build()
        .unwrap();
    assert!(p.check_ws("wss://api.example.com/").is_ok());
    assert_eq!(
        refused(p.check_ws("https://api.example.com/")),
        "scheme `https` is not a websocket scheme"
    );
    assert_eq!(
        refused(p.check_http(HttpMethod::Get, "wss://api.example.com/", 0)),
        "scheme `wss` is not an http scheme"
    );
}

#[test]
fn deny_list_wins_and_names_the_pattern() {
    let p = EgressPolicy::allow_hosts(["*"])
        .deny_hosts(["*.internal.example"])
        .build()
        .unwrap();
    assert!(get(&p, "https://example.org/").is_ok());
    assert_eq!(
        refused(get(&p, "https://db.internal.example/")),
        "host `db.internal.example` is denied (by `*.internal.example`)"
    );
}

#[test]
fn methods_and_body_sizes_are_limited() {
    let p = EgressPolicy::allow_hosts(["a.example"])
        .methods([HttpMethod::Get])
        .max_request_body(10)
        .build()
        .unwrap();
    assert_eq!(
        refused(p.check_http(HttpMethod::Post, "https://a.example/", 0)),
        "method POST is not allowed"
    );
    let p = p.to_builder().methods([HttpMethod::Post]).build().unwrap();
    assert!(
        p.check_http(HttpMethod::Post, "https://a.example/", 10)
            .is_ok()
    );
    assert_eq!(
        p.check_http(HttpMethod::Post, "https://a.example/", 11),
        Err(CapError::TooLarge {
            what: "request body",
            limit: 10
        })
    );
}

#[test]
fn ip_literal_hosts_are_checked_at_write_time() {
    let p = EgressPolicy::allow_hosts(["*"])
        .schemes(["http", "https"])
        .build()
        .unwrap();
    assert_eq!(
        refused(get(&p, "http://127.0.0.1/")),
        "address 127.0.0.1 is loopback"
    );
    assert_eq!(
        refused(get(&p, "http://169.254.169.254/latest/meta-data")),
        "address 169.254.169.254 is link-local"
    );
    // The URL parser normalises odd spellings of addresses first.
    assert_eq!(
        refused(get(&p, "http://0x7f.1/")),
        "address 127.0.0.1 is loopback"
    );
    assert_eq!(
        refused(get(&p, "http://[::ffff:10.0.0.1]/")),
        "address ::ffff:10.0.0.1 (carrying 10.0.0.1) is private"
    );
    let p = p.to_builder().allow_loopback(true).build().unwrap();
    assert!(get(&p, "http://127.0.0.1/").is_ok());
    assert!(get(&p, "http://[::1]/").is_ok());
}

#[test]
fn addresses_are_classified() {
    let cases = [
        ("8.8.8.8", IpClass::Global),
        ("0.0.0.0", IpClass::Unspecified),
        ("0.1.2.3", IpClass::Unspecified),
        ("127.3.4.5", IpClass::Loopback),
        ("10.1.2.3", IpClass::Private),
        ("172.16.0.1", IpClass::Private),
        ("172.31.255.255", IpClass::Private),
        ("172.32.0.1", IpClass::Global),
        ("192.168.1.1", IpClass::Private),
        ("100.64.0.1", IpClass::SharedCgnat),
        ("100.128.0.1", IpClass::Global),
        ("169.254.169.254", IpClass::LinkLocal),
        ("192.0.0.8", IpClass::Reserved),
        ("192.0.2.1", IpClass::Documentation),
        ("198.51.100.1", IpClass::Documentation),
        ("203.0.113.9", IpClass::Documentation),
        ("198.18.0.1", IpClass::Reserved),
        ("192.88.99.1", IpClass::Reserved),
        ("224.0.0.1", IpClass::Multicast),
        ("240.0.0.1", IpClass::Reserved),
        ("255.255.255.255", IpClass::Broadcast),
        ("::", IpClass::Unspecified),
        ("::1", IpClass::Loopback),
        ("2606:4700::1111", IpClass::Global),
        ("fc00::1", IpClass::Private),
        ("fd12:3456::1", IpClass::Private),
        ("fec0::1", IpClass::Private),
        ("fe80::1", IpClass::LinkLocal),
        ("ff02::1", IpClass::Multicast),
        ("2001:db8::1", IpClass::Documentation),
        ("3fff::1", IpClass::Documentation),
        ("2001::1", IpClass::Reserved),
        ("100::1", IpClass::Reserved),
        ("64:ff9b:1::1", IpClass::Reserved),
        ("4000::1", IpClass::Reserved),
        // IPv4 inside IPv6 takes the class of the IPv4 address.
        ("::ffff:127.0.0.1", IpClass::Loopback),
        ("::ffff:8.8.8.8", IpClass::Global),
        ("::127.0.0.1", IpClass::Loopback),
        ("::10.0.0.1", IpClass::Private),
        ("64:ff9b::a9fe:a9fe", IpClass::LinkLocal),
        ("64:ff9b::808:808", IpClass::Global),
        ("2002:a00:1::1", IpClass::Private),
        ("2002:7f00:1::", IpClass::Loopback),
        ("2002:808:808::1", IpClass::Global),
    ];
    for (ip, class) in cases {
        assert_eq!(classify_ip(ip.parse().unwrap()), class, "{ip}");
    }
}

#[test]
fn check_ip_follows_the_switches_and_cidrs() {
    let p = EgressPolicy::deny_all();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        p.check_ip(ip("::ffff:169.254.169.254")),
        Err(CapError::refused(
            "address ::ffff:169.254.169.254 (carrying 169.254.169.254) is link-local"
        ))
    );
    assert!(p.check_ip(ip("10.0.0.1")).is_err());
    let p = p.to_builder().allow_private(true).build().unwrap();
    assert!(p.check_ip(ip("10.0.0.1")).is_ok());
    assert!(p.check_ip(ip("fd00::1")).is_ok());
    assert!(p.check_ip(ip("127.0.0.1")).is_err());
    assert!(p.check_ip(ip("100.64.0.1")).is_err());
    let p = EgressPolicy::builder()
        .allow_cidr("100.64.0.0/10".parse().unwrap())
        .build()
        .unwrap();
    assert!(p.check_ip(ip("100.100.1.1")).is_ok());
    assert!(p.check_ip(ip("::ffff:100.100.1.1")).is_ok());
    assert!(p.check_ip(ip("100.128.1.1")).is_ok()); // global anyway
    assert!(p.check_ip(ip("10.0.0.1")).is_err());
}

#[test]
fn cidrs_parse_and_match() {
    let c: Cidr = "10.1.0.0/16".parse().unwrap();
    assert!(c.contains("10.1.200.3".parse().unwrap()));
    assert!(!c.contains("10.2.0.1".parse().unwrap()));
    assert!(!c.contains("::1".parse().unwrap()));
    let c: Cidr = "fd00::/9".parse().unwrap();
    assert!(c.contains("fd7f::1".parse().unwrap()));
    assert!(!c.contains("fd80::1".parse().unwrap()));
    let one: Cidr = "192.0.2.7".parse().unwrap();
    assert_eq!(one.to_string(), "192.0.2.7/32");
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert!("nope/8".parse::<Cidr>().is_err());
    assert_eq!(
        "0.0.0.0/0".parse::<Cidr>().unwrap().to_string(),
        "0.0.0.0/0"
    );
    assert!(
        "0.0.0.0/0"
            .parse::<Cidr>()
            .unwrap()
            .contains("1.2.3.4".parse().unwrap())
    );
}

#[test]
fn injected_headers_are_secret_and_host_scoped() {
    let p = EgressPolicy::allow_hosts(["api.example.com", "*.example.org"])
        .inject_header("api.example.com", "Authorization", "Bearer k1")
        .inject_header("*.example.org", "x-api-key", "k2")
        .build()
        .unwrap();
    assert_eq!(
        p.injected_headers("api.example.com"),
        [("authorization".to_owned(), "Bearer k1".to_owned())]
    );
    assert_eq!(
        p.injected_headers("a.example.org"),
        [("x-api-key".to_owned(), "k2".to_owned())]
    );
    assert!(p.injected_headers("other.example").is_empty());
    let debug = format!("{p:?}");
    assert!(!debug.contains("k1") && !debug.contains("k2"), "{debug}");
    let bad = p.to_builder().inject_header("a.example", "bad name", "v");
    assert_eq!(
        bad.build().unwrap_err().to_string(),
        "invalid injected header name `bad name`: not a valid header name"
    );
    let bad = p
        .to_builder()
        .inject_header("a.example", "x-key", "v\r\nx-evil: 1");
    assert_eq!(
        bad.build().unwrap_err().to_string(),
        "invalid injected header `x-key`: the value has a line break or NUL"
    );
}

#[test]
fn policies_round_trip_through_json() {
    let p = EgressPolicy::allow_hosts(["*.example.com"])
        .methods([HttpMethod::Get])
        .ports([443, 8443])
        .allow_cidr("10.0.0.0/8".parse().unwrap())
        .inject_header("*.example.com", "x-key", "v")
        .build()
        .unwrap();
    let json = serde_json::to_string(&p).unwrap();
    let back: EgressPolicy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let partial: EgressPolicy =
        serde_json::from_str(r#"{"schemes":["https"],"hosts":["a.example"]}"#).unwrap();
    assert!(
        partial
            .check_http(HttpMethod::Get, "https://a.example/", 0)
            .is_ok()
    );
    assert_eq!(partial.max_request_body(), DEFAULT_MAX_REQUEST_BODY);
}
