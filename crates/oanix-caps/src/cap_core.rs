//! `CapCore`: what every capability service is made of — its state behind
//! one lock, the egress policy, the limits, the record sink and the two
//! notifications — and the one sequence every change follows.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::error::{CapError, Result};
use crate::notify::{EventListener, Signal};
use crate::policy::EgressPolicy;
use crate::record::{CapRecord, RecordSink, Recorder};

/// Whom a change wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nobody.
    None,
    /// The executor (`work_listener`).
    Work,
    /// Readers waiting for an answer.
    Ready,
    /// Both.
    Both,
}

/// The parts of a service its builder gathers: the same three for every
/// capability.
pub(crate) struct CoreParts<L> {
    pub(crate) policy: EgressPolicy,
    pub(crate) limits: L,
    pub(crate) sink: Option<RecordSink>,
}

impl<L: Default> Default for CoreParts<L> {
    fn default() -> Self {
        Self {
            policy: EgressPolicy::default(),
            limits: L::default(),
            sink: None,
        }
    }
}

impl<L: fmt::Debug> fmt::Debug for CoreParts<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreParts")
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// The core of a capability service with state `S` and limits `L`.
pub(crate) struct CapCore<S, L> {
    state: Mutex<S>,
    policy: RwLock<Arc<EgressPolicy>>,
    limits: L,
    work: Signal,
    ready: Signal,
    recorder: Recorder,
}

impl<S: fmt::Debug, L: fmt::Debug> fmt::Debug for CapCore<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapCore")
            .field("state", &*self.lock())
            .field("policy", &self.policy())
            .field("limits", &self.limits)
            .field("recorder", &self.recorder)
            .finish()
    }
}

impl<S, L> CapCore<S, L> {
    /// A core holding `state`, made of the builder's `parts`.
    pub(crate) fn new(state: S, parts: CoreParts<L>) -> Self {
        Self {
            state: Mutex::new(state),
            policy: RwLock::new(Arc::new(parts.policy)),
            limits: parts.limits,
            work: Signal::default(),
            ready: Signal::default(),
            recorder: Recorder::new(parts.sink),
        }
    }

    /// The state, locked (a poisoned lock is taken over: every change
    /// leaves the state consistent before it can panic).
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The egress policy now.
    pub(crate) fn policy(&self) -> Arc<EgressPolicy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the egress policy: what is checked from now on.
    pub(crate) fn set_policy(&self, policy: EgressPolicy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }

    /// The limits.
    pub(crate) fn limits(&self) -> &L {
        &self.limits
    }

    /// The readers' notification.
    pub(crate) fn ready(&self) -> &Signal {
        &self.ready
    }

    /// A listener for the executor's notification.
    pub(crate) fn work_listener(&self) -> EventListener {
        self.work.listen()
    }

    /// Sets (or clears) where records go.
    pub(crate) fn set_sink(&self, sink: Option<RecordSink>) {
        self.recorder.set(sink);
    }

    /// Sends `record` to the sink, if one is set.
    pub(crate) fn emit(&self, record: CapRecord) {
        self.recorder.emit(record);
    }

    /// Builds and sends a record only when someone listens (an event that
    /// changes no state: a refusal before any change is tried).
    #[cfg_attr(not(feature = "nostr"), allow(dead_code, reason = "used by NostrFs"))]
    pub(crate) fn record(&self, make: impl FnOnce() -> CapRecord) {
        if self.recorder.active() {
            self.recorder.emit(make());
        }
    }

    /// Wakes whom `wake` names.
    pub(crate) fn wake(&self, wake: Wake) {
        if matches!(wake, Wake::Work | Wake::Both) {
            self.work.notify();
        }
        if matches!(wake, Wake::Ready | Wake::Both) {
            self.ready.notify();
        }
    }

    /// The sequence every change follows: `change` runs under the lock (it
    /// is told whether to build a record), checks bounds, changes the state
    /// and gives back its result, the record and whom to wake; the lock is
    /// released, the record emitted (sinks may call back into the service),
    /// and then the waiters woken. An error changes nothing and wakes no one.
    pub(crate) fn commit<T>(
        &self,
        change: impl FnOnce(&mut S, bool) -> Result<Change<T>>,
    ) -> Result<T> {
        self.apply(|st, recording| match change(st, recording) {
            Ok(done) => Change {
                value: Ok(done.value),
                record: done.record,
                wake: done.wake,
            },
            Err(e) => Change::refusal(e),
        })
    }

    /// The sequence of [`commit`](Self::commit) for a change that always
    /// commits: one that cannot fail, or whose refusal is itself a change
    /// (a counter of refusals, a record of the refusal) and whose value is
    /// then the error.
    pub(crate) fn apply<T>(&self, change: impl FnOnce(&mut S, bool) -> Change<T>) -> T {
        let recording = self.recorder.active();
        let done = {
            let mut st = self.lock();
            change(&mut st, recording)
        };
        if let Some(r) = done.record {
            self.recorder.emit(r);
        }
        self.wake(done.wake);
        done.value
    }
}

/// What a change committed: its result, its record, whom to wake.
pub(crate) struct Change<T> {
    pub(crate) value: T,
    pub(crate) record: Option<CapRecord>,
    pub(crate) wake: Wake,
}

impl<T> Change<T> {
    /// A change giving `value`, waking `wake`, with no record.
    pub(crate) fn new(value: T, wake: Wake) -> Self {
        Self {
            value,
            record: None,
            wake,
        }
    }

    /// Attaches the record (built only if `recording`).
    pub(crate) fn recorded(mut self, recording: bool, make: impl FnOnce() -> CapRecord) -> Self {
        if recording {
            self.record = Some(make());
        }
        self
    }
}

impl<T> Change<Result<T>> {
    /// A refusal committed as a change: its value is the error, it wakes
    /// nobody; what it changed is a counter, what it records the refusal.
    pub(crate) fn refusal(e: CapError) -> Self {
        Self::new(Err(e), Wake::None)
    }
}
