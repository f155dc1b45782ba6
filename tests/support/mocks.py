"""What the mock tests read from a Deployment (statefulkit.testing) of a workload or an ensemble."""

from __future__ import annotations

from typing import Any

from statefulkit.testing import Deployment, Resource
from tests.support.tokens import STS, SVC


def sts_spec(d: Deployment) -> dict[str, Any]:
    """The spec of the deployment's one StatefulSet."""
    spec: dict[str, Any] = d.one(STS).inputs["spec"]
    return spec


def pod_spec(d: Deployment) -> dict[str, Any]:
    """The pod template's spec of the deployment's one StatefulSet."""
    pod: dict[str, Any] = sts_spec(d)["template"]["spec"]
    return pod


def service(d: Deployment, k8s_name: str) -> Resource:
    """The one Service called `k8s_name` in the cluster."""
    found = [r for r in d.of_type(SVC) if r.k8s_name == k8s_name]
    assert len(found) == 1, [r.k8s_name for r in d.of_type(SVC)]
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: name -> value, or its valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
