//! The HTTP capability in a JavaScript engine: the policy at the file, the queue, the records.
//!
//! Nothing here reaches a network: requests the policy allows stay queued (no executor is
//! started), and refused ones never leave.

use js_sys::{Array, Reflect};
use oanix_web::JsNamespace;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

fn http() -> JsNamespace {
    let mut ns = JsNamespace::new();
    let policy =
        js_sys::JSON::parse(r#"{"schemes": ["https"], "hosts": ["api.example.com"]}"#).unwrap();
    ns.mount_httpfs("/cap/http", &policy).unwrap();
    ns
}

#[wasm_bindgen_test]
fn allowed_requests_queue_and_reads_do_not_wait() {
    let ns = http();
    let id = ns
        .send(
            "/cap/http/request",
            r#"{"url": "https://api.example.com/v1"}"#,
        )
        .unwrap();
    assert_eq!(id, "req-1");
    assert_eq!(
        get(&ns.http_status("/cap/http").unwrap(), "queued").as_f64(),
        Some(1.0)
    );
    let early: js_sys::Error = ns
        .read_text("/cap/http/responses/req-1.json")
        .unwrap_err()
        .dyn_into()
        .unwrap();
    assert_eq!(get(&early, "kind").as_string().unwrap(), "WouldBlock");
    let pending: Array = ns.readdir("/cap/http/pending").unwrap().dyn_into().unwrap();
    assert_eq!(pending.length(), 1);
}

#[wasm_bindgen_test]
fn refused_requests_throw_and_are_recorded() {
    let ns = http();
    let refused: js_sys::Error = ns
        .send(
            "/cap/http/request",
            r#"{"url": "https://elsewhere.example.org/"}"#,
        )
        .unwrap_err()
        .dyn_into()
        .unwrap();
    assert_eq!(
        get(&refused, "kind").as_string().unwrap(),
        "PermissionDenied"
    );
    assert!(String::from(refused.message()).contains("elsewhere.example.org"));
    let records: Array = ns.http_records("/cap/http").unwrap().dyn_into().unwrap();
    assert_eq!(records.length(), 1);
    assert_eq!(
        get(&records.get(0), "outcome").as_string().unwrap(),
        "refused"
    );
    let status = ns.http_status("/cap/http").unwrap();
    assert_eq!(get(&status, "refused").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
fn the_fetch_executor_starts_only_on_an_http_mount() {
    let mut ns = http();
    ns.mount_memfs("/tmp").unwrap();
    let wrong: js_sys::Error = ns.start_fetch("/tmp").unwrap_err().dyn_into().unwrap();
    assert_eq!(
        String::from(wrong.message()),
        "invalid input for /tmp: expected a httpfs mount, found memfs"
    );
    ns.start_fetch("/cap/http").unwrap();
}
