"""Drives `oanix mcp` with the official MCP Python SDK (`mcp` on PyPI).

Run by crates/oanix-cli/tests/it/mcp.rs, which prepares the manifest, the
workspace, a WASI module and an HTTP server on loopback. Every tool is called,
resources are listed, read and subscribed to, and bad input is checked to be
refused with a clear error and no change. Prints one JSON line of what it saw;
exits non-zero (with the failed check) when something is not as it must be.

    python drive.py --oanix BIN --manifest ENV.toml --transport stdio|http \
        --mode legacy|auto --report REPORT.json --http-port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import warnings

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

warnings.simplefilter("ignore")  # resources/subscribe is deprecated in 2026-07-28; legacy mode uses it

NAME = "demo"
TOKEN = "oanix-test-token"


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def structured(result, tool: str) -> dict:
    check(not result.is_error, f"{tool} failed: {result.content}")
    check(isinstance(result.structured_content, dict), f"{tool}: no structured content")
    return result.structured_content


def error_text(result) -> str:
    check(result.is_error, f"expected an error, got {result.structured_content}")
    return " ".join(getattr(c, "text", "") for c in result.content)


async def refused_params(client: Client, tool: str, args: dict, needle: str) -> str:
    """A call the server must refuse as invalid params (-32602) naming `needle`."""
    try:
        result = await client.call_tool(tool, args)
    except MCPError as e:
        check(e.error.code == -32602, f"{tool} {args}: code {e.error.code}, expected -32602")
        check(needle in e.error.message, f"{tool} {args}: {e.error.message!r} lacks {needle!r}")
        return e.error.message
    raise AssertionError(f"{tool} {args}: accepted ({result})")


async def read_text(client: Client, path: str) -> str:
    r = structured(await client.call_tool("read_file", {"path": path}), "read_file")
    check(r["encoding"] == "text", f"{path}: {r}")
    return r["content"]


class Updates:
    """resources/updated notifications, as the legacy message handler sees them."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self.event = anyio.Event()

    async def handler(self, message) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/resources/updated":
            self.uris.append(root.params.uri)
            self.event.set()

    async def wait_for(self, uri: str, timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            while uri not in self.uris:
                self.event = anyio.Event()
                await self.event.wait()


async def exercise(client: Client, mode: str, updates: Updates, port: int) -> dict:
    seen: dict = {}
    uri = lambda p: f"oanix://{NAME}{p}"  # noqa: E731

    # Every tool is listed, each with an object input schema.
    tools = {t.name: t for t in (await client.list_tools()).tools}
    expected = {"list_dir", "read_file", "write_file", "append_file", "mkdir", "remove", "rename",
                "stat", "find", "http_request", "run", "task_status", "set_result", "checkpoint",
                "list_checkpoints"}
    check(set(tools) == expected, f"tools: {sorted(tools)}")
    check(all(t.input_schema.get("type") == "object" for t in tools.values()), "schemas")
    seen["tools"] = len(tools)

    # The environment runs from the session's start.
    status = structured(await client.call_tool("task_status", {}), "task_status")
    check(status["status"]["state"] == "running", f"task: {status}")
    check(status["spec"]["id"] == "mcp-demo", f"spec: {status}")

    # Files: list, read (whole, in parts, binary), write, append, mkdir, stat, find, rename, remove.
    listing = structured(await client.call_tool("list_dir", {"path": "/workspace"}), "list_dir")
    names = [e["name"] for e in listing["entries"]]
    check({"README.md", "src", "hello.wasm"} <= set(names), f"list_dir: {names}")
    check(await read_text(client, "/workspace/README.md") == "# demo\nhello from the host\n", "README")
    part = structured(await client.call_tool(
        "read_file", {"path": "/workspace/README.md", "offset": 2, "length": 4}), "read_file")
    check(part["content"] == "demo" and part["eof"] is False, f"part: {part}")
    blob = structured(await client.call_tool(
        "read_file", {"path": "/workspace/hello.wasm", "length": 8, "encoding": "base64"}), "read_file")
    check(blob["encoding"] == "base64" and base64.b64decode(blob["content"])[:4] == b"\0asm", f"{blob}")

    missing = error_text(await client.call_tool(
        "write_file", {"path": "/workspace/notes/plan.md", "content": "x"}))
    check("not found" in missing, f"missing parent: {missing}")
    structured(await client.call_tool("mkdir", {"path": "/workspace/notes/deep", "parents": True}), "mkdir")
    w = structured(await client.call_tool(
        "write_file", {"path": "/workspace/notes/plan.md", "content": "step 1\n"}), "write_file")
    check(w["written"] == 7, f"write: {w}")
    a = structured(await client.call_tool(
        "append_file", {"path": "/workspace/notes/plan.md", "content": "step 2\n"}), "append_file")
    check(a["size"] == 14, f"append: {a}")
    structured(await client.call_tool("write_file", {
        "path": "/workspace/notes/data.bin", "content": base64.b64encode(b"\x00\x01\xfe").decode(),
        "encoding": "base64"}), "write_file")
    st = structured(await client.call_tool("stat", {"path": "/workspace/notes/data.bin"}), "stat")
    check(st["kind"] == "file" and st["size"] == 3, f"stat: {st}")
    raw = structured(await client.call_tool("read_file", {"path": "/workspace/notes/data.bin"}), "read_file")
    check(raw["encoding"] == "base64" and base64.b64decode(raw["content"]) == b"\x00\x01\xfe", f"{raw}")
    not_text = error_text(await client.call_tool(
        "read_file", {"path": "/workspace/notes/data.bin", "encoding": "text"}))
    check("not UTF-8" in not_text, f"text of binary: {not_text}")
    found = structured(await client.call_tool(
        "find", {"path": "/workspace", "pattern": "*.md"}), "find")
    paths = sorted(m["path"] for m in found["matches"])
    check(paths == ["/workspace/README.md", "/workspace/notes/plan.md"], f"find: {paths}")
    structured(await client.call_tool(
        "rename", {"from": "/workspace/notes/plan.md", "to": "/workspace/PLAN.md"}), "rename")
    check(await read_text(client, "/workspace/PLAN.md") == "step 1\nstep 2\n", "renamed")
    structured(await client.call_tool("remove", {"path": "/workspace/notes", "recursive": True}), "remove")
    gone = error_text(await client.call_tool("stat", {"path": "/workspace/notes"}))
    check(gone == "not found: /workspace/notes", f"removed: {gone}")

    # HTTP through /cap/http: allowed to the loopback server, refused elsewhere.
    ok = structured(await client.call_tool(
        "http_request", {"url": f"http://127.0.0.1:{port}/hello", "headers": {"x-test": "1"}}),
        "http_request")
    check(ok["response"]["status"] == 200, f"http: {ok}")
    check(ok["response"]["body"] == "hello over http\n", f"http body: {ok}")
    refused = error_text(await client.call_tool("http_request", {"url": "http://evil.example/"}))
    check("evil.example" in refused and "permission denied" in refused, f"refused: {refused}")
    cap = json.loads(await read_text(client, "/cap/http/status"))
    check(cap.get("refused", cap.get("counters", {}).get("refused")) == 1, f"cap status: {cap}")
    seen["refused"] = refused

    # A WASI module from the namespace, run over it.
    ran = structured(await client.call_tool(
        "run", {"module": "/workspace/hello.wasm", "args": ["a"]}), "run")
    check(ran["exit_code"] == 0 and ran["stdout"] == "hello from wasi\n", f"run: {ran}")
    check(await read_text(client, "/workspace/out.txt") == "written by wasi", "wasi output file")

    # The task's result, and checkpoints.
    structured(await client.call_tool("set_result", {"result": {"answer": 42, "mode": mode}}), "set_result")
    status = structured(await client.call_tool("task_status", {}), "task_status")
    check(status["result"] == {"answer": 42, "mode": mode}, f"result: {status}")
    structured(await client.call_tool("checkpoint", {"name": "after-edits"}), "checkpoint")
    cps = structured(await client.call_tool("list_checkpoints", {}), "list_checkpoints")
    check([c["name"] for c in cps["checkpoints"]] == ["after-edits"], f"checkpoints: {cps}")

    # Bad input: each a clear error, nothing changed.
    before = await read_text(client, "/workspace/README.md")
    await refused_params(client, "no_such_tool", {}, "unknown tool")
    await refused_params(client, "read_file", {"path": 5}, "invalid type")
    await refused_params(client, "read_file", {}, "missing field `path`")
    await refused_params(client, "write_file", {"path": "README.md", "content": "x"}, "not absolute")
    await refused_params(client, "write_file",
                         {"path": "/workspace/README.md", "content": "y" * 5000}, "over the limit")
    await refused_params(client, "remove", {"path": "/workspace/README.md", "force": True},
                         "unknown field `force`")
    escape = error_text(await client.call_tool("read_file", {"path": "/workspace/../../etc/passwd"}))
    check("escapes the root" in escape, f"escape: {escape}")
    escape = error_text(await client.call_tool("write_file", {"path": "/../etc/x", "content": "x"}))
    check("escapes the root" in escape, f"escape: {escape}")
    outside = error_text(await client.call_tool("read_file", {"path": "/etc/passwd"}))
    check(outside == "not found: /etc/passwd", f"outside: {outside}")
    check(await read_text(client, "/workspace/README.md") == before, "README changed by bad input")

    # Resources: listed, read, and subscribed to.
    resources = {r.uri for r in (await client.list_resources()).resources}
    check({uri("/task/status"), uri("/logs/events.jsonl"), uri("/task/result.json")} <= resources,
          f"resources: {sorted(resources)}")
    templates = (await client.list_resource_templates()).resource_templates
    check(templates[0].uri_template == f"oanix://{NAME}/{{+path}}", f"templates: {templates}")
    contents = (await client.read_resource(uri("/workspace/PLAN.md"))).contents
    check(contents[0].text == "step 1\nstep 2\n", f"resource: {contents}")
    try:
        await client.read_resource(uri("/workspace/none.txt"))
        raise AssertionError("a missing resource was read")
    except MCPError as e:
        # Resource not found: -32002 before 2026-07-28, -32602 from then on (SEP-2164).
        code = -32002 if mode == "legacy" else -32602
        check(e.error.code == code and "/workspace/none.txt" in e.error.message, f"{e.error}")
    try:
        await client.read_resource("oanix://other/workspace/PLAN.md")
        raise AssertionError("another environment's URI was read")
    except MCPError as e:
        check("other" in e.error.message, f"{e.error}")

    watched = uri("/workspace/PLAN.md")
    if mode == "legacy":
        await client.subscribe_resource(watched)
        structured(await client.call_tool(
            "append_file", {"path": "/workspace/PLAN.md", "content": "step 3\n"}), "append_file")
        await updates.wait_for(watched)
        await client.subscribe_resource(uri("/task/status"))
        await client.unsubscribe_resource(watched)
    else:
        async with client.listen(resource_subscriptions=[watched]) as sub:
            check(list(sub.honored.resource_subscriptions or []) == [watched], f"{sub.honored}")
            structured(await client.call_tool(
                "append_file", {"path": "/workspace/PLAN.md", "content": "step 3\n"}), "append_file")
            with anyio.fail_after(5):
                event = await sub.__anext__()
            check(getattr(event, "uri", None) == watched, f"event: {event}")
    seen["notified"] = watched

    # Every call is in the environment's events.
    events = [json.loads(line) for line in
              (await client.read_resource(uri("/logs/events.jsonl"))).contents[0].text.splitlines()]
    calls = [e for e in events if e["message"] == "mcp tools/call"]
    called = {e["data"]["tool"] for e in calls}
    check(expected <= called, f"events lack {expected - called}")
    failed = [e for e in calls if not e["data"]["ok"]]
    check(any("evil.example" in (e["data"]["error"] or "") for e in failed), "refusal not recorded")
    check(all(e["data"]["arguments"].get("content", {"bytes": 0}).get("bytes") is not None
              for e in calls if e["data"]["tool"] == "write_file"), "contents logged in full")
    seen["events"] = len(calls)
    return seen


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--oanix", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--transport", choices=["stdio", "http"], required=True)
    ap.add_argument("--mode", choices=["legacy", "auto"], required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    a = ap.parse_args()
    base = ["mcp", a.manifest, "--name", NAME, "--report", a.report, "--max-write-bytes", "4096"]
    updates = Updates()
    if a.transport == "stdio":
        params = StdioServerParameters(command=a.oanix, args=base)
        async with Client(params, mode=a.mode, message_handler=updates.handler) as client:
            seen = await exercise(client, a.mode, updates, a.http_port)
        return report(seen)

    env = dict(os.environ, OANIX_MCP_TOKEN=TOKEN)
    proc = subprocess.Popen([a.oanix, *base, "--http", "127.0.0.1:0"], env=env,
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"serving on (http://\S+)", line)
        check(m is not None, f"no address from oanix mcp: {line!r}")
        url = m.group(1)
        # Without the token: 401 and nothing served.
        async with create_mcp_http_client() as http:
            r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                headers={"accept": "application/json, text/event-stream"})
            check(r.status_code == 401, f"no token: {r.status_code}")
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode=a.mode, message_handler=updates.handler) as client:
                seen = await exercise(client, a.mode, updates, a.http_port)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        code = proc.wait(timeout=30)
    check(code == 0, f"oanix mcp exited {code}: {rest}")
    return report(seen)


def report(seen: dict) -> int:
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except AssertionError as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(1)
