"""The few Kubernetes API calls the StatefulSet hooks make, through the official client.

Imported only when a hook runs (statefulkit.hooks), so `import statefulkit` does not load the
client. Every call is blocking; the hooks run them in threads of their own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from statefulkit.args.common import parse_quantity
from statefulkit.render.delete_plan import (
    TEARDOWN_MARGIN_SECONDS,
    ClusterAccess,
    Growth,
    VolumeGrowthRefusedError,
    claim_ordinal,
    teardown_bound_seconds,
)

RESIZE_TIMEOUT_SECONDS = 600
POLL_SECONDS = 0.5


class ClusterUnreachableError(RuntimeError):
    """The hook could not build a client for, or could not reach, a provider's cluster."""


def api_client(access: ClusterAccess) -> client.ApiClient:
    """A client for the cluster `access` describes, resolved as the kubernetes provider resolves it."""
    try:
        if not access.kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config()
            return client.ApiClient()
        # Named explicitly: the client reads $KUBECONFIG once, when it is imported.
        given = access.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        if not access.kubeconfig and not access.cluster:  # a path list (a:b) is the client's to merge
            api: client.ApiClient = config.new_client_from_config(config_file=given, context=access.context)
            return api
        path = Path(given).expanduser()
        document = yaml.safe_load(path.read_text() if path.is_file() else given)
        if not isinstance(document, dict):
            raise ConfigException(f"{given[:40]!r}... is neither a readable file nor a kubeconfig document")
        api = config.new_client_from_config_dict(_pick_cluster(document, access), context=access.context)
        return api
    except (ConfigException, OSError, yaml.YAMLError) as error:
        raise ClusterUnreachableError(f"{access.source}: {error}") from error


def _pick_cluster(document: dict[str, Any], access: ClusterAccess) -> dict[str, Any]:
    """The provider's `cluster` option: the chosen context, pointed at that kubeconfig cluster."""
    if not access.cluster:
        return document
    name = access.context or document.get("current-context")
    contexts = [
        {**c, "context": {**c.get("context", {}), "cluster": access.cluster}} if c.get("name") == name else c
        for c in document.get("contexts") or []
    ]
    return {**document, "contexts": contexts}


class ClusterClient:
    """One provider's cluster, as the hooks use it."""

    def __init__(self, api: client.ApiClient, access: ClusterAccess) -> None:
        self.access = access
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.storage = client.StorageV1Api(api)

    @classmethod
    def connect(cls, access: ClusterAccess) -> ClusterClient:
        return cls(api_client(access), access)

    def _get(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """A raw GET (camelCase JSON, as manifests are written); None when not found."""
        try:
            response = call(*args, _preload_content=False, **kwargs)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        except OSError as error:  # urllib3's connection errors are OSErrors
            raise ClusterUnreachableError(f"{self.access.source}: {error}") from error
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

    def claims_to_grow(self, namespace: str, statefulset: str, growth: Growth) -> tuple[list[tuple[str, str]], str]:
        """(claim, new size) of every claim of the growing templates still below its new size, and
        why some cannot grow ('' when all can)."""
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
        why = "; ".join(f"claims {', '.join(claims)} {reason}" for reason, claims in refusals.items())
        return plan, why

    def grow_claims(self, namespace: str, statefulset: str, growth: Growth, *, dry_run: bool) -> None:
        """Check every claim can grow, then grow them all and wait until each has its new size."""
        plan, refused = self.claims_to_grow(namespace, statefulset, growth)
        if refused:
            raise VolumeGrowthRefusedError(
                f"storage size of StatefulSet {namespace}/{statefulset}: {refused}. A claim grows in place only "
                "when its StorageClass sets allowVolumeExpansion: true and it is bound; use such a class "
                "(storage_class_name / create_storage_class) or keep the current size. Nothing was changed."
            )
        if dry_run:
            return
        self.request_sizes(namespace, plan)
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

    def request_sizes(self, namespace: str, plan: list[tuple[str, str]]) -> None:
        for claim_name, size in plan:
            pulumi.log.info(f"growing claim {namespace}/{claim_name} to {size}")
            patch = {"spec": {"resources": {"requests": {"storage": size}}}}
            self.core.patch_namespaced_persistent_volume_claim(claim_name, namespace, patch)

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
