"""Pod processes: the sandbox holding a pod's namespaces, its containers, exec, stop and restart."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.podsim.common import (
    _BRIDGE,
    _DEFAULT_PATH,
    _HELPER_ENV,
    _NETNS_DIR,
    PodConfigError,
    PodNotRunningError,
    PodStartError,
    _as_dict,
    _as_list,
    expand_k8s_vars,
)
from tests.support.podsim.host import _ip, _kill_netns_processes, _killpg, _tail
from tests.support.podsim.identity import _ContainerRun, _PodRun
from tests.support.podsim.initcontainers import run_init_container
from tests.support.podsim.volumes import _Volume, _Volumes

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


class _Processes(_Volumes):
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
            "mounts": self._plan_mounts(pod, c, volumes),
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
        """Start pod i (no-op if it fully runs; a half-dead pod is torn down first): sandbox, every
        init container in order, each to completion, then every selected container."""
        self._check_ordinal(i)
        with self._lock:
            if self._closed:
                raise RuntimeError("sim is closed")
            run = self._runs.get(i)
        if run is not None:
            if self.is_running(i):
                return
            self._teardown(i, grace=0)
        self._ensure_netns(i)
        volumes = self._prepare_volumes(i)
        sandbox = self._start_sandbox(i)
        run = _PodRun(sandbox)
        with self._lock:
            self._runs[i] = run
        try:
            for init in _as_list(self._pod_spec.get("initContainers")):
                spawn = functools.partial(self._spawn, i, init, volumes, sandbox.pid)
                log = self.log_path(i, str(init["name"]))
                run_init_container(self.pod_name(i), init, spawn, log, self.init_timeout)
            for c in self._containers.values():
                cr = self._spawn(i, c, volumes, sandbox.pid)
                run.containers[cr.name] = cr
        except BaseException:
            self._teardown(i, grace=0)
            raise

    def _teardown(self, i: int, *, grace: float) -> None:
        with self._lock:
            run = self._runs.pop(i, None)
        if run is None:
            return
        try:
            deadline = time.monotonic() + grace
            live = [cr for cr in run.containers.values() if cr.alive()]
            if grace > 0:
                # Like the kubelet: every container stops at once, each after its own preStop (whose
                # time counts against the grace period), so a sidecar without one gets SIGTERM while
                # the main container's hook still runs.
                with ThreadPoolExecutor(max_workers=len(live) or 1) as pool:
                    for stopped in [pool.submit(self._stop_container, cr, deadline) for cr in live]:
                        stopped.result()
            for cr in run.containers.values():
                _killpg(cr.proc, signal.SIGKILL)
                cr.proc.wait()
        finally:
            _killpg(run.sandbox, signal.SIGKILL)
            run.sandbox.wait()
            _kill_netns_processes(self.netns(i))

    def _stop_container(self, cr: _ContainerRun, deadline: float) -> None:
        hook = _as_dict(_as_dict(_as_dict(cr.spec.get("lifecycle")).get("preStop")).get("exec"))
        if hook.get("command"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                remaining = max(0.5, deadline - time.monotonic())
                self._exec_in(cr, [str(a) for a in hook["command"]], timeout=remaining)
        _killpg(cr.proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cr.proc.wait(timeout=max(0.0, deadline - time.monotonic()))

    def stop(self, i: int, grace: float | None = 10.0) -> None:
        """preStop hooks, SIGTERM to each container's process group, SIGKILL after `grace` seconds
        (None: the template's terminationGracePeriodSeconds, default 30); returns once all are gone.
        The pod's IP, netns and PVCs stay."""
        self._check_ordinal(i)
        if grace is None:
            grace = float(self._pod_spec.get("terminationGracePeriodSeconds", 30))
        self._teardown(i, grace=grace)

    def kill(self, i: int) -> None:
        """SIGKILL everything in pod i at once (a node crash, not a graceful delete)."""
        self._check_ordinal(i)
        self._teardown(i, grace=0)

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

    def wait_exit(self, i: int, container: str, timeout: float = 120.0) -> int:
        """Wait for a container that runs to completion (a Job's) to exit; its exit code.
        Raises subprocess.TimeoutExpired when it is still running after `timeout` seconds."""
        return self._container_run(i, container, require_alive=False).proc.wait(timeout)

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
