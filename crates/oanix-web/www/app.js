// Namespace Explorer: the page's logic over the OANIX WebAssembly module.
//
// Everything the page shows comes from the namespace through the `Namespace` class of
// `pkg/oanix_web.js`; every error the page shows is the message of the `FsError` it caught.

import init, { Namespace } from "./pkg/oanix_web.js";

const timings = { start: performance.now() };
window.oanixTimings = timings;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How long the simulated agent pauses between steps (`?step=0` for tests).
const STEP_MS = Number(new URLSearchParams(location.search).get("step") ?? 450);

const SPEC = {
  id: "demo-001",
  task_type: "code-edit",
  description: "Make main.rs greet the user, check the weather service, report",
  input: { file: "/workspace/src/main.rs" },
};

const WORKSPACE = {
  "/README.md": "# demo project\n\nA tiny project for the agent to work on.\n",
  "/Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2024"\n',
  "/src/main.rs": 'fn main() {\n    println!("hello");\n}\n',
};

const DOCS = {
  "/welcome.md":
    "# Namespace Explorer\n\n" +
    "Everything here is a file served by an OANIX service mounted in this tab.\n\n" +
    "- /task       the agent's assignment (taskfs)\n" +
    "- /workspace  the project it edits (memfs)\n" +
    "- /docs       read-only files (mapfs)\n" +
    "- /logs       what it prints and logs (logsfs)\n" +
    "- /tmp        scratch space (memfs)\n" +
    "- /cap/http   the network, behind a policy (httpfs)\n\n" +
    "Select a directory, type a name, and create a file or a directory.\n" +
    "Press \"run agent\" to watch /task and /logs change.\n",
  "/plan9.txt": "bind, mount, and a namespace per process.\n",
};

const state = {
  ns: null,
  selected: "/",
  open: null, // path of the file in the editor
  expanded: new Set(["/", "/workspace", "/workspace/src", "/docs", "/tmp", "/cap"]),
  agentRunning: false,
};

// ---------------------------------------------------------------- status line

function say(text) {
  const el = $("status");
  el.textContent = text;
  el.classList.remove("error");
}

function fail(error) {
  const el = $("status");
  el.textContent = error && error.message ? error.message : String(error);
  el.classList.add("error");
}

/** Runs `action`, showing its error (an FsError's message) instead of throwing. */
function attempt(action) {
  try {
    return action();
  } catch (error) {
    fail(error);
    return undefined;
  }
}

// ---------------------------------------------------------------- paths

const join = (dir, name) => (dir === "/" ? `/${name}` : `${dir}/${name}`);
const parent = (path) => {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
};
const baseName = (path) => path.slice(path.lastIndexOf("/") + 1);

function selectedDir() {
  const stat = attempt(() => state.ns.stat(state.selected));
  if (!stat) return "/";
  return stat.dir ? state.selected : parent(state.selected);
}

// ---------------------------------------------------------------- tree

function row(entry) {
  const li = document.createElement("li");
  li.setAttribute("role", "treeitem");
  const div = document.createElement("div");
  div.className = "row";
  div.dataset.path = entry.path;
  if (entry.path === state.selected) div.classList.add("selected");

  const twisty = document.createElement("span");
  twisty.className = "twisty";
  twisty.textContent = entry.dir ? (state.expanded.has(entry.path) ? "▾" : "▸") : "";
  const name = document.createElement("span");
  name.className = `name ${entry.dir ? "dir" : "file"}`;
  name.textContent = entry.dir ? `${entry.name}/` : entry.name;
  div.append(twisty, name);
  if (entry.mount) {
    const badge = document.createElement("span");
    badge.className = `badge ${entry.mount}`;
    badge.textContent = entry.mount;
    badge.title = `mount point: ${entry.mount}`;
    div.dataset.mount = entry.mount;
    div.append(badge);
  }
  if (!entry.dir) {
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = `${entry.size} B`;
    div.append(size);
  }
  div.addEventListener("click", () => onTreeClick(entry));
  li.append(div);
  if (entry.dir && state.expanded.has(entry.path)) {
    li.append(listing(entry.path));
  }
  return li;
}

function listing(dir) {
  const ul = document.createElement("ul");
  ul.setAttribute("role", "group");
  let entries = [];
  try {
    entries = state.ns.readdir(dir);
  } catch (error) {
    const li = document.createElement("li");
    li.className = "dim";
    li.textContent = error.message;
    ul.append(li);
    return ul;
  }
  for (const entry of entries) ul.append(row(entry));
  return ul;
}

function renderTree() {
  const tree = $("tree");
  const root = row({ name: "", path: "/", dir: true, size: 0 });
  root.querySelector(".name").textContent = "/";
  tree.replaceChildren(root);
  $("selected-path").textContent = state.selected;
}

function onTreeClick(entry) {
  state.selected = entry.path;
  if (entry.dir) {
    if (state.expanded.has(entry.path) && entry.path !== "/") state.expanded.delete(entry.path);
    else state.expanded.add(entry.path);
  } else {
    openFile(entry.path);
  }
  renderTree();
}

// ---------------------------------------------------------------- viewer / editor

function openFile(path) {
  const stat = attempt(() => state.ns.stat(path));
  if (!stat) return;
  let text;
  try {
    text = state.ns.readText(path);
  } catch (error) {
    // A capability response that has not arrived yet, for example.
    text = "";
    fail(error);
  }
  state.open = path;
  const editor = $("editor");
  editor.value = text;
  editor.disabled = false;
  editor.readOnly = stat.readonly;
  $("viewer-title").textContent = path;
  const served = stat.served_by ? `${stat.served_by.kind} at ${stat.served_by.path}` : "synthetic";
  const when = stat.modified_ms ? ` · modified ${new Date(stat.modified_ms).toLocaleTimeString()}` : "";
  $("viewer-meta").textContent =
    `${stat.size} bytes · ${stat.readonly ? "read-only" : "read-write"} · ${served}${when}`;
  $("save").disabled = stat.readonly;
  $("reload").disabled = false;
}

function closeFile() {
  state.open = null;
  $("editor").value = "";
  $("editor").disabled = true;
  $("viewer-title").textContent = "File";
  $("viewer-meta").textContent = "Select a file in the tree.";
  $("save").disabled = true;
  $("reload").disabled = true;
}

function save() {
  if (!state.open) return;
  const path = state.open;
  const ok = attempt(() => {
    state.ns.write(path, $("editor").value);
    return true;
  });
  if (ok) {
    say(`saved ${path}`);
    openFile(path);
    refresh();
  }
}

// ---------------------------------------------------------------- create / rename / delete

function nameInput() {
  const name = $("name-input").value.trim();
  if (!name) {
    fail("type a name first");
    return null;
  }
  return name;
}

function createFile() {
  const name = nameInput();
  if (!name) return;
  const path = join(selectedDir(), name);
  if (attempt(() => (state.ns.create(path), true))) {
    say(`created ${path}`);
    state.expanded.add(parent(path));
    state.selected = path;
    openFile(path);
    refresh();
    $("editor").focus();
  }
}

function createDir() {
  const name = nameInput();
  if (!name) return;
  const path = join(selectedDir(), name);
  if (attempt(() => (state.ns.mkdir(path), true))) {
    say(`created ${path}/`);
    state.expanded.add(parent(path));
    state.expanded.add(path);
    state.selected = path;
    refresh();
  }
}

function renameSelected() {
  const name = nameInput();
  if (!name) return;
  const from = state.selected;
  const to = join(parent(from), name);
  if (attempt(() => (state.ns.rename(from, to), true))) {
    say(`renamed ${from} → ${to}`);
    state.selected = to;
    if (state.open === from) openFile(to);
    refresh();
  }
}

function deleteSelected() {
  const path = state.selected;
  if (attempt(() => (state.ns.remove(path), true))) {
    say(`deleted ${path}`);
    if (state.open === path) closeFile();
    state.selected = parent(path);
    refresh();
  }
}

// ---------------------------------------------------------------- mount table

function renderMounts() {
  $("mount-table").textContent = state.ns.mountTable();
}

function mountFromForm(event) {
  event.preventDefault();
  const at = $("mount-path").value.trim() || "/scratch";
  const kind = $("mount-kind").value;
  const ok = attempt(() => {
    if (kind === "memfs") state.ns.mountMemFs(at);
    else if (kind === "mapfs") state.ns.mountMapFs(at, { "/hello.txt": "mounted from the page\n" });
    else if (kind === "logsfs") state.ns.mountLogsFs(at);
    return true;
  });
  if (ok) {
    say(`mounted ${kind} at ${at}`);
    state.expanded.add(at);
    refresh();
  }
}

// ---------------------------------------------------------------- task and logs

function renderTask() {
  const status = attempt(() => state.ns.taskStatus("/task"));
  if (!status) return;
  const pill = $("task-state");
  pill.textContent = status.state;
  pill.className = `pill ${status.state}`;
  let result = "";
  try {
    const text = state.ns.readText("/task/result.json");
    if (text) result = `result.json: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
  } catch (_) {
    result = "";
  }
  $("task-result").textContent = result;
}

function renderLogs() {
  const stdout = $("stdout");
  const text = attempt(() => state.ns.readText("/logs/stdout.log")) ?? "";
  const lines = text.split("\n").slice(-40).join("\n");
  if (stdout.textContent !== lines) {
    stdout.textContent = lines;
    stdout.scrollTop = stdout.scrollHeight;
  }
  const events = $("events");
  const raw = attempt(() => state.ns.readText("/logs/events.jsonl")) ?? "";
  const items = raw
    .split("\n")
    .filter((l) => l.trim())
    .slice(-30)
    .map((line) => {
      const li = document.createElement("li");
      try {
        const ev = JSON.parse(line);
        const lvl = document.createElement("span");
        lvl.className = `lvl ${ev.level}`;
        lvl.textContent = ev.level;
        li.append(lvl, document.createTextNode(` ${ev.message}`));
      } catch (_) {
        li.textContent = line;
      }
      return li;
    });
  if (events.childElementCount !== items.length) {
    events.replaceChildren(...items);
    events.scrollTop = events.scrollHeight;
  }
}

// ---------------------------------------------------------------- HTTP capability

function samePolicy() {
  const scheme = location.protocol.replace(":", "");
  const port = Number(location.port) || (scheme === "https" ? 443 : 80);
  return {
    schemes: [scheme],
    hosts: [location.hostname],
    ports: [port],
    methods: ["GET", "POST"],
    allow_loopback: true,
    max_response_body: 65536,
  };
}

function renderHttp() {
  const status = attempt(() => state.ns.httpStatus("/cap/http"));
  if (!status) return;
  $("http-counters").textContent =
    `${status.submitted} sent · ${status.completed} ok · ${status.failed} failed · ${status.refused} refused`;
  const records = state.ns.httpRecords("/cap/http");
  const byId = new Map();
  const rows = [];
  for (const r of records) {
    if (r.action === "request" && r.id) {
      const item = { id: r.id, target: r.target, outcome: "queued", detail: "" };
      byId.set(r.id, item);
      rows.push(item);
    } else if (r.action === "request") {
      const detail = (r.detail ?? "").replace(/^refused by policy: /, "");
      rows.push({ id: "—", target: r.target, outcome: r.outcome, detail });
    } else if (r.id && byId.has(r.id)) {
      const item = byId.get(r.id);
      item.outcome = r.outcome === "ok" ? "ok" : "failed";
      item.detail = r.detail ?? "";
    }
  }
  const list = rows.slice(-12).reverse().map((item) => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    li.dataset.outcome = item.outcome;
    const line = document.createElement("div");
    line.className = "line";
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = item.id;
    const target = document.createElement("span");
    target.className = "target";
    target.textContent = item.target;
    target.title = item.target;
    const outcome = document.createElement("span");
    outcome.className = item.outcome;
    outcome.textContent = item.detail ? `${item.outcome}: ${item.detail}` : item.outcome;
    line.append(id, target, outcome);
    li.append(line);
    if (item.outcome === "ok") {
      try {
        const response = JSON.parse(state.ns.readText(`/cap/http/responses/${item.id}.json`));
        const body = document.createElement("div");
        body.className = "body";
        body.textContent = response.body ?? `(${response.body_base64?.length ?? 0} base64 chars)`;
        li.append(body);
      } catch (_) {
        // Evicted or removed: the record stays, the body is gone.
      }
    }
    return li;
  });
  $("http-log").replaceChildren(...list);
}

function sendFromForm(event) {
  event.preventDefault();
  const message = { method: $("http-method").value, url: $("http-url").value.trim() };
  if (message.method === "POST") message.body = "hello from the explorer";
  const id = attempt(() => state.ns.send("/cap/http/request", JSON.stringify(message)));
  if (id) say(`${message.method} ${message.url} → ${id}`);
  refresh();
}

// ---------------------------------------------------------------- the simulated agent

/** Waits for the response to `id` without blocking the page: each read is non-blocking. */
async function waitResponse(id) {
  for (let i = 0; i < 100; i += 1) {
    try {
      return JSON.parse(state.ns.readText(`/cap/http/responses/${id}.json`));
    } catch (error) {
      if (error.kind !== "WouldBlock") throw error;
      await sleep(50);
    }
  }
  throw new Error(`no response to ${id}`);
}

async function runAgent() {
  if (state.agentRunning) return;
  state.agentRunning = true;
  $("run-agent").disabled = true;
  const ns = state.ns;
  const out = (line) => ns.append("/logs/stdout.log", `${line}\n`);
  const event = (level, message) =>
    ns.append("/logs/events.jsonl", `${JSON.stringify({ level, message })}\n`);
  const step = async () => {
    refresh();
    await sleep(STEP_MS);
  };
  try {
    // The host starts the task; from here on the agent uses files only.
    ns.taskStart("/task");
    ns.log("/logs", "info", "agent started");
    await step();

    const spec = JSON.parse(ns.readText("/task/spec.json"));
    out(`$ cat /task/spec.json → ${spec.task_type}: ${spec.description}`);
    await step();

    const files = ns.readdir("/workspace").map((e) => e.name);
    out(`$ ls /workspace → ${files.join("  ")}`);
    await step();

    const main = ns.readText(spec.input.file);
    ns.write(spec.input.file, main.replace('"hello"', '"hello, {}", whoami()'));
    ns.append(spec.input.file, "\nfn whoami() -> &'static str {\n    \"explorer\"\n}\n");
    out(`edited ${spec.input.file}`);
    event("info", `edited ${spec.input.file}`);
    await step();

    const url = new URL("data/weather.json", location.href).href;
    const id = ns.send("/cap/http/request", JSON.stringify({ url }));
    out(`$ echo '{"url": "${url}"}' > /cap/http/request → ${id}`);
    await step();
    const response = await waitResponse(id);
    if (response.ok) {
      out(`response ${id}: ${response.status} ${response.body ?? ""}`.trim());
      event("info", `weather service answered ${response.status}`);
    } else {
      out(`request ${id} failed: ${response.error.kind}: ${response.error.message}`);
      event("warn", `request ${id} failed`);
    }
    await step();

    try {
      ns.send("/cap/http/request", JSON.stringify({ url: "https://example.com/exfiltrate" }));
    } catch (error) {
      ns.append("/logs/stderr.log", `${error.message}\n`);
      out(`refused by policy: ${error.message}`);
      event("warn", "egress to example.com refused by the policy");
    }
    await step();

    ns.write(
      "/task/result.json",
      JSON.stringify({ ok: true, edited: [spec.input.file], weather: response.ok ? response.status : null }),
    );
    out("wrote /task/result.json");
    ns.taskComplete("/task");
    ns.log("/logs", "info", "task completed");
    say("agent finished: /task/status is completed");
  } catch (error) {
    fail(error);
    attempt(() => ns.taskFail("/task", error.message));
  } finally {
    state.agentRunning = false;
    refresh();
  }
}

// ---------------------------------------------------------------- wiring

function refresh() {
  renderTree();
  renderMounts();
  renderTask();
  renderLogs();
  renderHttp();
}

function buildNamespace() {
  const ns = new Namespace();
  ns.mountTaskFs("/task", SPEC);
  ns.mountMemFs("/workspace");
  for (const [path, text] of Object.entries(WORKSPACE)) {
    const full = `/workspace${path}`;
    const dir = parent(full);
    if (dir !== "/workspace") {
      try {
        ns.mkdir(dir);
      } catch (error) {
        if (error.kind !== "AlreadyExists") throw error;
      }
    }
    ns.write(full, text);
  }
  ns.mountMapFs("/docs", DOCS);
  ns.mountLogsFs("/logs");
  ns.mountMemFs("/tmp");
  ns.mountHttpFs("/cap/http", samePolicy());
  ns.startFetch("/cap/http");
  return ns;
}

function wire() {
  $("refresh").addEventListener("click", refresh);
  $("new-file").addEventListener("click", createFile);
  $("new-dir").addEventListener("click", createDir);
  $("rename").addEventListener("click", renameSelected);
  $("delete").addEventListener("click", deleteSelected);
  $("save").addEventListener("click", save);
  $("reload").addEventListener("click", () => state.open && openFile(state.open));
  $("mount-form").addEventListener("submit", mountFromForm);
  $("http-form").addEventListener("submit", sendFromForm);
  $("run-agent").addEventListener("click", runAgent);
  $("name-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") createFile();
  });
  $("http-url").value = new URL("data/weather.json", location.href).href;
  const p = samePolicy();
  $("http-policy").textContent =
    `policy: ${p.schemes.join(",")}://${p.hosts.join(",")}:${p.ports.join(",")} only; everything else is refused`;
  // Live view: the agent (or anything else) may change files at any time.
  setInterval(() => {
    renderTask();
    renderLogs();
    renderHttp();
  }, 500);
}

async function main() {
  await init();
  timings.moduleReady = performance.now();
  state.ns = buildNamespace();
  wire();
  refresh();
  openFile("/docs/welcome.md");
  state.selected = "/docs/welcome.md";
  renderTree();
  timings.firstRender = performance.now();
  say(`ready in ${Math.round(timings.firstRender)} ms`);
  window.explorer = { ns: state.ns, state, refresh, runAgent, timings };
}

window.explorerReady = main().catch((error) => {
  fail(error);
  throw error;
});
