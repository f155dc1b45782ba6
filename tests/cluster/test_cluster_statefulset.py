"""Ordered scaling of a StatefulWorkload (OrderedReady) on a real control plane: the one
StatefulSet behaviour the engine tests (test_engine_*.py, ZooKeeper and Redis, which start their
pods in Parallel) do not show.

The workload is rendered with the functions the component uses (`render_workload`,
`kubernetes_objects`: exactly the objects StatefulWorkload registers) and applied with
server-side apply to the local kwok cluster (tests/support/local_cluster.py): the real kube-apiserver,
StatefulSet and PV-binder controllers and kube-scheduler act on it; kwok only plays the kubelet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statefulkit import StatefulWorkloadArgs
from statefulkit.render.workload import kubernetes_objects, render_workload
from tests.support.cluster_pods import is_ready
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tests.support.watch import WatchEvent

IMAGE_V1 = "registry.example/app:1.0"

Obj = dict[str, Any]


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


def apply(cluster: LocalCluster, objects: list[Obj]) -> None:
    applied = cluster.apply(objects)
    assert applied.returncode == 0, applied.stderr


def selector(name: str) -> str:
    return f"app.kubernetes.io/instance={name}"


def ordinals(name: str, replicas: int) -> list[str]:
    return [f"{name}-{i}" for i in range(replicas)]


def wait_for_members(cluster: LocalCluster, namespace: str, name: str, replicas: int) -> list[Obj]:
    """Exactly the pods <name>-0..replicas-1, every one Running, Ready and not terminating."""

    def members() -> list[Obj] | None:
        pods = cluster.pods(namespace, selector(name))
        settled = all(
            p["status"].get("phase") == "Running" and is_ready(p) and not p["metadata"].get("deletionTimestamp")
            for p in pods
        )
        return pods if settled and [p["metadata"]["name"] for p in pods] == ordinals(name, replicas) else None

    pods: list[Obj] = wait_until(f"pods {ordinals(name, replicas)} Running and Ready", members)
    return pods


def wait_for_claims(cluster: LocalCluster, namespace: str, names: list[str]) -> dict[str, Obj]:
    """The PVCs `names`, every one Bound; nothing else claimed in the namespace."""

    def bound() -> dict[str, Obj] | None:
        claims = {c["metadata"]["name"]: c for c in cluster.get("pvc", namespace=namespace)["items"]}
        ok = sorted(claims) == sorted(names) and all(c["status"].get("phase") == "Bound" for c in claims.values())
        return claims if ok else None

    claims: dict[str, Obj] = wait_until(f"PVCs {names} Bound", bound)
    return claims


def first(events: list[WatchEvent], what: str, predicate: Callable[[WatchEvent], bool]) -> int:
    """Position of the first event matching predicate in the watch stream (which is ordered)."""
    for i, event in enumerate(events):
        if predicate(event):
            return i
    log = "\n".join(f"  {e.type} {e.name} terminating={e.terminating} ready={e.ready}" for e in events)
    raise AssertionError(f"no event: {what}; events:\n{log}")


# 2 ------------------------------------------------------------------------------------------


def test_scaling_adds_the_next_ordinals_and_removes_the_highest_first_keeping_claims(cluster: LocalCluster) -> None:
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
