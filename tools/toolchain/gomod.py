"""The Go side of the builder: running go commands, fetching a module, reading and writing go.mod."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


class UnavailableError(Exception):
    """The module (version) cannot be had from the configured Go module proxy."""


class BuildError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[toolchain] {msg}", file=sys.stderr, flush=True)


def run(
    cmd: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    logf: IO[str] | None = None,
    nice: bool = False,
    heartbeat: str | None = None,
) -> str:
    """Run a command; its output goes to logf and is returned. A failure raises BuildError."""
    if nice and shutil.which("nice"):
        cmd = ["nice", "-n", "10", *cmd]
    if logf:
        logf.write(f"\n$ (cd {cwd or '.'}) {shlex.join(cmd)}\n")
        logf.flush()
    proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop = threading.Event()
    if heartbeat:
        started = time.monotonic()

        def beat() -> None:  # a long build must not look hung
            while not stop.wait(60):
                log(f"  ... {heartbeat}: {time.monotonic() - started:.0f}s")

        threading.Thread(target=beat, daemon=True).start()
    out = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        if logf:
            logf.write(line)
    code = proc.wait()
    stop.set()
    if logf:
        logf.flush()
    text = "".join(out)
    if code != 0:
        raise BuildError(f"{shlex.join(cmd)} exited {code}:\n{text[-3000:]}")
    return text


_UNAVAILABLE = re.compile(
    r"403 Forbidden|404 Not Found|410 Gone|not available|unknown revision|invalid version|"
    r"no matching versions|Could not resolve host"
)


@dataclass(frozen=True)
class Download:
    """A module fetched into the module cache."""

    directory: Path  # its files (read-only)
    gomod: Path
    info: dict[str, Any]  # Version, Time, Origin.Hash


def download(go: str, env: Mapping[str, str], module: str, version: str, logf: IO[str]) -> Download:
    if not version:
        raise UnavailableError(f"{module}: no version pinned in versions.env")
    try:
        with tempfile.TemporaryDirectory() as scratch:  # outside any module
            out = run([go, "mod", "download", "-json", f"{module}@{version}"], env=env, cwd=Path(scratch), logf=logf)
    except BuildError as exc:
        text = str(exc)
        if _UNAVAILABLE.search(text):
            found = re.findall(r'"Error": "((?:[^"\\]|\\.)*)"', text)
            msg = json.loads(f'"{found[0]}"') if found else text.strip().splitlines()[-1]
            raise UnavailableError(" ".join(msg.replace("go: ", "").split())) from None
        raise
    data = json.loads(out[out.index("{") :])
    if data.get("Error"):
        if _UNAVAILABLE.search(data["Error"]):
            raise UnavailableError(" ".join(data["Error"].split()))
        raise BuildError(f"{module}@{version}: {data['Error']}")
    info = json.loads(Path(data["Info"]).read_text()) if data.get("Info") else {}
    return Download(directory=Path(data["Dir"]), gomod=Path(data["GoMod"]), info=info)


@dataclass(frozen=True)
class GoMod:
    """The parts of a go.mod a wrapper module carries over."""

    go: str | None
    godebug: list[str]
    replaces: list[tuple[list[str], list[str]]]  # (module [version], target [version])


def parse_gomod(text: str) -> GoMod:
    go_line = re.search(r"^go\s+(\S+)", text, re.M)
    godebug = re.findall(r"^godebug\s+(.+)$", text, re.M)
    for block in re.findall(r"^godebug\s*\(\n(.*?)^\)", text, re.M | re.S):
        godebug += [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("//")]
    lines = re.findall(r"^replace\s+(?!\()(.+)$", text, re.M)
    for block in re.findall(r"^replace\s*\(\n(.*?)^\)", text, re.M | re.S):
        lines += block.splitlines()
    replaces = []
    for raw in lines:
        line = raw.split("//")[0].strip()
        if "=>" in line:
            left, right = line.split("=>", 1)
            replaces.append((left.split(), right.split()))
    return GoMod(
        go=go_line.group(1) if go_line else None,
        godebug=[g for g in godebug if not g.startswith("(")],
        replaces=replaces,
    )


def wrapper_replaces(
    gomod: GoMod,
    local_version: str,
    local_dirs: Mapping[str, str] | None = None,
    pinned: Mapping[str, str] | None = None,
) -> list[str]:
    """The replace lines of a wrapper module. A replace to a directory of the tool's repository
    becomes the module at `local_version` (or its `pinned` version), or a directory in
    `local_dirs`; module-to-module replaces are carried over as they are."""
    out = []
    for left, right in gomod.replaces:
        if len(right) == 2:
            out.append(f"{' '.join(left)} => {right[0]} {right[1]}")
            continue
        if "FORBIDDEN" in right[0]:  # etcd's guard against importing its test modules
            continue
        module = left[0]
        if local_dirs and module in local_dirs:
            out.append(f"{module} => {local_dirs[module]}")
        else:
            out.append(f"{module} => {module} {(pinned or {}).get(module, local_version)}")
    return out
