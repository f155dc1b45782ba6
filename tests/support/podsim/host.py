"""Host side: running commands, network namespaces, and the machine-wide state of every podsim run
(mount points, leftovers of runs that died)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.support.podsim.common import _NETNS_DIR, _OWNER_RE


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["ip", *args], check=check)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_leftover(name: str) -> bool:
    """A psim-named object whose creating process is gone."""
    m = _OWNER_RE.match(name)
    return m is not None and not _pid_alive(int(m.group(1)))


def _netns_names() -> list[str]:
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(ns: str) -> list[int]:
    out = _ip("netns", "pids", ns, check=False).stdout
    return [int(tok) for tok in out.split() if tok.isdigit()]


def _kill_netns_processes(ns: str, timeout: float = 10.0) -> None:
    """SIGKILL everything in `ns`: catches daemons that left their process group (or our bookkeeping)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in _netns_pids(ns) if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} in netns {ns} survive SIGKILL")
        time.sleep(0.05)


def _destroy_netns(ns: str) -> None:
    if not (_NETNS_DIR / ns).exists():
        return
    _kill_netns_processes(ns)
    _ip("netns", "del", ns, check=False)


def _killpg(proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
    # Only while the leader is unreaped: afterwards its pid (= pgid) could be recycled. Escaped
    # stragglers are handled by _kill_netns_processes.
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def netns_unavailable_reason() -> str | None:
    """None when this process can build pod networks, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "podsim needs root (network namespaces, bind mounts)"
    for tool in ("ip", "nsenter", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"podsim needs `{tool}` on PATH"
    try:
        probe = _ip("netns", "list", check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`ip netns` unavailable: {exc}"
    if probe.returncode != 0:
        return f"`ip netns` unavailable: {probe.stderr.strip()}"
    return None


_lock_guard = threading.RLock()
_lock_state: dict[str, Any] = {"depth": 0, "file": None}


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Serialise subnet choice, mount-point bookkeeping and leftover sweeps across processes (re-entrant)."""
    with _lock_guard:
        if _lock_state["depth"] == 0:
            handle = (Path(tempfile.gettempdir()) / "psim.lock").open("a")
            fcntl.flock(handle, fcntl.LOCK_EX)
            _lock_state["file"] = handle
        _lock_state["depth"] += 1
        try:
            yield
        finally:
            _lock_state["depth"] -= 1
            if _lock_state["depth"] == 0:
                handle = _lock_state["file"]
                _lock_state["file"] = None
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


def _registry_path() -> Path:
    return Path(tempfile.gettempdir()) / "psim-mountpoints.json"


def _load_registry() -> dict[str, list[str]]:
    try:
        data = json.loads(_registry_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(o) for o in v] for k, v in data.items() if isinstance(v, list)}


def _save_registry(reg: dict[str, list[str]]) -> None:
    path = _registry_path()
    if not reg:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(reg, indent=1, sort_keys=True))
    tmp.replace(path)


def _claim_mountpoint(path: Path, *, is_file: bool, owner: str) -> None:
    """Make sure `path` exists on the host; remember what we created and that `owner` relies on it."""
    with _machine_lock():
        reg = _load_registry()
        missing: list[Path] = []
        probe = path
        while not os.path.lexists(probe):
            missing.append(probe)
            probe = probe.parent
        for created in reversed(missing):
            if created == path and is_file:
                created.touch()
            else:
                created.mkdir()
            reg[str(created)] = []
        # Claim every registered path on the way up, so a shared parent (/data for /data/zk) stays
        # until its last user is gone; pre-existing paths are never in the registry, never removed.
        for p in (path, *path.parents):
            owners = reg.get(str(p))
            if owners is not None and owner not in owners:
                owners.append(owner)
        _save_registry(reg)


def _release_mountpoints(owner: str | None) -> None:
    """Drop `owner`'s claims (None: only dead owners') and remove what nobody needs, deepest first."""
    with _machine_lock():
        reg = _load_registry()
        for key in sorted(reg, key=lambda k: k.count("/"), reverse=True):
            alive = [o for o in reg[key] if o != owner and not _is_leftover(o)]
            if alive:
                reg[key] = alive
                continue
            del reg[key]
            path = Path(key)
            # Not empty / not ours any more: leave it rather than guess.
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                elif path.is_file() and path.stat().st_size == 0:
                    path.unlink()
        _save_registry(reg)


def cleanup_leftovers() -> None:
    """Remove netns, links, temp dirs and mount points of podsim runs whose process is gone."""
    with _machine_lock():
        for ns in _netns_names():
            if _is_leftover(ns):
                _destroy_netns(ns)
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            parts = line.split(":", 2)
            if len(parts) >= 2:
                name = parts[1].strip().split("@")[0]
                if _is_leftover(name):
                    _ip("link", "del", name, check=False)
        for entry in Path(tempfile.gettempdir()).iterdir():
            if _is_leftover(entry.name) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        _release_mountpoints(None)
