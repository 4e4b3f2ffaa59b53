//! The tools a server offers: their names, descriptions and input schemas,
//! and the call of each.

use std::sync::Arc;

use oanix_env::OanixEnv;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use crate::config::McpConfig;
use crate::ops::{self, Failure, Outcome, args};

/// The name of every tool, in the order they are listed.
pub const TOOL_NAMES: &[&str] = &[
    "list_dir",
    "read_file",
    "write_file",
    "append_file",
    "mkdir",
    "remove",
    "rename",
    "stat",
    "find",
    "http_request",
    "run",
    "task_status",
    "set_result",
    "checkpoint",
    "list_checkpoints",
];

/// Whether the tool changes the namespace (subscribed files are looked at
/// again after it).
pub(crate) fn mutates(name: &str) -> bool {
    !matches!(
        name,
        "list_dir" | "read_file" | "stat" | "find" | "task_status" | "list_checkpoints"
    )
}

/// Whether a call may wait: a program run, an HTTP request, a snapshot,
/// or any file under a capability's mount (reading a response waits for
/// it). Such calls run on a blocking thread; the others, on files of memory
/// and host directories, answer at once and run in place.
pub(crate) fn may_block(env: &OanixEnv, name: &str, arguments: &Value) -> bool {
    if matches!(name, "run" | "http_request" | "checkpoint") {
        return true;
    }
    let paths = ["path", "from", "to"]
        .iter()
        .filter_map(|k| arguments.get(*k).and_then(Value::as_str));
    let capability_roots: Vec<&str> = env.capabilities().map(|(p, _)| p).collect();
    paths.into_iter().any(|p| {
        // Unnormalised paths (`/x/../cap/http/...`) are judged by their
        // normal form; one that does not parse is refused either way.
        let p = oanix_vfs::path::normalize(p).map_or_else(|_| p.to_owned(), |c| c.into_owned());
        capability_roots.iter().any(|root| {
            oanix_vfs::path::starts_with(&p, root) || oanix_vfs::path::starts_with(root, &p)
        })
    })
}

fn schema(properties: Value, required: &[&str]) -> Arc<JsonObject> {
    let mut s = JsonObject::new();
    s.insert("type".into(), json!("object"));
    s.insert("properties".into(), properties);
    s.insert("required".into(), json!(required));
    s.insert("additionalProperties".into(), json!(false));
    Arc::new(s)
}

fn path_prop(what: &str) -> Value {
    json!({ "type": "string", "description": what })
}

/// The input of `write_file` and `append_file`.
fn content_schema(abs: &str) -> Arc<JsonObject> {
    schema(
        json!({
            "path": path_prop(abs),
            "content": { "type": "string" },
            "encoding": { "type": "string", "enum": ["text", "base64"] },
        }),
        &["path", "content"],
    )
}

fn tool(
    name: &'static str,
    description: &'static str,
    input: Arc<JsonObject>,
    read_only: bool,
) -> Tool {
    let annotations = ToolAnnotations::new()
        .read_only(read_only)
        .destructive(!read_only)
        .open_world(name == "http_request");
    Tool::new(name, description, input).annotate(annotations)
}

/// The tools of an environment: all of them, but the checkpoint tools only
/// where the environment keeps checkpoints.
pub(crate) fn list(env: &OanixEnv) -> Vec<Tool> {
    let abs = "An absolute path in the environment's namespace, such as /workspace/src/main.rs";
    let mut tools = vec![
        tool(
            "list_dir",
            "List a directory of the namespace: each entry's name, kind and size.",
            schema(json!({ "path": path_prop(abs) }), &["path"]),
            true,
        ),
        tool(
            "read_file",
            "Read a file of the namespace, or a part of it: from `offset`, at most `length` bytes \
             (the server's limit per read when not given). Gives UTF-8 text, or base64 for other \
             bytes (`encoding`: auto, text or base64), and whether the end was reached.",
            schema(
                json!({
                    "path": path_prop(abs),
                    "offset": { "type": "integer", "minimum": 0, "description": "First byte to read" },
                    "length": { "type": "integer", "minimum": 1, "description": "Most bytes to read" },
                    "encoding": { "type": "string", "enum": ["auto", "text", "base64"] },
                }),
                &["path"],
            ),
            true,
        ),
        tool(
            "write_file",
            "Write a whole file (created if needed): the content replaces the file's, or, when the \
             write fails, the file is as it was. `encoding` says whether `content` is text or base64.",
            content_schema(abs),
            false,
        ),
        tool(
            "append_file",
            "Append to a file (created if needed): all of the content, or nothing.",
            content_schema(abs),
            false,
        ),
        tool(
            "mkdir",
            "Create a directory; with `parents`, its missing parents too.",
            schema(
                json!({ "path": path_prop(abs), "parents": { "type": "boolean" } }),
                &["path"],
            ),
            false,
        ),
        tool(
            "remove",
            "Remove a file or an empty directory; with `recursive`, a directory and all below it.",
            schema(
                json!({ "path": path_prop(abs), "recursive": { "type": "boolean" } }),
                &["path"],
            ),
            false,
        ),
        tool(
            "rename",
            "Rename (move) a file or directory within the namespace.",
            schema(
                json!({ "from": path_prop(abs), "to": path_prop(abs) }),
                &["from", "to"],
            ),
            false,
        ),
        tool(
            "stat",
            "A file's or directory's kind, size, whether it is read-only, and its times.",
            schema(json!({ "path": path_prop(abs) }), &["path"]),
            true,
        ),
        tool(
            "find",
            "Search names under a directory: every path whose name matches `pattern` (`*` and `?` \
             wildcards; a pattern with `/` matches the whole path).",
            schema(
                json!({
                    "path": path_prop(abs),
                    "pattern": { "type": "string", "description": "A glob such as *.rs" },
                    "max_results": { "type": "integer", "minimum": 1 },
                }),
                &["path"],
            ),
            true,
        ),
        tool(
            "http_request",
            "Make an HTTP request through the environment's HTTP capability (/cap/http): the \
             egress policy decides, the request and its outcome are recorded, and the response \
             (status, headers, body) is returned.",
            schema(
                json!({
                    "url": { "type": "string", "description": "An absolute https:// URL" },
                    "method": { "type": "string", "description": "GET by default" },
                    "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                    "body": { "type": "string" },
                    "body_base64": { "type": "string" },
                    "timeout_ms": { "type": "integer", "minimum": 1 },
                }),
                &["url"],
            ),
            false,
        ),
        tool(
            "run",
            "Run a program in the environment: `module`, a WASI module read from the namespace and \
             run over it, or `command`, a native command run in the environment's sandbox (when \
             the server has native support). Gives the exit code and the output.",
            schema(
                json!({
                    "module": path_prop("The WASI module (.wasm) in the namespace"),
                    "command": { "type": "array", "items": { "type": "string" }, "minItems": 1 },
                    "args": { "type": "array", "items": { "type": "string" } },
                    "timeout_secs": { "type": "number", "exclusiveMinimum": 0 },
                }),
                &[],
            ),
            false,
        ),
        tool(
            "task_status",
            "The task's status (pending, running, completed, failed), its specification and its \
             result so far, and the environment's status.",
            schema(json!({}), &[]),
            true,
        ),
        tool(
            "set_result",
            "Set the task's result: any JSON value, written to /task/result.json.",
            schema(
                json!({ "result": { "description": "The result, any JSON value" } }),
                &["result"],
            ),
            false,
        ),
    ];
    if env.has_checkpoints() {
        tools.push(tool(
            "checkpoint",
            "Take a checkpoint of the whole environment under a name (a snapshot the host can \
             fork or restore later).",
            schema(json!({ "name": { "type": "string" } }), &["name"]),
            false,
        ));
        tools.push(tool(
            "list_checkpoints",
            "The checkpoints taken so far, oldest first.",
            schema(json!({}), &[]),
            true,
        ));
    }
    tools
}

/// Calls tool `name` with `arguments` (an object, or nothing).
pub(crate) fn call(env: &OanixEnv, config: &McpConfig, name: &str, arguments: Value) -> Outcome {
    let arguments = match arguments {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    };
    match name {
        "list_dir" => ops::list_dir(env, args(name, arguments)?),
        "read_file" => ops::read_file(env, config, args(name, arguments)?),
        "write_file" => ops::write_file(env, config, args(name, arguments)?),
        "append_file" => ops::append_file(env, config, args(name, arguments)?),
        "mkdir" => ops::mkdir(env, args(name, arguments)?),
        "remove" => ops::remove(env, args(name, arguments)?),
        "rename" => ops::rename(env, args(name, arguments)?),
        "stat" => ops::stat(env, args(name, arguments)?),
        "find" => ops::find(env, config, args(name, arguments)?),
        "http_request" => ops::http_request(env, args(name, arguments)?),
        "run" => ops::run(env, config, args(name, arguments)?),
        "task_status" => {
            let ops::NoArgs {} = args(name, arguments)?;
            ops::task_status(env)
        }
        "set_result" => ops::set_result(env, config, args(name, arguments)?),
        "checkpoint" | "list_checkpoints" if !env.has_checkpoints() => Err(Failure::Invalid(
            format!("unknown tool {name:?}: this environment keeps no checkpoints"),
        )),
        "checkpoint" => ops::checkpoint(env, args(name, arguments)?),
        "list_checkpoints" => {
            let ops::NoArgs {} = args(name, arguments)?;
            ops::list_checkpoints(env)
        }
        other => Err(Failure::Invalid(format!(
            "unknown tool {other:?} (the tools are {})",
            TOOL_NAMES.join(", ")
        ))),
    }
}
