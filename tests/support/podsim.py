"""podsim: a tiny kubelet that runs a rendered StatefulSet's pods as real processes on this machine.

Tests hand it the plain Kubernetes dicts our components render (StatefulSet, ConfigMaps, Secrets)
and get pods that behave, where it matters for ZooKeeper/Redis, like pods on a cluster:

* **Network.** `PodNetwork` is one L2 segment: a bridge living in its own network namespace, a
  private /24 out of 10.233.0.0/16, and a single veth into the root namespace that gives the test
  process the address ``.1`` so clients (kazoo, redis-py) reach pods by IP. Each pod ordinal gets its
  own netns with an ``eth0`` on that bridge and a stable IP (kept across pod restarts).
* **Pod sandbox.** Per started pod one "pause" process (``sleep infinity``) holds the pod's net, UTS
  (hostname ``<sts>-<i>``) and mount namespace; in the latter ``/etc/hosts`` and ``/etc/resolv.conf``
  are bind-mounted from per-pod files. The machine's own files are never written.
* **Name resolution.** There is no DNS server: every pod's ``/etc/hosts`` holds what kubelet writes
  plus what cluster DNS would answer for the headless Service: every pod FQDN of every StatefulSet on
  the network (and the search-domain shortenings ``<pod>.<svc>.<ns>.svc``, ``<pod>.<svc>.<ns>``, and,
  within the same namespace, ``<pod>.<svc>``, because glibc applies search domains to DNS only, not to
  /etc/hosts). ``<svc>.<ns>.svc.<domain>`` maps to the IP of ordinal 0 (a real headless Service answers
  with all ready pods; /etc/hosts can only give one). Records exist for every ordinal < replicas
  whether or not that pod runs, i.e. like ``publishNotReadyAddresses: true``. ``resolv.conf`` points
  to 127.0.0.1 inside the pod (nothing listens), so unknown names fail fast instead of leaking out.
* **Containers.** Each container is its own process group, started by ``nsenter`` into the pause
  process's namespaces, then ``unshare --mount`` so each container has its *own* mount namespace
  (a child of the pod's, so it sees /etc/hosts) holding its volumeMounts, exactly as two containers
  of a real pod may mount different volumes on the same path. A small Python helper (run as root
  inside the namespaces) performs the bind mounts, ``chdir``s to ``workingDir``, drops to
  runAsUser/runAsGroup/fsGroup and ``exec``s ``command + args`` with the container's environment.
* **Volumes.** configMap / secret / downwardAPI / projected → per-pod files (items, modes, fsGroup),
  read-only like kubelet's; emptyDir → fresh per pod start; volumeClaimTemplates →
  ``<workdir>/pvc/<template>-<sts>-<i>``, which outlives pod restarts and the sim, as a PVC does.
  A missing mountPath is created on the host (the pod shares the host filesystem) and removed again
  when no live sim on the machine needs it (a small registry in the temp dir, shared across processes).
* **Cleanup.** Every netns, link and temp dir is named ``psim<pid>-<n>...``; ``close()`` (also run by
  ``atexit``) kills every process left in a pod's netns, even ones that daemonised out of their
  process group, and a new ``PodNetwork`` first sweeps leftovers of runs whose pid is gone.

Not simulated: images (commands run from the host filesystem, optionally through ``path_shims``),
PID namespaces, resource limits, automatic container restarts (a crashed container stays down until
``start``/``restart``), DNS for names outside the network, probe timing fields other than
``timeoutSeconds``. Pod IPs are stable per ordinal (a real pod gets a new IP on reschedule).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import copy
import fcntl
import ipaddress
import itertools
import json
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "Pod",
    "PodConfigError",
    "PodNetwork",
    "PodNotRunningError",
    "PodStartError",
    "ProbeKind",
    "StatefulSetSim",
    "cleanup_leftovers",
    "expand_k8s_vars",
    "netns_unavailable_reason",
]

Manifest = Mapping[str, Any]
ProbeKind = Literal["readiness", "liveness", "startup"]

# Every kernel object and temp dir we create starts with "psim<pid>-<n>": link names are capped at
# 15 characters, and the pid lets a later run tell a leftover (dead pid) from a parallel run.
_NAME_PREFIX = "psim"
_OWNER_RE = re.compile(r"^psim(\d+)-[0-9a-z]+(?=$|-)")
_NETNS_DIR = Path("/run/netns")
_BRIDGE = "br0"
_UPLINK = "up0"
_FIRST_POD_HOST = 10  # .1 is the test process; pods get .10 upwards
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_PATH = os.environ.get("PATH") or _DEFAULT_PATH
# The helper runs with this minimal env and execs the container with the container's own env.
_HELPER_ENV = {"PATH": _HOST_PATH, "LC_ALL": "C.UTF-8"}
_counter = itertools.count(1)

# Runs as root inside the pod's namespaces: mounts, hostname, chdir, privilege drop, exec.
# Kept free of shell so env names and argv reach the container byte-exact.
_HELPER = r"""
import ctypes, json, os, socket, subprocess, sys
spec = json.loads(sys.argv[1])
try:
    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])
    for m in spec.get("mounts", []):
        if m.get("optional") and not os.path.exists(m["dst"]):
            continue
        subprocess.run(["mount", "--bind", m["src"], m["dst"]], check=True)
        if m.get("ro"):
            subprocess.run(["mount", "-o", "remount,bind,ro", m["dst"]], check=True)
    os.chdir(spec.get("cwd") or "/")
    user = spec.get("user")
    if user:
        os.setgroups(user["groups"])
        os.setresgid(user["gid"], user["gid"], user["gid"])
        os.setresuid(user["uid"], user["uid"], user["uid"])
    if spec.get("no_new_privs"):
        ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
except Exception as exc:
    print(f"podsim: container setup failed: {exc}", file=sys.stderr, flush=True)
    sys.exit(128)
if spec.get("ready"):
    os.write(1, b"ready\n")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
argv = spec["argv"]
try:
    os.execvpe(argv[0], argv, spec["env"])
except OSError as exc:
    print(f"podsim: cannot exec {argv[0]!r}: {exc}", file=sys.stderr, flush=True)
    sys.exit(127)
"""


class PodConfigError(RuntimeError):
    """The pod spec cannot be run as given (kubelet would report CreateContainerConfigError or similar)."""


class PodStartError(RuntimeError):
    """A pod's sandbox, init container or postStart hook failed."""


class PodNotRunningError(RuntimeError):
    """The pod (or the container asked for) is not running."""


# --------------------------------------------------------------------------- host helpers


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


# --------------------------------------------------------------------------- machine-wide state

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


# --------------------------------------------------------------------------- manifest helpers


def expand_k8s_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names are replaced, unknown ones kept, `$$` escapes `$`."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end == -1:
                    out.append(text[i:])
                    break
                name = text[i + 2 : end]
                out.append(env[name] if name and name in env else text[i : end + 1])
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_QUANTITY_SUFFIX = {
    None: 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60,
}  # fmt: skip


def _quantity(value: object) -> float:
    m = _QUANTITY_RE.match(str(value).strip())
    if m is None:
        raise PodConfigError(f"not a Kubernetes quantity: {value!r}")
    return float(m.group(1)) * _QUANTITY_SUFFIX[m.group(2)]


def _as_dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _configmap_data(obj: Manifest) -> dict[str, bytes]:
    """A ConfigMap manifest (data/binaryData) or a plain name->text mapping."""
    if obj.get("kind") == "ConfigMap" or "data" in obj or "binaryData" in obj:
        data = {str(k): str(v).encode() for k, v in _as_dict(obj.get("data")).items()}
        data.update({str(k): base64.b64decode(str(v)) for k, v in _as_dict(obj.get("binaryData")).items()})
        return data
    return {str(k): str(v).encode() for k, v in obj.items()}


def _secret_data(obj: Manifest) -> dict[str, bytes]:
    """A Secret manifest (stringData / base64 data) or a plain name->text mapping (stringData)."""
    is_manifest = obj.get("kind") == "Secret" or any(isinstance(obj.get(k), Mapping) for k in ("stringData", "data"))
    if is_manifest:
        data = {str(k): base64.b64decode(str(v)) for k, v in _as_dict(obj.get("data")).items()}
        data.update({str(k): str(v).encode() for k, v in _as_dict(obj.get("stringData")).items()})
        return data
    return {str(k): str(v).encode() for k, v in obj.items()}


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# --------------------------------------------------------------------------- network


@dataclass(frozen=True)
class _DnsRecord:
    """One A record as cluster DNS would serve it, with the names a pod in `namespace` may use."""

    ip: str
    namespace: str
    qualified: tuple[str, ...]  # resolvable from any namespace
    local: tuple[str, ...]  # only via the search path of the same namespace

    def names_for(self, namespace: str) -> tuple[str, ...]:
        return self.qualified + (self.local if namespace == self.namespace else ())


class PodNetwork:
    """An isolated L2 pod network: bridge in its own netns + one veth giving this process `.1`."""

    def __init__(self, *, sweep_leftovers: bool = True) -> None:
        reason = netns_unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        if sweep_leftovers:
            cleanup_leftovers()
        self.prefix = f"{_NAME_PREFIX}{os.getpid()}-{_base36(next(_counter))}"
        if len(self.prefix) > 15:
            raise RuntimeError(f"link name {self.prefix!r} exceeds 15 characters")
        self.bridge_netns = f"{self.prefix}-br"
        self.host_link = self.prefix
        self._sims: list[StatefulSetSim] = []
        self._lock = threading.RLock()
        self._closed = False
        atexit.register(self.close)
        try:
            with _machine_lock():  # choose + claim the subnet atomically w.r.t. parallel runs
                self.subnet = self._pick_subnet()
                self.gateway = str(self.subnet.network_address + 1)
                self._build()
        except BaseException:
            self.close()
            raise
        self._free_ips = [str(self.subnet.network_address + h) for h in range(_FIRST_POD_HOST, 255)]

    @staticmethod
    def _pick_subnet() -> ipaddress.IPv4Network:
        used: list[ipaddress.IPv4Network] = []
        for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
            parts = line.split()
            if "inet" in parts:
                used.append(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).network)
        for line in _ip("-4", "route", "show").stdout.splitlines():
            with contextlib.suppress(ValueError, IndexError):
                net = ipaddress.IPv4Network(line.split()[0], strict=False)
                if net.prefixlen >= 16:  # a /8 or default route loses to our /24 anyway
                    used.append(net)
        free = [
            net
            for k in range(256)
            if not any((net := ipaddress.IPv4Network(f"10.233.{k}.0/24")).overlaps(u) for u in used)
        ]
        if not free:
            raise RuntimeError("no free 10.233.<k>.0/24 subnet")
        return random.choice(free)

    def _build(self) -> None:
        br = self.bridge_netns
        _ip("netns", "add", br)
        _ip("-n", br, "link", "set", "lo", "up")
        _ip("-n", br, "link", "add", _BRIDGE, "type", "bridge")
        _ip("-n", br, "link", "set", _BRIDGE, "up")
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", _UPLINK, "netns", br)
        _ip("-n", br, "link", "set", _UPLINK, "master", _BRIDGE, "up")
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")

    # -- IPs and DNS records shared by all sims on this network

    def _allocate_ip(self) -> str:
        with self._lock:
            if not self._free_ips:
                raise RuntimeError(f"pod network {self.subnet} is full")
            return self._free_ips.pop(0)

    def _release_ip(self, ip: str) -> None:
        # The next pod given this IP has a new MAC; a stale neighbour entry in the root namespace
        # would blackhole the test process's traffic to it for ~30 s.
        subprocess.run(["ip", "neigh", "flush", "to", ip, "dev", self.host_link], capture_output=True, check=False)
        with self._lock:
            if ip not in self._free_ips:
                self._free_ips.append(ip)
                self._free_ips.sort(key=lambda a: int(ipaddress.IPv4Address(a)))

    def _attach(self, sim: StatefulSetSim) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("pod network is closed")
            if any(s.name == sim.name for s in self._sims):
                raise ValueError(f"a StatefulSet named {sim.name!r} already runs on this network")
            self._sims.append(sim)
        self._refresh_hosts()

    def _detach(self, sim: StatefulSetSim) -> None:
        with self._lock:
            if sim in self._sims:
                self._sims.remove(sim)
        self._refresh_hosts()

    def _records(self) -> list[_DnsRecord]:
        with self._lock:
            return [r for s in self._sims for r in s._dns_records()]

    def _refresh_hosts(self) -> None:
        """Rewrite every pod's /etc/hosts (in place: the bind mounts keep pointing at the same inode)."""
        with self._lock:
            for sim in list(self._sims):
                sim._write_hosts_files()

    def hosts(self, namespace: str = "default") -> dict[str, str]:
        """Name -> IP as a pod in `namespace` would resolve it (every StatefulSet on this network)."""
        return {name: r.ip for r in self._records() for name in r.names_for(namespace)}

    def close(self) -> None:
        """Stop every sim on this network and remove the bridge netns and the root-namespace veth."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sims = list(self._sims)
        atexit.unregister(self.close)
        for sim in sims:
            sim.close()
        _ip("link", "del", self.host_link, check=False)
        _destroy_netns(self.bridge_netns)

    def __enter__(self) -> PodNetwork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- pods


@dataclass
class _User:
    uid: int
    gid: int
    groups: list[int]

    def as_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "gid": self.gid, "groups": self.groups}


@dataclass
class _Volume:
    path: Path
    read_only: bool  # configMap/secret/downwardAPI/projected are always read-only in kubelet
    writable_kind: bool  # subPaths may be created in it


@dataclass
class _ContainerRun:
    name: str
    spec: dict[str, Any]
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    static_env: dict[str, str]  # literal `value`s only: what kubelet expands in probe commands
    user: _User | None
    cwd: str
    no_new_privs: bool

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class _PodRun:
    sandbox: subprocess.Popen[bytes]
    containers: dict[str, _ContainerRun] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # containers whose startupProbe has passed


class Pod:
    """Handle on one ordinal of a StatefulSetSim (thin convenience wrapper)."""

    def __init__(self, sim: StatefulSetSim, ordinal: int) -> None:
        self.sim = sim
        self.ordinal = ordinal

    @property
    def name(self) -> str:
        return self.sim.pod_name(self.ordinal)

    @property
    def ip(self) -> str:
        return self.sim.pod_ip(self.ordinal)

    @property
    def fqdn(self) -> str:
        return self.sim.pod_fqdn(self.ordinal)

    @property
    def netns(self) -> str:
        return self.sim.netns(self.ordinal)

    def log(self, container: str | None = None) -> str:
        return self.sim.log(self.ordinal, container)

    def exec(
        self, argv: Sequence[str], container: str | None = None, *, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        return self.sim.exec(self.ordinal, argv, container, timeout=timeout)

    def probe(self, kind: ProbeKind = "readiness", container: str | None = None) -> bool:
        return self.sim.probe(self.ordinal, kind, container)

    def is_running(self) -> bool:
        return self.sim.is_running(self.ordinal)

    def __repr__(self) -> str:
        return f"Pod({self.name!r}, ip={self.ip!r})"


class StatefulSetSim:
    """Runs the pods of one rendered StatefulSet on a PodNetwork.

    `configmaps` maps a name to a ConfigMap manifest (or plain data mapping); `secrets` maps a name to
    its stringData (or a Secret manifest). `containers` picks which containers run (default: all, in
    manifest order; the first one is the default for `exec`/`log`). `path_shims` maps a command name
    to an executable on this host, reachable through PATH in every container (stands in for the image).
    `honour_run_as_user=False` runs everything as root (for host packages whose paths only root may
    write) and skips the runAsNonRoot check and volume ownership changes.
    """

    def __init__(
        self,
        network: PodNetwork,
        statefulset: Manifest,
        configmaps: Mapping[str, Manifest] | None = None,
        secrets: Mapping[str, Manifest] | None = None,
        *,
        workdir: Path,
        namespace: str = "default",
        cluster_domain: str = "cluster.local",
        path_shims: Mapping[str, str] | None = None,
        containers: Sequence[str] | None = None,
        honour_run_as_user: bool = True,
        base_env: Mapping[str, str] | None = None,
        node_name: str = "podsim-node",
        init_timeout: float = 120.0,
    ) -> None:
        sts = copy.deepcopy(dict(statefulset))
        if sts.get("kind", "StatefulSet") != "StatefulSet":
            raise ValueError(f"expected a StatefulSet manifest, got kind {sts.get('kind')!r}")
        meta, spec = _as_dict(sts.get("metadata")), _as_dict(sts.get("spec"))
        self.name = str(meta.get("name") or "")
        self.service_name = str(spec.get("serviceName") or "")
        if not self.name or not self.service_name:
            raise ValueError("the StatefulSet needs metadata.name and spec.serviceName (pod DNS depends on both)")
        replicas = spec.get("replicas", 1)
        self.replicas = int(replicas) if replicas is not None else 1
        self._template = _as_dict(spec.get("template"))
        self._pod_spec = _as_dict(self._template.get("spec"))
        all_containers = {str(c["name"]): dict(c) for c in _as_list(self._pod_spec.get("containers"))}
        if not all_containers:
            raise ValueError("spec.template.spec.containers is empty")
        chosen = list(containers) if containers is not None else list(all_containers)
        unknown = [c for c in chosen if c not in all_containers]
        if unknown or not chosen:
            raise ValueError(f"unknown containers {unknown}; the pod has {list(all_containers)}")
        self._containers = {c: all_containers[c] for c in chosen}
        self._init_containers = [dict(c) for c in _as_list(self._pod_spec.get("initContainers"))]
        self._claim_templates = [
            str(_as_dict(t.get("metadata")).get("name")) for t in _as_list(spec.get("volumeClaimTemplates"))
        ]

        self.network = network
        self.namespace = namespace
        self.cluster_domain = cluster_domain
        self.workdir = Path(workdir)
        self.honour_run_as_user = honour_run_as_user
        self.node_name = node_name
        self.init_timeout = init_timeout
        self._configmaps = {k: _configmap_data(v) for k, v in (configmaps or {}).items()}
        self._secrets = {k: _secret_data(v) for k, v in (secrets or {}).items()}
        self._base_env = dict(base_env or {})
        self.id = f"{network.prefix}-{self.name}"  # owner tag for mount points and temp dir
        self._runs: dict[int, _PodRun] = {}
        self._ips: dict[int, str] = {}
        self._uids: dict[int, str] = {}
        self._netns_created: set[int] = set()
        self._lock = threading.RLock()
        self._closed = False

        for cname, target in (path_shims or {}).items():
            if "/" in cname or not cname:
                raise ValueError(f"path_shims key must be a bare command name, got {cname!r}")
            if not os.access(target, os.X_OK):
                raise ValueError(f"path_shims[{cname!r}] = {target!r} is not an executable")

        # World-traversable temp dir (not under the test's 0700 tmp_path) so non-root containers can
        # reach the shims and their HOME.
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self._tmp.chmod(0o755)
        atexit.register(self.close)
        try:
            self._shim_dir = self._tmp / "shims"
            self._shim_dir.mkdir(mode=0o755)
            for cname, target in (path_shims or {}).items():
                # A wrapper, not a symlink: scripts like zkServer.sh locate their siblings via $0.
                shim = self._shim_dir / cname
                shim.write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
                shim.chmod(0o755)
            (self._tmp / "hosts").mkdir(mode=0o755)
            (self._tmp / "home").mkdir(mode=0o755)
            cd = self.cluster_domain
            (self._tmp / "resolv.conf").write_text(
                f"search {namespace}.svc.{cd} svc.{cd} {cd}\nnameserver 127.0.0.1\noptions ndots:5\n"
            )
            for i in range(self.replicas):
                self._ips[i] = network._allocate_ip()
            network._attach(self)
        except BaseException:
            self.close()
            raise

    # -- identity

    def _check_ordinal(self, i: int) -> None:
        if i not in self._ips:
            raise IndexError(f"{self.name} has ordinals 0..{self.replicas - 1}, not {i}")

    def pod_name(self, i: int) -> str:
        return f"{self.name}-{i}"

    def pod_fqdn(self, i: int) -> str:
        return f"{self.pod_name(i)}.{self.service_name}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def service_fqdn(self) -> str:
        return f"{self.service_name}.{self.namespace}.svc.{self.cluster_domain}"

    def pod_ip(self, i: int) -> str:
        self._check_ordinal(i)
        return self._ips[i]

    def netns(self, i: int) -> str:
        return f"{self.network.prefix}-{self.name}-{i}"

    def pod(self, i: int) -> Pod:
        self._check_ordinal(i)
        return Pod(self, i)

    @property
    def pods(self) -> list[Pod]:
        return [Pod(self, i) for i in sorted(self._ips)]

    @property
    def container_names(self) -> list[str]:
        return list(self._containers)

    @property
    def hosts(self) -> dict[str, str]:
        """Name -> IP exactly as this StatefulSet's pods resolve them (FQDNs and search-path forms)."""
        return self.network.hosts(self.namespace)

    def resolve(self, host: str) -> str:
        """IP for a name a server handed back (pod FQDN, short form, or already an IP)."""
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(host))
        try:
            return self.hosts[host.rstrip(".")]
        except KeyError:
            raise KeyError(f"{host!r} is not a name on the pod network") from None

    def pvc_path(self, template: str, i: int) -> Path:
        """Host dir backing PVC `<template>-<sts>-<i>` (persists across restarts and close())."""
        return self.workdir / "pvc" / f"{template}-{self.name}-{i}"

    def log_path(self, i: int, container: str | None = None) -> Path:
        return self.workdir / "logs" / self.pod_name(i) / f"{container or self.container_names[0]}.log"

    def log(self, i: int, container: str | None = None) -> str:
        """Everything the container wrote to stdout/stderr, across restarts (like `kubectl logs`, appended)."""
        try:
            return self.log_path(i, container).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- DNS

    def _dns_records(self) -> list[_DnsRecord]:
        svc, ns, cd = self.service_name, self.namespace, self.cluster_domain
        records = [
            _DnsRecord(
                ip,
                ns,
                (f"{pod}.{svc}.{ns}.svc.{cd}", f"{pod}.{svc}.{ns}.svc", f"{pod}.{svc}.{ns}"),
                (f"{pod}.{svc}",),
            )
            for i, ip in sorted(self._ips.items())
            for pod in [self.pod_name(i)]
        ]
        if self._ips:
            first = self._ips[min(self._ips)]
            records.append(_DnsRecord(first, ns, (f"{svc}.{ns}.svc.{cd}", f"{svc}.{ns}.svc", f"{svc}.{ns}"), (svc,)))
        return records

    def _hosts_text(self, i: int) -> str:
        pod, fqdn, ip = self.pod_name(i), self.pod_fqdn(i), self._ips[i]
        svc, ns = self.service_name, self.namespace
        own = [fqdn, f"{pod}.{svc}.{ns}.svc", f"{pod}.{svc}.{ns}", f"{pod}.{svc}", pod]
        lines = [
            "# Kubernetes-managed hosts file (podsim): kubelet's entries, then what cluster DNS would answer.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet",
            "fe00::0\tip6-mcastprefix",
            "fe00::1\tip6-allnodes",
            "fe00::2\tip6-allrouters",
            f"{ip}\t{' '.join(own)}",
        ]
        lines += [f"{r.ip}\t{' '.join(r.names_for(ns))}" for r in self.network._records() if r.qualified[0] != fqdn]
        return "\n".join(lines) + "\n"

    def _hosts_file(self, i: int) -> Path:
        return self._tmp / "hosts" / self.pod_name(i)

    def _write_hosts_files(self) -> None:
        with self._lock:
            if self._closed:
                return
            for i in sorted(self._ips):
                path, text = self._hosts_file(i), self._hosts_text(i).encode()
                if path.exists() and path.read_bytes() == text:
                    continue  # running pods may be resolving right now: never blank the file needlessly
                # Rewrite the same inode (running pods see it through their bind mount): overwrite,
                # then cut, so a concurrent reader never sees an empty file.
                with path.open("r+b" if path.exists() else "wb") as fh:
                    fh.write(text)
                    fh.truncate()

    # -- pod environment

    def _pod_labels(self, i: int) -> dict[str, str]:
        labels = {str(k): str(v) for k, v in _as_dict(_as_dict(self._template.get("metadata")).get("labels")).items()}
        labels["statefulset.kubernetes.io/pod-name"] = self.pod_name(i)
        labels["apps.kubernetes.io/pod-index"] = str(i)
        return labels

    def _field_ref(self, i: int, path: str) -> str:
        simple = {
            "metadata.name": self.pod_name(i),
            "metadata.namespace": self.namespace,
            "metadata.uid": self._uids.setdefault(i, str(uuid.uuid4())),
            "status.podIP": self._ips[i],
            "status.podIPs": self._ips[i],
            "status.hostIP": self.network.gateway,
            "status.hostIPs": self.network.gateway,
            "spec.nodeName": self.node_name,
            "spec.serviceAccountName": str(self._pod_spec.get("serviceAccountName") or "default"),
        }
        if path in simple:
            return simple[path]
        annotations = _as_dict(_as_dict(self._template.get("metadata")).get("annotations"))
        for prefix, source in (("metadata.labels", self._pod_labels(i)), ("metadata.annotations", annotations)):
            m = re.fullmatch(re.escape(prefix) + r"\['(.+)'\]", path)
            if m:
                return str(source.get(m.group(1), ""))
            if path == prefix:  # whole map: only valid in downwardAPI volumes
                return "".join(f'{k}="{v}"\n' for k, v in sorted(source.items()))
        raise PodConfigError(f"{self.pod_name(i)}: unsupported fieldRef {path!r}")

    def _resource_field(self, container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
        if ref.get("containerName"):
            container = self._all_container_specs().get(str(ref["containerName"]), {})
        resource = str(ref.get("resource", ""))
        kind, _, res = resource.partition(".")
        resources = _as_dict(container.get("resources"))
        value = _as_dict(resources.get(kind)).get(res)
        if value is None and kind == "requests":
            value = _as_dict(resources.get("limits")).get(res, 0)
        if value is None:  # unset limit: kubelet reports node allocatable
            value = (os.cpu_count() or 1) if res == "cpu" else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        divisor = _quantity(ref.get("divisor", "1"))
        return str(math.ceil(_quantity(value) / divisor))

    def _all_container_specs(self) -> dict[str, dict[str, Any]]:
        specs = {str(c["name"]): dict(c) for c in _as_list(self._pod_spec.get("containers"))}
        specs.update({str(c["name"]): c for c in self._init_containers})
        return specs

    def _key_ref(self, kind: str, ref: Mapping[str, Any], pod: str) -> str | None:
        store = self._secrets if kind == "secret" else self._configmaps
        data = store.get(str(ref.get("name")))
        key = str(ref.get("key"))
        if data is None or key not in data:
            if ref.get("optional"):
                return None
            raise PodConfigError(f"{pod}: {kind} {ref.get('name')!r} has no key {key!r} (and the ref is not optional)")
        return data[key].decode()

    def _value_from(self, i: int, c: Mapping[str, Any], name: str, vf: Mapping[str, Any]) -> str | None:
        pod = self.pod_name(i)
        if "fieldRef" in vf:
            return self._field_ref(i, str(vf["fieldRef"]["fieldPath"]))
        if "secretKeyRef" in vf:
            return self._key_ref("secret", vf["secretKeyRef"], pod)
        if "configMapKeyRef" in vf:
            return self._key_ref("configMap", vf["configMapKeyRef"], pod)
        if "resourceFieldRef" in vf:
            return self._resource_field(c, vf["resourceFieldRef"])
        raise PodConfigError(f"{pod}: env {name!r} has an unsupported valueFrom {list(vf)}")

    def _container_env(self, i: int, c: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(full env, declared vars used for $(VAR) expansion, static literal-only vars for probes)."""
        pod = self.pod_name(i)
        declared: dict[str, str] = {}
        static: dict[str, str] = {}
        for src in _as_list(c.get("envFrom")):
            prefix = str(src.get("prefix", ""))
            for kind, key in (("configMap", "configMapRef"), ("secret", "secretRef")):
                if key in src:
                    ref = _as_dict(src[key])
                    store = self._secrets if kind == "secret" else self._configmaps
                    data = store.get(str(ref.get("name")))
                    if data is None and not ref.get("optional"):
                        raise PodConfigError(f"{pod}: envFrom {kind} {ref.get('name')!r} not found")
                    declared.update({prefix + k: v.decode() for k, v in (data or {}).items()})
        for e in _as_list(c.get("env")):
            name = str(e["name"])
            if "valueFrom" in e:
                value = self._value_from(i, c, name, _as_dict(e["valueFrom"]))
                if value is not None:
                    declared[name] = value
            else:
                declared[name] = expand_k8s_vars(str(e.get("value", "")), declared)
                static[name] = declared[name]
        home = self._tmp / "home" / pod
        env = {"PATH": f"{self._shim_dir}:{_HOST_PATH}", "HOSTNAME": pod, "HOME": str(home)}
        env.update(self._base_env)
        env.update(declared)
        if "PATH" in declared:  # an explicit PATH replaces the image's, but the shims stand in for the image
            env["PATH"] = f"{self._shim_dir}:{declared['PATH']}"
        return env, declared, static

    def _user(self, c: Mapping[str, Any]) -> _User | None:
        if not self.honour_run_as_user:
            return None
        psc = _as_dict(self._pod_spec.get("securityContext"))
        csc = _as_dict(c.get("securityContext"))

        def pick(key: str) -> Any:
            return csc.get(key, psc.get(key))

        uid, gid, non_root = pick("runAsUser"), pick("runAsGroup"), pick("runAsNonRoot")
        if non_root and not uid:
            # No image USER to fall back to; kubelet would refuse a root container here too.
            raise PodConfigError(f"container {c['name']!r}: runAsNonRoot is set but runAsUser is {uid!r}")
        if uid is None:
            return None
        groups = {int(g) for g in _as_list(psc.get("supplementalGroups"))}
        if psc.get("fsGroup") is not None:
            groups.add(int(psc["fsGroup"]))
        # Without runAsGroup the runtime uses the image's passwd entry, or gid 0 if there is none.
        return _User(int(uid), int(gid) if gid is not None else 0, sorted(groups))

    # -- volumes

    def _volume_owner(self) -> tuple[int | None, int | None]:
        if not self.honour_run_as_user:
            return None, None
        psc = _as_dict(self._pod_spec.get("securityContext"))
        uid = psc.get("runAsUser")
        if uid is None:
            first = next(iter(self._containers.values()))
            uid = _as_dict(first.get("securityContext")).get("runAsUser")
        fs_group = psc.get("fsGroup")
        return (int(uid) if uid is not None else None), (int(fs_group) if fs_group is not None else None)

    @staticmethod
    def _project(
        dest: Path,
        data: Mapping[str, bytes],
        items: list[Any] | None,
        default_mode: int,
        fs_group: int | None,
        *,
        optional: bool,
        what: str,
    ) -> None:
        """Write configMap/secret keys as files, like kubelet's atomic writer (minus the ..data symlinks)."""
        dest.mkdir(parents=True, exist_ok=True)
        dest.chmod(0o755)
        entries = (
            [(str(it["key"]), str(it.get("path", it["key"])), it.get("mode")) for it in items]
            if items is not None
            else [(k, k, None) for k in data]
        )
        for key, rel, mode in entries:
            if key not in data:
                if optional:
                    continue
                raise PodConfigError(f"{what} has no key {key!r}")
            relpath = Path(rel)
            if relpath.is_absolute() or ".." in relpath.parts:
                raise PodConfigError(f"{what}: item path {rel!r} must be relative without '..'")
            target = dest / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[key])
            file_mode = int(mode) if mode is not None else default_mode
            if fs_group is not None:
                os.chown(target, -1, fs_group)
                file_mode |= 0o440  # kubelet's read-only fsGroup mask
            target.chmod(file_mode)

    @staticmethod
    def _apply_fs_group(path: Path, gid: int) -> None:
        """What kubelet does for fsGroup on writable volumes: chgrp -R, g+rw, setgid dirs."""
        for root, dirs, files in os.walk(path):
            os.chown(root, -1, gid)
            os.chmod(root, os.stat(root).st_mode | 0o2770)  # noqa: S103 - kubelet's fsGroup mask
            for name in files:
                p = os.path.join(root, name)
                if not os.path.islink(p):
                    os.chown(p, -1, gid)
                    os.chmod(p, os.stat(p).st_mode | 0o660)
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]

    def _downward_data(self, i: int, items: list[Any]) -> tuple[dict[str, bytes], list[Any]]:
        data: dict[str, bytes] = {}
        mapped: list[Any] = []
        for it in items:
            rel = str(it["path"])
            if "fieldRef" in it:
                data[rel] = self._field_ref(i, str(it["fieldRef"]["fieldPath"])).encode()
            elif "resourceFieldRef" in it:
                data[rel] = self._resource_field({}, it["resourceFieldRef"]).encode()
            mapped.append({"key": rel, "path": rel, "mode": it.get("mode")})
        return data, mapped

    def _project_source(
        self, d: Path, kind: str, src: Mapping[str, Any], *, mode: int, fs_group: int | None, what: str
    ) -> None:
        """One configMap/secret source (a volume of its own, or part of a projected volume)."""
        ref = str(src.get("secretName") or src.get("name")) if kind == "secret" else str(src.get("name"))
        data = (self._configmaps if kind == "configMap" else self._secrets).get(ref)
        if data is None and not src.get("optional"):
            raise PodConfigError(f"{what}: {kind} {ref!r} not found")
        items = _as_list(src["items"]) if "items" in src else None
        optional = bool(src.get("optional"))
        self._project(d, data or {}, items, mode, fs_group, optional=optional, what=f"{what} ({kind} {ref!r})")

    def _make_volume(self, i: int, v: Mapping[str, Any], d: Path, fs_group: int | None) -> _Volume:
        what = f"{self.pod_name(i)}: volume {v['name']!r}"
        if "configMap" in v or "secret" in v:
            kind = "configMap" if "configMap" in v else "secret"
            src = _as_dict(v[kind])
            self._project_source(d, kind, src, mode=int(src.get("defaultMode", 0o644)), fs_group=fs_group, what=what)
            return _Volume(d, read_only=True, writable_kind=False)
        if "downwardAPI" in v or "projected" in v:
            src = _as_dict(v.get("downwardAPI") or v.get("projected"))
            mode = int(src.get("defaultMode", 0o644))
            sources = _as_list(src.get("sources")) if "projected" in v else [{"downwardAPI": src}]
            d.mkdir()
            for source in sources:
                for kind in ("configMap", "secret"):
                    if kind in source:
                        self._project_source(d, kind, _as_dict(source[kind]), mode=mode, fs_group=fs_group, what=what)
                if "downwardAPI" in source:
                    data, items = self._downward_data(i, _as_list(_as_dict(source["downwardAPI"]).get("items")))
                    self._project(d, data, items, mode, fs_group, optional=False, what=what)
            return _Volume(d, read_only=True, writable_kind=False)
        if "emptyDir" in v:  # medium: Memory is a plain dir too
            d.mkdir()
            d.chmod(0o777)  # what kubelet gives an emptyDir
            return _Volume(d, read_only=False, writable_kind=True)
        if "persistentVolumeClaim" in v:
            pvc = _as_dict(v["persistentVolumeClaim"])
            path = self.workdir / "pvc" / str(pvc["claimName"])
            path.mkdir(parents=True, exist_ok=True)
            return _Volume(path, read_only=bool(pvc.get("readOnly")), writable_kind=True)
        if "hostPath" in v:
            path = Path(str(_as_dict(v["hostPath"])["path"]))
            if not path.exists():
                raise PodConfigError(f"{what}: hostPath {path} does not exist")
            return _Volume(path, read_only=False, writable_kind=False)
        raise PodConfigError(f"{what} has an unsupported type {[k for k in v if k != 'name']}")

    def _prepare_volumes(self, i: int) -> dict[str, _Volume]:
        root = self.workdir / "pods" / self.pod_name(i) / "volumes"
        shutil.rmtree(root, ignore_errors=True)  # configMap copies and emptyDirs are per pod start
        root.mkdir(parents=True)
        uid, fs_group = self._volume_owner()
        volumes = {
            str(v["name"]): self._make_volume(i, v, root / str(v["name"]), fs_group)
            for v in _as_list(self._pod_spec.get("volumes"))
        }
        for template in self._claim_templates:
            # The StatefulSet controller replaces a same-named pod volume with the claim.
            path = self.pvc_path(template, i)
            path.mkdir(parents=True, exist_ok=True)
            volumes[template] = _Volume(path, read_only=False, writable_kind=True)
        for vol in volumes.values():
            if vol.writable_kind and vol.path.is_relative_to(self.workdir):
                if fs_group is not None:
                    self._apply_fs_group(vol.path, fs_group)
                if uid is not None:
                    os.chown(vol.path, uid, -1)  # lenient: lets runAsUser write even without fsGroup
        return volumes

    def _plan_mounts(
        self, pod: str, c: Mapping[str, Any], volumes: Mapping[str, _Volume], declared: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        mounts: list[dict[str, Any]] = []
        # Parents before children, like kubelet, so /data/log can sit on top of /data.
        for vm in sorted(_as_list(c.get("volumeMounts")), key=lambda m: len(Path(str(m["mountPath"])).parts)):
            vol = volumes.get(str(vm["name"]))
            if vol is None:
                raise PodConfigError(f"{pod}: container {c['name']!r} mounts unknown volume {vm['name']!r}")
            src = vol.path
            sub = str(vm.get("subPath") or "")
            if not sub and vm.get("subPathExpr"):
                sub = expand_k8s_vars(str(vm["subPathExpr"]), declared)
            if sub:
                subpath = Path(sub)
                if subpath.is_absolute() or ".." in subpath.parts:
                    raise PodConfigError(f"{pod}: subPath {sub!r} must be relative without '..'")
                src = src / subpath
                if not src.exists():
                    if not vol.writable_kind:
                        raise PodConfigError(f"{pod}: subPath {sub!r} does not exist in volume {vm['name']!r}")
                    src.mkdir(parents=True)
            dst = Path(str(vm["mountPath"]))
            if not dst.is_absolute():
                raise PodConfigError(f"{pod}: mountPath {dst} must be absolute")
            _claim_mountpoint(dst, is_file=src.is_file(), owner=self.id)
            mounts.append({"src": str(src), "dst": str(dst), "ro": bool(vm.get("readOnly")) or vol.read_only})
        return mounts

    # -- processes

    def _helper_argv(self, spec: Mapping[str, Any]) -> list[str]:
        return [sys.executable, "-I", "-c", _HELPER, json.dumps(spec)]

    def _log_dir(self, i: int) -> Path:
        d = self.workdir / "logs" / self.pod_name(i)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _ensure_netns(self, i: int) -> None:
        if i in self._netns_created:
            return
        ns, br, ip = self.netns(i), self.network.bridge_netns, self._ips[i]
        veth = f"v{ip.rsplit('.', 1)[1]}"  # unique per network: one IP per veth
        _ip("netns", "add", ns)
        self._netns_created.add(i)
        _ip("-n", br, "link", "del", veth, check=False)  # a peer of a just-deleted netns may linger
        _ip("-n", br, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("-n", br, "link", "set", veth, "master", _BRIDGE, "up")
        _ip("-n", ns, "addr", "add", f"{ip}/{self.network.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", "eth0", "up")

    def _start_sandbox(self, i: int) -> subprocess.Popen[bytes]:
        spec = {
            "hostname": self.pod_name(i),
            "mounts": [
                {"src": str(self._hosts_file(i)), "dst": "/etc/hosts"},
                {"src": str(self._tmp / "resolv.conf"), "dst": "/etc/resolv.conf", "optional": True},
            ],
            "ready": True,
            "env": {"PATH": _DEFAULT_PATH},
            "argv": ["sleep", "infinity"],
        }
        argv = [
            "nsenter", f"--net={_NETNS_DIR / self.netns(i)}", "--",
            "unshare", "--uts", "--mount", "--propagation", "private", "--",
            *self._helper_argv(spec),
        ]  # fmt: skip
        log_path = self._log_dir(i) / "sandbox.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                env=_HELPER_ENV, start_new_session=True,
            )  # fmt: skip
        assert proc.stdout is not None
        got = b""
        deadline = time.monotonic() + 15
        while b"\n" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 64)
                if not chunk:
                    break
                got += chunk
        proc.stdout.close()
        if got != b"ready\n":
            _killpg(proc, signal.SIGKILL)
            proc.wait()
            raise PodStartError(f"{self.pod_name(i)}: pod sandbox failed:\n{_tail(log_path)}")
        return proc

    def _spawn(self, i: int, c: Mapping[str, Any], volumes: Mapping[str, _Volume], sandbox_pid: int) -> _ContainerRun:
        pod, name = self.pod_name(i), str(c["name"])
        env, declared, static = self._container_env(i, c)
        command = [expand_k8s_vars(str(a), declared) for a in _as_list(c.get("command"))]
        args = [expand_k8s_vars(str(a), declared) for a in _as_list(c.get("args"))]
        if not command:
            raise PodConfigError(f"{pod}: container {name!r} has no command (the sim has no image ENTRYPOINT)")
        user = self._user(c)
        home = Path(env["HOME"])
        home.mkdir(exist_ok=True)
        if user is not None:
            os.chown(home, user.uid, user.gid)
        cwd = str(c.get("workingDir") or "/")
        no_new_privs = _as_dict(c.get("securityContext")).get("allowPrivilegeEscalation") is False
        spec = {
            "mounts": self._plan_mounts(pod, c, volumes, declared),
            "cwd": cwd,
            "user": user.as_json() if user else None,
            "no_new_privs": no_new_privs,
            "env": env,
            "argv": command + args,
        }
        argv = [
            "nsenter", f"--target={sandbox_pid}", "--net", "--uts", "--mount", "--",
            "unshare", "--mount", "--propagation", "private", "--",
            *self._helper_argv(spec),
        ]  # fmt: skip
        with (self._log_dir(i) / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=_HELPER_ENV, start_new_session=True,
            )  # fmt: skip
        return _ContainerRun(name, dict(c), proc, env, static, user, cwd, no_new_privs)

    def _exec_in(
        self,
        cr: _ContainerRun,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        spec = {
            "cwd": cr.cwd,
            "user": cr.user.as_json() if cr.user else None,
            "no_new_privs": cr.no_new_privs,
            "env": cr.env,
            "argv": list(argv),
        }
        cmd = ["nsenter", f"--target={cr.proc.pid}", "--net", "--uts", "--mount", "--", *self._helper_argv(spec)]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_HELPER_ENV,
            start_new_session=True,  # so a timeout can kill whatever the command forked
            encoding="utf-8",
            errors="replace",
        )
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc, signal.SIGKILL)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a setsid'd grandchild holds the pipes
                proc.kill()
                out, err = "", ""
            raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
        result = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        if check:
            result.check_returncode()
        return result

    # -- lifecycle

    def start(self, i: int) -> None:
        """Start pod i (no-op if it fully runs; a half-dead pod is torn down first): sandbox, init
        containers in order, then every selected container and their postStart hooks."""
        self._check_ordinal(i)
        with self._lock:
            if self._closed:
                raise RuntimeError("sim is closed")
            run = self._runs.get(i)
        if run is not None:
            if self.is_running(i):
                return
            self._teardown(i, grace=0, pre_stop=False)
        pod = self.pod_name(i)
        self._ensure_netns(i)
        volumes = self._prepare_volumes(i)
        sandbox = self._start_sandbox(i)
        run = _PodRun(sandbox)
        with self._lock:
            self._runs[i] = run
        try:
            for c in self._init_containers:
                cr = self._spawn(i, c, volumes, sandbox.pid)
                if c.get("restartPolicy") == "Always":  # native sidecar: keeps running
                    run.containers[cr.name] = cr
                    continue
                try:
                    rc = cr.proc.wait(timeout=self.init_timeout)
                except subprocess.TimeoutExpired:
                    _killpg(cr.proc, signal.SIGKILL)
                    cr.proc.wait()
                    rc = None
                if rc != 0:
                    tail = _tail(self.log_path(i, cr.name))
                    raise PodStartError(f"{pod}: init container {cr.name!r} ended with {rc}:\n{tail}")
            for c in self._containers.values():
                cr = self._spawn(i, c, volumes, sandbox.pid)
                run.containers[cr.name] = cr
            for cr in run.containers.values():
                hook = _as_dict(_as_dict(_as_dict(cr.spec.get("lifecycle")).get("postStart")).get("exec"))
                if hook.get("command"):
                    res = self._exec_in(cr, [str(a) for a in hook["command"]], timeout=30)
                    if res.returncode != 0:
                        raise PodStartError(f"{pod}: postStart of {cr.name!r} failed: {res.stdout}{res.stderr}")
        except BaseException:
            self._teardown(i, grace=0, pre_stop=False)
            raise

    def start_all(self, *, parallel: bool = True, ready_timeout: float = 120.0) -> None:
        """Start every ordinal. parallel=True is podManagementPolicy Parallel (all at once);
        parallel=False is OrderedReady (start i, wait until it is Ready, then i+1)."""
        ordinals = sorted(self._ips)
        if not parallel:
            for i in ordinals:
                self.start(i)
                self.wait_ready(i, ready_timeout)
            return
        with ThreadPoolExecutor(max_workers=max(1, len(ordinals))) as pool:
            futures = [pool.submit(self.start, i) for i in ordinals]
        errors = [exc for f in futures if (exc := f.exception()) is not None]
        if errors:
            raise errors[0]

    def _teardown(self, i: int, *, grace: float, pre_stop: bool) -> None:
        with self._lock:
            run = self._runs.pop(i, None)
        if run is None:
            return
        try:
            deadline = time.monotonic() + grace
            live = [cr for cr in run.containers.values() if cr.alive()]
            if pre_stop and grace > 0:
                for cr in live:
                    hook = _as_dict(_as_dict(_as_dict(cr.spec.get("lifecycle")).get("preStop")).get("exec"))
                    if hook.get("command"):  # like kubelet, the hook's time counts against the grace period
                        with contextlib.suppress(Exception):
                            remaining = max(0.5, deadline - time.monotonic())
                            self._exec_in(cr, [str(a) for a in hook["command"]], timeout=remaining)
            if grace > 0:
                for cr in live:
                    _killpg(cr.proc, signal.SIGTERM)
                for cr in live:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        cr.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            for cr in run.containers.values():
                _killpg(cr.proc, signal.SIGKILL)
                cr.proc.wait()
        finally:
            _killpg(run.sandbox, signal.SIGKILL)
            run.sandbox.wait()
            _kill_netns_processes(self.netns(i))

    def stop(self, i: int, grace: float | None = 10.0) -> None:
        """preStop hooks, SIGTERM to each container's process group, SIGKILL after `grace` seconds
        (None: the template's terminationGracePeriodSeconds, default 30); returns once all are gone.
        The pod's IP, netns and PVCs stay."""
        self._check_ordinal(i)
        if grace is None:
            grace = float(self._pod_spec.get("terminationGracePeriodSeconds", 30))
        self._teardown(i, grace=grace, pre_stop=True)

    def kill(self, i: int) -> None:
        """SIGKILL everything in pod i at once (a node crash, not a graceful delete)."""
        self._check_ordinal(i)
        self._teardown(i, grace=0, pre_stop=False)

    def restart(self, i: int, grace: float | None = 10.0) -> None:
        """stop(i, grace) then start(i): a pod delete + recreate by the StatefulSet controller."""
        self.stop(i, grace)
        self.start(i)

    def is_running(self, i: int) -> bool:
        """True while the pod's sandbox and every one of its containers are alive."""
        run = self._runs.get(i)
        return (
            run is not None
            and run.sandbox.poll() is None
            and bool(run.containers)
            and all(cr.alive() for cr in run.containers.values())
        )

    def container_pid(self, i: int, container: str | None = None) -> int | None:
        """Host pid of the container's main process, None if it is not running."""
        cr = self._container_run(i, container, require_alive=False)
        return cr.proc.pid if cr.alive() else None

    def _container_run(self, i: int, container: str | None, *, require_alive: bool = True) -> _ContainerRun:
        run = self._runs.get(i)
        if run is None:
            raise PodNotRunningError(f"{self.pod_name(i)} is not running")
        name = container or self.container_names[0]
        cr = run.containers.get(name)
        if cr is None:
            raise PodNotRunningError(f"{self.pod_name(i)} has no running container {name!r}")
        if require_alive and not cr.alive():
            tail = _tail(self.log_path(i, name))
            raise PodNotRunningError(
                f"{self.pod_name(i)}: container {name!r} exited with {cr.proc.returncode}:\n{tail}"
            )
        return cr

    def exec(
        self,
        i: int,
        argv: Sequence[str],
        container: str | None = None,
        *,
        timeout: float = 30.0,
        input: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """`kubectl exec`: run argv in the container's namespaces with its env, PATH, user and
        workingDir; captures text output. Raises subprocess.TimeoutExpired (after killing the
        command's process group) and PodNotRunningError."""
        cr = self._container_run(i, container)
        return self._exec_in(cr, argv, timeout=timeout, input=input, check=check)

    # -- probes

    def _resolve_port(self, c: Mapping[str, Any], port: object) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(str(port))
        for p in _as_list(c.get("ports")):
            if p.get("name") == port:
                return int(p["containerPort"])
        raise PodConfigError(f"container {c['name']!r} has no port named {port!r}")

    def _run_probe(self, i: int, cr: _ContainerRun, probe: Mapping[str, Any], timeout: float | None) -> bool:
        t = float(timeout if timeout is not None else probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            # kubelet expands only literal env values in probe commands.
            cmd = [expand_k8s_vars(str(a), cr.static_env) for a in _as_list(_as_dict(probe["exec"]).get("command"))]
            try:
                return self._exec_in(cr, cmd, timeout=t).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        if "tcpSocket" in probe:
            tcp = _as_dict(probe["tcpSocket"])
            host = str(tcp.get("host") or self._ips[i])
            try:
                with socket.create_connection((host, self._resolve_port(cr.spec, tcp.get("port"))), timeout=t):
                    return True
            except OSError:
                return False
        if "httpGet" in probe:
            http = _as_dict(probe["httpGet"])
            scheme = str(http.get("scheme", "HTTP")).lower()
            if scheme not in ("http", "https"):
                raise PodConfigError(f"httpGet scheme {scheme!r}")
            host = str(http.get("host") or self._ips[i])
            url = f"{scheme}://{host}:{self._resolve_port(cr.spec, http.get('port'))}{http.get('path', '/')}"
            headers = {str(h["name"]): str(h["value"]) for h in _as_list(http.get("httpHeaders"))}
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
            context = ssl._create_unverified_context()  # noqa: S323 - kubelet does not verify probe certs
            try:
                with urllib.request.urlopen(request, timeout=t, context=context) as resp:  # noqa: S310
                    return 200 <= int(resp.status) < 400
            except (urllib.error.URLError, OSError, ValueError):
                return False
        raise PodConfigError(f"unsupported probe handler in {sorted(probe)} (grpc is not simulated)")

    def probe(
        self, i: int, kind: ProbeKind = "readiness", container: str | None = None, *, timeout: float | None = None
    ) -> bool:
        """Run the rendered `<kind>Probe` once (exec inside the pod, tcpSocket/httpGet from this
        process to the pod IP). container=None: every container of the pod must pass (a container
        without that probe passes while it runs). False when the pod/container is not running.
        `timeout` overrides the probe's timeoutSeconds."""
        run = self._runs.get(i)
        if run is None or run.sandbox.poll() is not None:
            return False
        names = [container] if container else list(run.containers)
        for name in names:
            cr = run.containers.get(name)
            if cr is None or not cr.alive():
                return False
            spec = cr.spec.get(f"{kind}Probe")
            if spec and not self._run_probe(i, cr, _as_dict(spec), timeout):
                return False
        return True

    def _startup_done(self, i: int, run: _PodRun) -> bool:
        for name, cr in run.containers.items():
            if name not in run.started and (not cr.spec.get("startupProbe") or self.probe(i, "startup", name)):
                run.started.add(name)
        return len(run.started) == len(run.containers)

    def wait_ready(self, i: int | None = None, timeout: float = 120.0, *, interval: float = 0.5) -> None:
        """Poll until pod i (None: every started pod) passes its startup, then readiness probes.
        Raises PodNotRunningError at once if a container exits, TimeoutError with log tails."""
        pending = [i] if i is not None else sorted(self._runs)
        deadline = time.monotonic() + timeout
        while True:
            still: list[int] = []
            for j in pending:
                for name in self.container_names:
                    self._container_run(j, name)  # raises if the pod or a container died
                run = self._runs[j]
                if not (self._startup_done(j, run) and self.probe(j, "readiness")):
                    still.append(j)
            if not still:
                return
            if time.monotonic() >= deadline:
                tails = "\n".join(
                    f"--- {self.pod_name(j)}/{c}:\n{_tail(self.log_path(j, c))}"
                    for j in still
                    for c in self.container_names
                )
                raise TimeoutError(f"pods {[self.pod_name(j) for j in still]} not ready after {timeout}s\n{tails}")
            pending = still
            time.sleep(interval)

    # -- scaling and cleanup

    def scale(self, replicas: int, *, start: bool = True, grace: float | None = 10.0) -> None:
        """Change replicas like the controller: new ordinals get IPs + DNS (and start, Parallel);
        removed ones stop highest first and lose netns, IP and DNS records; their PVCs stay."""
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        old = self.replicas
        if replicas > old:
            for j in range(old, replicas):
                self._ips[j] = self.network._allocate_ip()
            self.replicas = replicas
            self.network._refresh_hosts()
            if start:
                with ThreadPoolExecutor(max_workers=replicas - old) as pool:
                    futures = [pool.submit(self.start, j) for j in range(old, replicas)]
                for f in futures:
                    f.result()
        else:
            for j in reversed(range(replicas, old)):
                self.stop(j, grace)
                self._destroy_pod_network(j)
                self.network._release_ip(self._ips.pop(j))
            self.replicas = replicas
            self.network._refresh_hosts()

    def _destroy_pod_network(self, i: int) -> None:
        if i in self._netns_created:
            _destroy_netns(self.netns(i))
            self._netns_created.discard(i)
        self._hosts_file(i).unlink(missing_ok=True)

    def close(self) -> None:
        """SIGKILL every pod, delete their netns, unclaim mount points, remove temp files (idempotent).
        Logs and PVC dirs under `workdir` are kept for inspection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        errors: list[BaseException] = []
        for i in list(self._runs):
            try:
                self._teardown(i, grace=0, pre_stop=False)
            except Exception as exc:  # keep cleaning; report the first failure
                errors.append(exc)
        for i in list(self._netns_created):
            try:
                self._destroy_pod_network(i)
            except Exception as exc:
                errors.append(exc)
        for ip in self._ips.values():
            self.network._release_ip(ip)
        self.network._detach(self)
        _release_mountpoints(self.id)
        shutil.rmtree(self._tmp, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> StatefulSetSim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
