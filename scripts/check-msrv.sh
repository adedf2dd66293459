#!/usr/bin/env bash
# Fails when a locked dependency declares a `rust-version` newer than the
# workspace's (root Cargo.toml, [workspace.package]): the workspace would then
# claim to build on a Rust that cannot build its own lockfile. The code's own
# needs (language features, std APIs) are checked by clippy's
# `incompatible_msrv`, which reads the same rust-version.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --format-version 1 --locked | python3 -c '
import json, sys

def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members and p.get("rust_version")}
if len(ours) != 1:
    declared = sorted(ours) or "no"
    sys.exit(f"check-msrv: the workspace members declare {declared} rust-version; expected one")
msrv = ours.pop()
newer = sorted(
    (version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
)
if newer:
    print(f"check-msrv: rust-version is {msrv}, but these locked dependencies need a newer Rust:", file=sys.stderr)
    for _, name, ver, needs in newer:
        print(f"  {name} {ver} needs {needs}", file=sys.stderr)
    sys.exit(1)
highest = max(
    (version(p["rust_version"]), p["rust_version"])
    for p in meta["packages"]
    if p["id"] not in members and p.get("rust_version")
)
print(f"check-msrv: rust-version {msrv}; the most demanding locked dependency needs {highest[1]}")
'
