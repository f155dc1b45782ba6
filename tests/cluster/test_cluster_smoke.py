"""The local cluster itself, and what the rendered objects meet there beyond one deploy: node
capacity, required anti-affinity and zone spread over the nodes, PodSecurity admission of the
rendered pods with and without every pod extension (and of a bad one), a cluster brought back
after a stop. Objects are applied with kubectl (server-side
apply of exactly what the components register); deploys through the engine are test_engine_*.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from statefulkit import RedisArgs, StatefulWorkloadArgs, ZooKeeperArgs
from statefulkit.args.extensions import ZONE_KEY as ZONE
from statefulkit.render.redis import RedisRender
from statefulkit.render.tls import CERTIFICATE_API, render_certificate
from statefulkit.render.workload import kubernetes_objects, render_workload
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


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


def pod_of(sts: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    """The pod the StatefulSet controller would create as `name`: the template plus claim volumes."""
    template_spec = sts["spec"]["template"]["spec"]
    claims = [
        {"name": t["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{t['metadata']['name']}-{name}"}}
        for t in sts["spec"].get("volumeClaimTemplates", [])
    ]
    spec = {**template_spec, "volumes": [*template_spec.get("volumes", []), *claims]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def ready_pods(cluster: LocalCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    pods = cluster.get("pods", namespace=namespace, selector=f"app.kubernetes.io/instance={name}")["items"]
    return [
        p
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    ]


def test_a_pod_that_requests_ephemeral_storage_is_scheduled(cluster: LocalCluster) -> None:
    """The nodes declare a worker's capacity: charts composed with ours often request
    ephemeral-storage, which kwok's default node has none of (the pod would stay Pending)."""
    with cluster.namespace("capacity", RESTRICTED) as ns:
        resources = {"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"}}
        objects = workload_objects("scratch", ns, replicas=1, resources=resources)
        assert cluster.apply(objects).returncode == 0
        wait_until("1 Ready pod", lambda: len(ready_pods(cluster, ns, "scratch")) == 1, timeout=60)


def test_required_anti_affinity_spreads_members_over_nodes(cluster: LocalCluster) -> None:
    with cluster.namespace("spread", RESTRICTED) as ns:
        objects = workload_objects("spread", ns, replicas=5, anti_affinity={"mode": "required"})
        assert cluster.apply(objects).returncode == 0
        wait_until("5 Ready pods", lambda: len(ready_pods(cluster, ns, "spread")) == 5)
        nodes = {p["spec"]["nodeName"] for p in ready_pods(cluster, ns, "spread")}
        assert len(nodes) == 5, f"pods share nodes: {nodes}"


def test_restricted_admission_is_enforced_and_the_rendered_pods_pass_it(cluster: LocalCluster) -> None:
    with cluster.namespace("pss", RESTRICTED) as ns:
        zk = kubernetes_objects(ZooKeeperRender("zk", ZooKeeperArgs(namespace=ns)).manifests())
        sts = next(o for o in zk if o["kind"] == "StatefulSet")
        pod = pod_of(sts, ns, "zk-0")
        pod_spec = pod["spec"]
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
        stopped = LocalCluster.up(name)
        stopped.stop()
        assert stopped.kubectl("get", "--raw", "/readyz", check=False).returncode != 0, "the API still answers"

        cluster = LocalCluster.up(name)
        with cluster.namespace("back") as ns:
            applied = cluster.apply(workload_objects("kv", ns, replicas=1))
            assert applied.returncode == 0, applied.stderr
            wait_until("1 Ready pod", lambda: len(ready_pods(cluster, ns, "kv")) == 1, timeout=60)
    finally:
        LocalCluster.down(name)


def test_zone_spread_is_enforced_by_the_scheduler(cluster: LocalCluster) -> None:
    """The nodes carry zones a..c. A hard constraint (DoNotSchedule, skew 1) puts 6 members 2 per
    zone; the same constraint over a label no node carries leaves the pods Pending, so the rendered
    constraint is what the scheduler obeys (its own defaults only ever prefer)."""
    hard = [{"when_unsatisfiable": "DoNotSchedule", "max_skew": 1}]
    with cluster.namespace("zones", RESTRICTED) as ns:
        objects = workload_objects("zoned", ns, replicas=6, anti_affinity={"mode": "none"}, topology_spread=hard)
        assert cluster.apply(objects).returncode == 0
        wait_until("6 Ready pods", lambda: len(ready_pods(cluster, ns, "zoned")) == 6)
        zone_of = {n["metadata"]["name"]: n["metadata"]["labels"][ZONE] for n in cluster.get("nodes")["items"]}
        zones = Counter(zone_of[p["spec"]["nodeName"]] for p in ready_pods(cluster, ns, "zoned"))
        assert sorted(zones.values()) == [2, 2, 2], zones

        racks = [{"topology_key": "example.com/rack", "when_unsatisfiable": "DoNotSchedule"}]
        objects = workload_objects("racked", ns, replicas=1, topology_spread=racks)
        assert cluster.apply(objects).returncode == 0

        def unschedulable() -> str | None:
            pods = cluster.get("pods", namespace=ns, selector="app.kubernetes.io/instance=racked")["items"]
            conditions = [c for p in pods for c in p.get("status", {}).get("conditions", [])]
            return next((c["message"] for c in conditions if c.get("reason") == "Unschedulable"), None)

        message = wait_until("racked-0 to be refused by the scheduler", unschedulable, timeout=60)
        assert "topology spread constraint" in message or "didn't match pod topology spread" in message, message


def test_pod_extensions_pass_the_api_server_and_restricted_admission(cluster: LocalCluster) -> None:
    """Every escape hatch set at once, on both ensembles: the StatefulSets pass the API server's
    validation and their pods restricted admission; adding a capability our model refuses is
    refused by admission too (the control)."""
    extensions: dict[str, Any] = {
        "extra_env": {"JAVA_TOOL_OPTIONS": "-Dx=1"},
        "extra_volumes": [
            {"name": "certs", "secret": "zk-tls", "default_mode": 0o440},
            {"name": "extra-config", "config_map": "site-config"},
            {"name": "scratch", "empty_dir": True},
        ],
        "extra_volume_mounts": [{"name": "certs", "mount_path": "/certs", "read_only": True}],
        "init_containers": [
            {
                "name": "prepare",
                "command": ["sh", "-c", "true"],
                "volume_mounts": [{"name": "scratch", "mount_path": "/s"}],
            }
        ],
        "sidecars": [{"name": "shipper", "image": "busybox:1.36", "command": ["sleep", "1d"]}],
        "service_account_name": "ensemble",
        "image_pull_secrets": ["registry"],
        "topology_spread": [{"when_unsatisfiable": "DoNotSchedule", "min_domains": 3}],
        "security": {
            "seccomp_profile": "Localhost/profiles/ensemble.json",
            "add_capabilities": ["NET_BIND_SERVICE"],
            "supplemental_groups": [2000],
            "fs_group_change_policy": "Always",
        },
    }
    with cluster.namespace("extensions", RESTRICTED) as ns:
        # Pods may only name a service account that exists (ServiceAccount admission).
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ensemble", "namespace": ns}}
        assert cluster.apply([account]).returncode == 0
        redis_args = RedisArgs(namespace=ns, existing_secret={"name": "auth", "key": "password"}, **extensions)
        for name, objects in (
            ("zk", kubernetes_objects(ZooKeeperRender("zk", ZooKeeperArgs(namespace=ns, **extensions)).manifests())),
            ("redis", kubernetes_objects(render_workload("redis", RedisRender("redis", redis_args).workload_args()))),
        ):
            sts = next(o for o in objects if o["kind"] == "StatefulSet")
            accepted = cluster.apply([sts], dry_run=True)
            assert accepted.returncode == 0, accepted.stderr
            pod = pod_of(sts, ns, f"{name}-0")
            admitted = cluster.apply([pod], dry_run=True)
            assert admitted.returncode == 0, admitted.stderr
            containers = [
                {
                    **c,
                    "securityContext": {
                        **c["securityContext"],
                        "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]},
                    },
                }
                for c in pod["spec"]["containers"]
            ]
            refused = cluster.apply([{**pod, "spec": {**pod["spec"], "containers": containers}}], dry_run=True)
            assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
            assert "NET_ADMIN" in refused.stderr


def test_the_certificate_and_the_pod_monitor_pass_their_crds_schemas(cluster: LocalCluster) -> None:
    """The local cluster carries cert-manager's and prometheus-operator's CRDs (tools/cluster/up):
    what the ensembles create of those kinds passes the API server's strict schema validation,
    and a field the schema lacks is refused (the control)."""
    with cluster.namespace("crds", RESTRICTED) as ns:
        args = ZooKeeperArgs(
            namespace=ns,
            tls={"issuer_ref": {"name": "ca", "kind": "ClusterIssuer"}},
            pod_monitor={"interval_seconds": 15, "labels": {"release": "prometheus"}},
            network_policy={"metrics": [{"namespace_labels": {}}]},  # a monitor needs a source its policy admits
        )
        assert args.tls is not None
        api_version, kind = CERTIFICATE_API
        certificate: dict[str, Any] = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "zk-tls", "namespace": ns},
            "spec": render_certificate("zk", args.tls, ns, ["zk-headless", "zk"], args.cluster_domain),
        }
        monitor = next(
            o for o in kubernetes_objects(ZooKeeperRender("zk", args).manifests()) if o["kind"] == "PodMonitor"
        )
        accepted = cluster.apply([certificate, monitor], dry_run=True)
        assert accepted.returncode == 0, accepted.stderr
        for obj in (certificate, monitor):
            bad = {**obj, "spec": {**obj["spec"], "scrapeEvery": "15s"}}
            refused = cluster.apply([bad], dry_run=True)
            assert refused.returncode != 0 and "scrapeEvery" in refused.stderr, refused.stderr
