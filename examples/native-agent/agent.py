"""A native agent in a few lines of Python: the demo's flow, with the
interpreter and its standard library from the host, and everything else
from the OANIX namespace it runs in."""

import json
import os

print("hello from Python, inside an OANIX namespace")

with open("/task/spec.json") as f:
    task = json.load(f)
print("task:", task["description"])

files = []
for root, dirs, names in os.walk("/workspace"):
    dirs.sort()
    for name in sorted(names):
        path = os.path.join(root, name)
        with open(path, errors="replace") as f:
            lines = len(f.read().splitlines())
        files.append({"path": path, "bytes": os.path.getsize(path), "lines": lines})
print("workspace:", len(files), "files")
for entry in files:
    print(f"  {entry['path']} ({entry['bytes']} bytes, {entry['lines']} lines)")

total = sum(entry["lines"] for entry in files)
os.makedirs("/tmp/notes", exist_ok=True)
with open("/tmp/notes/summary.txt", "w") as f:
    f.write(f"{len(files)} files, {total} lines\n")
with open("/tmp/notes/summary.txt") as f:
    print("notes:", f.read().strip())

# A change for the host to review: the copy-on-write workspace keeps it
# until the host applies or discards it.
with open("/workspace/SUMMARY.md", "w") as f:
    f.write(f"# Summary\n\n{len(files)} files, {total} lines.\n")

with open("/task/result.json", "w") as f:
    json.dump({"status": "done", "task": task["description"], "files": files, "lines": total}, f)
print("result written")
