//! The tools' work: each one a file operation on the environment's
//! namespace, done as an agent would do it, with the namespace's own errors.
//!
//! Every function here is synchronous (file calls may block, as a
//! capability's response does); the server runs them on blocking threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oanix_env::OanixEnv;
use oanix_vfs::deadline::Instant;
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, deadline, path, read_to_end,
    walk, write_all,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::McpConfig;

/// Why a tool call did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The arguments are not what the tool takes: a protocol error
    /// (`-32602`), nothing was done.
    Invalid(String),
    /// The operation failed as the same file operation fails for an agent:
    /// a tool result with `isError`, the message as the namespace gives it.
    Failed(String),
}

impl From<FsError> for Failure {
    fn from(e: FsError) -> Self {
        Self::Failed(e.to_string())
    }
}

/// A tool's answer: JSON for the caller.
pub(crate) type Outcome = std::result::Result<Value, Failure>;

/// Parses a tool's arguments into its argument type.
pub(crate) fn args<T: serde::de::DeserializeOwned>(
    tool: &str,
    arguments: Value,
) -> Result<T, Failure> {
    serde_json::from_value(arguments)
        .map_err(|e| Failure::Invalid(format!("{tool}: invalid arguments: {e}")))
}

/// Checks that `p` is an absolute path of the namespace and gives it
/// normalised; `..` that would leave the root is refused by the namespace's
/// path rules.
fn absolute(tool: &str, p: &str) -> Result<String, Failure> {
    if !p.starts_with('/') {
        return Err(Failure::Invalid(format!(
            "{tool}: path {p:?} is not absolute (paths of the namespace start with /)"
        )));
    }
    Ok(path::normalize(p)?.into_owned())
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symlink",
        _ => "other",
    }
}

fn metadata_json(p: &str, m: &Metadata) -> Value {
    json!({
        "path": p,
        "kind": kind_name(m.kind),
        "size": m.size,
        "readonly": m.readonly,
        "nlink": m.nlink,
        "created": m.created,
        "modified": m.modified,
        "accessed": m.accessed,
    })
}

/// Arguments naming one path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathArgs {
    path: String,
}

/// `list_dir`.
pub(crate) fn list_dir(env: &OanixEnv, a: PathArgs) -> Outcome {
    let p = absolute("list_dir", &a.path)?;
    let mut entries = env.namespace().readdir(&p)?;
    entries.sort_by(|x, y| x.name.cmp(&y.name));
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "name": e.name, "kind": kind_name(e.kind), "size": e.size }))
        .collect();
    Ok(json!({ "path": p, "entries": entries }))
}

/// `stat`.
pub(crate) fn stat(env: &OanixEnv, a: PathArgs) -> Outcome {
    let p = absolute("stat", &a.path)?;
    let m = env.namespace().stat(&p)?;
    Ok(metadata_json(&p, &m))
}

/// `mkdir`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MkdirArgs {
    path: String,
    #[serde(default)]
    parents: bool,
}

/// `mkdir`.
pub(crate) fn mkdir(env: &OanixEnv, a: MkdirArgs) -> Outcome {
    let p = absolute("mkdir", &a.path)?;
    if a.parents {
        oanix_vfs::create_dir_all(env.namespace(), &p)?;
    } else {
        env.namespace().mkdir(&p)?;
    }
    Ok(json!({ "path": p, "created": true }))
}

/// `remove`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveArgs {
    path: String,
    #[serde(default)]
    recursive: bool,
}

/// `remove`.
pub(crate) fn remove(env: &OanixEnv, a: RemoveArgs) -> Outcome {
    let p = absolute("remove", &a.path)?;
    if p == "/" {
        return Err(Failure::Failed(
            FsError::permission_denied("/", "the root cannot be removed").to_string(),
        ));
    }
    if a.recursive {
        oanix_vfs::remove_all(env.namespace(), &p)?;
    } else {
        env.namespace().remove(&p)?;
    }
    Ok(json!({ "path": p, "removed": true }))
}

/// `rename`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameArgs {
    from: String,
    to: String,
}

/// `rename`.
pub(crate) fn rename(env: &OanixEnv, a: RenameArgs) -> Outcome {
    let from = absolute("rename", &a.from)?;
    let to = absolute("rename", &a.to)?;
    env.namespace().rename(&from, &to)?;
    Ok(json!({ "from": from, "to": to, "renamed": true }))
}

/// How a file's bytes are given back.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Encoding {
    /// Text when the bytes are UTF-8, base64 otherwise.
    #[default]
    Auto,
    /// UTF-8 text; other bytes are an error.
    Text,
    /// Base64 of the bytes.
    Base64,
}

/// `read_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadArgs {
    path: String,
    #[serde(default)]
    offset: u64,
    length: Option<u64>,
    #[serde(default)]
    encoding: Encoding,
}

/// Reads up to `limit` bytes of `p` from `offset`.
pub(crate) fn read_range(
    ns: &dyn FileService,
    p: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<u8>, bool), FsError> {
    let mut handle = ns.open(p, OpenFlags::read_only())?;
    if offset > 0 {
        handle.seek(std::io::SeekFrom::Start(offset))?;
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(cap.min(64 * 1024));
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < cap {
        let want = (cap - out.len()).min(buf.len());
        let n = handle.read(&mut buf[..want])?;
        if n == 0 {
            return Ok((out, true));
        }
        out.extend_from_slice(&buf[..n]);
    }
    // Full: at the end only if nothing follows.
    let n = handle.read(&mut buf[..1])?;
    Ok((out, n == 0))
}

/// `read_file`.
pub(crate) fn read_file(env: &OanixEnv, config: &McpConfig, a: ReadArgs) -> Outcome {
    let p = absolute("read_file", &a.path)?;
    let length = match a.length {
        Some(0) => {
            return Err(Failure::Invalid(
                "read_file: length must be at least 1".into(),
            ));
        }
        Some(n) if n > config.max_read_bytes => {
            return Err(Failure::Invalid(format!(
                "read_file: length {n} is over the limit of {} bytes per read (read in parts with offset)",
                config.max_read_bytes
            )));
        }
        Some(n) => n,
        None => config.max_read_bytes,
    };
    let (bytes, eof) = read_range(env.namespace(), &p, a.offset, length)?;
    let length = bytes.len();
    let (encoding, content) = match (a.encoding, String::from_utf8(bytes)) {
        (Encoding::Base64, Ok(text)) => ("base64", BASE64.encode(text.as_bytes())),
        (_, Ok(text)) => ("text", text),
        (Encoding::Text, Err(_)) => {
            return Err(Failure::Failed(format!(
                "{p}: not UTF-8 text from offset {} (read it with encoding \"base64\")",
                a.offset
            )));
        }
        (_, Err(e)) => ("base64", BASE64.encode(e.as_bytes())),
    };
    Ok(json!({
        "path": p,
        "offset": a.offset,
        "length": length,
        "eof": eof,
        "encoding": encoding,
        "content": content,
    }))
}

/// `write_file` and `append_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteArgs {
    path: String,
    content: String,
    #[serde(default)]
    encoding: WriteEncoding,
}

/// How written content is given.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WriteEncoding {
    /// UTF-8 text.
    #[default]
    Text,
    /// Base64 of the bytes.
    Base64,
}

fn content_bytes(tool: &str, config: &McpConfig, a: &WriteArgs) -> Result<Vec<u8>, Failure> {
    let bytes = match a.encoding {
        WriteEncoding::Text => a.content.as_bytes().to_vec(),
        WriteEncoding::Base64 => BASE64
            .decode(a.content.as_bytes())
            .map_err(|e| Failure::Invalid(format!("{tool}: content is not base64: {e}")))?,
    };
    if bytes.len() as u64 > config.max_write_bytes {
        return Err(Failure::Invalid(format!(
            "{tool}: {} bytes is over the limit of {} bytes per write; nothing was written",
            bytes.len(),
            config.max_write_bytes
        )));
    }
    Ok(bytes)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `write_file`: the whole content replaces the file's, or nothing changes.
///
/// The bytes go to a new file beside the target, which is then renamed over
/// it: a write that fails halfway (the layer is full, a limit) leaves the
/// old file as it was. Where the directory takes no new file (a service's
/// fixed files, such as `/task/result.json`), the file is written in place.
pub(crate) fn write_file(env: &OanixEnv, config: &McpConfig, a: WriteArgs) -> Outcome {
    let p = absolute("write_file", &a.path)?;
    let bytes = content_bytes("write_file", config, &a)?;
    let ns = env.namespace();
    if let Ok(m) = ns.stat(&p)
        && m.kind == FileKind::Directory
    {
        return Err(FsError::is_a_directory(p).into());
    }
    let Some((dir, name)) = path::split(&p) else {
        return Err(FsError::is_a_directory(p).into());
    };
    let temp = path::join(
        dir,
        &format!(
            ".{name}.oanix-mcp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let flags = OpenFlags {
        create_new: true,
        ..OpenFlags::write_only()
    };
    match ns.open(&temp, flags) {
        Ok(mut handle) => {
            let written = write_all(handle.as_mut(), &p, &bytes).and_then(|()| handle.flush());
            drop(handle);
            if let Err(e) = written.and_then(|()| ns.rename(&temp, &p)) {
                let _ = ns.remove(&temp);
                return Err(e
                    .map_paths(|q| if q == temp { p.clone() } else { q.to_owned() })
                    .into());
            }
        }
        Err(e) if matches!(e.kind(), FsErrorKind::NoSpace | FsErrorKind::TooLarge) => {
            return Err(e.map_paths(|_| p.clone()).into());
        }
        Err(_) => oanix_vfs::write_file(ns, &p, &bytes)?,
    }
    Ok(json!({ "path": p, "written": bytes.len() }))
}

/// `append_file`: all of the content is appended, or the file keeps its
/// length (a failed append is cut back off).
pub(crate) fn append_file(env: &OanixEnv, config: &McpConfig, a: WriteArgs) -> Outcome {
    let p = absolute("append_file", &a.path)?;
    let bytes = content_bytes("append_file", config, &a)?;
    let mut handle = env.namespace().open(&p, OpenFlags::append_create())?;
    let before = handle.stat()?.size;
    if let Err(e) = write_all(handle.as_mut(), &p, &bytes).and_then(|()| handle.flush()) {
        let _ = handle.set_len(before);
        return Err(e.into());
    }
    Ok(json!({ "path": p, "appended": bytes.len(), "size": before + bytes.len() as u64 }))
}

/// `find`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindArgs {
    path: String,
    #[serde(default = "any_name")]
    pattern: String,
    max_results: Option<usize>,
}

fn any_name() -> String {
    "*".into()
}

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one
/// character, everything else itself).
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `find`: names under a path matching a pattern, depth first.
pub(crate) fn find(env: &OanixEnv, config: &McpConfig, a: FindArgs) -> Outcome {
    let p = absolute("find", &a.path)?;
    let max = a.max_results.unwrap_or(config.max_find_results);
    if max == 0 || max > config.max_find_results {
        return Err(Failure::Invalid(format!(
            "find: max_results must be from 1 to {}",
            config.max_find_results
        )));
    }
    // The walked directory must exist: a typo is an error, not "no matches".
    let m = env.namespace().stat(&p)?;
    if m.kind != FileKind::Directory {
        return Err(FsError::not_a_directory(p).into());
    }
    let mut found = Vec::new();
    let mut truncated = false;
    for entry in walk(env.namespace(), &p) {
        let entry = entry?;
        let name = path::file_name(&entry.path).unwrap_or_default();
        let subject = if a.pattern.contains('/') {
            entry.path.as_str()
        } else {
            name
        };
        if glob(&a.pattern, subject) {
            if found.len() == max {
                truncated = true;
                break;
            }
            found.push(
                json!({ "path": entry.path, "kind": kind_name(entry.kind), "size": entry.size }),
            );
        }
    }
    Ok(json!({ "path": p, "pattern": a.pattern, "matches": found, "truncated": truncated }))
}

/// `http_request`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpArgs {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// `http_request`: written to the capability's `request` file as an agent
/// writes it (the policy decides at that write), then the response read
/// from `responses/{id}.json` (which waits for the executor).
pub(crate) fn http_request(env: &OanixEnv, a: HttpArgs) -> Outcome {
    let Some(root) = env
        .capabilities()
        .find(|(_, c)| c.name() == "http")
        .map(|(p, _)| p.to_owned())
    else {
        return Err(Failure::Failed(
            "this environment has no HTTP capability (/cap/http is not mounted)".into(),
        ));
    };
    for (name, value) in &a.headers {
        if !value.is_string() {
            return Err(Failure::Invalid(format!(
                "http_request: header {name:?} must be a string"
            )));
        }
    }
    let mut request = serde_json::Map::new();
    request.insert("url".into(), Value::String(a.url));
    if let Some(m) = a.method {
        request.insert("method".into(), Value::String(m));
    }
    if !a.headers.is_empty() {
        request.insert("headers".into(), Value::Object(a.headers));
    }
    if let Some(b) = a.body {
        request.insert("body".into(), Value::String(b));
    }
    if let Some(b) = a.body_base64 {
        request.insert("body_base64".into(), Value::String(b));
    }
    if let Some(t) = a.timeout_ms {
        request.insert("timeout_ms".into(), Value::from(t));
    }
    let message = Value::Object(request).to_string();
    let ns = env.namespace();
    let request_path = path::join(&root, "request");
    let mut handle = ns.open(&request_path, OpenFlags::read_write())?;
    write_all(handle.as_mut(), &request_path, message.as_bytes())?;
    let mut id = Vec::new();
    read_to_end(handle.as_mut(), &mut id)?;
    drop(handle);
    let id = String::from_utf8_lossy(&id).trim().to_owned();
    let response_path = path::join(&root, &format!("responses/{id}.json"));
    let text = oanix_vfs::read_to_string(ns, &response_path)?;
    let response: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Failed(format!("{response_path}: not JSON: {e}")))?;
    // Read once: the answer is the caller's now, and the capability's
    // bounded list of answers keeps room for the agent's own.
    let _ = ns.remove(&response_path);
    Ok(json!({ "id": id, "response": response }))
}

/// `run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunArgs {
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    timeout_secs: Option<f64>,
}

fn timeout_of(a: &RunArgs, config: &McpConfig) -> Result<Duration, Failure> {
    match a.timeout_secs {
        None => Ok(config.run_timeout),
        Some(t) if t.is_finite() && t > 0.0 && t <= config.run_timeout.as_secs_f64() => {
            Ok(Duration::from_secs_f64(t))
        }
        Some(t) => Err(Failure::Invalid(format!(
            "run: timeout_secs {t} must be above 0 and at most {}",
            config.run_timeout.as_secs_f64()
        ))),
    }
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `run`: a WASI module read from the namespace, run over it; or, with the
/// `native` feature, a command in the environment's sandbox.
pub(crate) fn run(env: &OanixEnv, config: &McpConfig, a: RunArgs) -> Outcome {
    let timeout = timeout_of(&a, config)?;
    match (&a.module, &a.command) {
        (Some(module), None) => {
            let p = absolute("run", module)?;
            let wasm = oanix_vfs::read_file(env.namespace(), &p)?;
            let mut run_config = oanix_wasi::RunConfig::new()
                .arg0(path::file_name(&p).unwrap_or("agent.wasm"))
                .args(a.args.iter().cloned())
                .timeout(timeout);
            let limits = env.limits();
            if let Some(m) = limits.memory_bytes {
                run_config = run_config.memory_limit(m);
            }
            if let Some(f) = limits.fuel {
                run_config = run_config.fuel(f);
            }
            let result = env
                .execute_wasi(&wasm, &run_config)
                .map_err(|e| Failure::Failed(format!("{p}: {e}")))?;
            Ok(json!({
                "module": p,
                "exit_code": result.exit_code,
                "trap": result.trap.as_ref().map(ToString::to_string),
                "stdout": text_of(&result.stdout),
                "stderr": text_of(&result.stderr),
                "stdout_truncated": result.stdout_truncated,
                "stderr_truncated": result.stderr_truncated,
                "duration_ms": result.duration.as_secs_f64() * 1e3,
            }))
        }
        (None, Some(command)) if !command.is_empty() => run_native(env, command, &a.args, timeout),
        (None, Some(_)) => Err(Failure::Invalid("run: command is empty".into())),
        (Some(_), Some(_)) => Err(Failure::Invalid(
            "run: give either module (a WASI module in the namespace) or command, not both".into(),
        )),
        (None, None) => Err(Failure::Invalid(
            "run: give module (a WASI module in the namespace) or command (a native command)"
                .into(),
        )),
    }
}

#[cfg(feature = "native")]
fn run_native(env: &OanixEnv, command: &[String], args: &[String], timeout: Duration) -> Outcome {
    use oanix_services::LogStream;
    let logs = env.logs();
    let size = |s| logs.map_or(0, |l| l.size(s));
    let (out0, err0) = (size(LogStream::Stdout), size(LogStream::Stderr));
    let outcome = oanix_native::NativeRun::new(env)
        .command(command.iter().cloned())
        .args(args.iter().cloned())
        .timeout(timeout)
        .execute()
        .map_err(|e| Failure::Failed(format!("{}: {e}", command.join(" "))))?;
    let since = |s, from: u64| {
        logs.map_or_else(String::new, |l| {
            let all = l.contents(s);
            let from = usize::try_from(from).unwrap_or(usize::MAX).min(all.len());
            text_of(&all[from..])
        })
    };
    let (exit_code, signal) = match outcome.exit {
        oanix_native::Exit::Code(c) => (Some(c), None),
        oanix_native::Exit::Signal(s) => (None, Some(s)),
        _ => (None, None),
    };
    Ok(json!({
        "command": command,
        "exit_code": exit_code,
        "signal": signal,
        "timed_out": outcome.exit == oanix_native::Exit::TimedOut,
        "stdout": since(LogStream::Stdout, out0),
        "stderr": since(LogStream::Stderr, err0),
        "duration_ms": outcome.duration.as_secs_f64() * 1e3,
        "notes": outcome.notes,
    }))
}

#[cfg(not(feature = "native"))]
fn run_native(_: &OanixEnv, command: &[String], _: &[String], _: Duration) -> Outcome {
    Err(Failure::Failed(format!(
        "run: {:?}: native commands need the server built with the `native` feature; \
         give module (a WASI module in the namespace) instead",
        command.join(" ")
    )))
}

/// No arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// `task_status`: the task's status, spec and result, as `/task` shows them.
pub(crate) fn task_status(env: &OanixEnv) -> Outcome {
    let Some(task) = env.task() else {
        return Err(Failure::Failed(
            "this environment has no task (/task is not mounted)".into(),
        ));
    };
    let result = task.result().map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(json!({
        "environment": env.status(),
        "status": task.status(),
        "spec": task.spec(),
        "result": result,
    }))
}

/// `set_result`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultArgs {
    result: Value,
}

/// `set_result`: written to `/task/result.json` as an agent writes it.
pub(crate) fn set_result(env: &OanixEnv, config: &McpConfig, a: ResultArgs) -> Outcome {
    if env.task().is_none() {
        return Err(Failure::Failed(
            "this environment has no task (/task is not mounted)".into(),
        ));
    }
    let text = a.result.to_string();
    if text.len() as u64 > config.max_write_bytes {
        return Err(Failure::Invalid(format!(
            "set_result: {} bytes is over the limit of {} bytes per write; nothing was written",
            text.len(),
            config.max_write_bytes
        )));
    }
    oanix_vfs::write_file(env.namespace(), "/task/result.json", text.as_bytes())?;
    Ok(json!({ "path": "/task/result.json", "written": text.len() }))
}

/// `checkpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointArgs {
    name: String,
}

/// `checkpoint`: as `checkpoint NAME` written to `/env/ctl`.
pub(crate) fn checkpoint(env: &OanixEnv, a: CheckpointArgs) -> Outcome {
    let started = Instant::now();
    let c = env
        .checkpoint(&a.name)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(json!({
        "name": c.name,
        "saved": c.saved.map(|p| p.display().to_string()),
        "duration_ms": started.elapsed().as_secs_f64() * 1e3,
    }))
}

/// `list_checkpoints`.
pub(crate) fn list_checkpoints(env: &OanixEnv) -> Outcome {
    let list: Vec<Value> = env
        .checkpoints()
        .into_iter()
        .map(|c| json!({ "name": c.name, "saved": c.saved.map(|p| p.display().to_string()) }))
        .collect();
    Ok(json!({ "checkpoints": list }))
}

/// Runs `f` with the calls it makes bounded by `limit` (a blocking file
/// waits no longer).
pub(crate) fn bounded<R>(limit: Duration, f: impl FnOnce() -> R) -> R {
    deadline::scoped(Instant::now() + limit, f)
}
