"""What the rendered NetworkPolicies mean, on objects the real API server holds: ensembles and
client pods run on the local cluster, the policies are applied (so the API server validates
them), and everything is read back and handed to an independent evaluator, IBM's
network-config-analyzer (tools/network-policy-analyzer), which answers which pod reaches which
port of which. kwok enforces nothing, so this checks the policies' meaning, not a data path.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from statefulkit import RedisArgs, ZooKeeperArgs
from statefulkit.render.redis import RedisRender
from statefulkit.render.workload import kubernetes_objects, render_workload
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.local_cluster import ROOT, LocalCluster
from tests.support.polling import wait_until

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
Reach = dict[tuple[str, str], set[int] | None]  # (source pod, target pod) -> ports; None: every port


@pytest.fixture(scope="module")
def nca() -> str:
    installed = subprocess.run(
        [str(ROOT / "tools/network-policy-analyzer")], capture_output=True, text=True, check=True, timeout=600
    )
    return installed.stdout.strip()


def client_pod(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "main", "image": "busybox:1.36", "securityContext": security}],
        },
    }


def reachability(cluster: LocalCluster, nca: str, namespaces: list[str], workdir: Path) -> Reach:
    """Who reaches whom, per NCA, from the policies, pods and namespaces as the API server has them."""

    def listed(kind: str, **where: str) -> list[dict[str, Any]]:
        return [item for ns in namespaces for item in cluster.get(kind, namespace=ns, **where)["items"]]

    def running() -> list[dict[str, Any]] | None:
        pods = listed("pods")
        return pods if all(p.get("status", {}).get("podIP") for p in pods) else None

    pods = wait_until("every pod to have an IP", running, timeout=90)
    spaces = [cluster.get("namespace", ns) for ns in namespaces]
    policies = workdir / "policies.yaml"
    resources = workdir / "resources.yaml"
    policies.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": listed("networkpolicies")}))
    resources.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": spaces + pods}))
    ran = subprocess.run(
        [
            nca,
            "--connectivity",
            str(policies),
            "-r",
            str(resources),
            "-o",
            "txt_no_fw_rules",
            "--output_endpoints",
            "pods",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reach: Reach = {}
    for line in ran.stdout.splitlines():
        found = re.fullmatch(r"[^/\s]+/([^\s\[]+)(?:\[Pod\])? => [^/\s]+/([^\s\[]+)(?:\[Pod\])? : (.*)", line.strip())
        if found:
            source, target, allowed = found.groups()
            reach[(source, target)] = None if allowed == "All connections" else _ports(allowed)
    assert reach, ran.stdout
    return reach


def _ports(allowed: str) -> set[int]:
    """`{protocols:TCP,dst_ports:2181,2888-2890}` -> {2181, 2888, 2889, 2890}."""
    found = re.search(r"dst_ports:([0-9,\-]+)", allowed)
    assert found, allowed
    ports: set[int] = set()
    for part in found.group(1).split(","):
        low, _, high = part.partition("-")
        ports |= set(range(int(low), int(high or low) + 1))
    return ports


@pytest.fixture
def namespaces(cluster: LocalCluster) -> Iterator[dict[str, str]]:
    """The ensembles' namespace, a neighbour namespace labelled as an allowed client team, a
    stranger namespace, and a monitoring namespace."""
    with ExitStack() as stack:
        yield {
            role: stack.enter_context(cluster.namespace(role, {**RESTRICTED, **labels}))
            for role, labels in (
                ("data", {}),
                ("apps", {"team": "apps"}),
                ("stranger", {}),
                ("monitoring", {"team": "monitoring"}),
            )
        }


def test_members_clients_and_scrapers_reach_exactly_their_ports(
    cluster: LocalCluster, nca: str, namespaces: dict[str, str], tmp_path: Path
) -> None:
    data, apps, stranger, monitoring = (namespaces[k] for k in ("data", "apps", "stranger", "monitoring"))
    policy = {
        "clients": [{}, {"namespace_labels": {"team": "apps"}, "pod_labels": {"app": "web"}}],
        "metrics": [{"namespace_labels": {"team": "monitoring"}, "pod_labels": {"app": "prometheus"}}],
    }
    zookeeper = ZooKeeperRender("zk", ZooKeeperArgs(namespace=data, network_policy=policy)).manifests()
    redis_args = RedisArgs(
        namespace=data, existing_secret={"name": "auth", "key": "password"}, exporter={}, network_policy=policy
    )
    redis = render_workload("redis", RedisRender("redis", redis_args).workload_args())
    objects = [*kubernetes_objects(zookeeper), *kubernetes_objects(redis)]
    objects += [
        client_pod("neighbour", data),
        client_pod("web", apps),
        client_pod("batch", apps),
        client_pod("curious", stranger),
        client_pod("prometheus", monitoring),
        client_pod("grafana", monitoring),
    ]
    applied = cluster.apply(objects)  # the API server validates both NetworkPolicies here
    assert applied.returncode == 0, applied.stderr
    reach = reachability(cluster, nca, list(namespaces.values()), tmp_path)

    def ports(source: str, target: str) -> set[int] | None:
        return reach.get((source, target), set())

    zk_peer, zk_client, zk_metrics = {2181, 2888, 3888}, {2181}, {7000}
    for i in range(3):
        for j in range(3):
            if i != j:
                assert ports(f"zk-{i}", f"zk-{j}") == zk_peer  # never the AdminServer (8080) or metrics
    for target in ("zk-0", "zk-2"):
        assert ports("neighbour", target) == zk_client  # the same namespace, by default
        assert ports("web", target) == zk_client  # an allowed team's allowed pods
        assert ports("batch", target) == set()  # the allowed team's other pods
        assert ports("curious", target) == set()  # another namespace
        assert ports("prometheus", target) == zk_metrics
        assert ports("grafana", target) == set()
    assert ports("redis-0", "redis-1") == {6379, 26379}
    assert ports("neighbour", "redis-1") == {6379, 26379}
    assert ports("prometheus", "redis-1") == {9121}
    assert ports("curious", "redis-1") == set()
    assert ports("zk-0", "redis-0") == {6379, 26379}  # a ZooKeeper pod is a client of Redis: same namespace
    # Nothing restricts egress, and client pods carry no policy: the control that NCA reports
    # unrestricted traffic as such.
    assert ports("zk-0", "neighbour") is None
