"""The rendered objects on a real control plane: kube-apiserver (with PodSecurity admission),
the StatefulSet, PV-binder and disruption controllers and kube-scheduler of the local kwok
cluster, driven with kubectl (server-side apply of exactly what the components register).

These stand in for `pulumi up` until a Pulumi engine and kubernetes provider can be built here
(see tools/toolchain/README.md); what they check is the cluster side of the same objects.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import StatefulWorkloadArgs, ZooKeeperArgs
from components.render.workload import kubernetes_objects, render_workload
from components.render.zookeeper import render_zookeeper
from tests.support.kube import Cluster

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


def test_workload_comes_up_in_a_restricted_namespace(cluster: Cluster) -> None:
    with cluster.namespace("smoke", RESTRICTED) as ns:
        applied = cluster.apply(workload_objects("kv", ns))
        assert applied.returncode == 0, applied.stderr

        cluster.wait_until("3 Ready pods", lambda: len(ready_pods(cluster, ns, "kv")) == 3)
        names = sorted(p["metadata"]["name"] for p in ready_pods(cluster, ns, "kv"))
        assert names == ["kv-0", "kv-1", "kv-2"]

        def bound_claims() -> list[str]:
            claims = cluster.get("pvc", namespace=ns)["items"]
            return sorted(c["metadata"]["name"] for c in claims if c["status"].get("phase") == "Bound")

        assert cluster.wait_until("3 Bound PVCs", lambda: bound_claims() == ["data-kv-0", "data-kv-1", "data-kv-2"])

        headless = cluster.get("service", "kv-headless", namespace=ns)
        assert headless["spec"]["clusterIP"] == "None"
        client = cluster.get("service", "kv", namespace=ns)
        assert client["spec"]["clusterIP"] not in ("", "None")

        def endpoint_pods() -> list[str]:
            slices = cluster.get("endpointslices", namespace=ns, selector="kubernetes.io/service-name=kv-headless")
            return sorted(
                e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or [] if "targetRef" in e
            )

        assert cluster.wait_until("endpoints of every pod", lambda: endpoint_pods() == ["kv-0", "kv-1", "kv-2"])

        def allowed() -> Any:
            status = cluster.get("pdb", "kv", namespace=ns).get("status", {})
            return status.get("currentHealthy") == 3 and status.get("disruptionsAllowed") == 1

        assert cluster.wait_until("PDB to allow exactly one disruption", allowed)


def test_required_anti_affinity_spreads_members_over_nodes(cluster: Cluster) -> None:
    with cluster.namespace("spread", RESTRICTED) as ns:
        objects = workload_objects("spread", ns, replicas=5, anti_affinity={"mode": "required"})
        assert cluster.apply(objects).returncode == 0
        cluster.wait_until("5 Ready pods", lambda: len(ready_pods(cluster, ns, "spread")) == 5)
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
            cluster.wait_until("1 Ready pod", lambda: len(ready_pods(cluster, ns, "kv")) == 1, timeout=60)
    finally:
        Cluster.down(name)
