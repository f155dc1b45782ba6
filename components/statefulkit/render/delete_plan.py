"""What a StatefulSet's delete means: ordered teardown, or the swap that grows its volumes.

Kubernetes rejects any change to a StatefulSet's volumeClaimTemplates, so a larger storage size
replaces the StatefulSet. Every delete of a workload's StatefulSet passes through one named
before-delete resource hook (run in the program's process, also during `pulumi preview`):

- a replacement (the program declares the StatefulSet and the engine is replacing it, i.e. its
  registration waits on this delete) whose only change is claim sizes is volume growth: every
  existing claim of those templates grows first and the hook waits until each has its new
  capacity; then it deletes the StatefulSet itself with propagation Orphan, so its pods keep
  running and the replacement adopts them: no pod restarts. A smaller size, or a claim whose
  StorageClass lacks `allowVolumeExpansion`, is refused before anything changes.
- anything else (a destroy, whatever size the program declares; a workload removed from the
  program; another immutable field): scale to 0 and wait until every pod is gone, within a bound,
  so each pod stops gracefully (preStop hooks, grace periods, in order for OrderedReady); the
  provider then deletes the StatefulSet in the foreground, and the garbage collector removes its
  ControllerRevisions (and its claims under whenDeleted: Delete).

With `delete_hook=False` (environments that cannot run the program on destroy) there is no delete
hook: the provider deletes or replaces the StatefulSet on its own, and an after-create hook grows
the new StatefulSet's existing claims to its templates' size (online, the pods already restarted).

Why not only what the provider offers: `pulumi.com/deletionPropagationPolicy: orphan` applies to
every delete, so a destroy would leave ControllerRevisions behind and keep claims the retention
policy says to delete; and a PersistentVolumeClaimPatch per claim waits for phase Pending under
WaitForFirstConsumer classes (a bound claim never is), can only wait for an exact capacity (drivers
round sizes up) and, when deleted, relinquishes the required `spec.resources.requests.storage`.
This module holds the decisions, pure and unit-tested; statefulkit.hooks runs them in the program's
process on the cluster of each StatefulSet's own provider, through statefulkit.kubeapi.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from statefulkit.args.common import parse_quantity

# Fields Kubernetes will not update in place, as the StatefulSet's replace_on_changes names them.
IMMUTABLE_FIELDS = ("selector", "serviceName", "podManagementPolicy", "volumeClaimTemplates")
TEARDOWN_MARGIN_SECONDS = 60


class VolumeGrowthRefusedError(ValueError):
    """A storage change Kubernetes cannot apply in place; nothing was changed."""


@dataclass(frozen=True)
class Growth:
    """Claim templates whose size grows: template name -> (old size, new size)."""

    sizes: dict[str, tuple[str, str]]


def immutable_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The StatefulSet fields that force a replacement, normalised for comparison."""
    templates = [
        {
            "name": t["metadata"]["name"],
            "accessModes": list(t["spec"].get("accessModes") or []),
            "storageClassName": t["spec"].get("storageClassName"),
            "size": t["spec"]["resources"]["requests"]["storage"],
        }
        for t in spec.get("volumeClaimTemplates") or []
    ]
    return {
        "selector": spec.get("selector"),
        "serviceName": spec.get("serviceName"),
        "podManagementPolicy": spec.get("podManagementPolicy") or "OrderedReady",
        "volumeClaimTemplates": templates,
    }


def plan_delete(live_spec: Mapping[str, Any], desired_spec: Mapping[str, Any] | None, where: str) -> Growth | None:
    """A Growth when the delete is the swap of a size-only change, None for a teardown.

    Raises VolumeGrowthRefusedError for a size-only change that shrinks a claim template."""
    if desired_spec is None:
        return None
    old, new = immutable_spec(live_spec), immutable_spec(desired_spec)
    if _without_sizes(old) != _without_sizes(new):
        return None
    sizes = {
        o["name"]: (o["size"], n["size"])
        for o, n in zip(old["volumeClaimTemplates"], new["volumeClaimTemplates"], strict=True)
        if parse_quantity(o["size"]) != parse_quantity(n["size"])
    }
    if not sizes:
        return None
    shrinking = [f"{name}: {a} -> {b}" for name, (a, b) in sizes.items() if parse_quantity(b) < parse_quantity(a)]
    if shrinking:
        raise VolumeGrowthRefusedError(
            f"storage size of volume claim template {', '.join(shrinking)} ({where}): a claim can only grow "
            "(Kubernetes cannot shrink a volume); keep the current size or larger. Nothing was changed."
        )
    return Growth(sizes)


def _without_sizes(spec: dict[str, Any]) -> dict[str, Any]:
    unsized = [{k: v for k, v in t.items() if k != "size"} for t in spec["volumeClaimTemplates"]]
    return {**spec, "volumeClaimTemplates": unsized}


def claim_ordinal(claim_name: str, template: str, statefulset: str) -> int | None:
    """The ordinal of a claim `<template>-<statefulset>-<i>`, None for another claim."""
    found = re.fullmatch(rf"{re.escape(template)}-{re.escape(statefulset)}-(0|[1-9][0-9]*)", claim_name)
    return int(found.group(1)) if found else None


def teardown_bound_seconds(spec: Mapping[str, Any]) -> int:
    """How long the pods may take to go: every grace period in turn for OrderedReady, one at once
    for Parallel, plus a margin for the controllers."""
    grace = spec["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    replicas = spec.get("replicas", 1) or 0
    ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
    return int(grace) * (max(replicas, 1) if ordered else 1) + TEARDOWN_MARGIN_SECONDS


@dataclass(frozen=True)
class ClusterAccess:
    """How a kubernetes provider reaches its cluster, and so how its StatefulSets' hooks must.

    `kubeconfig` is a path or a kubeconfig's content (as the provider takes it); None means the
    provider's own fallback: $KUBECONFIG, else ~/.kube/config, else the pod's service account.
    `context` and `cluster` pick within it. `source` names the provider in messages."""

    kubeconfig: str | None
    context: str | None
    cluster: str | None
    source: str
