//! The shared `FileService` conformance suite on each capability service,
//! in the states an agent sees: the parts of the read-only contract that
//! a capability keeps (listings, `stat` sizes equal to what a read returns,
//! lookup errors, seeking, read handles refusing writes, stable ids,
//! malformed paths). A capability's tree is not a read-only fixture: its
//! message files are writable and creating or removing what it owns answers
//! `PermissionDenied`, not `ReadOnly`, so those checks are left out, and
//! answers that have not arrived (which block) are kept out of the states.

use oanix_conformance::{Fixture, check_malformed_paths, read_only_checks, tree_of};
use oanix_vfs::{FileService, FsErrorKind, OpenFlags};

use oanix_caps::{EgressPolicy, HttpFs, HttpReply, HttpRequest, WsFs};

/// The read-only checks that hold for a capability's tree.
const CHECKS: &[&str] = &[
    "reads_the_fixture",
    "stat_the_fixture",
    "readdir_the_fixture",
    "open_directories",
    "lookup_errors",
    "handles_read_and_seek",
    "read_handles_refuse_writes",
    "malformed_paths_change_nothing",
    "ids_are_stable_and_distinct",
];

/// The service's tree as a fixture: every directory, every file with what
/// a read of it gives now.
fn fixture_of(fs: &dyn FileService) -> Fixture {
    let mut f = Fixture::new();
    for (path, node) in tree_of(fs).iter() {
        f = match node {
            oanix_conformance::Node::Dir => f.dir(path),
            oanix_conformance::Node::File(data) => f.file(path, data),
        };
    }
    f
}

/// Runs the checks on `fs` against its own tree, and the malformed-path
/// checks; the tree must not change.
fn conform(fs: &dyn FileService) {
    let fixture = fixture_of(fs);
    let mut failures = Vec::new();
    for check in read_only_checks()
        .iter()
        .filter(|c| CHECKS.contains(&c.name))
    {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (check.run)(fs, &fixture);
        }));
        if r.is_err() {
            failures.push(check.name);
        }
    }
    assert!(failures.is_empty(), "checks failed: {failures:?}");
    check_malformed_paths(fs);
    assert_eq!(tree_of(fs), *fixture.tree(), "the checks changed the tree");
}

fn policy() -> EgressPolicy {
    EgressPolicy::allow_hosts(["api.example.com"])
        .build()
        .unwrap()
}

#[test]
fn httpfs_conforms_empty_and_with_requests_and_answers() {
    let http = HttpFs::builder().policy(policy()).build();
    conform(&http);
    let pending = http
        .try_submit(HttpRequest::get("https://api.example.com/a"))
        .unwrap();
    let answered = http
        .try_submit(HttpRequest::post("https://api.example.com/b", "body"))
        .unwrap();
    http.take_pending(&answered).unwrap();
    http.complete_request(HttpReply::new(&answered, 200).with_body(vec![0u8, 159, 146]))
        .unwrap();
    // A pending request's response file waits; the rest reads now.
    let waits = format!("/responses/{pending}.json");
    let md = http.stat(&waits).unwrap();
    assert_eq!(md.size, 0, "a response not there yet stats as 0");
    let e = http
        .open(&waits, OpenFlags::read_only().with_nonblocking(true))
        .unwrap()
        .read(&mut [0; 8])
        .unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::WouldBlock);
    http.fail_request(&pending, oanix_caps::FailureKind::Other, "gone")
        .unwrap();
    conform(&http);
}

#[test]
fn wsfs_conforms_with_connections_in_every_state() {
    let ws = WsFs::builder().policy(policy()).build();
    conform(&ws);
    let a = ws.open_connection("wss://api.example.com/a").unwrap();
    let b = ws.open_connection("wss://api.example.com/b").unwrap();
    ws.set_connected(&b).unwrap();
    ws.send_message(&b, "queued").unwrap();
    let c = ws.open_connection("wss://api.example.com/c").unwrap();
    ws.set_closed(&c, Some("refused".into())).unwrap();
    let _ = a;
    // `in` is a stream: it stats as 0 whatever waits in it, so it stays out
    // of the fixture (reading it would take the messages).
    ws.receive_message(&b, "hello").unwrap();
    assert_eq!(ws.stat(&format!("/conns/{b}/in")).unwrap().size, 0);
    let fs = WithoutStreams(&ws);
    conform(&fs);
}

/// A view of a service without its `in` streams (whose reads consume).
struct WithoutStreams<'a>(&'a WsFs);

impl WithoutStreams<'_> {
    fn hidden(path: &str) -> bool {
        path.ends_with("/in")
    }
}

impl FileService for WithoutStreams<'_> {
    fn open(
        &self,
        path: &str,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn oanix_vfs::FileHandle>> {
        if Self::hidden(path) {
            return Err(oanix_vfs::FsError::not_found(path));
        }
        self.0.open(path, flags)
    }
    fn readdir(&self, path: &str) -> oanix_vfs::Result<Vec<oanix_vfs::DirEntry>> {
        let mut v = self.0.readdir(path)?;
        v.retain(|e| !(e.name == "in" && path.starts_with("/conns/")));
        Ok(v)
    }
    fn stat(&self, path: &str) -> oanix_vfs::Result<oanix_vfs::Metadata> {
        if Self::hidden(path) {
            return Err(oanix_vfs::FsError::not_found(path));
        }
        self.0.stat(path)
    }
    fn mkdir(&self, path: &str) -> oanix_vfs::Result<()> {
        self.0.mkdir(path)
    }
    fn remove(&self, path: &str) -> oanix_vfs::Result<()> {
        self.0.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> oanix_vfs::Result<()> {
        self.0.rename(from, to)
    }
    fn fs_type(&self) -> &'static str {
        "wsfs-without-streams"
    }
}

#[cfg(feature = "nostr")]
#[test]
fn nostrfs_conforms_with_outbox_inbox_and_jobs() {
    use oanix_caps::NostrFs;
    use oanix_caps::nostr_crate::event::{EventBuilder, FinalizeEvent, Kind, Tag};
    use oanix_caps::nostr_crate::key::Keys;

    let nostr = NostrFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["relay.example.com"])
                .build()
                .unwrap(),
        )
        .relay("wss://relay.example.com")
        .generate()
        .unwrap();
    conform(&nostr);
    nostr
        .sign_event(1, "hello", Vec::new(), Some(1_700_000_000))
        .unwrap();
    let job = nostr
        .create_job_request(5050, "question", Default::default())
        .unwrap();
    // A job whose result has not arrived waits: size 0.
    let waits = format!("/jobs/{}.json", job.id.to_hex());
    assert_eq!(nostr.stat(&waits).unwrap().size, 0);
    let provider = Keys::generate();
    let result = EventBuilder::new(Kind::from_u16(6050), "Paris")
        .tags([Tag::custom("e", [job.id.to_hex()])])
        .finalize(&provider)
        .unwrap();
    nostr
        .receive_event("wss://relay.example.com", result)
        .unwrap();
    conform(&nostr);
}
