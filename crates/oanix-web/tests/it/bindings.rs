//! The `Namespace` class as JavaScript sees it: values in, values out, errors as exceptions.

use js_sys::{Array, Reflect};
use oanix_web::JsNamespace;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

/// The message and kind of the `FsError` a call threw.
fn thrown(error: JsValue) -> (String, String) {
    let error: js_sys::Error = error.dyn_into().unwrap();
    assert_eq!(String::from(error.name()), "FsError");
    (
        String::from(error.message()),
        get(&error, "kind").as_string().unwrap(),
    )
}

fn demo() -> JsNamespace {
    let mut ns = JsNamespace::new();
    ns.mount_memfs("/tmp").unwrap();
    ns.mount_mapfs("/docs", &JsValue::from_str(r##"{"/readme.md": "# hi\n"}"##))
        .unwrap();
    ns
}

#[wasm_bindgen_test]
fn files_round_trip_through_the_bindings() {
    let ns = demo();
    ns.mkdir("/tmp/notes").unwrap();
    ns.write("/tmp/notes/a.txt", "hello").unwrap();
    ns.append("/tmp/notes/a.txt", ", world").unwrap();
    assert_eq!(ns.read_text("/tmp/notes/a.txt").unwrap(), "hello, world");
    ns.write_bytes("/tmp/bin", &[0, 159, 255]).unwrap();
    assert_eq!(ns.read("/tmp/bin").unwrap(), [0, 159, 255]);
    ns.rename("/tmp/bin", "/tmp/bin2").unwrap();
    ns.remove("/tmp/bin2").unwrap();

    let listing: Array = ns.readdir("/tmp").unwrap().dyn_into().unwrap();
    assert_eq!(listing.length(), 1);
    let entry = listing.get(0);
    assert_eq!(get(&entry, "name").as_string().unwrap(), "notes");
    assert_eq!(get(&entry, "path").as_string().unwrap(), "/tmp/notes");
    assert_eq!(get(&entry, "dir").as_bool(), Some(true));

    let stat = ns.stat("/tmp/notes/a.txt").unwrap();
    assert_eq!(get(&stat, "size").as_f64(), Some(12.0));
    assert_eq!(get(&stat, "readonly").as_bool(), Some(false));
    let served_by = get(&stat, "served_by");
    assert_eq!(get(&served_by, "path").as_string().unwrap(), "/tmp");
    assert_eq!(get(&served_by, "kind").as_string().unwrap(), "memfs");
}

#[wasm_bindgen_test]
fn mount_points_are_marked_and_the_table_printed() {
    let mut ns = demo();
    ns.mount_logsfs("/logs").unwrap();
    let root: Array = ns.readdir("/").unwrap().dyn_into().unwrap();
    let marks: Vec<String> = root
        .iter()
        .map(|e| get(&e, "mount").as_string().unwrap_or_default())
        .collect();
    assert_eq!(marks, ["mapfs", "logsfs", "memfs"]);
    assert_eq!(
        ns.mount_table(),
        "mount /tmp memfs\nmount /docs mapfs\nmount /logs logsfs\n"
    );
    let mounts: Array = ns.mounts().unwrap().dyn_into().unwrap();
    assert_eq!(mounts.length(), 3);
    ns.unmount("/logs").unwrap();
    assert_eq!(ns.mount_table(), "mount /tmp memfs\nmount /docs mapfs\n");
}

#[wasm_bindgen_test]
fn errors_are_exceptions_with_the_fs_error_message() {
    let mut ns = demo();
    assert_eq!(
        thrown(ns.read("/tmp/nope").unwrap_err()),
        ("not found: /tmp/nope".into(), "NotFound".into())
    );
    ns.mkdir("/tmp/a").unwrap();
    assert_eq!(
        thrown(ns.mkdir("/tmp/a").unwrap_err()),
        ("already exists: /tmp/a".into(), "AlreadyExists".into())
    );
    assert_eq!(
        thrown(ns.write("/docs/readme.md", "x").unwrap_err()),
        ("read-only: /docs/readme.md".into(), "ReadOnly".into())
    );
    let (message, kind) = thrown(
        ns.mount_mapfs("/bad", &JsValue::from_str("[1, 2]"))
            .unwrap_err(),
    );
    assert_eq!(kind, "InvalidInput");
    assert!(
        message.starts_with("invalid input for /bad: files:"),
        "{message}"
    );
    let (message, _) = thrown(ns.log("/tmp", "info", "x").unwrap_err());
    assert_eq!(
        message,
        "invalid input for /tmp: expected a logsfs mount, found memfs"
    );
}

#[wasm_bindgen_test]
fn the_task_and_logs_change_as_an_agent_works() {
    let mut ns = JsNamespace::new();
    let spec =
        js_sys::JSON::parse(r#"{"id": "t1", "task_type": "demo", "description": "d"}"#).unwrap();
    ns.mount_taskfs("/task", &spec).unwrap();
    ns.mount_logsfs("/logs").unwrap();
    assert_eq!(
        get(&ns.task_status("/task").unwrap(), "state")
            .as_string()
            .unwrap(),
        "pending"
    );
    ns.task_start("/task").unwrap();
    ns.append("/logs/stdout.log", "working\n").unwrap();
    ns.log("/logs", "info", "step 1").unwrap();
    ns.write("/task/result.json", r#"{"ok": true}"#).unwrap();
    ns.task_complete("/task").unwrap();
    assert_eq!(
        get(&ns.task_status("/task").unwrap(), "state")
            .as_string()
            .unwrap(),
        "completed"
    );
    assert!(ns.read_text("/task/status").unwrap().contains("completed"));
    assert_eq!(ns.read_text("/logs/stdout.log").unwrap(), "working\n");
    assert!(
        ns.read_text("/logs/events.jsonl")
            .unwrap()
            .contains("step 1")
    );
    let (message, kind) = thrown(ns.task_start("/task").unwrap_err());
    assert_eq!(kind, "InvalidInput");
    assert!(message.contains("completed"), "{message}");
}
