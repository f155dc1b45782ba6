"""What a StatefulWorkload does on a real control plane once it is deployed: identity, ordered
scaling, partitioned rollouts, the disruption budget under evictions and data identity across a
delete and re-create (issue 7, the cluster half).

Each test renders a workload with the same functions the components use (`render_workload`,
`render_zookeeper`, `kubernetes_objects`: exactly the objects StatefulWorkload registers) and
applies them with server-side apply under one field manager, as the Pulumi kubernetes provider
does, to the local kwok cluster (tests/support/kube.py): the real kube-apiserver, the
StatefulSet, disruption, endpoint-slice and PV-binder controllers and kube-scheduler act on
them; kwok only plays the kubelet. The Pulumi engine half of issue 7 waits until a Pulumi CLI,
language host and kubernetes provider can be built here (tools/toolchain/README.md).

Budget: every test works in its own namespace (deleted at the end) and claims 1Gi volumes,
17 in all, of the cluster's 42 local PVs; Cluster.up() recycles the Released ones.
Restricted Pod Security for a plain workload is covered by test_cluster_smoke.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import StatefulWorkloadArgs, ZooKeeperArgs
from components.render.workload import (
    WAIT_FOR_ANNOTATION,
    WorkloadNames,
    kubernetes_objects,
    pod_dns_names,
    render_workload,
)
from components.render.zookeeper import render_zookeeper
from tests.support.kube import Cluster, WatchEvent, is_ready

pytestmark = pytest.mark.e2e
OWNER = "test_cluster_statefulset"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
IMAGE_V1 = "registry.example/app:1.0"
IMAGE_V2 = "registry.example/app:2.0"
REVISION_LABEL = "controller-revision-hash"
PDB_REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(local_cluster: Cluster) -> Cluster:
    local_cluster.uncordon_leftovers(OWNER)  # a node an interrupted run of this module left cordoned
    return local_cluster


def workload_objects(name: str, namespace: str, **overrides: Any) -> list[Obj]:
    """The objects a StatefulWorkload(name, args) registers, args = 3 replicas of a 1Gi-claim app."""
    args: dict[str, Any] = {
        "namespace": namespace,
        "image": IMAGE_V1,
        "replicas": 3,
        "ports": {"client": 7000},
        "volume_claims": [{"name": "data", "size": "1Gi", "mount_path": "/data"}],
        "readiness_probe": {"tcp_port": "client"},
    }
    args.update(overrides)
    return kubernetes_objects(render_workload(name, StatefulWorkloadArgs.model_validate(args)))


def of_kind(objects: list[Obj], kind: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind)


def apply(cluster: Cluster, objects: list[Obj]) -> None:
    applied = cluster.apply(objects)
    assert applied.returncode == 0, applied.stderr


def selector(name: str) -> str:
    return f"app.kubernetes.io/instance={name}"


def ordinals(name: str, replicas: int) -> list[str]:
    return [f"{name}-{i}" for i in range(replicas)]


def wait_for_members(cluster: Cluster, namespace: str, name: str, replicas: int) -> list[Obj]:
    """Exactly the pods <name>-0..replicas-1, every one Running, Ready and not terminating."""

    def members() -> list[Obj] | None:
        pods = cluster.pods(namespace, selector(name))
        settled = all(
            p["status"].get("phase") == "Running" and is_ready(p) and not p["metadata"].get("deletionTimestamp")
            for p in pods
        )
        return pods if settled and [p["metadata"]["name"] for p in pods] == ordinals(name, replicas) else None

    pods: list[Obj] = cluster.wait_until(f"pods {ordinals(name, replicas)} Running and Ready", members)
    return pods


def wait_for_claims(cluster: Cluster, namespace: str, names: list[str]) -> dict[str, Obj]:
    """The PVCs `names`, every one Bound; nothing else claimed in the namespace."""

    def bound() -> dict[str, Obj] | None:
        claims = {c["metadata"]["name"]: c for c in cluster.get("pvc", namespace=namespace)["items"]}
        ok = sorted(claims) == sorted(names) and all(c["status"].get("phase") == "Bound" for c in claims.values())
        return claims if ok else None

    claims: dict[str, Obj] = cluster.wait_until(f"PVCs {names} Bound", bound)
    return claims


def wait_for_status(
    cluster: Cluster, kind: str, namespace: str, name: str, what: str, *, check: Callable[[Obj], Any]
) -> Obj:
    """The object's status once the controller has seen its latest spec and check(status) holds."""

    def settled() -> Obj | None:
        obj = cluster.get(kind, name, namespace=namespace)
        status = obj.get("status") or {}
        current = status.get("observedGeneration") == obj["metadata"]["generation"]
        return status if current and check(status) else None

    status: Obj = cluster.wait_until(f"{kind}/{name}: {what}", settled)
    return status


def claim_of(pod: Obj, volume: str) -> str:
    return str(next(v for v in pod["spec"]["volumes"] if v["name"] == volume)["persistentVolumeClaim"]["claimName"])


def pv_node(pv: Obj) -> str:
    """The node a local PV is pinned to."""
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    expression = next(e for e in term["matchExpressions"] if e["key"] == "kubernetes.io/hostname")
    return str(expression["values"][0])


def first(events: list[WatchEvent], what: str, predicate: Callable[[WatchEvent], bool]) -> int:
    """Position of the first event matching predicate in the watch stream (which is ordered)."""
    for i, event in enumerate(events):
        if predicate(event):
            return i
    log = "\n".join(f"  {e.type} {e.name} terminating={e.terminating} ready={e.ready}" for e in events)
    raise AssertionError(f"no event: {what}; events:\n{log}")


# 1 ------------------------------------------------------------------------------------------


def test_zookeeper_members_get_stable_names_claims_and_dns_in_a_restricted_namespace(cluster: Cluster) -> None:
    with cluster.namespace("zk", RESTRICTED) as ns:
        spec = ZooKeeperArgs(namespace=ns, replicas=3, storage_size="1Gi")
        manifests = render_zookeeper("zk", spec)
        apply(cluster, kubernetes_objects(manifests))

        pods = wait_for_members(cluster, ns, "zk", 3)
        claims = wait_for_claims(cluster, ns, ["data-zk-0", "data-zk-1", "data-zk-2"])
        for i, pod in enumerate(pods):
            # Stable network identity: hostname <sts>-<i> under the headless Service's subdomain.
            assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (f"zk-{i}", "zk-headless")
            # Stable storage: ordinal i mounts data-zk-i, whose local PV sits on the pod's node.
            assert claim_of(pod, "data") == f"data-zk-{i}"
            pv = cluster.get("pv", claims[f"data-zk-{i}"]["spec"]["volumeName"])
            assert pv_node(pv) == pod["spec"]["nodeName"]

        headless = cluster.get("service", "zk-headless", namespace=ns)
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["publishNotReadyAddresses"] is True
        client = cluster.get("service", "zk", namespace=ns)
        assert client["spec"]["clusterIP"] not in ("", "None")
        assert [p["port"] for p in client["spec"]["ports"]] == [2181]

        def endpoints() -> dict[str, str] | None:
            slices = cluster.get("endpointslices", namespace=ns, selector="kubernetes.io/service-name=zk-headless")
            found = {
                e["targetRef"]["name"]: e.get("hostname", "")
                for s in slices["items"]
                for e in s.get("endpoints") or []
                if "targetRef" in e
            }
            return found if sorted(found) == ["zk-0", "zk-1", "zk-2"] else None

        by_pod = cluster.wait_until("EndpointSlices of zk-headless listing every member", endpoints)
        # The endpoint hostnames are what cluster DNS serves as <host>.zk-headless.<ns>.svc: they must
        # be the names the rendered zoo.cfg and connect string use.
        assert by_pod == {p: p for p in by_pod}, by_pod
        expected_dns = pod_dns_names(WorkloadNames.of("zk"), 3, ns, spec.cluster_domain)
        assert [f"{by_pod[p]}.zk-headless.{ns}.svc.{spec.cluster_domain}" for p in sorted(by_pod)] == expected_dns
        slice_ports = {
            p["name"]: p["port"]
            for s in cluster.get("endpointslices", namespace=ns, selector="kubernetes.io/service-name=zk-headless")[
                "items"
            ]
            for p in s.get("ports") or []
        }
        assert {"client": 2181, "quorum": 2888, "election": 3888}.items() <= slice_ports.items()

        wait_for_status(
            cluster,
            "pdb",
            ns,
            "zk",
            "3 healthy, exactly one disruption allowed",
            check=lambda s: (s.get("expectedPods"), s.get("currentHealthy"), s.get("disruptionsAllowed")) == (3, 3, 1),
        )


# 2 ------------------------------------------------------------------------------------------


def test_scaling_adds_the_next_ordinals_and_removes_the_highest_first_keeping_claims(cluster: Cluster) -> None:
    name = "kv"
    with cluster.namespace("scale") as ns:
        apply(cluster, workload_objects(name, ns))
        wait_for_members(cluster, ns, name, 3)

        with cluster.watch("pods", ns, selector(name)) as watch:
            watch.wait_for("the watch to list kv-0..2", lambda ev: {e.name for e in ev} >= set(ordinals(name, 3)))

            apply(cluster, workload_objects(name, ns, replicas=5))
            wait_for_members(cluster, ns, name, 5)
            up = watch.events
            # OrderedReady: kv-4 is created only once kv-3 is Ready.
            kv3_ready = first(up, "kv-3 Ready", lambda e: e.name == "kv-3" and e.ready)
            kv4_added = first(up, "kv-4 created", lambda e: e.name == "kv-4")
            assert kv3_ready < kv4_added, "kv-4 was created before kv-3 was Ready"
            claims = wait_for_claims(cluster, ns, [f"data-{p}" for p in ordinals(name, 5)])
            volumes = {c: claims[c]["spec"]["volumeName"] for c in claims}

            mark = len(watch.events)
            apply(cluster, workload_objects(name, ns, replicas=3))
            watch.wait_for(
                "kv-3 and kv-4 to be deleted",
                lambda ev: {e.name for e in ev[mark:] if e.type == "DELETED"} >= {"kv-3", "kv-4"},
            )
            wait_for_members(cluster, ns, name, 3)
            down = watch.events[mark:]

        # Highest ordinal first, one at a time: kv-4 is gone before kv-3 even starts terminating.
        kv4_terminating = first(down, "kv-4 terminating", lambda e: e.name == "kv-4" and e.terminating)
        kv4_gone = first(down, "kv-4 deleted", lambda e: e.name == "kv-4" and e.type == "DELETED")
        kv3_terminating = first(down, "kv-3 terminating", lambda e: e.name == "kv-3" and e.terminating)
        assert kv4_terminating < kv4_gone < kv3_terminating, "kv-3 began terminating before kv-4 was gone"
        assert not [e for e in down if e.name in ordinals(name, 3) and e.terminating], "a kept member was deleted"

        # whenScaled: Retain: the removed members' claims stay, still Bound to the same volumes.
        claims = wait_for_claims(cluster, ns, [f"data-{p}" for p in ordinals(name, 5)])
        assert {c: claims[c]["spec"]["volumeName"] for c in claims} == volumes
        assert not [c for c in claims.values() if c["metadata"].get("ownerReferences")]


# 3 ------------------------------------------------------------------------------------------


def test_partitioned_rollout_holds_back_lower_ordinals_and_the_wait_condition_is_reached(cluster: Cluster) -> None:
    name = "canary"
    held = {"type": "RollingUpdate", "partition": 2}
    with cluster.namespace("canary") as ns:
        v1 = workload_objects(name, ns, update_strategy=held)
        apply(cluster, v1)
        wait_for_members(cluster, ns, name, 3)
        first_rollout = wait_for_status(
            cluster,
            "statefulset",
            ns,
            name,
            "every replica at one revision",
            check=lambda s: s.get("updatedReplicas") == 3 and s.get("currentRevision") == s.get("updateRevision"),
        )
        old_revision = first_rollout["updateRevision"]

        v2 = workload_objects(name, ns, image=IMAGE_V2, update_strategy=held)
        # What keeps `pulumi up` from waiting for currentRevision == updateRevision, which a partition
        # never lets happen: the provider waits for this condition instead.
        wait_for = of_kind(v2, "StatefulSet")["metadata"]["annotations"][WAIT_FOR_ANNOTATION]
        assert wait_for == "jsonpath={.status.readyReplicas}=3"
        apply(cluster, v2)
        status = wait_for_status(
            cluster,
            "statefulset",
            ns,
            name,
            "the canary updated and every replica Ready",
            check=lambda s: (
                s.get("updateRevision") != old_revision
                and s.get("updatedReplicas") == 1
                and s.get("readyReplicas") == 3
            ),
        )
        pods = {p["metadata"]["name"]: p for p in wait_for_members(cluster, ns, name, 3)}
        images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
        revisions = {n: p["metadata"]["labels"][REVISION_LABEL] for n, p in pods.items()}
        assert images == {"canary-0": IMAGE_V1, "canary-1": IMAGE_V1, "canary-2": IMAGE_V2}
        assert revisions == {
            "canary-0": old_revision,
            "canary-1": old_revision,
            "canary-2": status["updateRevision"],
        }
        # The provider's default await condition (currentRevision == updateRevision) is not met and
        # does not become so: a plain `pulumi up` would wait for it until its timeout ...
        assert status["currentRevision"] == old_revision != status["updateRevision"]
        default_await = f"jsonpath={{.status.currentRevision}}={status['updateRevision']}"
        hung = cluster.kubectl(
            "wait", f"--for={default_await}", f"statefulset/{name}", "-n", ns, "--timeout=3s", check=False
        )
        assert hung.returncode != 0 and "timed out" in hung.stderr, (hung.stdout, hung.stderr)
        # ... while the condition the live object's annotation names is reached (kubectl wait takes
        # the same `jsonpath=<path>=<value>` syntax as pulumi.com/waitFor).
        live = cluster.get("statefulset", name, namespace=ns)["metadata"]["annotations"][WAIT_FOR_ANNOTATION]
        assert live == wait_for
        waited = cluster.kubectl("wait", f"--for={live}", f"statefulset/{name}", "-n", ns, "--timeout=60s", check=False)
        assert waited.returncode == 0, waited.stderr
        held_status = cluster.get("statefulset", name, namespace=ns)["status"]
        assert (held_status["updatedReplicas"], held_status["currentRevision"]) == (1, old_revision)

        # Lowering the partition to 0 rolls the rest, highest ordinal first; no wait override is needed.
        v3 = workload_objects(name, ns, image=IMAGE_V2, update_strategy={"type": "RollingUpdate", "partition": 0})
        assert WAIT_FOR_ANNOTATION not in of_kind(v3, "StatefulSet")["metadata"].get("annotations", {})
        with cluster.watch("pods", ns, selector(name)) as watch:
            watch.wait_for("the watch to list the pods", lambda ev: {e.name for e in ev} >= set(pods))
            mark = len(watch.events)
            apply(cluster, v3)
            done = wait_for_status(
                cluster,
                "statefulset",
                ns,
                name,
                "every replica at the update revision",
                check=lambda s: (
                    s.get("updatedReplicas") == 3
                    and s.get("readyReplicas") == 3
                    and s.get("currentRevision") == s.get("updateRevision")
                ),
            )
            rolled = watch.events[mark:]
        assert done["updateRevision"] == status["updateRevision"]
        pods = {p["metadata"]["name"]: p for p in wait_for_members(cluster, ns, name, 3)}
        assert {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()} == dict.fromkeys(pods, IMAGE_V2)
        assert {n: p["metadata"]["labels"][REVISION_LABEL] for n, p in pods.items()} == dict.fromkeys(
            pods, done["updateRevision"]
        )
        assert first(rolled, "canary-1 replaced", lambda e: e.name == "canary-1" and e.terminating) < first(
            rolled, "canary-0 replaced", lambda e: e.name == "canary-0" and e.terminating
        )
        assert not [e for e in rolled if e.name == "canary-2" and e.terminating], "the canary was replaced again"
        # Server-side apply drops the annotation the render no longer carries.
        live = cluster.get("statefulset", name, namespace=ns)["metadata"].get("annotations") or {}
        assert WAIT_FOR_ANNOTATION not in live


# 4 ------------------------------------------------------------------------------------------


def test_disruption_budget_allows_one_eviction_and_refuses_a_second(cluster: Cluster) -> None:
    name = "guarded"
    with cluster.namespace("pdb") as ns:
        objects = workload_objects(name, ns)
        assert of_kind(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
        apply(cluster, objects)
        pods = {p["metadata"]["name"]: p for p in wait_for_members(cluster, ns, name, 3)}
        wait_for_status(
            cluster,
            "pdb",
            ns,
            name,
            "one disruption allowed",
            check=lambda s: (s.get("currentHealthy"), s.get("disruptionsAllowed")) == (3, 1),
        )
        victim, bystander = pods[f"{name}-1"], pods[f"{name}-2"]
        node = victim["spec"]["nodeName"]

        # Drain-like: cordon the victim's node first. Its replacement needs the victim's claim, whose
        # local PV lives on that node, so it stays Pending (and kwok cannot make it Ready) until the
        # node is uncordoned: the window in which a second eviction must be refused is held open.
        with cluster.cordoned(node, OWNER):
            evicted = cluster.evict(ns, victim["metadata"]["name"])
            assert evicted.returncode == 0, evicted.stderr

            def replacement_pending() -> Obj | None:
                current = [p for p in cluster.pods(ns, selector(name)) if p["metadata"]["name"] == f"{name}-1"]
                new = [p for p in current if p["metadata"]["uid"] != victim["metadata"]["uid"]]
                return new[0] if new and not new[0]["spec"].get("nodeName") else None

            replacement = cluster.wait_until("the evicted member's replacement, Pending", replacement_pending)
            assert not is_ready(replacement)
            budget = wait_for_status(
                cluster, "pdb", ns, name, "no disruption allowed", check=lambda s: s.get("disruptionsAllowed") == 0
            )
            assert budget["currentHealthy"] == 2

            refused = cluster.evict(ns, bystander["metadata"]["name"])
            assert refused.returncode != 0, "a second eviction was allowed while one member was down"
            assert "TooManyRequests" in refused.stderr, refused.stderr
            assert PDB_REFUSAL in refused.stderr, refused.stderr
            still = cluster.get("pod", bystander["metadata"]["name"], namespace=ns)
            assert still["metadata"]["uid"] == bystander["metadata"]["uid"]
            assert not still["metadata"].get("deletionTimestamp") and is_ready(still)

        # Uncordoned: the replacement lands on its volume's node, and the budget allows one again.
        after = {p["metadata"]["name"]: p for p in wait_for_members(cluster, ns, name, 3)}
        assert after[f"{name}-1"]["spec"]["nodeName"] == node
        assert claim_of(after[f"{name}-1"], "data") == f"data-{name}-1"
        wait_for_status(
            cluster, "pdb", ns, name, "one disruption allowed again", check=lambda s: s.get("disruptionsAllowed") == 1
        )


# 6 ------------------------------------------------------------------------------------------


def test_scale_to_zero_delete_and_recreate_rebinds_the_same_claims(cluster: Cluster) -> None:
    name = "keep"
    with cluster.namespace("recreate") as ns:
        objects = workload_objects(name, ns)
        apply(cluster, objects)
        before_pods = wait_for_members(cluster, ns, name, 3)
        claim_names = [f"data-{p}" for p in ordinals(name, 3)]
        claims = wait_for_claims(cluster, ns, claim_names)
        identity = {c: (claims[c]["metadata"]["uid"], claims[c]["spec"]["volumeName"]) for c in claims}
        volume_uids = {vol: cluster.get("pv", vol)["metadata"]["uid"] for _, vol in identity.values()}

        # Scale to zero first (ordered, N-1..0), then delete every rendered object.
        apply(cluster, workload_objects(name, ns, replicas=0))
        cluster.wait_until("every pod gone", lambda: not cluster.pods(ns, selector(name)))
        deleted = cluster.delete(objects)
        assert deleted.returncode == 0, deleted.stderr
        for obj in objects:
            gone = cluster.kubectl("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", ns, check=False)
            assert gone.returncode != 0 and "NotFound" in gone.stderr, f"{obj['kind']} still there"

        # whenDeleted: Retain: the claims outlive the StatefulSet, still Bound, owned by nobody.
        kept = wait_for_claims(cluster, ns, claim_names)
        assert {c: (kept[c]["metadata"]["uid"], kept[c]["spec"]["volumeName"]) for c in kept} == identity
        assert not [c for c in kept.values() if c["metadata"].get("ownerReferences")]

        apply(cluster, objects)
        after_pods = wait_for_members(cluster, ns, name, 3)
        assert not {p["metadata"]["uid"] for p in after_pods} & {p["metadata"]["uid"] for p in before_pods}
        again = wait_for_claims(cluster, ns, claim_names)
        assert {c: (again[c]["metadata"]["uid"], again[c]["spec"]["volumeName"]) for c in again} == identity
        for i, pod in enumerate(after_pods):
            claim = claim_of(pod, "data")
            assert claim == f"data-{name}-{i}"
            pv = cluster.get("pv", identity[claim][1])
            assert pv["metadata"]["uid"] == volume_uids[identity[claim][1]], "the volume was re-created"
            assert pv["spec"]["claimRef"]["uid"] == identity[claim][0]
            assert pod["spec"]["nodeName"] == pv_node(pv), "the member did not follow its volume"
