"""Probes: the rendered readiness, liveness and startup probes, run as the kubelet runs them."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from tests.support.podsim.common import PodConfigError, ProbeKind, _as_dict, _as_list, expand_k8s_vars
from tests.support.podsim.host import _tail
from tests.support.podsim.identity import _ContainerRun, _PodRun
from tests.support.podsim.processes import _Processes


class _Probes(_Processes):
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
        raise PodConfigError(f"unsupported probe handler in {sorted(probe)}: exec and tcpSocket are simulated")

    def probe(
        self, i: int, kind: ProbeKind = "readiness", container: str | None = None, *, timeout: float | None = None
    ) -> bool:
        """Run the rendered `<kind>Probe` once (exec inside the pod, tcpSocket from this process to
        the pod IP). container=None: every container of the pod must pass (a container
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
