"""The ingress NetworkPolicy of a workload: who may reach which of its ports (see NetworkPolicyArgs)."""

from __future__ import annotations

from statefulkit.args.container import ContainerPort
from statefulkit.args.extensions import TrafficSource
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.pod import Manifest


def render_network_policy(args: StatefulWorkloadArgs, selector: dict[str, str]) -> Manifest | None:
    """The policy's spec (None when network_policy is None). Members reach every port that is not
    the pod's own; clients the `clients` ports; metrics sources the `metrics` ports."""
    policy = args.network_policy
    if policy is None:
        return None
    ports = [p for c in args.all_containers() for p in c.ports]
    members = [{"podSelector": {"matchLabels": dict(selector)}}]
    rules = [
        _rule(members, [p for p in ports if p.reachable_by in ("clients", "peers")]),
        _rule([_source(s) for s in policy.clients], [p for p in ports if p.reachable_by == "clients"]),
        _rule([_source(s) for s in policy.metrics], [p for p in ports if p.reachable_by == "metrics"]),
    ]
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress"],
        # No rule at all (no port open to anyone) is a deny-all, which is what it says.
        "ingress": [rule for rule in rules if rule is not None],
    }


def _rule(sources: list[Manifest], ports: list[ContainerPort]) -> Manifest | None:
    if not sources or not ports:
        return None
    return {"from": sources, "ports": [{"port": p.container_port, "protocol": p.protocol} for p in ports]}


def _source(source: TrafficSource) -> Manifest:
    peer: Manifest = {}
    if source.namespace_labels is not None:
        peer["namespaceSelector"] = _selector(source.namespace_labels)
    if source.pod_labels is not None or source.namespace_labels is None:
        peer["podSelector"] = _selector(source.pod_labels or {})
    return peer


def _selector(labels: dict[str, str]) -> Manifest:
    return {"matchLabels": dict(labels)} if labels else {}
