"""The local kwok cluster (tools/cluster/up) driven with its real kubectl, for the cluster and engine
tests: starting, stopping and reaching it, applying and deleting objects, watching them
(tests/support/watch.py), cordoning nodes, and its real nodes. What the tests read of its pods is
tests/support/cluster_pods.py."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.toolchain import toolchain_bin
from tests.support.watch import Watch

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
        except (subprocess.CalledProcessError, SystemExit, OSError):
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
        kwok_bin = str(toolchain_bin("kwok"))
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
        kube_bin = str(toolchain_bin("kubernetes"))
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
