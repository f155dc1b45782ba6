"""StatefulWorkload: the Pulumi shell around the Args models and the pure renderer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import hooks
from statefulkit.args.common import coerce
from statefulkit.args.workload import StatefulWorkloadArgs, validate_name
from statefulkit.manifest import manifest_kwargs
from statefulkit.render.delete_plan import IMMUTABLE_FIELDS
from statefulkit.render.monitoring import POD_MONITOR_API
from statefulkit.render.workload import WorkloadManifests, pod_dns_names, render_workload
from statefulkit.storage import register_storage_class

# Changing these means delete + recreate: Kubernetes rejects an in-place update.
STATEFULSET_IMMUTABLE = [f"spec.{field}" for field in IMMUTABLE_FIELDS]


class StatefulWorkload(pulumi.ComponentResource):
    """A headless Service, a StatefulSet with volumeClaimTemplates, a PDB and optional extras.

    The args are validated before anything is registered: bad input raises a pydantic
    ValidationError and leaves no resource behind.
    """

    # Attribute types are declared in __init__, not on the class: the Pulumi SDK re-evaluates a
    # component class's annotations for every instance it registers.
    def __init__(
        self,
        name: str,
        args: StatefulWorkloadArgs | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate_name(name)
        args = coerce(StatefulWorkloadArgs, args)
        manifests = render_workload(name, args)
        super().__init__("statefulkit:index:StatefulWorkload", name, None, opts)
        self.args = args
        self._register_objects(name, manifests, pulumi.ResourceOptions(parent=self))
        self._register_stateful_set(name, manifests, _resources(opts))
        self._register_extras(name, manifests, pulumi.ResourceOptions(parent=self))
        names = manifests.names
        self.pod_dns_names = pulumi.Output.from_input(args.namespace).apply(
            lambda ns: pod_dns_names(names, args.replicas, ns, args.cluster_domain)
        )
        # The children are attributes; only the derived value is a component output.
        self.register_outputs({"pod_dns_names": self.pod_dns_names})

    def _register_objects(self, name: str, manifests: WorkloadManifests, child: pulumi.ResourceOptions) -> None:
        """What the StatefulSet needs first: its StorageClass, ConfigMap and Services."""
        names = manifests.names
        self.storage_class: k8s.storage.v1.StorageClass | None = None
        if manifests.storage_class is not None:
            self.storage_class = register_storage_class(f"{name}-storage", manifests.storage_class, child)
        self.config_map: k8s.core.v1.ConfigMap | None = None
        if manifests.config_map is not None:
            self.config_map = k8s.core.v1.ConfigMap(
                names.config_map, **manifest_kwargs(manifests.config_map), opts=child
            )
        self.headless_service = k8s.core.v1.Service(
            names.headless_service, **manifest_kwargs(manifests.headless_service), opts=child
        )
        self.client_service: k8s.core.v1.Service | None = None
        if manifests.client_service is not None:
            self.client_service = k8s.core.v1.Service(
                f"{name}-client", **manifest_kwargs(manifests.client_service), opts=child
            )

    def _register_stateful_set(
        self, name: str, manifests: WorkloadManifests, ordered_after: list[pulumi.Resource]
    ) -> None:
        # What the component was told to wait for, the StatefulSet waits for too (the engine
        # records dependencies per resource, and the pods are what must not start early).
        depends_on: list[pulumi.Resource] = [self.headless_service, *ordered_after]
        depends_on += [r for r in (self.config_map, self.storage_class) if r is not None]
        self.stateful_set = k8s.apps.v1.StatefulSet(
            manifests.names.stateful_set,
            **manifest_kwargs(manifests.stateful_set),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on,
                replace_on_changes=STATEFULSET_IMMUTABLE,
                # Explicit names mean the old object must go before its replacement exists.
                delete_before_replace=True,
                # Drains the pods before a delete, or grows the claims before a size-only swap.
                hooks=hooks.binding(delete_hook=self.args.delete_hook),
            ),
        )
        # What the hooks compare the live StatefulSet with, and on which provider's cluster.
        hooks.declare(
            self.stateful_set, name=manifests.names.stateful_set, parent=self, spec=manifests.stateful_set["spec"]
        )

    def _register_extras(self, name: str, manifests: WorkloadManifests, child: pulumi.ResourceOptions) -> None:
        """The budget, the PodMonitor and the NetworkPolicy, each when rendered."""
        self.pdb: k8s.policy.v1.PodDisruptionBudget | None = None
        if manifests.pdb is not None:
            self.pdb = k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", **manifest_kwargs(manifests.pdb), opts=child)
        self.pod_monitor: k8s.apiextensions.CustomResource | None = None
        if manifests.pod_monitor is not None:
            self.pod_monitor = k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version=POD_MONITOR_API[0],
                kind=POD_MONITOR_API[1],
                metadata=manifests.pod_monitor["metadata"],
                spec=manifests.pod_monitor["spec"],
                opts=child,
            )
        self.network_policy: k8s.networking.v1.NetworkPolicy | None = None
        if manifests.network_policy is not None:
            self.network_policy = k8s.networking.v1.NetworkPolicy(
                f"{name}-network-policy", **manifest_kwargs(manifests.network_policy), opts=child
            )


def _resources(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The Resources listed in `opts.depends_on`. An Output there still orders the StatefulSet
    through the component, whose URN every child waits for; only the recorded edge is missing."""
    depends_on = opts.depends_on if opts is not None else None
    items = depends_on if isinstance(depends_on, Sequence) else [depends_on]
    return [r for r in items if isinstance(r, pulumi.Resource)]
