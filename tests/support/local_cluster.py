"""The local kwok cluster (tools/cluster/up) driven with its real kubectl, for the cluster and engine tests."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalCluster:
    kubeconfig: str
    kubectl_path: str

    @classmethod
    def up(cls, name: str | None = None) -> LocalCluster:
        """Start (or reuse) the local cluster, or another one called `name`; builds the
        Kubernetes toolchain on first use."""
        kubeconfig = subprocess.run(
            [str(ROOT / "tools/cluster/up")], check=True, stdout=subprocess.PIPE, text=True, env=_named(name)
        ).stdout.split()[-1]
        return cls.existing(kubeconfig)

    @staticmethod
    def running() -> bool:
        """Whether the local cluster's API answers now (without building or starting anything)."""
        found = subprocess.run(
            [str(ROOT / "tools/cluster/up"), "--print-kubeconfig"], check=False, capture_output=True, text=True
        )
        if found.returncode != 0:
            return False
        try:
            cluster = LocalCluster.existing(found.stdout.strip())
        except (subprocess.CalledProcessError, StopIteration, OSError):
            return False  # no toolchain built yet
        return cluster.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    @staticmethod
    def down(name: str | None = None) -> None:
        """Stop and delete the local cluster, or the one called `name` (tools/cluster/down)."""
        subprocess.run([str(ROOT / "tools/cluster/down")], check=True, stdout=subprocess.DEVNULL, env=_named(name))

    def stop(self) -> None:
        """Stop the control plane's processes and keep its data, as the end of a machine
        session does (`kwokctl stop cluster`)."""
        # tools/cluster/up writes the kubeconfig to <cache>/clusters/<name>/kubeconfig.
        cluster_dir = Path(self.kubeconfig).parent
        kwok_bin = _exported(Path(_toolchain_env_file()), "STATEFULKIT_KWOK_BIN")
        env = {**os.environ, "KWOK_WORKDIR": str(cluster_dir.parent.parent / "kwok")}
        subprocess.run(
            [os.path.join(kwok_bin, "kwokctl"), "stop", "cluster", "--name", cluster_dir.name],
            check=True,
            capture_output=True,
            env=env,
        )

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl_path, "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def get(self, kind: str, name: str = "", namespace: str | None = None, selector: str | None = None) -> Any:
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        if selector:
            args += ["-l", selector]
        return json.loads(self.kubectl(*args).stdout)

    def apply(self, objects: list[dict[str, Any]], *, dry_run: bool = False) -> subprocess.CompletedProcess[str]:
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        args = ["apply", "--server-side", "--field-manager=statefulkit-e2e", "-f", "-"]
        if dry_run:
            args.append("--dry-run=server")
        return self.kubectl(*args, input=body, check=False)

    @contextmanager
    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> Iterator[str]:
        """A fresh namespace, deleted (with its PVCs) afterwards."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        applied = self.apply([manifest])
        assert applied.returncode == 0, applied.stderr
        try:
            yield name
        finally:
            self.kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False)

    def add_real_nodes(self, count: int) -> list[str]:
        """At least `count` real nodes in this cluster (tools/node/up: containerd + kubelet, pods
        run for real); returns the names of all its real nodes."""
        env = {**os.environ, "STATEFULKIT_CLUSTER_NAME": Path(self.kubeconfig).parent.name}
        env["STATEFULKIT_REAL_NODES"] = str(count)
        subprocess.run([str(ROOT / "tools/node/up")], check=True, stdout=subprocess.DEVNULL, env=env)
        return sorted(n["metadata"]["name"] for n in self.get("nodes", selector=REAL_NODE_LABEL)["items"])

    @classmethod
    def existing(cls, kubeconfig: str) -> LocalCluster:
        """An already running control plane (e.g. one made by a changed copy of tools/cluster/up),
        driven with the toolchain's kubectl; nothing is started or recycled."""
        kube_bin = _exported(Path(_toolchain_env_file()), "STATEFULKIT_KUBE_BIN")
        return cls(kubeconfig=kubeconfig, kubectl_path=os.path.join(kube_bin, "kubectl"))

    def pods(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Pods of the namespace (optionally by label selector), sorted by name."""
        items = self.get("pods", namespace=namespace, selector=selector)["items"]
        return sorted(items, key=lambda p: str(p["metadata"]["name"]))

    def delete(self, objects: list[dict[str, Any]], *, wait: bool = True) -> subprocess.CompletedProcess[str]:
        """`kubectl delete` exactly these objects (by apiVersion, kind, namespace and name)."""
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        args = ["delete", "-f", "-", "--ignore-not-found", f"--wait={str(wait).lower()}", "--timeout=120s"]
        return self.kubectl(*args, input=body, check=False)

    def evict(self, namespace: str, pod: str) -> subprocess.CompletedProcess[str]:
        """POST pods/<pod>/eviction (policy/v1), as `kubectl drain` does for every pod. A refusal
        by a PodDisruptionBudget is HTTP 429: "Error from server (TooManyRequests): Cannot evict
        pod as it would violate the pod's disruption budget." on stderr, exit code 1."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction"
        return self.kubectl("create", "--raw", path, "-f", "-", input=json.dumps(body), check=False)

    @contextmanager
    def watch(self, kind: str, namespace: str, selector: str | None = None) -> Iterator[Watch]:
        """A running `kubectl get <kind> --watch` whose events are collected in the background."""
        args = [self.kubectl_path, "--kubeconfig", self.kubeconfig, "get", kind, "-n", namespace]
        args += ["--watch", "--output-watch-events", "-o", "json"]
        if selector:
            args += ["-l", selector]
        watch = Watch(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        try:
            yield watch
        finally:
            watch.close()

    @contextmanager
    def cordoned(self, node: str, owner: str) -> Iterator[None]:
        """`node` unschedulable for the block (the first step of `kubectl drain`), then handed back.
        The node carries CORDONED_BY=<owner> meanwhile, so uncordon_leftovers() can undo a cordon
        that an interrupted run left behind."""
        self.kubectl("annotate", "node", node, f"{CORDONED_BY}={owner}", "--overwrite")
        try:
            self.kubectl("cordon", node)
            yield
        finally:
            self.kubectl("uncordon", node, check=False)
            self.kubectl("annotate", "node", node, f"{CORDONED_BY}-", check=False)

    def uncordon_leftovers(self, owner: str) -> list[str]:
        """Uncordon the nodes that cordoned(owner=owner) left behind in an interrupted run."""
        names = [
            n["metadata"]["name"]
            for n in self.get("nodes")["items"]
            if (n["metadata"].get("annotations") or {}).get(CORDONED_BY) == owner
        ]
        for name in names:
            self.kubectl("uncordon", name, check=False)
            self.kubectl("annotate", "node", name, f"{CORDONED_BY}-", check=False)
        return names


def _named(name: str | None) -> dict[str, str] | None:
    """The environment that points tools/cluster/{up,down} at the cluster `name`."""
    return None if name is None else {**os.environ, "STATEFULKIT_CLUSTER_NAME": name}


def _toolchain_env_file() -> str:
    return subprocess.run(
        [str(ROOT / "tools/toolchain/build"), "--env-file"], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()


def _exported(env_file: Path, key: str) -> str:
    """The value of `export KEY=...` in the toolchain's env file."""
    prefix = f"export {key}="
    return next(
        line[len(prefix) :].strip("'\"") for line in env_file.read_text().splitlines() if line.startswith(prefix)
    )


# The real nodes (tools/node/up) carry this label and a taint that keeps every other pod off them;
# a pod asks for one with REAL_NODE_PLACEMENT in its spec (and an image from oci_image()).
REAL_NODE_LABEL = "statefulkit.dev/node=real"
REAL_NODE_PLACEMENT: dict[str, Any] = {
    "nodeSelector": {"statefulkit.dev/node": "real"},
    "tolerations": [{"key": "statefulkit.dev/real-node", "operator": "Exists", "effect": "NoSchedule"}],
}


def oci_image(rootfs: Path, image: str, *options: str) -> None:
    """Make `image` (DOMAIN/PATH:TAG) of the directory `rootfs` and import it into the real nodes
    (tools/node/oci-image; options such as --entrypoint, --user); pods use imagePullPolicy Never."""
    command = [str(ROOT / "tools/node/oci-image"), str(rootfs), image, *options]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


# Nodes that LocalCluster.cordoned() holds carry this annotation (value: the owner).
CORDONED_BY = "statefulkit.dev/cordoned-by"


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
    """The pods of ensemble `name`, by pod name."""
    return {p["metadata"]["name"]: p for p in cluster.pods(namespace, f"app.kubernetes.io/instance={name}")}


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


@dataclass(frozen=True)
class WatchEvent:
    """One event of a `kubectl get --watch`, stamped with the monotonic time it was read."""

    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]
    at: float

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.object["metadata"].get("uid", ""))

    @property
    def terminating(self) -> bool:
        """Deleted, or carrying a deletionTimestamp."""
        return self.type == "DELETED" or bool(self.object["metadata"].get("deletionTimestamp"))

    @property
    def ready(self) -> bool:
        return self.type != "DELETED" and is_ready(self.object)


class Watch:
    """The events of a running `kubectl get --watch --output-watch-events -o json`, in the order
    the API server sent them (one watch stream is ordered by resourceVersion)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self._events: list[WatchEvent] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._process.stdout:
            # One JSON document per event: a line each (kubectl 1.36), or indented over several.
            buffer += line
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break  # incomplete: read on
                buffer = buffer.lstrip()[end:]
                with self._lock:
                    self._events.append(WatchEvent(event["type"], event["object"], time.monotonic()))

    @property
    def events(self) -> list[WatchEvent]:
        with self._lock:
            return list(self._events)

    def wait_for(self, what: str, condition: Callable[[list[WatchEvent]], Any], timeout: float = 120.0) -> Any:
        """Wait until condition(events) is truthy; on timeout fail with the events seen so far."""
        deadline = time.monotonic() + timeout
        while True:
            ended = self._process.poll() is not None
            if ended:
                self._thread.join(timeout=10)  # every event the stream delivered is read
            value = condition(self.events)
            if value:
                return value
            if ended or time.monotonic() > deadline:
                log = "\n".join(f"  {e.type} {e.name} terminating={e.terminating} ready={e.ready}" for e in self.events)
                if ended:
                    error = self._process.stderr.read() if self._process.stderr else ""
                    stopped = f"the watch ended ({error.strip() or 'no error output'})"
                else:
                    stopped = f"timed out after {timeout:.0f}s"
                raise AssertionError(f"{stopped} waiting for {what}; events:\n{log}")
            time.sleep(0.05)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._thread.join(timeout=10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


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


def scaled_to_zero_before_deleted(events: list[WatchEvent], name: str) -> bool:
    """The StatefulSet's watch shows spec.replicas 0, then status.replicas 0, then its deletion."""
    seen = [e for e in events if e.name == name]
    zero = next((i for i, e in enumerate(seen) if e.object["spec"].get("replicas") == 0), None)
    drained = next((i for i, e in enumerate(seen) if i >= (zero or 0) and not e.object["status"].get("replicas")), None)
    deleted = next((i for i, e in enumerate(seen) if e.type == "DELETED"), None)
    return None not in (zero, drained, deleted) and zero <= drained < deleted  # type: ignore[operator]
