//! The JavaScript API: the `Namespace` class, with every error thrown as an `FsError` exception.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::fetch;
use crate::web_namespace::{WebNamespace, files_from_json, policy_from_json, task_spec_from_json};
use oanix_services::{LogEvent, LogLevel};
use oanix_vfs::FsError;

/// The result of every binding: errors are JavaScript `Error`s.
type JsResult<T> = Result<T, JsValue>;

/// Turns an [`FsError`] into a JavaScript `Error` whose `message` is the error's text
/// (`not found: /tmp/x`), whose `name` is `FsError` and whose `kind` names the variant
/// (`NotFound`), so that pages can both show and dispatch on it.
pub(crate) fn fs_error(error: &FsError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("FsError");
    // Setting a property on a fresh `Error` object cannot fail.
    let _ = js_sys::Reflect::set(
        &js,
        &JsValue::from_str("kind"),
        &JsValue::from_str(&format!("{:?}", error.kind())),
    );
    js.into()
}

fn check<T>(result: oanix_vfs::Result<T>) -> JsResult<T> {
    result.map_err(|e| fs_error(&e))
}

/// A Rust value as a plain JavaScript value (objects, arrays, strings, numbers).
fn to_js(at: &str, value: &impl Serialize) -> JsResult<JsValue> {
    let text = serde_json::to_string(value)
        .map_err(|e| fs_error(&FsError::io(at, format!("cannot encode the answer ({e})"))))?;
    js_sys::JSON::parse(&text)
}

/// A JavaScript argument given either as JSON text or as a value to be encoded as JSON.
fn json_text(at: &str, what: &str, value: &JsValue) -> JsResult<String> {
    if let Some(text) = value.as_string() {
        return Ok(text);
    }
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            fs_error(&FsError::invalid_input(
                at,
                format!("{what}: expected an object or JSON text"),
            ))
        })
}

/// A namespace in the page: mount services, then use files.
///
/// From JavaScript (after `await init()` of the generated module):
///
/// ```js
/// const ns = new Namespace();
/// ns.mountMemFs("/tmp");
/// ns.mkdir("/tmp/notes");
/// ns.write("/tmp/notes/a.txt", "hello");
/// ns.readText("/tmp/notes/a.txt"); // "hello"
/// ns.readdir("/tmp");              // [{name: "notes", path: "/tmp/notes", dir: true, size: 0}]
/// ns.mountTable();                 // "mount /tmp memfs\n"
/// try { ns.read("/tmp/nope"); } catch (e) { e.message; } // "not found: /tmp/nope"
/// ```
#[wasm_bindgen(js_name = Namespace)]
#[derive(Debug, Default)]
pub struct JsNamespace {
    inner: WebNamespace,
}

#[wasm_bindgen(js_class = Namespace)]
impl JsNamespace {
    /// An empty namespace: nothing is mounted.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts an empty in-memory file system at `at`.
    #[wasm_bindgen(js_name = mountMemFs)]
    pub fn mount_memfs(&mut self, at: &str) -> JsResult<()> {
        check(self.inner.mount_memfs(at).map(drop))
    }

    /// Mounts a read-only file system holding `files` (`{"/path": "text"}`, or that as JSON).
    #[wasm_bindgen(js_name = mountMapFs)]
    pub fn mount_mapfs(&mut self, at: &str, files: &JsValue) -> JsResult<()> {
        let text = json_text(at, "files", files)?;
        let files = check(files_from_json(at, &text))?;
        check(self.inner.mount_mapfs(at, files).map(drop))
    }

    /// Mounts a task (`{"id", "task_type", "description", "input"}`, or that as JSON).
    #[wasm_bindgen(js_name = mountTaskFs)]
    pub fn mount_taskfs(&mut self, at: &str, spec: &JsValue) -> JsResult<()> {
        let text = json_text(at, "task spec", spec)?;
        let spec = check(task_spec_from_json(at, &text))?;
        check(self.inner.mount_taskfs(at, spec).map(drop))
    }

    /// Mounts an empty logs service (`stdout.log`, `stderr.log`, `events.jsonl`).
    #[wasm_bindgen(js_name = mountLogsFs)]
    pub fn mount_logsfs(&mut self, at: &str) -> JsResult<()> {
        check(self.inner.mount_logsfs(at).map(drop))
    }

    /// Mounts the HTTP capability with an egress policy (`{"schemes": ["https"], "hosts":
    /// ["api.example.com"]}`, or that as JSON; `{}` refuses everything). Requests wait in its
    /// queue until [`startFetch`](Self::start_fetch) carries them out.
    #[wasm_bindgen(js_name = mountHttpFs)]
    pub fn mount_httpfs(&mut self, at: &str, policy: &JsValue) -> JsResult<()> {
        let text = json_text(at, "egress policy", policy)?;
        let policy = check(policy_from_json(at, &text))?;
        check(self.inner.mount_httpfs(at, policy).map(drop))
    }

    /// Carries out the requests of the HTTP capability at `at` with the browser's `fetch`,
    /// as they arrive. Call it once per mount.
    #[wasm_bindgen(js_name = startFetch)]
    pub fn start_fetch(&self, at: &str) -> JsResult<()> {
        let http = check(self.inner.http(at))?;
        fetch::start(&http);
        Ok(())
    }

    /// Removes the mount at `at`.
    pub fn unmount(&mut self, at: &str) -> JsResult<()> {
        check(self.inner.unmount(at))
    }

    /// The mounts, in order: `[{path: "/tmp", kind: "memfs"}]`.
    pub fn mounts(&self) -> JsResult<JsValue> {
        to_js("/", &self.inner.mounts())
    }

    /// The mount table as replayable text.
    #[wasm_bindgen(js_name = mountTable)]
    pub fn mount_table(&self) -> String {
        self.inner.mount_table()
    }

    /// Lists a directory: `[{name, path, dir, size, mount?}]`, sorted by name; `mount` is the
    /// kind of service mounted at an entry that is a mount point.
    pub fn readdir(&self, path: &str) -> JsResult<JsValue> {
        let entries = check(self.inner.readdir(path))?;
        to_js(path, &entries)
    }

    /// The metadata of a path: `{path, dir, size, readonly, modified_ms?, served_by?}`.
    pub fn stat(&self, path: &str) -> JsResult<JsValue> {
        let stat = check(self.inner.stat(path))?;
        to_js(path, &stat)
    }

    /// The content of a file as bytes (a `Uint8Array`).
    pub fn read(&self, path: &str) -> JsResult<Vec<u8>> {
        check(self.inner.read(path))
    }

    /// The content of a file as text (invalid UTF-8 shows as U+FFFD).
    #[wasm_bindgen(js_name = readText)]
    pub fn read_text(&self, path: &str) -> JsResult<String> {
        let bytes = check(self.inner.read(path))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Replaces a file's content with `text`, creating the file if needed.
    pub fn write(&self, path: &str, text: &str) -> JsResult<()> {
        check(self.inner.write(path, text.as_bytes()))
    }

    /// Replaces a file's content with `bytes`, creating the file if needed.
    #[wasm_bindgen(js_name = writeBytes)]
    pub fn write_bytes(&self, path: &str, bytes: &[u8]) -> JsResult<()> {
        check(self.inner.write(path, bytes))
    }

    /// Creates an empty file; throws `AlreadyExists` if the path exists.
    pub fn create(&self, path: &str) -> JsResult<()> {
        check(self.inner.create(path))
    }

    /// Appends `text` to a file, creating it if needed.
    pub fn append(&self, path: &str, text: &str) -> JsResult<()> {
        check(self.inner.append(path, text.as_bytes()))
    }

    /// Writes one message to a capability file and returns what the handle answers (the
    /// request's id for `/cap/http/request`).
    pub fn send(&self, path: &str, message: &str) -> JsResult<String> {
        check(self.inner.send(path, message.as_bytes()))
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &str) -> JsResult<()> {
        check(self.inner.mkdir(path))
    }

    /// Removes a file or an empty directory.
    pub fn remove(&self, path: &str) -> JsResult<()> {
        check(self.inner.remove(path))
    }

    /// Renames a file or directory (within one mount).
    pub fn rename(&self, from: &str, to: &str) -> JsResult<()> {
        check(self.inner.rename(from, to))
    }

    /// The host starts the task at `at` (`pending` → `running`).
    #[wasm_bindgen(js_name = taskStart)]
    pub fn task_start(&self, at: &str) -> JsResult<()> {
        let task = check(self.inner.task(at))?;
        task.set_running()
            .map_err(|e| fs_error(&FsError::invalid_input(at, e.to_string())))
    }

    /// The host marks the task at `at` completed (`running` → `completed`).
    #[wasm_bindgen(js_name = taskComplete)]
    pub fn task_complete(&self, at: &str) -> JsResult<()> {
        let task = check(self.inner.task(at))?;
        task.set_completed()
            .map_err(|e| fs_error(&FsError::invalid_input(at, e.to_string())))
    }

    /// The host marks the task at `at` failed, with a reason.
    #[wasm_bindgen(js_name = taskFail)]
    pub fn task_fail(&self, at: &str, reason: &str) -> JsResult<()> {
        let task = check(self.inner.task(at))?;
        task.set_failed(reason)
            .map_err(|e| fs_error(&FsError::invalid_input(at, e.to_string())))
    }

    /// The status of the task at `at`: `{state, ...times, error?}`.
    #[wasm_bindgen(js_name = taskStatus)]
    pub fn task_status(&self, at: &str) -> JsResult<JsValue> {
        let status = check(self.inner.task_status(at))?;
        to_js(at, &status)
    }

    /// The host logs an event (`level`: `debug`, `info`, `warn` or `error`) to the logs at `at`.
    pub fn log(&self, at: &str, level: &str, message: &str) -> JsResult<()> {
        let logs = check(self.inner.logs(at))?;
        let level = match level {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            other => {
                return Err(fs_error(&FsError::invalid_input(
                    at,
                    format!("level `{other}`: expected debug, info, warn or error"),
                )));
            }
        };
        logs.log_event(LogEvent::new(level, message));
        Ok(())
    }

    /// The counters of the HTTP capability at `at`: `{queued, in_flight, completed, ...}`.
    #[wasm_bindgen(js_name = httpStatus)]
    pub fn http_status(&self, at: &str) -> JsResult<JsValue> {
        let status = check(self.inner.http_status(at))?;
        to_js(at, &status)
    }

    /// The records of the HTTP capability at `at`, oldest first: `[{at, action, id?, target,
    /// outcome, bytes, detail?}]`.
    #[wasm_bindgen(js_name = httpRecords)]
    pub fn http_records(&self, at: &str) -> JsResult<JsValue> {
        let records = check(self.inner.http_records(at))?;
        to_js(at, &records)
    }
}
