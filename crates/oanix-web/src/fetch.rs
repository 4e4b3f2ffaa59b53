//! The fetch executor: carries out an `HttpFs`'s requests with the browser's `fetch`.
//!
//! The executor is a task on the page's event loop. It takes a listener from
//! [`HttpFs::work_listener`], takes the queued requests, and when there are none it awaits the
//! listener: a write to `request` wakes it, nothing polls. Each request runs as its own task.
//!
//! The policy was applied when the agent wrote the request (scheme, host, port, method, body
//! size; an IP literal host against [`EgressPolicy::check_ip`](oanix_caps::EgressPolicy)).
//! What the browser does not let a page see — the address a name resolves to — it checks
//! itself: fetch runs with the page's own restrictions (CORS, mixed content) on top of the
//! policy, never with fewer. The executor adds to that:
//!
//! - redirects are refused (`redirect: "error"`): their target could not be checked against
//!   the policy, so following one would be a way around it;
//! - no credentials (`credentials: "omit"`): the page's cookies are not the agent's;
//! - the request's timeout aborts it (`AbortController`), and a response body larger than the
//!   policy's `max_response_body` fails the request with `too_large`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use oanix_caps::{Body, FailureKind, HttpFs, HttpReply, PendingRequest};
use oanix_vfs::deadline::Instant;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    AbortController, Headers, Request, RequestCredentials, RequestInit, RequestMode,
    RequestRedirect, Response,
};

/// How many queued requests one wake-up takes at most.
const BATCH: usize = 16;

/// Starts executing the requests of `http` on the page's event loop.
///
/// The executor holds the service weakly: once the page drops every other reference (the mount
/// was replaced or removed), it ends at its next wake-up.
pub(crate) fn start(http: &Arc<HttpFs>) {
    let weak: Weak<HttpFs> = Arc::downgrade(http);
    spawn_local(async move {
        loop {
            let Some(http) = weak.upgrade() else {
                break;
            };
            let listener = http.work_listener();
            let batch = http.take_pending_batch(BATCH);
            if batch.is_empty() {
                drop(http);
                listener.await;
                continue;
            }
            for request in batch {
                spawn_local(execute(Arc::clone(&http), request));
            }
        }
    });
}

/// A failure: its kind and the reason.
type Failure = (FailureKind, String);

/// Carries out one request and delivers its outcome to the service.
async fn execute(http: Arc<HttpFs>, request: PendingRequest) {
    let id = request.id.clone();
    let outcome = fetch(&request).await;
    // Delivering fails only when the request is no longer pending (the mount was reset), and
    // then there is nobody to tell.
    match outcome {
        Ok(response) => {
            if let Err(refused) = http.complete_request(response) {
                let _ = http.fail_request(&id, FailureKind::TooLarge, refused.to_string());
            }
        }
        Err((kind, message)) => {
            let _ = http.fail_request(&id, kind, message);
        }
    }
}

/// The text of a JavaScript error or value.
fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

fn other(context: &str) -> impl Fn(JsValue) -> Failure + '_ {
    move |e| (FailureKind::Other, format!("{context}: {}", describe(&e)))
}

/// The global object's function `name` (`fetch`, `setTimeout`), in a window, a worker or Node.
fn global_function(name: &str) -> Result<Function, Failure> {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            (
                FailureKind::Other,
                format!("this JavaScript environment has no `{name}`"),
            )
        })
}

/// Builds the `Request` for `pending`: method, URL, headers (the policy's injected ones
/// included), body, and the executor's fixed options.
fn build_request(
    pending: &PendingRequest,
    controller: &AbortController,
) -> Result<Request, Failure> {
    let init = RequestInit::new();
    init.set_method(pending.request.method.as_str());
    init.set_redirect(RequestRedirect::Error);
    init.set_credentials(RequestCredentials::Omit);
    init.set_mode(RequestMode::Cors);
    init.set_signal(Some(&controller.signal()));
    let headers = Headers::new().map_err(other("headers"))?;
    for (name, value) in pending.headers_to_send() {
        headers.set(&name, &value).map_err(other("header"))?;
    }
    init.set_headers(&headers);
    if !pending.request.body.is_empty() {
        init.set_body(&Uint8Array::from(pending.request.body.as_bytes()));
    }
    Request::new_with_str_and_init(pending.url.as_str(), &init).map_err(other("request"))
}

/// Arms a timer that aborts `controller` after `timeout`; returns the timer's id.
fn arm_timeout(controller: &AbortController, timeout: Duration) -> Result<JsValue, Failure> {
    let set_timeout = global_function("setTimeout")?;
    let controller = controller.clone();
    let abort = Closure::once_into_js(move || controller.abort());
    let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    set_timeout
        .call2(&JsValue::NULL, &abort, &JsValue::from(millis))
        .map_err(other("setTimeout"))
}

/// Runs `pending` through `fetch` and reads the whole response.
async fn fetch(pending: &PendingRequest) -> Result<HttpReply, Failure> {
    let started = Instant::now();
    let controller = AbortController::new().map_err(other("abort controller"))?;
    let request = build_request(pending, &controller)?;
    let timer = arm_timeout(&controller, pending.timeout)?;
    let result = fetch_response(pending, &request).await;
    if let Ok(clear) = global_function("clearTimeout") {
        let _ = clear.call1(&JsValue::NULL, &timer);
    }
    match result {
        Err(_) if controller.signal().aborted() => Err((
            FailureKind::Timeout,
            format!("no response within {} ms", pending.timeout.as_millis()),
        )),
        Err(failure) => Err(failure),
        Ok(response) => Ok(response.with_duration(started.elapsed())),
    }
}

async fn fetch_response(pending: &PendingRequest, request: &Request) -> Result<HttpReply, Failure> {
    let fetch = global_function("fetch")?;
    let promise: Promise = fetch
        .call1(&JsValue::NULL, request)
        .map_err(other("fetch"))?
        .dyn_into()
        .map_err(other("fetch"))?;
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|e| {
            (
                FailureKind::Connect,
                format!(
                    "fetch failed: {} (a network error, a CORS refusal, or a redirect, which is \
                     not followed)",
                    describe(&e)
                ),
            )
        })?
        .dyn_into()
        .map_err(other("response"))?;
    let limit = pending.policy.max_response_body();
    let declared = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err((
            FailureKind::TooLarge,
            format!("response body larger than the policy's {limit} bytes"),
        ));
    }
    let mut out = HttpReply::new(pending.id.clone(), response.status())
        .with_status_text(response.status_text());
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair = js_sys::Array::from(&entry);
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out = out.with_header(name, value);
            }
        }
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(other("body"))?)
        .await
        .map_err(|e| (FailureKind::Protocol, format!("body: {}", describe(&e))))?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    if bytes.len() as u64 > limit {
        return Err((
            FailureKind::TooLarge,
            format!("response body larger than the policy's {limit} bytes"),
        ));
    }
    Ok(out.with_body(Body::from_bytes(bytes)))
}
