//! `Mount`: a service to mount in an environment, and what the environment
//! wires it as.

use std::fmt;
use std::sync::Arc;

use oanix_caps::{HttpFs, WsFs};
use oanix_prims::{CowFs, FuncFs, MapFs, MemFs};
use oanix_services::{LogsFs, TaskFs, WorkspaceFs, WorkspaceOverlay};
use oanix_vfs::{FileService, Namespace};

use crate::capability::EnvCapability;
use crate::review::WorkspaceReview;

/// What a mount declares itself as, for the environment to wire.
#[derive(Clone, Default)]
pub(crate) struct Roles {
    pub(crate) task: Option<TaskFs>,
    pub(crate) logs: Option<LogsFs>,
    pub(crate) http: Option<HttpFs>,
    pub(crate) ws: Option<WsFs>,
    #[cfg(feature = "nostr")]
    pub(crate) nostr: Option<oanix_caps::NostrFs>,
    pub(crate) workspace: Option<Arc<dyn WorkspaceReview>>,
    pub(crate) capabilities: Vec<Arc<dyn EnvCapability>>,
    /// What a snapshot takes of the mount's files (beside the task and the
    /// logs, which are roles of their own).
    pub(crate) state: Option<StateRole>,
}

/// The file state of a mount a snapshot can take, by kind.
#[derive(Clone)]
pub(crate) enum StateRole {
    /// An in-memory tree: frozen.
    Memory(MemFs),
    /// A copy-on-write overlay of any base: its layer frozen, its base
    /// shared (kept in memory only).
    Cow(CowFs),
    /// A copy-on-write overlay of a host directory: its layer frozen, the
    /// directory named.
    Overlay(WorkspaceOverlay),
    /// A host directory as it is: named.
    Directory(Arc<WorkspaceFs>),
    /// An immutable service: shared as it is (kept in memory only).
    Shared,
}

impl Roles {
    /// The names of the roles declared, for `Debug`.
    fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        if self.task.is_some() {
            names.push("task");
        }
        if self.logs.is_some() {
            names.push("logs");
        }
        if self.http.is_some() {
            names.push("http");
        }
        if self.ws.is_some() {
            names.push("ws");
        }
        #[cfg(feature = "nostr")]
        if self.nostr.is_some() {
            names.push("nostr");
        }
        if self.workspace.is_some() {
            names.push("workspace");
        }
        names.extend(self.capabilities.iter().map(|c| c.name()));
        if self.state.is_some() {
            names.push("state");
        }
        names
    }
}

/// A service to mount in an environment, with what the environment wires
/// it as: its task (whose status follows the environment's), its logs
/// (where lifecycle events and capability records go), a capability (that
/// records into the logs and gets an executor), or its reviewable
/// workspace.
///
/// What a mount wires is explicit: nothing is guessed from the service.
/// The library's own services say what they are when mounted as they are
/// (`EnvBuilder::mount("/task", task_fs)` wires the task); so do `Arc`s of
/// them. Every other service mounts plain — `MemFs`, `MapFs`, `FuncFs`,
/// `CowFs`, `WorkspaceFs`, a nested [`Namespace`] (whatever it holds), an
/// `Arc<dyn FileService>` — and so does anything given to
/// [`Mount::service`]. The methods below declare roles on any mount, for
/// services of the host's own (a type wrapping a `TaskFs`, a nested
/// namespace holding one, an overlay of its own):
///
/// ```
/// use oanix_env::{EnvBuilder, Mount};
/// use oanix_prims::{CowFs, MemFs};
/// use oanix_services::{TaskFs, TaskMeta, TaskSpec};
/// use oanix_vfs::Namespace;
///
/// let spec = TaskSpec {
///     id: "t-1".into(),
///     task_type: "fix".into(),
///     description: String::new(),
///     input: serde_json::Value::Null,
/// };
/// let task = TaskFs::new(spec, TaskMeta::default());
/// let inner = Namespace::builder().mount("/", task.clone()).build();
/// let project = CowFs::new(MemFs::new());
/// let env = EnvBuilder::new()
///     // A nested namespace is not looked into: its task is declared.
///     .mount("/task", Mount::from(inner).task(task.clone()))
///     // A plain CowFs, reviewable by the host.
///     .mount("/workspace", Mount::from(project.clone()).workspace(project))
///     .build()?;
/// env.set_running()?;
/// assert_eq!(task.state(), oanix_services::TaskState::Running);
/// assert!(env.workspace().is_some());
/// # Ok::<(), oanix_env::EnvError>(())
/// ```
///
/// An environment has at most one task, one logs service, one HTTP, one
/// WebSocket and one Nostr capability and one workspace:
/// [`EnvBuilder::build`](crate::EnvBuilder::build) refuses two mounts that
/// declare the same one ([`EnvError::Ambiguous`](crate::EnvError::Ambiguous),
/// naming both paths), unless the later one replaces the earlier at the
/// same path. Capabilities declared with [`capability`](Self::capability)
/// may be many. A crate's own service type can also get a `From` impl for
/// `Mount` and then be mounted as it is. `NostrFs` declares itself with
/// this crate's `nostr` feature (which its `executor` feature implies).
#[derive(Clone)]
pub struct Mount {
    pub(crate) service: Arc<dyn FileService>,
    pub(crate) roles: Roles,
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("service", &self.service.fs_type())
            .field("wires", &self.roles.names())
            .finish()
    }
}

impl Mount {
    /// `service`, mounted plain: the environment wires nothing of it until
    /// a role is declared.
    pub fn service(service: impl FileService + 'static) -> Self {
        Self::shared(Arc::new(service))
    }

    /// A shared service, mounted plain.
    pub fn shared(service: Arc<dyn FileService>) -> Self {
        Self {
            service,
            roles: Roles::default(),
        }
    }

    /// Declares `task` as the environment's task: its status follows the
    /// environment's, and [`OanixEnv::task`](crate::OanixEnv::task) gives it.
    #[must_use]
    pub fn task(mut self, task: TaskFs) -> Self {
        self.roles.task = Some(task);
        self
    }

    /// Declares `logs` as the environment's logs: lifecycle events and every
    /// capability's records go to its `events.jsonl`.
    #[must_use]
    pub fn logs(mut self, logs: LogsFs) -> Self {
        self.roles.logs = Some(logs);
        self
    }

    /// Declares `http` as the environment's HTTP capability
    /// ([`OanixEnv::http`](crate::OanixEnv::http)), which also makes it a
    /// capability: do not pass it to [`capability`](Self::capability) too.
    #[must_use]
    pub fn http(mut self, http: HttpFs) -> Self {
        self.roles.http = Some(http);
        self
    }

    /// Declares `ws` as the environment's WebSocket capability (and a
    /// capability, as [`http`](Self::http) does).
    #[must_use]
    pub fn ws(mut self, ws: WsFs) -> Self {
        self.roles.ws = Some(ws);
        self
    }

    /// Declares `nostr` as the environment's Nostr capability (and a
    /// capability, as [`http`](Self::http) does).
    #[cfg(feature = "nostr")]
    #[must_use]
    pub fn nostr(mut self, nostr: oanix_caps::NostrFs) -> Self {
        self.roles.nostr = Some(nostr);
        self
    }

    /// Declares `review` as the review side of the environment's workspace
    /// ([`OanixEnv::workspace`](crate::OanixEnv::workspace)): what the
    /// host reads and decides after the run.
    #[must_use]
    pub fn workspace(mut self, review: impl WorkspaceReview + 'static) -> Self {
        self.roles.workspace = Some(Arc::new(review));
        self
    }

    /// Declares a capability: it records into the environment's logs and,
    /// with executors, attaches its own (see [`EnvCapability`]). A mount may
    /// declare several.
    #[must_use]
    pub fn capability(mut self, capability: impl EnvCapability + 'static) -> Self {
        self.roles.capabilities.push(Arc::new(capability));
        self
    }

    /// The service mounted.
    pub fn file_service(&self) -> &Arc<dyn FileService> {
        &self.service
    }
}

/// `From` impls that mount a service plain.
macro_rules! plain {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Mount {
            /// Mounts it plain.
            fn from(service: $ty) -> Self {
                Self::service(service)
            }
        }
    )*};
}

plain!(FuncFs, Namespace);

/// `From` impls for services a snapshot can take: mounted plain, with the
/// state they hold declared.
macro_rules! stateful {
    ($($ty:ty => $state:expr),* $(,)?) => {$(
        impl From<$ty> for Mount {
            /// Mounts it plain; a snapshot of the environment takes its files.
            fn from(service: $ty) -> Self {
                let state: fn(&$ty) -> StateRole = $state;
                let role = state(&service);
                let mut mount = Self::service(service);
                mount.roles.state = Some(role);
                mount
            }
        }
    )*};
}

stateful!(
    MemFs => |fs| StateRole::Memory(fs.clone()),
    CowFs => |fs| StateRole::Cow(fs.clone()),
    MapFs => |_| StateRole::Shared,
);

impl From<WorkspaceFs> for Mount {
    /// Mounts it plain; a snapshot names the directory (a fork of a
    /// writable one gets an overlay of its own).
    fn from(service: WorkspaceFs) -> Self {
        let twin = service.try_clone().ok();
        let mut mount = Self::service(service);
        mount.roles.state = twin.map(|t| StateRole::Directory(Arc::new(t)));
        mount
    }
}

impl From<Arc<dyn FileService>> for Mount {
    /// Mounts it plain.
    fn from(service: Arc<dyn FileService>) -> Self {
        Self::shared(service)
    }
}

impl From<Box<dyn FileService>> for Mount {
    /// Mounts it plain.
    fn from(service: Box<dyn FileService>) -> Self {
        Self::shared(Arc::from(service))
    }
}

/// `From` impls for the library's services that declare a role, as they
/// are and behind an `Arc`.
macro_rules! wired {
    ($($ty:ty => $role:ident),* $(,)?) => {$(
        impl From<$ty> for Mount {
            /// Mounts it and declares its role.
            fn from(service: $ty) -> Self {
                Self::service(service.clone()).$role(service)
            }
        }

        impl From<Arc<$ty>> for Mount {
            /// Mounts it and declares its role.
            fn from(service: Arc<$ty>) -> Self {
                let role = (*service).clone();
                Self::shared(service).$role(role)
            }
        }
    )*};
}

wired!(
    TaskFs => task,
    LogsFs => logs,
    HttpFs => http,
    WsFs => ws,
);

impl From<WorkspaceOverlay> for Mount {
    /// Mounts it as the environment's workspace; a snapshot takes what it
    /// changed and names its directory.
    fn from(service: WorkspaceOverlay) -> Self {
        let mut mount = Self::service(service.clone()).workspace(service.clone());
        mount.roles.state = Some(StateRole::Overlay(service));
        mount
    }
}

impl From<Arc<WorkspaceOverlay>> for Mount {
    /// Mounts it as the environment's workspace, as the overlay itself does.
    fn from(service: Arc<WorkspaceOverlay>) -> Self {
        let role = (*service).clone();
        let mut mount = Self::shared(service).workspace(role.clone());
        mount.roles.state = Some(StateRole::Overlay(role));
        mount
    }
}

#[cfg(feature = "nostr")]
wired!(oanix_caps::NostrFs => nostr);
