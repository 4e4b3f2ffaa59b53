//! The Rust examples of the design README, compiled and run as written.
//!
//! Each test holds one example of the README verbatim between the
//! `// --- example` and `// --- end` lines; what comes before is the setup
//! the README leaves to the reader (the variables an example names but does
//! not define), and what comes after checks that the example did what its
//! comments say. Two blocks of the README are not Rust and are checked in
//! other ways: "Give different agents different capabilities" (a sketch of
//! three mount lists, built for real in `different_agents_different_capabilities`)
//! and "Composable Building Blocks" (a list of type names, each named in
//! `composable_building_blocks_exist`).
//!
//! The examples call lifecycle methods as statements (`task.set_running();`)
//! and leave some results unused, as documentation does: hence the `allow`.

#![allow(unused_must_use, unused_variables, reason = "the README's examples, as written")]

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use oanix::*;

type TestResult = std::result::Result<(), Box<dyn Error>>;

/// A temporary directory that the examples' relative paths (`./project`,
/// `./my-project`) resolve in: the process's working directory is moved
/// there once, for every test of this binary (none depends on the other).
fn in_scratch_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for project in ["project", "my-project"] {
            let src = dir.path().join(project).join("src");
            std::fs::create_dir_all(&src).expect("project directories");
            std::fs::write(src.join("main.rs"), "fn main() {}\n").expect("main.rs");
            std::fs::write(src.join("auth.rs"), "pub fn login() {}\n").expect("auth.rs");
        }
        std::env::set_current_dir(dir.path()).expect("enter the scratch directory");
        dir
    });
    dir.path()
}

fn spec() -> TaskSpec {
    TaskSpec {
        id: "seed-1".into(),
        task_type: "demo".into(),
        description: "the README's examples".into(),
        input: serde_json::json!({}),
    }
}

fn project_dir() -> PathBuf {
    in_scratch_dir().join("project")
}

#[test]
fn run_a_coding_agent_safely() -> TestResult {
    in_scratch_dir();
    let spec = spec();
    let meta = TaskMeta::default();
    // --- example
    let ns = Namespace::builder()
        .mount("/task", TaskFs::new(spec, meta))           // What to do
        .mount("/workspace", WorkspaceFs::new("./project")?) // Real project files
        .mount("/logs", LogsFs::new())                     // Capture everything
        .mount("/tmp", MemFs::new())                       // Scratch space
        .build();

    // Agent reads /task/spec.json, modifies /workspace, writes /task/result.json
    // You can review /logs/stdout.log to see what it did
    // --- end
    let spec: serde_json::Value = serde_json::from_slice(&read_file(&ns, "/task/spec.json")?)?;
    assert_eq!(spec["id"], "seed-1");
    assert_eq!(
        read_to_string(&ns, "/workspace/src/main.rs")?,
        "fn main() {}\n"
    );
    write_file(&ns, "/logs/stdout.log", "did it\n")?;
    assert_eq!(read_to_string(&ns, "/logs/stdout.log")?, "did it\n");
    Ok(())
}

#[test]
fn benchmark_agents_reproducibly() -> TestResult {
    // --- example
    // Snapshot the workspace so agent modifications don't affect the original
    let workspace = CowFs::new(MapFs::builder()
        .file("/src/main.rs", include_bytes!("fixtures/main.rs"))
        .build());

    // Run multiple agents against the same snapshot
    // Compare their /task/result.json outputs
    // --- end
    write_file(&workspace, "/src/main.rs", "changed")?;
    assert_eq!(workspace.changes()?.len(), 1);
    Ok(())
}

#[test]
fn different_agents_different_capabilities() -> TestResult {
    // The README sketches three agents' namespaces; built for real here.
    let project = project_dir();
    let agent_a = Namespace::builder()
        .mount("/workspace", WorkspaceFs::new(&project)?)
        .mount("/cap/http", HttpFs::new())
        .build();
    let agent_b = Namespace::builder()
        .mount("/workspace", WorkspaceFs::readonly(&project)?)
        .build();
    let agent_c = Namespace::builder()
        .mount("/task", TaskFs::new(spec(), TaskMeta::default()))
        .build();
    assert!(agent_a.stat("/cap/http/request").is_ok());
    assert_eq!(
        write_file(&agent_b, "/workspace/new.txt", "x").map_err(|e| e.kind()),
        Err(FsErrorKind::ReadOnly)
    );
    assert!(agent_b.stat("/cap").is_err());
    assert!(agent_c.stat("/workspace").is_err());
    assert_eq!(
        write_file(&agent_c, "/task/spec.json", "{}").map_err(|e| e.kind()),
        Err(FsErrorKind::ReadOnly)
    );
    Ok(())
}

#[test]
fn connect_to_real_networks() -> TestResult {
    // --- example
    use oanix::executor::{ExecutorManager, ExecutorConfig};

    // Create capability services
    let http_fs = Arc::new(HttpFs::new());
    let ws_fs = Arc::new(WsFs::new());
    let nostr_fs = Arc::new(NostrFs::generate()?);

    // Attach executors that do real network I/O
    let mut executor = ExecutorManager::new(ExecutorConfig::default())?;
    executor.attach_http(Arc::clone(&http_fs));
    executor.attach_ws(Arc::clone(&ws_fs));
    executor.attach_nostr(Arc::clone(&nostr_fs));
    executor.start()?;

    // Now mount in namespace - agent writes files, executors handle network
    let ns = Namespace::builder()
        .mount("/cap/http", http_fs)
        .mount("/cap/ws", ws_fs)
        .mount("/cap/nostr", nostr_fs)
        .build();

    // Agent writes to /cap/http/request → executor makes HTTP call
    // Response appears in /cap/http/responses/{id}.json

    executor.shutdown()?;
    // --- end
    for dir in ["/cap/http", "/cap/ws", "/cap/nostr"] {
        assert!(ns.stat(dir)?.is_dir(), "{dir}");
    }
    Ok(())
}

#[test]
fn composable_building_blocks_exist() {
    // The README lists these types; each is at the facade's root.
    let names = [
        std::any::type_name::<MemFs>(),
        std::any::type_name::<MapFs>(),
        std::any::type_name::<FuncFs>(),
        std::any::type_name::<CowFs>(),
        std::any::type_name::<TaskFs>(),
        std::any::type_name::<LogsFs>(),
        std::any::type_name::<WorkspaceFs>(),
    ];
    assert!(names.iter().all(|n| n.starts_with("oanix_")));
}

#[test]
fn complete_agent_environment() -> TestResult {
    in_scratch_dir();
    // --- example
    use oanix::*;

    // 1. Define the task
    let task = TaskFs::new(
        TaskSpec {
            id: "review-001".into(),
            task_type: "code-review".into(),
            description: "Review the authentication module".into(),
            input: serde_json::json!({"files": ["src/auth.rs"]}),
        },
        TaskMeta::default(),
    );

    // 2. Set up logging
    let logs = LogsFs::new();

    // 3. Wrap real workspace with copy-on-write (agent changes don't affect original)
    let workspace = CowFs::new(WorkspaceFs::readonly("./my-project")?);

    // 4. Build the namespace
    let ns = Namespace::builder()
        .mount("/task", task)
        .mount("/logs", logs)
        .mount("/workspace", workspace)
        .mount("/tmp", MemFs::new())
        .build();

    // 5. Agent executes...
    // - Reads /task/spec.json to understand the job
    // - Reads files from /workspace/src/auth.rs
    // - Writes analysis to /logs/stdout.log
    // - Writes structured events via logs.info("Found issue: ...")
    // - Writes final result to /task/result.json

    // 6. Check results
    let (task_svc, _) = ns.resolve("/task/result.json").unwrap();
    let result = read_file(task_svc, "/result.json");
    // --- end
    assert_eq!(
        read_to_string(&ns, "/workspace/src/auth.rs")?,
        "pub fn login() {}\n"
    );
    write_file(&ns, "/workspace/src/auth.rs", "pub fn login() { todo() }\n")?;
    assert_eq!(
        std::fs::read_to_string(in_scratch_dir().join("my-project/src/auth.rs"))?,
        "pub fn login() {}\n",
        "the copy-on-write layer kept the original"
    );
    assert_eq!(result?, b"", "no result was written yet: result.json is empty");
    Ok(())
}

#[test]
fn taskfs_lifecycle() -> TestResult {
    let (spec, meta) = (spec(), TaskMeta::default());
    let result = br#"{"answer": 42}"#;
    // --- example
    let task = TaskFs::new(spec, meta);

    // Status management
    task.set_running();              // Pending → Running
    task.set_completed();            // Running → Completed
    task.set_failed("Error msg");    // Running → Failed
    task.is_finished();              // true if Completed or Failed

    // File interface
    read_file(&task, "/spec.json");   // Task specification
    read_file(&task, "/meta.json");   // Metadata (tags, timeout, etc.)
    read_file(&task, "/status");      // Current status as JSON
    write_file(&task, "/result.json", result); // Final output
    // --- end
    assert!(task.is_finished());
    assert_eq!(task.state(), TaskState::Completed, "a finished task stays finished");
    let status: serde_json::Value = serde_json::from_slice(&read_file(&task, "/status")?)?;
    assert_eq!(status["state"], "completed");
    Ok(())
}

#[test]
fn logsfs_structured_logging() -> TestResult {
    // --- example
    let logs = LogsFs::new();

    // Programmatic API
    logs.write_stdout(b"Output text\n");
    logs.write_stderr(b"Error text\n");
    logs.info("Task started");
    logs.warn("Rate limit approaching");
    logs.error("Connection failed");
    logs.log_event(LogEvent::with_data(
        LogLevel::Debug,
        "Config loaded",
        serde_json::json!({"timeout": 300}),
    ));

    // File interface (for agents)
    // Write to /logs/stdout.log, /logs/stderr.log
    // Read /logs/events.jsonl for structured events
    // --- end
    assert_eq!(read_to_string(&logs, "/stdout.log")?, "Output text\n");
    assert_eq!(read_to_string(&logs, "/stderr.log")?, "Error text\n");
    let events = read_to_string(&logs, "/events.jsonl")?;
    assert_eq!(events.lines().count(), 4);
    assert!(events.contains("Config loaded") && events.contains("\"timeout\":300"));
    Ok(())
}

#[test]
fn workspacefs_secure_real_filesystem() {
    let flags = OpenFlags::read_only();
    let example = || -> TestResult {
        // --- example
        // Wrap a directory (read-write)
        let workspace = WorkspaceFs::new("/path/to/project")?;

        // Read-only mode
        let workspace = WorkspaceFs::readonly("/path/to/project")?;

        // Security: these are all rejected
        workspace.open("/../../../etc/passwd", flags);  // Path escape
        workspace.open("/src/../../etc/passwd", flags); // Sneaky escape
        // --- end
        Ok(())
    };
    // As written, the example names a directory that does not exist here:
    // it stops at the first line with an error naming it.
    let error = example().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("/path/to/project"), "{error}");

    // The same calls on a real directory: both escapes are refused.
    let workspace = WorkspaceFs::readonly(project_dir()).expect("the project opens");
    for path in ["/../../../etc/passwd", "/src/../../etc/passwd"] {
        let refused = workspace.open(path, flags).err().map(|e| e.kind());
        assert_eq!(refused, Some(FsErrorKind::Escape), "{path}");
    }
}

#[test]
fn nostrfs_capability() -> TestResult {
    let example = || -> TestResult {
        // --- example
        use oanix::NostrFs;

        // Create with a secret key
        let secret_key = [0u8; 32]; // Use a real key!
        let nostr = NostrFs::new(secret_key)?;
        // --- end
        Ok(())
    };
    // Zero is not a secp256k1 secret key: the example's warning is enforced.
    let error = example().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("key"), "{error}");

    // --- example
    // Or generate a new key
    let nostr = NostrFs::generate()?;

    // Get identity
    println!("pubkey: {}", nostr.pubkey());
    println!("npub: {}", nostr.npub());

    // Add relays
    nostr.add_relay("wss://relay.damus.io");

    // Create NIP-90 job request
    let event = nostr.create_job_request(
        5050, // Text generation
        "What is the capital of France?",
        HashMap::new(),
    )?;

    // Events are queued in outbox
    let pending = nostr.outbox_events();

    // File interface for agents:
    // /identity/pubkey    - Read public key hex
    // /identity/npub      - Read bech32 npub
    // /submit             - Write event template JSON → signed event in outbox
    // /request            - Write NIP-90 request JSON → signed event in outbox
    // /outbox/{id}.json   - Read pending events
    // /inbox/{id}.json    - Read received events
    // /status             - Read service status
    // --- end
    assert_eq!(read_to_string(&nostr, "/identity/pubkey")?, nostr.pubkey().to_string());
    assert!(nostr.npub().starts_with("npub1"));
    assert_eq!(pending.len(), 1);
    for file in ["/identity/npub", "/status"] {
        read_file(&nostr, file)?;
    }
    Ok(())
}

#[test]
fn wsfs_capability() -> TestResult {
    // --- example
    use oanix::WsFs;

    let ws = WsFs::new();

    // Open connection programmatically
    let conn_id = ws.open_connection("wss://relay.example.com")?;
    ws.set_connected(&conn_id)?;  // Called by transport when connected

    // Queue outgoing message
    ws.send_message(&conn_id, b"Hello WebSocket!".to_vec())?;

    // External transport drains outbox and sends
    let pending = ws.drain_outbox(&conn_id)?;

    // Transport adds received messages
    ws.receive_message(&conn_id, b"Response".to_vec())?;

    // Read from inbox (FIFO)
    let msg = ws.read_message(&conn_id)?;

    // File interface for agents:
    // /control              - Write {"url": "wss://..."} or {"id": "conn-0"}
    // /status               - Read overall service status
    // /conns/{id}/out       - Write messages to send
    // /conns/{id}/in        - Read received messages
    // /conns/{id}/status    - Read connection state
    // /conns/{id}/url       - Read connection URL
    // --- end
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].as_ref(), b"Hello WebSocket!");
    assert_eq!(msg.as_ref().map(|m| m.as_ref()), Some(&b"Response"[..]));
    assert_eq!(
        read_to_string(&ws, &format!("/conns/{conn_id}/url"))?,
        "wss://relay.example.com"
    );
    // The agent's own writes to /control stay under the (empty) policy.
    assert!(write_file(&ws, "/control", r#"{"url": "wss://relay.example.com"}"#).is_err());
    Ok(())
}

#[test]
fn httpfs_capability() -> TestResult {
    // --- example
    use oanix::{HttpFs, HttpRequest, HttpResponse, HttpMethod};

    let http = HttpFs::new();

    // Submit request
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: "https://api.example.com/data".to_string(),
        headers: HashMap::from([("Authorization".into(), "Bearer token".into())]),
        ..Default::default()
    };
    let req_id = http.submit_request(request);

    // External executor takes pending request
    let pending = http.take_pending(&req_id)?;

    // Executor completes request
    http.complete_request(HttpResponse {
        request_id: req_id.clone(),
        status: 200,
        status_text: "OK".to_string(),
        headers: HashMap::new(),
        body: r#"{"result": "success"}"#.to_string(),
        duration_ms: 150,
        completed_at: now(),
    });

    // Read response
    let response = http.get_response(&req_id)?;

    // File interface for agents:
    // /request              - Write request JSON → queued for execution
    // /pending/{id}.json    - Read pending request details
    // /responses/{id}.json  - Read completed response (or failure)
    // /status               - Read service status
    // --- end
    assert_eq!(pending.request.url, "https://api.example.com/data");
    let file: serde_json::Value =
        serde_json::from_slice(&read_file(&http, &format!("/responses/{req_id}.json"))?)?;
    assert_eq!(file["status"], 200);
    assert_eq!(file["body"], r#"{"result": "success"}"#);
    Ok(())
}

#[test]
fn executor_manager_real_network_io() -> TestResult {
    // --- example
    use oanix::executor::{ExecutorManager, ExecutorConfig, RetryPolicy};
    use std::sync::Arc;
    use std::time::Duration;

    // Configure execution behavior
    let config = ExecutorConfig::builder()
        .poll_interval(Duration::from_millis(50))
        .http_timeout(Duration::from_secs(30))
        .http_retry(RetryPolicy::exponential(3, Duration::from_millis(100)))
        .ws_connect_timeout(Duration::from_secs(10))
        .ws_max_concurrent(100)
        .build();

    // Create capability services
    let http_fs = Arc::new(HttpFs::new());
    let ws_fs = Arc::new(WsFs::new());

    // Create executor manager
    let mut executor = ExecutorManager::new(config)?;
    executor.attach_http(Arc::clone(&http_fs));
    executor.attach_ws(Arc::clone(&ws_fs));

    // Start executors (spawns async tasks)
    executor.start()?;

    // Now http_fs and ws_fs are "live" - requests get executed
    // Submit HTTP request via HttpFs
    let req_id = http_fs.submit_request(HttpRequest {
        method: HttpMethod::Get,
        url: "https://api.example.com/data".to_string(),
        ..Default::default()
    });

    // Wait for response (executor handles it automatically)
    // Response appears in http_fs.get_response(&req_id)

    // Clean shutdown
    executor.shutdown()?;
    // --- end
    // `HttpFs::new()` allows nothing: the request was refused, not sent.
    let outcome = http_fs.get_response(&req_id)?;
    assert!(outcome.failure().is_some(), "{outcome:?}");
    Ok(())
}

#[test]
fn namespace_mount_points() -> TestResult {
    in_scratch_dir();
    let task_fs = TaskFs::new(spec(), TaskMeta::default());
    let workspace_fs = CowFs::new(WorkspaceFs::readonly("./project")?);
    let logs_fs = LogsFs::new();
    let nostr_fs = NostrFs::generate()?;
    let ws_fs = WsFs::new();
    let http_fs = HttpFs::new();
    // --- example
    let ns = Namespace::builder()
        .mount("/task", task_fs)
        .mount("/workspace", workspace_fs)
        .mount("/logs", logs_fs)
        .mount("/cap/nostr", nostr_fs)  // Nostr capability
        .mount("/cap/ws", ws_fs)        // WebSocket capability
        .mount("/cap/http", http_fs)    // HTTP capability
        .mount("/tmp", MemFs::new())
        .build();

    // Resolve paths to services
    let (service, relative_path) = ns.resolve("/workspace/src/main.rs").unwrap();
    // --- end
    assert_eq!(relative_path, "/src/main.rs");
    assert_eq!(read_to_string(service, &relative_path)?, "fn main() {}\n");
    Ok(())
}

#[test]
fn oanix_env_environment() -> TestResult {
    in_scratch_dir();
    let task_fs = TaskFs::new(spec(), TaskMeta::default());
    let logs_fs = LogsFs::new();
    let workspace_fs = CowFs::new(WorkspaceFs::readonly("./project")?);
    // --- example
    use oanix::{EnvBuilder, EnvStatus};

    // Create a complete agent environment
    let env = EnvBuilder::new()
        .mount("/task", task_fs)
        .mount("/logs", logs_fs)
        .mount("/workspace", workspace_fs)
        .mount("/cap/http", HttpFs::new())
        .mount("/tmp", MemFs::new())
        .build()?;

    // Check status
    println!("ID: {}", env.id());
    println!("Status: {:?}", env.status());

    // Lifecycle management
    env.set_running();
    // ... execution ...
    env.set_completed(0);  // or env.set_failed("error message");

    assert!(env.is_finished());
    // --- end
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 0 });
    let task = env.task().ok_or("the task is wired")?;
    assert_eq!(task.state(), TaskState::Completed, "the task followed the environment");
    Ok(())
}

#[test]
fn scheduler_job_queue() -> TestResult {
    // --- example
    use oanix::{Scheduler, JobSpec, JobKind, EnvBuilder};

    let mut scheduler = Scheduler::with_max_concurrent(4);

    // Register environments
    let env = EnvBuilder::new()
        .mount("/workspace", MemFs::new())
        .build()?;
    let env_id = scheduler.register_env(env);

    // Submit jobs with priority
    let job = JobSpec::new(env_id, JobKind::script("echo hello"))
        .with_priority(10)
        .env("DEBUG", "true")
        .with_timeout(300)
        .tag("urgent");
    scheduler.submit(job)?;

    // Process jobs
    while let Some(job) = scheduler.next() {
        // Execute job...
        scheduler.complete(&job.id, 0);
    }

    // Check status
    let status = scheduler.status();
    println!("Completed: {}", status.completed_count);
    // --- end
    assert_eq!(status.completed_count, 1);
    Ok(())
}
