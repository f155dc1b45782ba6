"""The project's program through the real Pulumi engine and kubernetes provider, on the local
cluster: one stack with a 3-member ZooKeeperEnsemble and a 3-pod RedisEnsemble, taken through
what happens after the first deploy. The tests run in order on that stack; each leaves it as
it found it (3 + 3, partition 0).

What is checked is what the cluster holds, read back with kubectl; the engine's own report is
only trusted for what it alone knows (its change counts, its duration).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from tests.support.cluster_pods import endpoint_hostnames, is_ready, members, pv_node, wait_ready
from tests.support.engine_project import Project, small_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tests.support.tokens import SECRET
from tools.engine import ROOT, Engine, exported_state

PASSWORD = "Engine-Test-Pa55w0rd-" + uuid.uuid4().hex
PASSWORD_KEY = "statefulkit:redis_password"  # noqa: S105 - a config key
OWNER = "test_engine_ensembles"
PDB_REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget"
IMAGE_V2 = "zookeeper:3.9.5"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(local_cluster: LocalCluster) -> LocalCluster:
    local_cluster.uncordon_leftovers(OWNER)  # a node an interrupted run of this module left cordoned
    return local_cluster


@pytest.fixture(scope="module")
def project(engine: Engine, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    namespace = f"sk-engine-{uuid.uuid4().hex[:6]}"
    project = Project.copy(ROOT, tmp_path_factory.mktemp("project"), engine, "ensembles", small_ensembles(namespace))
    project.set_secret(PASSWORD_KEY, PASSWORD)
    try:
        yield project
    finally:
        project.remove(cluster)


def claims(cluster: LocalCluster, namespace: str) -> dict[str, Obj]:
    return {c["metadata"]["name"]: c for c in cluster.get("pvc", namespace=namespace)["items"]}


def served_names(cluster: LocalCluster, namespace: str, name: str, count: int) -> list[str]:
    """The DNS names cluster DNS serves for the members: each one's EndpointSlice hostname under
    the headless Service (listed before the pods are Ready: publishNotReadyAddresses)."""
    service = f"{name}-headless"

    def listed() -> dict[str, str] | None:
        found = endpoint_hostnames(cluster, namespace, service)
        return found if len(found) == count else None

    hosts: dict[str, str] = wait_until(f"EndpointSlices of {service} listing {count} pods", listed)
    return [f"{hosts[f'{name}-{i}']}.{service}.{namespace}.svc.cluster.local" for i in range(count)]


def allowing(cluster: LocalCluster, namespace: str, name: str, *, disruptions: int) -> Obj | None:
    """The budget's status once it allows exactly `disruptions` evictions."""
    status = pdb_status(cluster, namespace, name)
    return status if status.get("disruptionsAllowed") == disruptions else None


def pdb_status(cluster: LocalCluster, namespace: str, name: str) -> Obj:
    status: Obj = cluster.get("pdb", name, namespace=namespace).get("status") or {}
    return status


# 1 ------------------------------------------------------------------------------------------


def test_up_brings_both_ensembles_to_ready_with_their_claims_services_and_budgets(
    project: Project, cluster: LocalCluster
) -> None:
    _, printed = project.up()
    ns = project.namespace
    for name in ("zookeeper", "redis"):
        pods = wait_ready(cluster, ns, name, 3)
        assert sorted(pods) == [f"{name}-{i}" for i in range(3)]
        pvcs = claims(cluster, ns)
        for i in range(3):
            claim, pod = pvcs[f"data-{name}-{i}"], pods[f"{name}-{i}"]
            assert claim["status"]["phase"] == "Bound", claim["status"]
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"data-{name}-{i}"
            assert pv_node(cluster.get("pv", claim["spec"]["volumeName"])) == pod["spec"]["nodeName"]
        headless = cluster.get("service", f"{name}-headless", namespace=ns)
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["publishNotReadyAddresses"] is True  # peers resolve before Ready
        assert {p["spec"]["subdomain"] for p in pods.values()} == {f"{name}-headless"}
        budget = wait_until(
            f"the {name} budget to allow one disruption", partial(allowing, cluster, ns, name, disruptions=1)
        )
        assert budget["currentHealthy"] == 3

    outputs = project.outputs()
    zk_names = served_names(cluster, ns, "zookeeper", 3)
    assert outputs["zookeeper_connect_string"] == ",".join(f"{host}:2181" for host in zk_names)
    redis_names = served_names(cluster, ns, "redis", 3)
    assert outputs["redis_sentinel_addresses"] == [f"{host}:26379" for host in redis_names]
    client = cluster.get("service", outputs["zookeeper_client_service"], namespace=ns)
    assert [p["port"] for p in client["spec"]["ports"]] == [2181] and client["spec"]["clusterIP"] != "None"
    sentinel = cluster.get("service", outputs["redis_sentinel_service"], namespace=ns)
    assert [p["port"] for p in sentinel["spec"]["ports"]] == [26379]
    assert "Traceback" not in printed.text


# 2 ------------------------------------------------------------------------------------------


def test_a_second_up_changes_nothing(project: Project) -> None:
    changes, printed = project.up()
    assert set(changes) == {"same"}, changes
    assert "[engine] no changes" in printed.text


# 3 ------------------------------------------------------------------------------------------


def test_scaling_through_the_stack_config_adds_ordinals_and_removes_the_highest_keeping_claims(
    project: Project, cluster: LocalCluster
) -> None:
    ns = project.namespace
    before = {n: c["metadata"]["uid"] for n, c in claims(cluster, ns).items()}
    founders = {n: p["metadata"]["uid"] for n, p in wait_ready(cluster, ns, "zookeeper", 3).items()}
    with project.editing() as config:
        config["statefulkit:zookeeper"]["replicas"] = 5
    project.up()
    pods = wait_ready(cluster, ns, "zookeeper", 5)
    assert sorted(pods) == [f"zookeeper-{i}" for i in range(5)]
    assert {n: pods[n]["metadata"]["uid"] for n in founders} == founders, "a scale-up restarted a member"
    grown = claims(cluster, ns)
    assert {n: grown[n]["metadata"]["uid"] for n in before} == before, "an existing claim was replaced"
    assert {"data-zookeeper-3", "data-zookeeper-4"} <= set(grown)

    with cluster.watch("pods", ns, "app.kubernetes.io/instance=zookeeper") as watch:
        watch.wait_for("the watch to list the pods", lambda ev: {e.name for e in ev} >= set(pods))
        mark = len(watch.events)
        with project.editing() as config:
            config["statefulkit:zookeeper"]["replicas"] = 3
        project.up()
        final = wait_ready(cluster, ns, "zookeeper", 3)
        deleted = [e.name for e in watch.events[mark:] if e.type == "DELETED"]
    assert sorted(final) == [f"zookeeper-{i}" for i in range(3)]
    # Only the highest ordinals go; the members that stay are not restarted (the replica count
    # is outside the pod template, and the StatefulSet is updated in place, not replaced).
    assert sorted(deleted) == ["zookeeper-3", "zookeeper-4"], deleted
    assert {n: final[n]["metadata"]["uid"] for n in final} == {n: pods[n]["metadata"]["uid"] for n in final}
    kept = claims(cluster, ns)
    assert {"data-zookeeper-3", "data-zookeeper-4"} <= set(kept), "claims of removed members must stay"
    assert kept["data-zookeeper-4"]["metadata"]["uid"] == grown["data-zookeeper-4"]["metadata"]["uid"]


# 4 ------------------------------------------------------------------------------------------


def test_a_partitioned_rollout_returns_promptly_and_updates_only_the_canary(
    project: Project, cluster: LocalCluster
) -> None:
    ns = project.namespace
    with project.editing() as config:
        config["statefulkit:zookeeper"] |= {
            "image": IMAGE_V2,
            "update_strategy": {"type": "RollingUpdate", "partition": 2},
        }
    timed_up(project)
    pods = wait_ready(cluster, ns, "zookeeper", 3)
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
    assert images["zookeeper-2"] == IMAGE_V2
    assert images["zookeeper-0"] == images["zookeeper-1"] != IMAGE_V2
    held = cluster.get("statefulset", "zookeeper", namespace=ns)["status"]
    assert held["currentRevision"] != held["updateRevision"], held

    # While the canary is held, any other change to the StatefulSet starts from a status whose
    # currentRevision differs from updateRevision, and stays so: the provider's default wait
    # would sit there to its 10-minute timeout. The component's waitFor (all Ready) is met.
    with project.editing() as config:
        config["statefulkit:zookeeper"]["pvc_retention"] = {"when_deleted": "Retain", "when_scaled": "Delete"}
    timed_up(project)
    assert {n: p["metadata"]["uid"] for n, p in wait_ready(cluster, ns, "zookeeper", 3).items()} == {
        n: p["metadata"]["uid"] for n, p in pods.items()
    }, "a held-back change restarted members"

    with cluster.watch("pods", ns, "app.kubernetes.io/instance=zookeeper") as watch:
        watch.wait_for("the watch to list the pods", lambda ev: {e.name for e in ev} >= set(pods))
        mark = len(watch.events)
        with project.editing() as config:
            config["statefulkit:zookeeper"]["update_strategy"]["partition"] = 0
            del config["statefulkit:zookeeper"]["pvc_retention"]
        project.up()

        def rolled() -> dict[str, Obj] | None:
            pods = wait_ready(cluster, ns, "zookeeper", 3)
            return pods if all(p["spec"]["containers"][0]["image"] == IMAGE_V2 for p in pods.values()) else None

        wait_until("every member on the new image", rolled)
        replaced = [e.name for e in watch.events[mark:] if e.type == "DELETED"]
    # The rest roll from the highest ordinal down; the canary is not replaced again. (The controller
    # may replace a member twice when its cache lags, as seen once on a loaded machine.)
    assert "zookeeper-2" not in replaced and replaced.index("zookeeper-1") < replaced.index("zookeeper-0"), replaced


def timed_up(project: Project) -> None:
    started = time.monotonic()
    project.up()
    took = time.monotonic() - started
    assert took < 60, f"up took {took:.0f}s: it waited for a rollout that is held back on purpose"


# 5 ------------------------------------------------------------------------------------------


def test_the_budget_refuses_a_second_eviction_while_one_member_is_gone(project: Project, cluster: LocalCluster) -> None:
    ns = project.namespace
    pods = wait_ready(cluster, ns, "zookeeper", 3)
    wait_until("one disruption allowed", lambda: pdb_status(cluster, ns, "zookeeper").get("disruptionsAllowed"))
    victim, bystander = pods["zookeeper-1"], pods["zookeeper-2"]
    # Drain-like: cordon the victim's node first. Its replacement needs the victim's claim, whose
    # local volume lives on that node, so it stays Pending until the node is uncordoned: the
    # window in which a second eviction must be refused is held open.
    with cluster.cordoned(victim["spec"]["nodeName"], OWNER):
        evicted = cluster.evict(ns, "zookeeper-1")
        assert evicted.returncode == 0, evicted.stderr

        def replacement_pending() -> Obj | None:
            current = members(cluster, ns, "zookeeper").get("zookeeper-1")
            new = current if current and current["metadata"]["uid"] != victim["metadata"]["uid"] else None
            return new if new and not new["spec"].get("nodeName") else None

        wait_until("the evicted member's replacement, Pending", replacement_pending)
        wait_until("no disruption allowed", lambda: pdb_status(cluster, ns, "zookeeper").get("disruptionsAllowed") == 0)
        refused = cluster.evict(ns, "zookeeper-2")
        assert refused.returncode != 0, "a second eviction was allowed while one member was down"
        assert "TooManyRequests" in refused.stderr and PDB_REFUSAL in refused.stderr, refused.stderr
        still = cluster.get("pod", "zookeeper-2", namespace=ns)
        assert still["metadata"]["uid"] == bystander["metadata"]["uid"] and is_ready(still)
    wait_ready(cluster, ns, "zookeeper", 3)


# 6 ------------------------------------------------------------------------------------------


def test_destroy_then_up_binds_the_same_claims_to_the_new_pods(project: Project, cluster: LocalCluster) -> None:
    ns = project.namespace
    pods_before = {n: p["metadata"]["uid"] for n, p in wait_ready(cluster, ns, "zookeeper", 3).items()}
    claims_before = {n: (c["metadata"]["uid"], c["spec"]["volumeName"]) for n, c in claims(cluster, ns).items()}
    volume_uids = {v: cluster.get("pv", v)["metadata"]["uid"] for _, v in claims_before.values()}

    project.destroy()
    wait_until("the pods to be gone", lambda: not cluster.pods(ns))
    assert project.resources() == [], "destroy left resources in the state"
    assert {n: (c["metadata"]["uid"], c["spec"]["volumeName"]) for n, c in claims(cluster, ns).items()} == claims_before

    project.up()
    pods = wait_ready(cluster, ns, "zookeeper", 3)
    assert not {n: p["metadata"]["uid"] for n, p in pods.items()}.items() & pods_before.items(), "pods not new"
    after = claims(cluster, ns)
    assert {n: (c["metadata"]["uid"], c["spec"]["volumeName"]) for n, c in after.items()} == claims_before
    for name, pod in pods.items():
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"data-{name}"
        volume = cluster.get("pv", after[f"data-{name}"]["spec"]["volumeName"])
        assert volume["metadata"]["uid"] == volume_uids[volume["metadata"]["name"]], "the volume was re-created"
        assert pod["spec"]["nodeName"] == pv_node(volume), "the member did not follow its volume"


# 9 ------------------------------------------------------------------------------------------


def test_the_password_is_only_a_secret_in_the_state(project: Project, engine: Engine) -> None:
    # The provider turns stringData into data (base64): a leak could take either form.
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode()]
    state = exported_state(project.stack())  # `pulumi stack export`
    # Redis's password Secret (the password above) and ZooKeeper's admin Secret (a generated one).
    secrets = [r for r in state["deployment"]["resources"] if r["type"] == SECRET]
    assert sorted(r["outputs"]["metadata"]["name"] for r in secrets) == ["redis-auth", "zookeeper-admin"]
    # The provider sends stringData as data; each copy is stored as the SDK's secret envelope.
    for secret in secrets:
        for envelope in (secret["inputs"]["data"], secret["outputs"]["data"], secret["outputs"]["__inputs"]["data"]):
            assert envelope[rpc._special_sig_key] == rpc._special_secret_sig and envelope["ciphertext"], envelope
    exported = json.dumps(state)
    assert not [form for form in forms if form in exported]
    backend = Path(engine.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    files = [p for p in backend.rglob("*") if p.is_file()]
    assert len(files) > 3, files  # the stack's state, its backups and history
    assert not [(p, f) for p in files for f in forms if f.encode() in p.read_bytes()]
    assert not [f for f in forms if f in project.stack_file.read_text()]
