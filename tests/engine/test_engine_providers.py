"""The StatefulSets' hooks act on the cluster of each StatefulSet's own provider, through the real
engine: a user's program (tests/projects/regions) reaches its clusters only through explicit
providers whose kubeconfigs are Outputs of another resource (a StackReference to
tests/projects/clusters), and the process's KUBECONFIG points at nothing. A larger storage size
grows every claim and keeps every pod; a destroy drains every StatefulSet before deleting it. Then
the same with two local clusters and the same ensemble (namespace and name) in each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_project import Project
from tests.support.local_cluster import LocalCluster
from tests.support.watch import scaled_to_zero_before_deleted
from tools.engine import ROOT, Engine

PROJECTS = ROOT / "tests" / "projects"
SECOND_CLUSTER = "statefulkit-west"


@pytest.fixture(scope="module")
def nowhere(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The session's engine and backend, with KUBECONFIG pointing at a file that does not exist."""
    missing = tmp_path_factory.mktemp("no-kubeconfig") / "kubeconfig"
    return Engine({**engine.env, "KUBECONFIG": str(missing)})


@pytest.fixture(scope="module")
def west() -> Iterator[LocalCluster]:
    cluster = LocalCluster.up(SECOND_CLUSTER)
    try:
        yield cluster
    finally:
        LocalCluster.down(SECOND_CLUSTER)


def deploy(nowhere: Engine, scratch: Path, clusters: dict[str, LocalCluster], namespace: str) -> Project:
    """The clusters' stack (their kubeconfigs as outputs), then the regions' stack on them."""
    stack = f"t{uuid.uuid4().hex[:8]}"
    kubeconfigs = {"statefulkit-clusters:kubeconfigs": {name: c.kubeconfig for name, c in clusters.items()}}
    made = Project.copy(PROJECTS / "clusters", scratch / "clusters", nowhere, stack, kubeconfigs)
    made.up()
    config = {
        "statefulkit-regions:clusters_stack": f"organization/statefulkit-clusters/{stack}",
        "statefulkit-regions:clusters": list(clusters),
        "statefulkit-regions:namespace": namespace,
    }
    project = Project.copy(PROJECTS / "regions", scratch / "regions", nowhere, stack, config)
    changes, printed = project.up()
    assert changes.get("create", 0) > 0, printed.text
    return project


def claims(cluster: LocalCluster, namespace: str) -> dict[str, dict[str, Any]]:
    items = cluster.get("persistentvolumeclaims", namespace=namespace)["items"]
    return {c["metadata"]["name"]: c for c in items if c["metadata"]["name"].startswith("data-zk-")}


def pod_uids(cluster: LocalCluster, namespace: str) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.pods(namespace, "app.kubernetes.io/instance=zk")
    }


def diagnostics(printed: str) -> str:
    """The engine's summary of what the program logged (each message once, where the progress
    lines repeat it)."""
    return printed.partition("\nDiagnostics:\n")[2].partition("\nOutputs:\n")[0]


def grows_and_drains(project: Project, clusters: dict[str, LocalCluster], namespace: str) -> None:
    before = {name: pod_uids(c, namespace) for name, c in clusters.items()}
    for name, uids in before.items():
        assert sorted(uids) == ["zk-0", "zk-1", "zk-2"], (name, uids)
        assert {c["spec"]["resources"]["requests"]["storage"] for c in claims(clusters[name], namespace).values()} == {
            "1Gi"
        }

    with project.editing() as config:
        config["statefulkit-regions:storage_size"] = "2Gi"
    changes, printed = project.up()
    assert changes.get("replace") == len(clusters), (changes, printed.text)  # each cluster's StatefulSet
    for name, cluster in clusters.items():
        grown = claims(cluster, namespace)
        assert sorted(grown) == ["data-zk-0", "data-zk-1", "data-zk-2"], (name, sorted(grown))
        assert {c["spec"]["resources"]["requests"]["storage"] for c in grown.values()} == {"2Gi"}, name
        assert pod_uids(cluster, namespace) == before[name], f"{name}: a pod was restarted"
    assert diagnostics(printed.text).count(f"deleting StatefulSet {namespace}/zk and leaving its pods") == len(clusters)

    with ExitStack() as watching:
        watches = {name: watching.enter_context(c.watch("statefulsets", namespace)) for name, c in clusters.items()}
        destroyed = project.destroy()
        events = {name: w.events for name, w in watches.items()}
    assert diagnostics(destroyed.text).count(f"scaling StatefulSet {namespace}/zk to 0 before deleting it") == len(
        clusters
    )
    for name, cluster in clusters.items():
        assert scaled_to_zero_before_deleted(events[name], "zk"), (name, [(e.type, e.name) for e in events[name]])
        assert cluster.pods(namespace) == [], name


def test_growth_and_destroy_act_on_the_explicit_providers_cluster(
    nowhere: Engine, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    clusters = {"east": local_cluster}
    namespace = f"sk-prov-{uuid.uuid4().hex[:6]}"
    try:
        project = deploy(nowhere, tmp_path, clusters, namespace)
        grows_and_drains(project, clusters, namespace)
    finally:
        local_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_two_clusters_with_the_same_ensemble_each_grow_and_drain(
    nowhere: Engine, local_cluster: LocalCluster, west: LocalCluster, tmp_path: Path
) -> None:
    clusters = {"east": local_cluster, "west": west}
    namespace = f"sk-two-{uuid.uuid4().hex[:6]}"
    try:
        project = deploy(nowhere, tmp_path, clusters, namespace)
        grows_and_drains(project, clusters, namespace)
    finally:
        for cluster in clusters.values():
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
