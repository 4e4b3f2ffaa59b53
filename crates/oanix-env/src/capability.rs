//! `EnvCapability`: what an environment asks of a capability it wires —
//! where its records go and, with the `executor` feature, what carries out
//! its work.

use std::sync::Arc;

use oanix_caps::{HttpFs, RecordSink, WsFs};

/// A capability an environment wires: the library's `HttpFs`, `WsFs` and
/// `NostrFs`, or a user's own.
///
/// An environment gives every capability it wires the sink of its event
/// log ([`set_record_sink`](Self::set_record_sink): each record becomes a
/// line of `/logs/events.jsonl`) and, when it has executors
/// ([`EnvBuilder::executors`](crate::EnvBuilder::executors)), lets it
/// attach the executor that carries out its work
/// ([`attach_executor`](Self::attach_executor)). A capability takes part by
/// being declared on its mount: `Mount::service(svc).capability(cap)` (see
/// [`Mount`](crate::Mount)); the library's own capabilities declare
/// themselves when mounted as they are.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use oanix_caps::RecordSink;
/// use oanix_env::{EnvBuilder, EnvCapability, Mount};
/// use oanix_prims::MemFs;
/// use oanix_services::LogsFs;
///
/// /// A capability of the host's own: it only keeps the sink it is given.
/// #[derive(Default)]
/// struct Clock(Mutex<Option<RecordSink>>);
///
/// impl EnvCapability for Clock {
///     fn name(&self) -> &str {
///         "clock"
///     }
///     fn set_record_sink(&self, sink: RecordSink) {
///         *self.0.lock().unwrap() = Some(sink);
///     }
/// }
///
/// let clock = Arc::new(Clock::default());
/// let env = EnvBuilder::new()
///     .mount("/logs", LogsFs::new())
///     .mount("/cap/clock", Mount::service(MemFs::new()).capability(Arc::clone(&clock)))
///     .build()?;
/// assert!(clock.0.lock().unwrap().is_some());
/// assert_eq!(env.capability("/cap/clock").map(|c| c.name()), Some("clock"));
/// # Ok::<(), oanix_env::EnvError>(())
/// ```
pub trait EnvCapability: Send + Sync {
    /// A short name, for messages and listings (`"http"`, `"ws"`,
    /// `"nostr"`).
    fn name(&self) -> &str;

    /// Sends every record of the capability (each request, connection,
    /// message, event) to `sink` from now on. Called once, when the
    /// environment is built, if it has a logs service.
    fn set_record_sink(&self, sink: RecordSink);

    /// Attaches what carries out the capability's work to `manager` (for
    /// instance `manager.attach(MyExecutor::new(..))`); called when the
    /// environment is built with executors, before they start. The default
    /// attaches nothing: a capability that needs no executor.
    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        let _ = manager;
    }
}

impl<T: EnvCapability + ?Sized> EnvCapability for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn set_record_sink(&self, sink: RecordSink) {
        (**self).set_record_sink(sink);
    }

    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        (**self).attach_executor(manager);
    }
}

impl EnvCapability for HttpFs {
    fn name(&self) -> &str {
        "http"
    }

    fn set_record_sink(&self, sink: RecordSink) {
        HttpFs::set_record_sink(self, Some(sink));
    }

    /// Attaches an `HttpExecutor`.
    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        manager.attach_http(self);
    }
}

impl EnvCapability for WsFs {
    fn name(&self) -> &str {
        "ws"
    }

    fn set_record_sink(&self, sink: RecordSink) {
        WsFs::set_record_sink(self, Some(sink));
    }

    /// Attaches a `WsConnector`.
    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        manager.attach_ws(self);
    }
}

#[cfg(feature = "nostr")]
impl EnvCapability for oanix_caps::NostrFs {
    fn name(&self) -> &str {
        "nostr"
    }

    fn set_record_sink(&self, sink: RecordSink) {
        oanix_caps::NostrFs::set_record_sink(self, Some(sink));
    }

    /// Attaches a `NostrRelayConnector`.
    #[cfg(feature = "executor")]
    fn attach_executor(&self, manager: &mut oanix_exec::ExecutorManager) {
        manager.attach_nostr(self);
    }
}
