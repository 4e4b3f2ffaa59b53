//! Explicit wiring: what a mount declares is what the environment wires —
//! the library's services by themselves, a host's own services and
//! capabilities through `Mount` — and two declarations of one role are an
//! error naming both paths.

use std::sync::{Arc, Mutex};

use oanix_caps::{CapRecord, Capability, HttpFs, Outcome, RecordAction, RecordSink};
use oanix_env::{EnvBuilder, EnvCapability, EnvError, Mount};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, TaskState};
use oanix_vfs::{
    DirEntry, FileHandle, FileService, Metadata, Namespace, OpenFlags, read_to_string, write_file,
};

fn task() -> TaskFs {
    TaskFs::new(
        TaskSpec {
            id: "w-1".into(),
            task_type: "test".into(),
            description: "wiring".into(),
            input: serde_json::Value::Null,
        },
        TaskMeta::default(),
    )
}

/// A host's own service wrapping a `TaskFs` (say, to audit what the agent
/// reads): nothing in it says it is a task.
struct Audited {
    inner: TaskFs,
    opened: Mutex<Vec<String>>,
}

impl FileService for Audited {
    fn open(&self, path: &str, flags: OpenFlags) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(path.to_owned());
        self.inner.open(path, flags)
    }
    fn readdir(&self, path: &str) -> oanix_vfs::Result<Vec<DirEntry>> {
        self.inner.readdir(path)
    }
    fn stat(&self, path: &str) -> oanix_vfs::Result<Metadata> {
        self.inner.stat(path)
    }
    fn mkdir(&self, path: &str) -> oanix_vfs::Result<()> {
        self.inner.mkdir(path)
    }
    fn remove(&self, path: &str) -> oanix_vfs::Result<()> {
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> oanix_vfs::Result<()> {
        self.inner.rename(from, to)
    }
}

fn audited(t: &TaskFs) -> Arc<Audited> {
    Arc::new(Audited {
        inner: t.clone(),
        opened: Mutex::new(Vec::new()),
    })
}

#[test]
fn a_wrapped_task_declared_on_its_mount_follows_the_environment() {
    let t = task();
    let wrapper = audited(&t);
    let env = EnvBuilder::new()
        .mount(
            "/task",
            Mount::shared(Arc::clone(&wrapper) as Arc<dyn FileService>).task(t.clone()),
        )
        .build()
        .unwrap();
    assert!(env.task().is_some());
    env.set_running().unwrap();
    assert_eq!(t.state(), TaskState::Running);
    assert!(
        read_to_string(env.namespace(), "/task/spec.json")
            .unwrap()
            .contains("w-1")
    );
    assert_eq!(wrapper.opened.lock().unwrap().as_slice(), ["/spec.json"]);
    env.set_completed(0).unwrap();
    assert_eq!(t.state(), TaskState::Completed);

    // The same wrapper undeclared is served, and not wired.
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", Mount::shared(audited(&t)))
        .build()
        .unwrap();
    assert!(env.task().is_none());
    env.set_running().unwrap();
    env.set_completed(0).unwrap();
    assert_eq!(t.state(), TaskState::Pending);
    assert!(env.namespace().stat("/task/spec.json").is_ok());
}

#[test]
fn a_nested_namespace_is_plain_unless_its_mount_declares_a_role() {
    let t = task();
    let inner = Namespace::builder()
        .mount("/task", t.clone())
        .mount("/logs", LogsFs::new())
        .build();
    let env = EnvBuilder::new()
        .mount("/agent", inner.clone())
        .build()
        .unwrap();
    assert!(env.task().is_none() && env.logs().is_none());
    env.set_running().unwrap();
    assert_eq!(t.state(), TaskState::Pending, "not wired, not touched");
    assert!(env.namespace().stat("/agent/task/spec.json").is_ok());

    let env = EnvBuilder::new()
        .mount("/agent", Mount::from(inner).task(t.clone()))
        .build()
        .unwrap();
    env.set_running().unwrap();
    assert_eq!(t.state(), TaskState::Running);
}

#[test]
fn the_library_services_declare_themselves_also_behind_an_arc() {
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", Arc::new(t.clone()))
        .mount("/logs", Arc::new(LogsFs::new()))
        .mount("/cap/http", Arc::new(HttpFs::new()))
        .build()
        .unwrap();
    env.set_running().unwrap();
    assert_eq!(t.state(), TaskState::Running);
    assert!(env.logs().is_some() && env.http().is_some());
    let caps: Vec<(&str, &str)> = env.capabilities().map(|(p, c)| (p, c.name())).collect();
    assert_eq!(caps, [("/cap/http", "http")]);
    assert_eq!(env.capability("/cap/http/").map(|c| c.name()), Some("http"));

    // As an `Arc<dyn FileService>` it is only a service.
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", Arc::new(t.clone()) as Arc<dyn FileService>)
        .build()
        .unwrap();
    assert!(env.task().is_none());
}

#[test]
fn two_declarations_of_one_role_are_an_error_naming_both_paths() {
    let e = EnvBuilder::new()
        .mount("/task", task())
        .mount("/other/task/", task())
        .build()
        .unwrap_err();
    match &e {
        EnvError::Ambiguous {
            role,
            first,
            second,
        } => assert_eq!(
            (*role, first.as_str(), second.as_str()),
            ("task", "/task", "/other/task")
        ),
        other => panic!("expected Ambiguous, got {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("/task") && text.contains("/other/task"),
        "{text}"
    );

    let e = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/t", Mount::service(MemFs::new()).logs(LogsFs::new()))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, EnvError::Ambiguous { role: "logs", first, second } if first == "/logs" && second == "/t"),
        "{e}"
    );

    // A union at the same path keeps both: ambiguous too.
    let e = EnvBuilder::new()
        .mount("/task", task())
        .mount_with("/task", task(), oanix_vfs::MountFlags::after())
        .build()
        .unwrap_err();
    assert!(matches!(e, EnvError::Ambiguous { role: "task", .. }), "{e}");

    // Replacing the mount at the same path replaces what it wired.
    let (first, second) = (task(), task());
    let env = EnvBuilder::new()
        .mount("/task", first.clone())
        .mount("/task", second.clone())
        .build()
        .unwrap();
    env.set_running().unwrap();
    assert_eq!(first.state(), TaskState::Pending);
    assert_eq!(second.state(), TaskState::Running);

    // The same service mounted plain a second time is fine.
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", t.clone())
        .mount("/mirror", Mount::service(t.clone()))
        .build()
        .unwrap();
    assert!(env.task().is_some());
}

#[test]
fn a_plain_cow_fs_declared_as_the_workspace_is_reviewable() {
    let base = MemFs::new();
    write_file(&base, "/README", "old\n").unwrap();
    let cow = CowFs::new(base.clone());

    // Mounted as it is, a CowFs is only a file system.
    let env = EnvBuilder::new()
        .mount("/workspace", cow.clone())
        .build()
        .unwrap();
    assert!(env.workspace().is_none());

    let env = EnvBuilder::new()
        .mount(
            "/workspace",
            Mount::from(cow.clone()).workspace(cow.clone()),
        )
        .build()
        .unwrap();
    let ns = env.namespace();
    write_file(ns, "/workspace/README", "new\n").unwrap();
    write_file(ns, "/workspace/NOTES", "notes\n").unwrap();
    let review = env.workspace().unwrap();
    let changed: Vec<String> = review
        .changes()
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(changed, ["/NOTES", "/README"]);
    assert!(review.diff().unwrap().contains("-old\n+new\n"));
    // The agent's workspace shows the project and nothing else.
    let names: Vec<String> = ns
        .readdir("/workspace")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["NOTES", "README"]);
    assert_eq!(read_to_string(&base, "/README").unwrap(), "old\n");
    let report = review.commit().unwrap();
    assert_eq!(report.applied.len(), 2);
    assert_eq!(read_to_string(&base, "/README").unwrap(), "new\n");
    assert!(review.changes().unwrap().is_empty());

    // Discard throws the work away; a base that cannot be written refuses
    // the commit, and nothing is applied.
    write_file(ns, "/workspace/README", "again\n").unwrap();
    review.discard();
    assert_eq!(read_to_string(ns, "/workspace/README").unwrap(), "new\n");
    let frozen = CowFs::new(MapFs::builder().file("/a", "a").build());
    let env = EnvBuilder::new()
        .mount("/workspace", Mount::from(frozen.clone()).workspace(frozen))
        .build()
        .unwrap();
    write_file(env.namespace(), "/workspace/a", "b").unwrap();
    assert!(env.workspace().unwrap().commit().is_err());
    assert_eq!(env.workspace().unwrap().changes().unwrap().len(), 1);
}

/// A capability of the host's own: it keeps the sink it is given, and (with
/// executors) reports when its executor runs and stops.
#[derive(Default)]
struct Clock {
    sink: Mutex<Option<RecordSink>>,
    #[cfg(feature = "executor")]
    events: Mutex<Option<std::sync::mpsc::Sender<&'static str>>>,
}

impl Clock {
    fn tick(&self) {
        let sink = self.sink.lock().unwrap().clone();
        if let Some(sink) = sink {
            sink(&CapRecord::new(
                Capability::custom("clock").unwrap(),
                RecordAction::custom("tick").unwrap(),
                "clock://now",
                Outcome::Ok,
            ));
        }
    }
}

impl EnvCapability for Clock {
    fn name(&self) -> &str {
        "clock"
    }

    fn set_record_sink(&self, sink: RecordSink) {
        *self.sink.lock().unwrap() = Some(sink);
    }

    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        if let Some(events) = self.events.lock().unwrap().take() {
            manager.attach(ClockExecutor(events));
        }
    }
}

#[cfg(feature = "executor")]
struct ClockExecutor(std::sync::mpsc::Sender<&'static str>);

#[cfg(feature = "executor")]
impl oanix_exec::Executor for ClockExecutor {
    fn name(&self) -> &str {
        "clock"
    }

    fn run(
        self: Box<Self>,
        ctx: oanix_exec::ExecutorContext,
    ) -> oanix_exec::BoxFuture<'static, oanix_exec::Result<()>> {
        Box::pin(async move {
            let _ = self.0.send("started");
            ctx.shutdown().triggered().await;
            let _ = self.0.send("stopped");
            Ok(())
        })
    }
}

#[test]
fn a_users_capability_records_into_the_logs() {
    let clock = Arc::new(Clock::default());
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount(
            "/cap/clock",
            Mount::service(MemFs::new()).capability(Arc::clone(&clock)),
        )
        .build()
        .unwrap();
    clock.tick();
    let events = read_to_string(env.namespace(), "/logs/events.jsonl").unwrap();
    let tick = events
        .lines()
        .find(|l| l.contains("clock://now"))
        .unwrap_or_else(|| panic!("no record of the tick in {events}"));
    let tick: serde_json::Value = serde_json::from_str(tick).unwrap();
    assert_eq!(tick["message"], "clock tick clock://now", "{tick}");
    assert_eq!(tick["data"]["capability"], "clock", "{tick}");
    assert_eq!(tick["data"]["action"], "tick", "{tick}");
    let caps: Vec<(&str, &str)> = env.capabilities().map(|(p, c)| (p, c.name())).collect();
    assert_eq!(caps, [("/cap/clock", "clock")]);

    // Without logs there is no sink to give.
    let clock = Arc::new(Clock::default());
    let _env = EnvBuilder::new()
        .mount(
            "/cap/clock",
            Mount::service(MemFs::new()).capability(Arc::clone(&clock)),
        )
        .build()
        .unwrap();
    assert!(clock.sink.lock().unwrap().is_none());
}

#[cfg(feature = "executor")]
#[test]
fn a_users_capability_attaches_its_executor() {
    let (tx, rx) = std::sync::mpsc::channel();
    let clock = Arc::new(Clock::default());
    *clock.events.lock().unwrap() = Some(tx);
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount(
            "/cap/clock",
            Mount::service(MemFs::new()).capability(Arc::clone(&clock)),
        )
        .executors(oanix_exec::ExecutorConfig::default())
        .build()
        .unwrap();
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(30)),
        Ok("started")
    );
    env.set_running().unwrap();
    // Finishing shuts the executors down, and waits for them.
    env.set_completed(0).unwrap();
    assert_eq!(rx.try_recv(), Ok("stopped"));
}
