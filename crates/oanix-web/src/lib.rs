//! OANIX in the browser: the namespace compiled to WebAssembly, a JavaScript API over it, a
//! `fetch` executor for the HTTP capability, and the Namespace Explorer page.
//!
//! The same namespace code that runs an agent on a server runs in a browser tab: `oanix-vfs`,
//! `oanix-prims` and the in-memory services of `oanix-services` and `oanix-caps` compile for
//! `wasm32-unknown-unknown` unchanged. This crate adds what a page needs and nothing more.
//!
//! # Principal types
//!
//! - [`WebNamespace`]: a namespace whose mounts can change while the page runs (an
//!   [`oanix_vfs::Namespace`] is immutable; this keeps the list of mounts and rebuilds it), with
//!   the file operations a page uses (`readdir`, `stat`, `read`, `write`, `mkdir`, `remove`,
//!   `rename`, `send`) and the host side of each service (the task's lifecycle, the logs, the
//!   HTTP queue and its records). It is plain Rust: it builds and is tested on every target.
//! - `Namespace`, the JavaScript class (on `wasm32-unknown-unknown` only): the same operations
//!   for JavaScript. Every error is thrown as a JavaScript `Error` whose `message` is the
//!   [`FsError`](oanix_vfs::FsError)'s text (`not found: /tmp/x`), whose `name` is `FsError` and
//!   whose `kind` is the variant (`NotFound`).
//! - The fetch executor (`Namespace.startFetch(mount)`): carries out an `HttpFs`'s queued
//!   requests with the browser's `fetch`, woken by the service rather than polling, under the
//!   same egress policy, refusing redirects and sending no credentials.
//!
//! # The page
//!
//! `www/` holds the Namespace Explorer: static HTML, CSS and JavaScript that load the module
//! `wasm-bindgen` generates. It shows the namespace as a tree with mount points marked, a
//! viewer and editor for files, buttons to create, rename and delete, the mount table (and a
//! form to mount more), the `/task` and `/logs` of a simulated agent updating as it works, and
//! the requests and responses of the HTTP capability.
//!
//! # Building and serving
//!
//! ```text
//! cargo xtask web           # build into target/web/site (wasm32 build, wasm-bindgen, wasm-opt if present)
//! cargo xtask web --serve   # the same, then serve it on http://127.0.0.1:8080/
//! ```
//!
//! `wasm-bindgen-cli` must be the version of the `wasm-bindgen` crate; `cargo xtask
//! install-tools` installs it. The page needs only a static server that sends `.wasm` files as
//! `application/wasm`. `cargo xtask test` builds it, runs this crate's `wasm-bindgen-test`
//! tests in Node and drives the page in headless Chromium.
//!
//! # Example
//!
//! The same operations from Rust, as the page's buttons make them:
//!
//! ```
//! use oanix_web::{MountKind, WebNamespace};
//!
//! let mut ns = WebNamespace::new();
//! ns.mount_memfs("/tmp")?;
//! ns.mount_mapfs("/docs", [("/readme.md", "# read me\n")])?;
//! ns.mkdir("/tmp/notes")?;
//! ns.write("/tmp/notes/todo.txt", b"explore")?;
//!
//! let root = ns.readdir("/")?;
//! assert_eq!(root[0].mount, Some(MountKind::MapFs)); // `/docs` is a mount point
//! assert_eq!(ns.read("/tmp/notes/todo.txt")?, b"explore");
//! assert_eq!(
//!     ns.write("/docs/readme.md", b"x").unwrap_err().to_string(),
//!     "read-only: /docs/readme.md"
//! );
//! print!("{}", ns.mount_table()); // mount /tmp memfs / mount /docs mapfs
//! # Ok::<(), oanix_vfs::FsError>(())
//! ```

mod web_namespace;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod bindings;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod fetch;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use bindings::JsNamespace;
pub use web_namespace::{
    EntryInfo, MountInfo, MountKind, StatInfo, WebNamespace, files_from_json, policy_from_json,
    task_spec_from_json,
};
