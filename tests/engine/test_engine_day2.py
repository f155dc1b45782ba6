"""Day-2 changes through the real engine on the local cluster: a larger storage size grows the
claims in place (no pod restarts), a smaller one or a class without expansion is refused before
anything changes, and destroy scales every StatefulSet to 0 before deleting it, whatever size the
program then declares.

The tests run in order on one stack (3 ZooKeeper members, 3 Redis pods); the last destroys it.
What is checked is what the cluster holds, read with kubectl and its watch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from statefulkit.args.common import parse_quantity
from tests.support.engine_project import Project, deployed, small_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.watch import scaled_to_zero_before_deleted
from tools.engine import Engine

ZOOKEEPER = "zookeeper"  # the StatefulSet's name, as the stack names it
STORAGE_CLASS = "local-pv"  # the local cluster's default class

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def project(engine: Engine, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    config = small_ensembles(f"sk-day2-{uuid.uuid4().hex[:6]}")
    with deployed(engine, local_cluster, tmp_path_factory.mktemp("project"), "day2", config) as project:
        yield project


def claims(cluster: LocalCluster, namespace: str, statefulset: str) -> dict[str, Obj]:
    items = cluster.get("persistentvolumeclaims", namespace=namespace)["items"]
    return {c["metadata"]["name"]: c for c in items if c["metadata"]["name"].startswith(f"data-{statefulset}-")}


def requested_sizes(cluster: LocalCluster, namespace: str) -> set[str]:
    """The sizes the ZooKeeper claims ask for."""
    return {c["spec"]["resources"]["requests"]["storage"] for c in claims(cluster, namespace, ZOOKEEPER).values()}


def pod_uids(cluster: LocalCluster, namespace: str, statefulset: str) -> dict[str, str]:
    pods = cluster.pods(namespace, f"app.kubernetes.io/instance={statefulset}")
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods}


def set_storage_size(project: Project, size: str) -> None:
    with project.editing() as config:
        config["statefulkit:zookeeper"]["storage_size"] = size


def test_a_larger_storage_size_grows_every_claim_and_restarts_no_pod(
    project: Project, local_cluster: LocalCluster
) -> None:
    namespace = project.namespace
    before_pods = pod_uids(local_cluster, namespace, ZOOKEEPER)
    before_sts = local_cluster.get("statefulset", ZOOKEEPER, namespace)
    assert len(before_pods) == 3
    assert requested_sizes(local_cluster, namespace) == {"1Gi"}

    set_storage_size(project, "2Gi")
    # The hook runs in a preview too (to refuse a shrink early), but changes nothing there. The
    # provider's own preview of the replacement fails (pulumi-kubernetes#3984) and is explained:
    # when this fails because the preview succeeds, drop the explanation in tools/engine.py.
    previewed = project.failing("preview")
    assert "growing claim" not in previewed.text
    assert "cannot preview the replacement of a StatefulSet" in previewed.text, previewed.text
    assert requested_sizes(local_cluster, namespace) == {"1Gi"}
    assert local_cluster.get("statefulset", ZOOKEEPER, namespace)["metadata"]["uid"] == before_sts["metadata"]["uid"]
    with local_cluster.watch("pods", namespace, f"app.kubernetes.io/instance={ZOOKEEPER}") as watch:
        changes, printed = project.up()
        events = watch.events
    assert changes.get("replace") == 1, changes  # the StatefulSet; nothing else is replaced

    grown = claims(local_cluster, namespace, ZOOKEEPER)
    assert sorted(grown) == [f"data-{ZOOKEEPER}-{i}" for i in range(3)]
    for claim in grown.values():
        assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
        assert parse_quantity(claim["status"]["capacity"]["storage"]) >= parse_quantity("2Gi"), claim["status"]
    # Same pods (not one deleted or recreated), now owned by the replacement StatefulSet.
    assert pod_uids(local_cluster, namespace, ZOOKEEPER) == before_pods
    assert not [e for e in events if e.terminating], [(e.type, e.name) for e in events if e.terminating]
    after_sts = local_cluster.get("statefulset", ZOOKEEPER, namespace)
    assert after_sts["metadata"]["uid"] != before_sts["metadata"]["uid"]
    template = after_sts["spec"]["volumeClaimTemplates"][0]
    assert template["spec"]["resources"]["requests"]["storage"] == "2Gi"
    for pod in local_cluster.pods(namespace, f"app.kubernetes.io/instance={ZOOKEEPER}"):
        assert [ref["uid"] for ref in pod["metadata"]["ownerReferences"]] == [after_sts["metadata"]["uid"]]
    assert "growing claim" in printed.text
    assert f"deleting StatefulSet {namespace}/{ZOOKEEPER} and leaving its pods to the replacement" in printed.text


def test_a_smaller_storage_size_is_refused_before_anything_changes(
    project: Project, local_cluster: LocalCluster
) -> None:
    namespace = project.namespace
    sts_uid = local_cluster.get("statefulset", ZOOKEEPER, namespace)["metadata"]["uid"]
    set_storage_size(project, "1Gi")
    try:
        for operation in ("preview", "up"):
            printed = project.failing(operation)
            assert "storage size of volume claim template data: 2Gi -> 1Gi" in printed.text, printed.text
            assert "a claim can only grow" in printed.text
            assert "Nothing was changed" in printed.text
    finally:
        set_storage_size(project, "2Gi")
    assert local_cluster.get("statefulset", ZOOKEEPER, namespace)["metadata"]["uid"] == sts_uid
    assert requested_sizes(local_cluster, namespace) == {"2Gi"}


def test_growth_on_a_class_without_expansion_is_refused(project: Project, local_cluster: LocalCluster) -> None:
    namespace = project.namespace
    sts_uid = local_cluster.get("statefulset", ZOOKEEPER, namespace)["metadata"]["uid"]
    expansion = '{"allowVolumeExpansion": %s}'
    local_cluster.kubectl("patch", "storageclass", STORAGE_CLASS, "--type=merge", "-p", expansion % "false")
    set_storage_size(project, "3Gi")
    try:
        printed = project.failing("up")
    finally:
        set_storage_size(project, "2Gi")
        local_cluster.kubectl("patch", "storageclass", STORAGE_CLASS, "--type=merge", "-p", expansion % "true")
    claim_names = ", ".join(f"data-{ZOOKEEPER}-{i}" for i in range(3))
    refusal = f"claims {claim_names} (data: 2Gi -> 3Gi) StorageClass '{STORAGE_CLASS}' does not allow volume expansion"
    assert refusal in printed.text, printed.text
    assert local_cluster.get("statefulset", ZOOKEEPER, namespace)["metadata"]["uid"] == sts_uid
    assert requested_sizes(local_cluster, namespace) == {"2Gi"}


def test_destroy_scales_every_statefulset_to_zero_and_waits_for_its_pods(
    project: Project, local_cluster: LocalCluster
) -> None:
    """`destroy --run-program` tears down whatever size the program declares: here the smaller
    size an update refused (2Gi -> 1Gi) is still in the stack file. Only a replacement checks growth."""
    namespace = project.namespace
    statefulsets = [s["metadata"]["name"] for s in local_cluster.get("statefulsets", namespace=namespace)["items"]]
    assert sorted(statefulsets) == ["redis", ZOOKEEPER]
    assert requested_sizes(local_cluster, namespace) == {"2Gi"}
    set_storage_size(project, "1Gi")
    with local_cluster.watch("statefulsets", namespace) as sts_watch, local_cluster.watch("pods", namespace) as pods:
        printed = project.destroy()
        sts_events, pod_events = sts_watch.events, pods.events
    for name in statefulsets:
        seen = [(e.type, e.object["spec"].get("replicas"), e.object["status"].get("replicas")) for e in sts_events]
        assert scaled_to_zero_before_deleted(sts_events, name), seen
        deleted_at = next(e.at for e in sts_events if e.name == name and e.type == "DELETED")
        gone = [e.at for e in pod_events if e.type == "DELETED" and e.name.startswith(f"{name}-")]
        assert len(gone) == 3 and max(gone) < deleted_at, (gone, deleted_at)
        assert f"scaling StatefulSet {namespace}/{name} to 0 before deleting it" in printed.text
    assert local_cluster.pods(namespace) == []
    # Deleted in the foreground: the collector took the StatefulSets' revisions with them.
    assert local_cluster.get("controllerrevisions", namespace=namespace)["items"] == []
