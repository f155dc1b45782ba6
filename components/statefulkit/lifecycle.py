"""What a StatefulSet's delete means: ordered teardown, or the swap that grows its volumes.

Kubernetes rejects any change to a StatefulSet's volumeClaimTemplates, so a larger storage size
replaces the StatefulSet. Every delete of a workload's StatefulSet passes through one named
before-delete resource hook (run in the program's process, also during `pulumi preview`), which
compares the live object with what the program now declares:

- volume growth (only claim sizes differ): every existing claim of those templates grows first
  and the hook waits until each has its new capacity; then it deletes the StatefulSet itself with
  propagation Orphan, so its pods keep running and the replacement adopts them: no pod restarts.
  A smaller size, or a claim whose StorageClass lacks `allowVolumeExpansion`, is refused before
  anything changes.
- anything else (destroy, removal, another immutable field): scale to 0 and wait until every pod
  is gone, within a bound, so each pod stops gracefully (preStop hooks, grace periods, in order
  for OrderedReady); the provider then deletes the StatefulSet in the foreground, and the garbage
  collector removes its ControllerRevisions (and its claims under whenDeleted: Delete).

Why not only what the provider offers: `pulumi.com/deletionPropagationPolicy: orphan` applies to
every delete, so a destroy would leave ControllerRevisions behind and keep claims the retention
policy says to delete; and a PersistentVolumeClaimPatch per claim waits for phase Pending under
WaitForFirstConsumer classes (a bound claim never is), can only wait for an exact capacity (drivers
round sizes up) and, when deleted, relinquishes the required `spec.resources.requests.storage`.
The hook reaches the cluster the way the default provider does (see Cluster.connect).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from statefulkit.args.common import parse_quantity

HOOK_NAME = "statefulkit-statefulset-before-delete"
# Fields Kubernetes will not update in place, as the StatefulSet's replace_on_changes names them.
IMMUTABLE_FIELDS = ("selector", "serviceName", "podManagementPolicy", "volumeClaimTemplates")
RESIZE_TIMEOUT_SECONDS = 600
TEARDOWN_MARGIN_SECONDS = 60
POLL_SECONDS = 0.5
# The SDK awaits each hook on the program's one event loop, so a hook that blocks it (API calls,
# waiting for pods) would make the engine's parallel deletes drain one StatefulSet at a time:
# the hook's work runs in threads of its own, which mostly sleep between polls.
_threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="statefulkit-hook")


class VolumeGrowthRefusedError(ValueError):
    """A storage change Kubernetes cannot apply in place; nothing was changed."""


@dataclass(frozen=True)
class Growth:
    """Claim templates whose size grows: template name -> (old size, new size)."""

    sizes: dict[str, tuple[str, str]]


# ---- pure decisions (unit-tested without a cluster)


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


# ---- the hook


# (namespace, name) -> the spec this program run wants; filled by StatefulWorkload.
_desired: dict[tuple[str, str], dict[str, Any]] = {}
# The hook of the current program run (an inline program may run many times in one process).
_hook: dict[str, Any] = {}


def want(namespace: str, name: str, spec: dict[str, Any]) -> None:
    """Record the spec the program declares for StatefulSet namespace/name."""
    _desired[(namespace, name)] = spec


def statefulset_hook() -> pulumi.ResourceHook:
    """The before-delete hook, registered once per program run (hooks are looked up by name)."""
    monitor = pulumi.runtime.settings.SETTINGS.monitor
    if _hook.get("monitor") is not monitor:
        options = pulumi.ResourceHookOptions(on_dry_run=True)
        _hook.update(monitor=monitor, hook=pulumi.ResourceHook(HOOK_NAME, _before_delete, options))
    hook: pulumi.ResourceHook = _hook["hook"]
    return hook


async def _before_delete(args: pulumi.ResourceHookArgs) -> None:
    # copy_context: the thread sees this program run's settings (dry run, stack config).
    work = contextvars.copy_context().run
    await asyncio.get_running_loop().run_in_executor(_threads, work, _grow_or_drain, args)


def _grow_or_drain(args: pulumi.ResourceHookArgs) -> None:
    namespace, _, name = args.id.partition("/")
    cluster = Cluster.connect()
    live = cluster.statefulset(namespace, name)
    if live is None:
        return  # already gone: nothing to drain or grow
    state_uid = ((args.old_outputs or {}).get("metadata") or {}).get("uid")
    if state_uid and live["metadata"]["uid"] != state_uid:
        raise RuntimeError(
            f"StatefulSet {namespace}/{name} in the cluster statefulkit reached (kubernetes:kubeconfig / "
            f"kubernetes:context, else $KUBECONFIG) has uid {live['metadata']['uid']}, but Pulumi's state has "
            f"{state_uid}: the resource's provider points at another cluster. Nothing was changed."
        )
    where = f"StatefulSet {namespace}/{name}"
    growth = plan_delete(live["spec"], _desired.get((namespace, name)), where)
    dry_run = pulumi.runtime.is_dry_run()
    if growth is not None:
        cluster.grow_claims(namespace, name, growth, dry_run=dry_run)
        if not dry_run:
            cluster.orphan_pods(namespace, name)
    elif not dry_run:
        cluster.drain(namespace, name, live)


class Cluster:
    """The few API calls the hook needs, through the official Kubernetes client."""

    def __init__(self, api: client.ApiClient) -> None:
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.storage = client.StorageV1Api(api)

    @classmethod
    def connect(cls) -> Cluster:
        """The cluster the default kubernetes provider uses: kubernetes:kubeconfig (a path or the
        file's content) and kubernetes:context from the stack config, else $KUBECONFIG or
        ~/.kube/config, else the pod's service account."""
        settings = pulumi.Config("kubernetes")
        kubeconfig, context = settings.get("kubeconfig"), settings.get("context")
        if kubeconfig and os.path.exists(os.path.expanduser(kubeconfig)):
            return cls(config.new_client_from_config(config_file=os.path.expanduser(kubeconfig), context=context))
        if kubeconfig:
            return cls(config.new_client_from_config_dict(yaml.safe_load(kubeconfig), context=context))
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config()
            return cls(client.ApiClient())
        # Named explicitly: the client reads $KUBECONFIG once, when it is imported.
        path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        return cls(config.new_client_from_config(config_file=path, context=context))

    def _get(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """A raw GET (camelCase JSON, as manifests are written); None when not found."""
        try:
            response = call(*args, _preload_content=False, **kwargs)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(response.data)
        return found

    def statefulset(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(self.apps.read_namespaced_stateful_set, name, namespace)

    def _claims(self, namespace: str, statefulset: str, template: str) -> list[dict[str, Any]]:
        listed = self._get(self.core.list_namespaced_persistent_volume_claim, namespace) or {"items": []}
        claims = [c for c in listed["items"] if claim_ordinal(c["metadata"]["name"], template, statefulset) is not None]
        return sorted(claims, key=lambda c: claim_ordinal(c["metadata"]["name"], template, statefulset) or 0)

    def _cannot_grow(self, claim: Mapping[str, Any]) -> str | None:
        """Why the claim cannot grow in place, None if it can."""
        class_name = claim["spec"].get("storageClassName")
        storage_class = self._get(self.storage.read_storage_class, class_name) if class_name else None
        if not (storage_class or {}).get("allowVolumeExpansion"):
            return f"StorageClass {class_name or '(none)'!r} does not allow volume expansion"
        phase = (claim.get("status") or {}).get("phase")
        return None if phase == "Bound" else f"is {phase}, not Bound"

    def grow_claims(self, namespace: str, statefulset: str, growth: Growth, *, dry_run: bool) -> None:
        """Check every claim can grow, then grow them all and wait until each has its new size."""
        plan: list[tuple[str, str]] = []
        refusals: dict[str, list[str]] = {}  # the reason -> the claims it refuses
        for template, (old, new) in growth.sizes.items():
            for claim in self._claims(namespace, statefulset, template):
                if parse_quantity(claim["spec"]["resources"]["requests"]["storage"]) >= parse_quantity(new):
                    continue  # grown by hand or by an earlier, interrupted run
                reason = self._cannot_grow(claim)
                if reason:
                    refusals.setdefault(f"({template}: {old} -> {new}) {reason}", []).append(claim["metadata"]["name"])
                else:
                    plan.append((claim["metadata"]["name"], new))
        if refusals:
            raise VolumeGrowthRefusedError(
                f"storage size of StatefulSet {namespace}/{statefulset}: "
                + "; ".join(f"claims {', '.join(claims)} {reason}" for reason, claims in refusals.items())
                + ". A claim grows in place only when its StorageClass sets allowVolumeExpansion: true and it "
                "is bound; use such a class (storage_class_name / create_storage_class) or keep the current "
                "size. Nothing was changed."
            )
        if dry_run:
            return
        for claim_name, size in plan:
            pulumi.log.info(f"growing claim {namespace}/{claim_name} to {size}")
            patch = {"spec": {"resources": {"requests": {"storage": size}}}}
            self.core.patch_namespaced_persistent_volume_claim(claim_name, namespace, patch)
        deadline = time.monotonic() + RESIZE_TIMEOUT_SECONDS
        for claim_name, size in plan:
            while True:
                claim = self._get(self.core.read_namespaced_persistent_volume_claim, claim_name, namespace) or {}
                capacity = ((claim.get("status") or {}).get("capacity") or {}).get("storage")
                if capacity and parse_quantity(capacity) >= parse_quantity(size):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"claim {namespace}/{claim_name} asked for {size} but still has {capacity} after "
                        f"{RESIZE_TIMEOUT_SECONDS}s (conditions: {claim.get('status', {}).get('conditions')}); "
                        "is the CSI driver's resizer running? The StatefulSet was not replaced; run the "
                        "update again once the claims have grown."
                    )
                time.sleep(POLL_SECONDS)

    def orphan_pods(self, namespace: str, name: str) -> None:
        """Delete the StatefulSet but not its pods (nor revisions, nor claims): its replacement,
        with the same selector, adopts them. The provider's own delete then finds it gone."""
        pulumi.log.info(f"deleting StatefulSet {namespace}/{name} and leaving its pods to the replacement")
        self.apps.delete_namespaced_stateful_set(name, namespace, propagation_policy="Orphan")
        deadline = time.monotonic() + TEARDOWN_MARGIN_SECONDS
        while self.statefulset(namespace, name) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"StatefulSet {namespace}/{name} was still there {TEARDOWN_MARGIN_SECONDS}s after its delete"
                )
            time.sleep(POLL_SECONDS)

    def drain(self, namespace: str, name: str, live: Mapping[str, Any]) -> None:
        """Scale to 0, then wait until none of the StatefulSet's pods is left."""
        bound = teardown_bound_seconds(live["spec"])
        uid = live["metadata"]["uid"]
        if live["spec"].get("replicas", 1):
            pulumi.log.info(f"scaling StatefulSet {namespace}/{name} to 0 before deleting it")
            self.apps.patch_namespaced_stateful_set_scale(name, namespace, {"spec": {"replicas": 0}})
        labels = ",".join(f"{k}={v}" for k, v in live["spec"]["selector"].get("matchLabels", {}).items())
        deadline = time.monotonic() + bound
        while True:
            listed = self._get(self.core.list_namespaced_pod, namespace, label_selector=labels) or {}
            left = [
                p["metadata"]["name"]
                for p in listed.get("items", [])
                if any(ref.get("uid") == uid for ref in p["metadata"].get("ownerReferences") or [])
            ]
            if not left:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"StatefulSet {namespace}/{name} was scaled to 0, but pods {left} were still there after "
                    f"{bound}s (terminationGracePeriodSeconds per pod, one after another for OrderedReady, "
                    f"+{TEARDOWN_MARGIN_SECONDS}s). It was not deleted, and no claim was touched. Look at the "
                    "pods' events (a finalizer, an unreachable node), then run the destroy again."
                )
            time.sleep(POLL_SECONDS)
