//! The MCP server: one environment, its tools and resources, the session
//! that drives its lifecycle, and the watchers behind subscriptions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oanix_env::{EnvStatus, OanixEnv};
use oanix_services::{LogEvent, LogLevel};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::McpConfig;
use crate::ops::{Failure, bounded};
use crate::{resources, tools};

/// What every session of one server shares: the environment and its
/// watchers' clock.
struct Shared {
    env: OanixEnv,
    name: String,
    config: McpConfig,
    started: AtomicBool,
    /// Bumped after every call that may have changed a file, so that
    /// watchers look at once rather than at their next poll.
    changes: watch::Sender<u64>,
}

/// Each watched URI's last fingerprint.
type Prints = HashMap<String, String>;

/// What one session holds: its legacy subscriptions, ended with it.
struct Session {
    /// Each subscribed URI's watcher, stopped by unsubscribe.
    legacy: Mutex<HashMap<String, CancellationToken>>,
    /// The fingerprints taken when a listen request was accepted, before
    /// its acknowledgment: a change right after the acknowledgment is then
    /// a change from them.
    listening: Mutex<Vec<(Vec<String>, Prints)>>,
    /// Cancels every watcher of the session when the session goes.
    ended: CancellationToken,
    _guard: DropGuard,
}

impl Session {
    fn new() -> Self {
        let ended = CancellationToken::new();
        Self {
            legacy: Mutex::new(HashMap::new()),
            listening: Mutex::new(Vec::new()),
            _guard: ended.clone().drop_guard(),
            ended,
        }
    }
}

/// The fingerprint of each file `uris` name (a URI that names none has
/// its error as its print).
fn print_all(env: &OanixEnv, name: &str, uris: Vec<String>) -> HashMap<String, String> {
    uris.into_iter()
        .map(|uri| {
            let print = match resources::parse(name, &uri) {
                Ok(p) => resources::fingerprint(env, &p),
                Err(e) => e.0,
            };
            (uri, print)
        })
        .collect()
}

impl Shared {
    /// Runs `f` on a blocking thread with the calls it makes bounded by `limit`.
    async fn blocking<R: Send + 'static>(
        self: &Arc<Self>,
        limit: Duration,
        f: impl FnOnce(&OanixEnv, &McpConfig) -> R + Send + 'static,
    ) -> Result<R, ErrorData> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || bounded(limit, || f(&shared.env, &shared.config)))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the call failed: {e}"), None))
    }

    /// The fingerprints of the files `uris` name, now.
    async fn prints(self: &Arc<Self>, uris: Vec<String>) -> HashMap<String, String> {
        let limit = self.config.poll_interval.max(Duration::from_millis(50));
        let name = self.name.clone();
        self.blocking(limit, move |env, _| print_all(env, &name, uris))
            .await
            .unwrap_or_default()
    }

    /// Waits until something may have changed (a mutating call) or the poll
    /// interval passed, then gives the watched URIs whose file changed.
    async fn next_changes(
        self: &Arc<Self>,
        clock: &mut watch::Receiver<u64>,
        prints: &mut HashMap<String, String>,
    ) -> Vec<String> {
        let _ = tokio::time::timeout(self.config.poll_interval, clock.changed()).await;
        let now = self.prints(prints.keys().cloned().collect()).await;
        let mut out = Vec::new();
        for (uri, print) in now {
            if prints.get(&uri) != Some(&print) {
                prints.insert(uri.clone(), print);
                out.push(uri);
            }
        }
        out
    }
}

/// An environment served over the Model Context Protocol.
///
/// Cloning gives another handle on the same environment; each transport
/// session gets its own [`session`](Self::session). The environment becomes
/// `Running` when the first session starts (`initialize`, or the first
/// request of a client that does not initialize); [`finish`](Self::finish)
/// completes it when the host is done serving.
#[derive(Clone)]
pub struct McpServer {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("name", &self.shared.name)
            .field("env", &self.shared.env.id())
            .finish_non_exhaustive()
    }
}

impl McpServer {
    /// Serves `env` under `name` (the host part of its resources' URIs,
    /// `oanix://NAME/path`), with the default bounds.
    pub fn new(env: OanixEnv, name: impl Into<String>) -> Self {
        Self::with_config(env, name, McpConfig::default())
    }

    /// Serves `env` under `name` with the bounds of `config`.
    pub fn with_config(env: OanixEnv, name: impl Into<String>, config: McpConfig) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                env,
                name: name.into(),
                config,
                started: AtomicBool::new(false),
                changes,
            }),
            session: Arc::new(Session::new()),
        }
    }

    /// A handle for a new transport session: the same environment, its own
    /// subscriptions.
    #[must_use]
    pub fn session(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            session: Arc::new(Session::new()),
        }
    }

    /// The environment served.
    pub fn env(&self) -> &OanixEnv {
        &self.shared.env
    }

    /// The name in the resources' URIs.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The URI of namespace path `path` (`oanix://NAME/path`).
    pub fn resource_uri(&self, path: &str) -> String {
        resources::uri(&self.shared.name, path)
    }

    /// Ends the served session: a `Running` environment completes with
    /// `exit_code` (one that never started is started first, so that its
    /// status is final either way); a finished one is left as it is.
    ///
    /// # Errors
    /// What the lifecycle transition returns.
    pub fn finish(&self, exit_code: i32) -> oanix_env::Result<EnvStatus> {
        let env = &self.shared.env;
        if env.status() == EnvStatus::Created {
            env.set_running()?;
        }
        if !env.is_finished() {
            self.record(
                LogLevel::Info,
                "mcp session ended",
                json!({ "exit_code": exit_code }),
            );
            env.set_completed(exit_code)?;
        }
        Ok(env.status())
    }

    /// Starts the environment at the session's first request.
    fn start(&self, client: Option<&Implementation>) {
        if self.shared.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let env = &self.shared.env;
        if env.status() == EnvStatus::Created && env.set_running().is_ok() {
            let data = match client {
                Some(c) => json!({ "client": c.name, "client_version": c.version }),
                None => json!({}),
            };
            self.record(LogLevel::Info, "mcp session started", data);
        }
    }

    fn record(&self, level: LogLevel, message: &str, data: Value) {
        if let Some(logs) = self.shared.env.logs() {
            logs.log_event(LogEvent::with_data(level, message, data));
        }
    }

    fn changed(&self) {
        self.shared.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Summarises a call's arguments for the events: contents and bodies
    /// by their length only.
    fn summary(arguments: &Value) -> Value {
        match arguments {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), v) {
                            ("content" | "body" | "body_base64", Value::String(s)) => {
                                json!({ "bytes": s.len() })
                            }
                            ("result", v) => json!({ "bytes": v.to_string().len() }),
                            ("headers", Value::Object(h)) => {
                                json!(h.keys().cloned().collect::<Vec<_>>())
                            }
                            (_, v) => v.clone(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn status_error(status: &EnvStatus) -> Option<ErrorData> {
    match status {
        EnvStatus::Completed { .. } | EnvStatus::Failed { .. } => Some(ErrorData::invalid_request(
            format!("the environment is {status}; it takes no more calls"),
            None,
        )),
        _ => None,
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(Implementation::new("oanix", env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "An OANIX environment ({name}): a namespace where everything is a file. Paths are \
             absolute (/workspace, /task, /logs, /tmp, /cap/...); only what is mounted exists. \
             Set the task's result with set_result. Resources are oanix://{name}/PATH.",
            name = self.shared.name
        ))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        self.start(Some(&request.client_info));
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.start(None);
        Ok(ListToolsResult::with_all_items(tools::list(
            &self.shared.env,
        )))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.start(None);
        let name = request.name.to_string();
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let summary = Self::summary(&arguments);
        if let Some(e) = status_error(&self.shared.env.status()) {
            return Err(e);
        }
        let limit = if name == "run" {
            self.shared.config.run_timeout + Duration::from_secs(5)
        } else {
            self.shared.config.call_timeout
        };
        let started = Instant::now();
        let outcome = if tools::may_block(&self.shared.env, &name, &arguments) {
            let tool = name.clone();
            self.shared
                .blocking(limit, move |env, config| {
                    tools::call(env, config, &tool, arguments)
                })
                .await?
        } else {
            // Files of memory and of host directories answer at once: the
            // call is made here, without a thread hand-off each way.
            bounded(limit, || {
                tools::call(&self.shared.env, &self.shared.config, &name, arguments)
            })
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let (level, error) = match &outcome {
            Ok(_) => (LogLevel::Info, None),
            Err(Failure::Invalid(m) | Failure::Failed(m)) => (LogLevel::Warn, Some(m.clone())),
        };
        self.record(
            level,
            "mcp tools/call",
            json!({ "tool": name, "arguments": summary, "ok": error.is_none(), "error": error, "duration_ms": ms }),
        );
        if tools::mutates(&name) {
            self.changed();
        }
        match outcome {
            Ok(value) => Ok(CallToolResult::structured(value).into()),
            Err(Failure::Invalid(message)) => Err(ErrorData::invalid_params(message, None)),
            Err(Failure::Failed(message)) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.start(None);
        let name = self.shared.name.clone();
        let list = self
            .shared
            .blocking(self.shared.config.call_timeout, move |env, _| {
                resources::list(env, &name)
            })
            .await?;
        Ok(ListResourcesResult::with_all_items(list))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            resources::template(&self.shared.name),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.start(None);
        let uri = request.uri;
        let p = resources::parse(&self.shared.name, &uri)
            .map_err(|e| ErrorData::invalid_params(e.0, None))?;
        let limit = self.shared.config.max_read_bytes;
        let (text_uri, path) = (uri.clone(), p.clone());
        let read = self
            .shared
            .blocking(self.shared.config.call_timeout, move |env, _| {
                resources::read(env, &text_uri, &path, limit)
            })
            .await?;
        self.record(
            if read.is_ok() { LogLevel::Info } else { LogLevel::Warn },
            "mcp resources/read",
            json!({ "uri": uri, "ok": read.is_ok(), "error": read.as_ref().err().map(ToString::to_string) }),
        );
        match read {
            Ok(contents) => Ok(ReadResourceResult::new(vec![contents]).into()),
            Err(e) if e.kind() == oanix_vfs::FsErrorKind::NotFound => Err(
                ErrorData::resource_not_found(e.to_string(), Some(json!({ "uri": uri }))),
            ),
            Err(e) => Err(ErrorData::invalid_params(
                e.to_string(),
                Some(json!({ "uri": uri })),
            )),
        }
    }

    #[allow(
        deprecated,
        reason = "clients of protocol versions before 2026-07-28 subscribe this way"
    )]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.start(None);
        let uri = request.uri;
        resources::parse(&self.shared.name, &uri)
            .map_err(|e| ErrorData::invalid_params(e.0, None))?;
        let stop = self.session.ended.child_token();
        let previous = self
            .session
            .legacy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uri.clone(), stop.clone());
        if let Some(p) = previous {
            p.cancel();
        }
        self.record(
            LogLevel::Info,
            "mcp resources/subscribe",
            json!({ "uri": uri }),
        );
        let shared = Arc::clone(&self.shared);
        let mut prints = shared.prints(vec![uri.clone()]).await;
        let peer = context.peer;
        tokio::spawn(async move {
            let mut clock = shared.changes.subscribe();
            // Until unsubscribed, or the session's transport is gone.
            while !peer.is_transport_closed() {
                let changed = tokio::select! {
                    () = stop.cancelled() => return,
                    c = shared.next_changes(&mut clock, &mut prints) => c,
                };
                for uri in changed {
                    let sent = peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await;
                    if sent.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(())
    }

    #[allow(
        deprecated,
        reason = "clients of protocol versions before 2026-07-28 unsubscribe this way"
    )]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let removed = self
            .session
            .legacy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&request.uri);
        match removed {
            Some(stop) => {
                stop.cancel();
                self.record(
                    LogLevel::Info,
                    "mcp resources/unsubscribe",
                    json!({ "uri": request.uri }),
                );
                Ok(())
            }
            None => Err(ErrorData::invalid_params(
                format!("{:?} is not subscribed", request.uri),
                None,
            )),
        }
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.supported_by(&self.get_info().capabilities);
        if let Some(uris) = accepted.resource_subscriptions.as_mut() {
            uris.retain(|u| resources::parse(&self.shared.name, u).is_ok());
            // Taken here, before the acknowledgment goes out (briefly bounded:
            // this runs on the session's task).
            let prints = bounded(Duration::from_millis(50), || {
                print_all(&self.shared.env, &self.shared.name, uris.clone())
            });
            self.session
                .listening
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((uris.clone(), prints));
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.start(None);
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        self.record(
            LogLevel::Info,
            "mcp subscriptions/listen",
            json!({ "uris": uris }),
        );
        let taken = {
            let mut listening = self
                .session
                .listening
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            listening
                .iter()
                .position(|(u, _)| *u == uris)
                .map(|i| listening.remove(i).1)
        };
        let mut prints = match taken {
            Some(p) => p,
            None => self.shared.prints(uris).await,
        };
        let mut clock = self.shared.changes.subscribe();
        loop {
            let changed = tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = self.session.ended.cancelled() => return Ok(()),
                c = self.shared.next_changes(&mut clock, &mut prints) => c,
            };
            for uri in changed {
                if context.sink().notify_resource_updated(uri).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
