"""The local cluster itself, and what the rendered objects meet there beyond one deploy: node
capacity, required anti-affinity over the nodes, PodSecurity admission of the rendered pods (and
of a bad one), a cluster brought back after a stop. Objects are applied with kubectl (server-side
apply of exactly what the components register); deploys through the engine are test_engine_*.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import StatefulWorkloadArgs, ZooKeeperArgs
from components.render.workload import kubernetes_objects, render_workload
from components.render.zookeeper import render_zookeeper
from tests.support.kube import Cluster
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@pytest.fixture(scope="module")
def cluster(local_cluster: Cluster) -> Cluster:
    return local_cluster


def workload_objects(name: str, namespace: str, **overrides: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = {
        "namespace": namespace,
        "image": "registry.example/app:1.0",
        "replicas": 3,
        "ports": {"client": 7000},
        "volume_claims": [{"name": "data", "size": "1Gi", "mount_path": "/data"}],
        "config_files": {"app.cfg": "mode=test\n"},
        "client_service": True,
    }
    args.update(overrides)
    return kubernetes_objects(render_workload(name, StatefulWorkloadArgs.model_validate(args)))


def ready_pods(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    pods = cluster.get("pods", namespace=namespace, selector=f"app.kubernetes.io/instance={name}")["items"]
    return [
        p
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    ]


def test_a_pod_that_requests_ephemeral_storage_is_scheduled(cluster: Cluster) -> None:
    """The nodes declare a worker's capacity: charts composed with ours often request
    ephemeral-storage, which kwok's default node has none of (the pod would stay Pending)."""
    with cluster.namespace("capacity", RESTRICTED) as ns:
        resources = {"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"}}
        objects = workload_objects("scratch", ns, replicas=1, resources=resources)
        assert cluster.apply(objects).returncode == 0
        wait_until("1 Ready pod", lambda: len(ready_pods(cluster, ns, "scratch")) == 1, timeout=60)


def test_required_anti_affinity_spreads_members_over_nodes(cluster: Cluster) -> None:
    with cluster.namespace("spread", RESTRICTED) as ns:
        objects = workload_objects("spread", ns, replicas=5, anti_affinity={"mode": "required"})
        assert cluster.apply(objects).returncode == 0
        wait_until("5 Ready pods", lambda: len(ready_pods(cluster, ns, "spread")) == 5)
        nodes = {p["spec"]["nodeName"] for p in ready_pods(cluster, ns, "spread")}
        assert len(nodes) == 5, f"pods share nodes: {nodes}"


def test_restricted_admission_is_enforced_and_the_rendered_pods_pass_it(cluster: Cluster) -> None:
    with cluster.namespace("pss", RESTRICTED) as ns:
        zk = kubernetes_objects(render_zookeeper("zk", ZooKeeperArgs(namespace=ns)))
        sts = next(o for o in zk if o["kind"] == "StatefulSet")
        template_spec = sts["spec"]["template"]["spec"]
        # The pod the StatefulSet controller would create for ordinal 0: template + claim volumes.
        claims = [
            {"name": t["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{t['metadata']['name']}-zk-0"}}
            for t in sts["spec"]["volumeClaimTemplates"]
        ]
        pod_spec: dict[str, Any] = {**template_spec, "volumes": [*template_spec.get("volumes", []), *claims]}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "zk-0", "namespace": ns}, "spec": pod_spec}
        accepted = cluster.apply([pod], dry_run=True)
        assert accepted.returncode == 0, accepted.stderr

        # The control: the same pod with root and privilege escalation is refused, so the
        # acceptance above means something.
        bad_spec = {
            **pod_spec,
            "securityContext": {},
            "containers": [
                {**c, "securityContext": {"allowPrivilegeEscalation": True}} for c in pod_spec["containers"]
            ],
        }
        refused = cluster.apply([{**pod, "spec": bad_spec}], dry_run=True)
        assert refused.returncode != 0
        assert "violates PodSecurity" in refused.stderr


def test_a_stopped_cluster_comes_back_with_nodes_that_run_pods() -> None:
    """The end of a machine session stops the control plane and keeps its data. The next `up`
    must give nodes that run pods again: a restarted kwok controller used to wait out its old
    node leases (200 s) with every pod Pending. Uses its own cluster, so nothing else is reset."""
    name = "statefulkit-restart"
    try:
        stopped = Cluster.up(name)
        stopped.stop()
        assert stopped.kubectl("get", "--raw", "/readyz", check=False).returncode != 0, "the API still answers"

        cluster = Cluster.up(name)
        with cluster.namespace("back") as ns:
            applied = cluster.apply(workload_objects("kv", ns, replicas=1))
            assert applied.returncode == 0, applied.stderr
            wait_until("1 Ready pod", lambda: len(ready_pods(cluster, ns, "kv")) == 1, timeout=60)
    finally:
        Cluster.down(name)
