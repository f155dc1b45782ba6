"""What the cluster and engine tests read of the local cluster's pods: an ensemble's members and
their readiness, EndpointSlice hostnames, the node a volume is pinned to, the real pods of a
StatefulSet as the Redis helpers address podsim's (StatefulSetPods), and a real pod's processes on
this host, which a test may freeze."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.polling import wait_until

if TYPE_CHECKING:
    from tests.support.local_cluster import LocalCluster


def pv_node(pv: dict[str, Any]) -> str:
    """The node a local PersistentVolume is pinned to."""
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    expression = next(e for e in term["matchExpressions"] if e["key"] == "kubernetes.io/hostname")
    return str(expression["values"][0])


def endpoint_hostnames(cluster: LocalCluster, namespace: str, service: str) -> dict[str, str]:
    """pod name -> the hostname its EndpointSlice entry gives it, which cluster DNS serves as
    <hostname>.<service>.<namespace>.svc.<domain>."""
    slices = cluster.get("endpointslices", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    return {
        e["targetRef"]["name"]: e.get("hostname", "")
        for s in slices["items"]
        for e in s.get("endpoints") or []
        if "targetRef" in e
    }


def members(cluster: LocalCluster, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    """The pods of ensemble `name`, by pod name (its servers: not its backup or restore-check jobs' pods)."""
    selector = f"app.kubernetes.io/instance={name},app.kubernetes.io/component=server"
    return {p["metadata"]["name"]: p for p in cluster.pods(namespace, selector)}


def wait_ready(
    cluster: LocalCluster, namespace: str, name: str, count: int, timeout: float = 120.0
) -> dict[str, dict[str, Any]]:
    """Until ensemble `name` has exactly `count` live pods, all Ready; returns them by name."""

    def ready() -> dict[str, dict[str, Any]] | None:
        pods = members(cluster, namespace, name)
        live = {n: p for n, p in pods.items() if not p["metadata"].get("deletionTimestamp")}
        return live if len(live) == count and all(map(is_ready, live.values())) else None

    found: dict[str, dict[str, Any]] = wait_until(f"{count} Ready pods of {name}", ready, timeout=timeout)
    return found


def is_ready(obj: dict[str, Any]) -> bool:
    """The object's Ready condition is True (pods, nodes)."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class StatefulSetPods:
    """The real pods of a StatefulSet on the cluster, addressed as podsim's StatefulSetSim addresses
    its own (tests/support/redis_pods.py `PodAddressing`): by ordinal, FQDN under the headless
    Service, and pod IP, which the test host reaches on the cluster's bridge. A replaced pod gets a
    new IP, so the pods are read again once what was read is older than `max_age` seconds."""

    def __init__(
        self, cluster: LocalCluster, namespace: str, name: str, service: str, cluster_domain: str = "cluster.local"
    ) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.service, self.cluster_domain = service, cluster_domain
        self.max_age = 1.0
        self._lock = threading.Lock()
        self._pods: dict[str, dict[str, Any]] = {}
        self._read_at = -float("inf")

    def pods(self, fresh: bool = False) -> dict[str, dict[str, Any]]:
        """The StatefulSet's pods by name (live ones: none being deleted)."""
        with self._lock:
            if fresh or time.monotonic() - self._read_at > self.max_age:
                found = members(self.cluster, self.namespace, self.name)
                self._pods = {n: p for n, p in found.items() if not p["metadata"].get("deletionTimestamp")}
                self._read_at = time.monotonic()
            return self._pods

    def pod_name(self, i: int) -> str:
        return f"{self.name}-{i}"

    def pod_fqdn(self, i: int) -> str:
        return f"{self.pod_name(i)}.{self.service}.{self.namespace}.svc.{self.cluster_domain}"

    def pod_ip(self, i: int) -> str:
        """The pod's IP; ConnectionError (an OSError, as a refused connection) while it has none."""
        ip = ((self.pods().get(self.pod_name(i)) or {}).get("status") or {}).get("podIP")
        if not ip:
            raise ConnectionError(f"{self.pod_name(i)} has no pod IP now")
        return str(ip)

    def resolve(self, host: str) -> str:
        """The IP of a pod's FQDN (as a server hands it back), or the IP itself."""
        with suppress(ValueError):
            return str(ipaddress.ip_address(host))
        pod, _, zone = host.rstrip(".").partition(".")
        prefix = f"{self.name}-"
        if zone != f"{self.service}.{self.namespace}.svc.{self.cluster_domain}" or not pod.startswith(prefix):
            raise KeyError(f"{host!r} is not a pod of {self.name}")
        return self.pod_ip(int(pod.removeprefix(prefix)))

    def is_running(self, i: int) -> bool:
        pod = self.pods().get(self.pod_name(i))
        return bool(pod and pod["status"].get("phase") == "Running" and pod["status"].get("podIP"))

    def log(self, i: int, container: str | None = None) -> str:
        """`kubectl logs` of the pod's container (its current run)."""
        args = ["logs", "-n", self.namespace, self.pod_name(i), *(["-c", container] if container else [])]
        return self.cluster.kubectl(*args, check=False).stdout

    def wait_ready(self, i: int | None = None, timeout: float = 120.0) -> None:
        """Until pod i (None: every pod of the StatefulSet's spec.replicas) is Ready."""
        if i is None:
            replicas = self.cluster.get("statefulset", self.name, namespace=self.namespace)["spec"]["replicas"]
            wait_ready(self.cluster, self.namespace, self.name, int(replicas), timeout=timeout)
        else:
            name = self.pod_name(i)
            wait_until(f"{name} Ready", lambda: is_ready(self.pods(fresh=True).get(name) or {}), timeout=timeout)
        self.pods(fresh=True)


def pod_processes(cluster: LocalCluster, namespace: str, pod: str, command: str = "") -> list[int]:
    """PIDs, on this host, of a real pod's container processes whose command line contains `command`:
    those in the cgroup of one of the pod's containers (its container IDs from the API; a process's
    environment is no guide, since Redis writes its title over it)."""
    statuses = cluster.get("pod", pod, namespace=namespace)["status"].get("containerStatuses") or []
    ids = [s["containerID"].rsplit("/", 1)[-1] for s in statuses if s.get("containerID")]
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            groups = (proc / "cgroup").read_text()
            if any(i in groups for i in ids) and command.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile
    return found


@contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """SIGSTOP these processes (a hung server, a node that stopped answering); SIGCONT on leaving
    (harmless for any that were killed meanwhile)."""
    assert pids, "nothing to freeze"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
