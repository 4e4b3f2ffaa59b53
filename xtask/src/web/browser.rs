//! `cargo xtask browser-test`: the Namespace Explorer in headless Chromium, driven through
//! WebDriver as a person would use it, with a screenshot and the page's timings.
//!
//! The test builds the site, serves it on 127.0.0.1, starts Debian's `chromedriver` with
//! Debian's `chromium` (headless, a fresh profile, no background networking), then through the
//! page's own controls: creates a directory and a file, types into the file and saves it, reads
//! it back by clicking it in the tree, checks an error message, renames and deletes, mounts a
//! service from the mount form, checks the mount table, runs the simulated agent and waits for
//! `/task` to complete with its HTTP request answered by the fetch executor and its refused one
//! recorded. It saves a screenshot to `<target>/web/explorer.png` (also when a check fails)
//! and measures the time to first render and 10,000 `MemFs` writes made from the page.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use super::serve::Server;
use super::webdriver::{Driver, Session};
use super::{Site, kib, web_dir};
use crate::process;

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package puts the driver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser window, and so the screenshot, in CSS pixels.
const WINDOW: (u32, u32) = (1440, 1040);

/// Writes per round of the in-page benchmark, and rounds (the median is reported).
const BENCH_WRITES: u32 = 10_000;
const BENCH_ROUNDS: u32 = 5;

/// The program `var` names (`OANIX_CHROMIUM`, `OANIX_CHROMEDRIVER`), else `default` if it exists.
fn program(var: &str, default: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => Some(PathBuf::from(default)).filter(|p| p.exists()),
    }
}

/// `cargo xtask browser-test`: builds the site and drives it in headless Chromium.
pub(crate) fn browser_test(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        anyhow::bail!("`browser-test` takes no arguments, got `{extra}`");
    }
    run()
}

/// Builds the site and drives it in headless Chromium.
fn run() -> Result<()> {
    let (Some(chromium), Some(chromedriver)) = (
        program("OANIX_CHROMIUM", CHROMIUM),
        program("OANIX_CHROMEDRIVER", CHROMEDRIVER),
    ) else {
        let hint = "install Debian's `chromium` and `chromium-driver` packages \
                    (`.ci/run` does), or set OANIX_CHROMIUM and OANIX_CHROMEDRIVER";
        if process::is_ci() {
            bail!("the browser test needs Chromium and chromedriver: {hint}");
        }
        println!("note: skipped the browser test: {hint}");
        return Ok(());
    };
    let site = super::build()?;
    let server = Server::start(&site.root, 0)?;
    let base = format!("http://{}/", server.addr());
    let profile = web_dir().join(format!("chromium-profile-{}", std::process::id()));
    if profile.exists() {
        std::fs::remove_dir_all(&profile)?;
    }
    std::fs::create_dir_all(&profile)?;
    println!("==> browser test: {} on {base}", chromium.display());
    let outcome = drive(&chromium, &chromedriver, &profile, &base);
    let _ = std::fs::remove_dir_all(&profile);
    let report = outcome?;
    print_report(&site, &report)?;
    Ok(())
}

/// What the browser test measured.
#[derive(Debug)]
struct Report {
    /// `performance.now()` when the tree was first drawn (ms since navigation start).
    first_render_ms: f64,
    /// When the module was instantiated.
    module_ready_ms: f64,
    /// The median time of [`BENCH_WRITES`] writes, over [`BENCH_ROUNDS`] rounds.
    writes_ms: f64,
    /// Every round's time.
    rounds_ms: Vec<f64>,
    /// The peer: the median time of the same writes into a JavaScript `Map`.
    map_writes_ms: f64,
    /// The screenshot's path.
    screenshot: PathBuf,
}

/// Starts the driver and the browser, runs the checks, saves the screenshot, closes all.
fn drive(chromium: &Path, chromedriver: &Path, profile: &Path, base: &str) -> Result<Report> {
    let driver = Driver::start(chromedriver)?;
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            ],
        },
    });
    let session = Session::new(&driver, &capabilities)?;
    let screenshot = web_dir().join("explorer.png");
    let checked = check_page(&session, base, &screenshot);
    if checked.is_err() {
        // The picture of a broken page is the first thing to look at.
        if let Ok(png) = session.screenshot() {
            let _ = std::fs::write(&screenshot, png);
            println!("    screenshot of the failure: {}", screenshot.display());
        }
    }
    let _ = session.delete();
    checked
}

/// Waits (in the page, up to `timeout`) until the expression `condition` is truthy; returns
/// its value.
fn wait_for(session: &Session, condition: &str, timeout: Duration) -> Result<Value> {
    let script = "
        const [condition, ms] = arguments;
        const done = arguments[arguments.length - 1];
        const test = new Function(`return (${condition});`);
        const until = performance.now() + ms;
        (function tick() {
            let value = null;
            try { value = test(); } catch (_) { value = null; }
            if (value) done(value);
            else if (performance.now() > until) done(null);
            else setTimeout(tick, 20);
        })();";
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let value = session.execute_async(script, &[json!(condition), json!(ms)])?;
    if value.is_null() {
        bail!("timed out after {ms} ms waiting for `{condition}`");
    }
    Ok(value)
}

/// The status line's text, failing if it shows an error.
fn status_ok(session: &Session) -> Result<String> {
    let status = session.execute(
        "const s = document.getElementById('status'); return [s.textContent, s.classList.contains('error')];",
        &[],
    )?;
    let text = status[0].as_str().unwrap_or_default().to_owned();
    ensure!(status[1] == json!(false), "the page shows an error: {text}");
    Ok(text)
}

/// A row of the tree.
fn row(path: &str) -> String {
    format!(".row[data-path=\"{path}\"]")
}

/// The editor's content.
fn editor(session: &Session) -> Result<String> {
    let value = session.execute("return document.getElementById('editor').value;", &[])?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

fn check_page(session: &Session, base: &str, screenshot: &Path) -> Result<Report> {
    session.set_timeouts(Duration::from_secs(5), Duration::from_secs(60))?;
    // Short pauses between the simulated agent's steps.
    session.navigate(&format!("{base}index.html?step=80"))?;
    let ready = session.execute_async(
        "const done = arguments[arguments.length - 1];
         window.explorerReady.then(() => done({ ok: true, timings: window.oanixTimings }),
                                   (e) => done({ ok: false, error: String(e) }));",
        &[],
    )?;
    ensure!(
        ready["ok"] == json!(true),
        "the page did not start: {}",
        ready["error"]
    );
    let first_render_ms = ready["timings"]["firstRender"].as_f64().unwrap_or(f64::NAN);
    let module_ready_ms = ready["timings"]["moduleReady"].as_f64().unwrap_or(f64::NAN);
    status_ok(session)?;

    // The tree shows the mounts, marked with their kind.
    for (path, kind) in [
        ("/task", "taskfs"),
        ("/workspace", "memfs"),
        ("/docs", "mapfs"),
        ("/logs", "logsfs"),
        ("/tmp", "memfs"),
        ("/cap/http", "httpfs"),
    ] {
        session
            .find(&format!("{}[data-mount=\"{kind}\"]", row(path)))
            .with_context(|| format!("the tree does not mark {path} as a {kind} mount"))?;
    }
    session.find(&row("/workspace/src/main.rs"))?;

    // A directory and a file, through the page's controls.
    session.click(&row("/tmp"))?;
    session.fill("#name-input", "notes")?;
    session.click("#new-dir")?;
    session.find(&row("/tmp/notes"))?;
    ensure!(
        status_ok(session)? == "created /tmp/notes/",
        "unexpected status after mkdir"
    );
    session.fill("#name-input", "hello.txt")?;
    session.click("#new-file")?;
    session.find(&row("/tmp/notes/hello.txt"))?;
    let content = "Hello from headless Chromium.\nWritten through the Namespace Explorer.\n";
    session.fill("#editor", content)?;
    session.click("#save")?;
    ensure!(
        status_ok(session)? == "saved /tmp/notes/hello.txt",
        "unexpected status after save"
    );

    // Read it back through the tree: open another file, then click this one.
    session.click(&row("/docs/welcome.md"))?;
    ensure!(
        editor(session)?.starts_with("# Namespace Explorer"),
        "welcome.md did not open"
    );
    session.click(&row("/tmp/notes/hello.txt"))?;
    ensure!(
        editor(session)? == content,
        "reading /tmp/notes/hello.txt back gave {:?}",
        editor(session)?
    );
    let size = session.text(&format!("{} .size", row("/tmp/notes/hello.txt")))?;
    ensure!(
        size == format!("{} B", content.len()),
        "the tree shows size {size}"
    );
    ensure!(
        session.text("#viewer-meta")?.contains("memfs at /tmp"),
        "the viewer does not say which mount serves the file"
    );

    // Errors are the FsError's message.
    session.fill("#name-input", "hello.txt")?;
    session.click("#new-file")?;
    let error = session.text("#status")?;
    ensure!(
        error == "already exists: /tmp/notes/hello.txt",
        "creating an existing file showed {error:?}"
    );
    session.click(&row("/docs/welcome.md"))?;
    session.fill("#name-input", "x.md")?;
    session.click("#new-file")?;
    let error = session.text("#status")?;
    ensure!(
        error == "read-only: /docs/x.md",
        "creating in a mapfs showed {error:?}"
    );

    // Rename and delete.
    session.click(&row("/tmp/notes"))?;
    session.fill("#name-input", "draft.txt")?;
    session.click("#new-file")?;
    session.fill("#name-input", "final.txt")?;
    session.click("#rename")?;
    session.find(&row("/tmp/notes/final.txt"))?;
    ensure!(
        session.execute(
            "return document.querySelector('.row[data-path=\"/tmp/notes/draft.txt\"]') === null;",
            &[]
        )? == json!(true),
        "the renamed file is still listed under its old name"
    );
    session.click("#delete")?;
    ensure!(
        status_ok(session)? == "deleted /tmp/notes/final.txt",
        "unexpected status after delete"
    );

    // The mount table, and a mount made from the page.
    let table = session.text("#mount-table")?;
    for line in [
        "mount /task taskfs",
        "mount /workspace memfs",
        "mount /docs mapfs",
        "mount /logs logsfs",
        "mount /tmp memfs",
        "mount /cap/http httpfs",
    ] {
        ensure!(
            table.lines().any(|l| l == line),
            "the mount table lacks `{line}`:\n{table}"
        );
    }
    session.fill("#mount-path", "/scratch")?;
    session.click("#mount-button")?;
    session.find(&format!("{}[data-mount=\"memfs\"]", row("/scratch")))?;
    ensure!(
        session
            .text("#mount-table")?
            .lines()
            .any(|l| l == "mount /scratch memfs"),
        "the new mount is not in the mount table"
    );

    // The simulated agent: /task and /logs change, its HTTP request is fetched.
    session.click("#run-agent")?;
    wait_for(
        session,
        "document.getElementById('task-state').textContent === 'completed'",
        Duration::from_secs(30),
    )
    .context("the agent's task did not complete")?;
    let stdout = session.text("#stdout")?;
    ensure!(
        stdout.contains("wrote /task/result.json"),
        "stdout.log shows:\n{stdout}"
    );
    wait_for(
        session,
        "document.querySelector('#http-log li[data-outcome=\"ok\"] .body')",
        Duration::from_secs(10),
    )
    .context("no HTTP response shown")?;
    let http = session.text("#http-log")?;
    ensure!(
        http.contains("Murray Hill"),
        "the response body is not shown:\n{http}"
    );
    ensure!(
        http.contains("refused"),
        "the refused request is not shown:\n{http}"
    );
    ensure!(
        session.text("#events")?.contains("task completed"),
        "events.jsonl does not show the end of the task"
    );

    // The picture: the file just written, open from the tree.
    session.click(&row("/tmp/notes/hello.txt"))?;
    ensure!(editor(session)? == content, "the file changed");
    let png = session.screenshot()?;
    if let Some(dir) = screenshot.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(screenshot, &png)
        .with_context(|| format!("could not write {}", screenshot.display()))?;

    // 10,000 MemFs writes from the page, through the JavaScript API, on a fresh mount per
    // round; the peer, measured in the same rounds, is a JavaScript `Map` of path to bytes.
    let bench = session.execute(
        "const [n, rounds] = arguments;
         const ns = window.explorer.ns;
         const text = 'sixteen bytes!!\\n';
         const encoder = new TextEncoder();
         const oanix = [], map = [];
         for (let r = 0; r < rounds; r += 1) {
           ns.mountMemFs('/bench');
           let t0 = performance.now();
           for (let i = 0; i < n; i += 1) ns.write(`/bench/f${i}`, text);
           oanix.push(performance.now() - t0);
           if (ns.readdir('/bench').length !== n) throw new Error('writes lost');
           const m = new Map();
           t0 = performance.now();
           for (let i = 0; i < n; i += 1) m.set(`/bench/f${i}`, encoder.encode(text));
           map.push(performance.now() - t0);
           if (m.size !== n) throw new Error('map writes lost');
         }
         ns.unmount('/bench');
         return { oanix, map };",
        &[json!(BENCH_WRITES), json!(BENCH_ROUNDS)],
    )?;
    let times = |key: &str| -> Vec<f64> {
        bench[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (rounds_ms, map_rounds_ms) = (times("oanix"), times("map"));
    ensure!(
        !rounds_ms.is_empty() && rounds_ms.len() == map_rounds_ms.len(),
        "the benchmark returned no times: {bench}"
    );
    let writes_ms = median(&rounds_ms);
    let map_writes_ms = median(&map_rounds_ms);
    Ok(Report {
        first_render_ms,
        module_ready_ms,
        writes_ms,
        rounds_ms,
        map_writes_ms,
        screenshot: screenshot.to_path_buf(),
    })
}

/// The median of `times` (not empty).
fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn print_report(site: &Site, report: &Report) -> Result<()> {
    println!("    browser test passed");
    println!("    screenshot: {}", report.screenshot.display());
    let size = match site.optimized_bytes {
        Some(after) => format!(
            "{} as built, {} after wasm-opt",
            kib(site.wasm_bytes),
            kib(after)
        ),
        None => format!("{} as built (no usable wasm-opt)", kib(site.wasm_bytes)),
    };
    println!("    oanix_web_bg.wasm: {size}");
    println!(
        "    first render: {:.0} ms after navigation (module ready at {:.0} ms)",
        report.first_render_ms, report.module_ready_ms
    );
    let rounds: Vec<String> = report.rounds_ms.iter().map(|t| format!("{t:.1}")).collect();
    println!(
        "    {BENCH_WRITES} MemFs writes from the page: {:.1} ms median ({} ms); \
         a JavaScript Map: {:.1} ms; ratio {:.1}×",
        report.writes_ms,
        rounds.join(", "),
        report.map_writes_ms,
        report.writes_ms / report.map_writes_ms
    );
    let json = json!({
        "wasm_bytes": site.wasm_bytes,
        "wasm_opt_bytes": site.optimized_bytes,
        "first_render_ms": report.first_render_ms,
        "module_ready_ms": report.module_ready_ms,
        "memfs_writes": BENCH_WRITES,
        "memfs_writes_ms_median": report.writes_ms,
        "memfs_writes_ms_rounds": report.rounds_ms,
        "js_map_writes_ms_median": report.map_writes_ms,
    });
    let path = web_dir().join("browser-report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("could not write {}", path.display()))?;
    println!("    numbers: {}", path.display());
    Ok(())
}
