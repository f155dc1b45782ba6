"""ZooKeeperEnsemble: a StatefulWorkload configured into a working, quorum-safe ZooKeeper ensemble."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.args.common import coerce
from components.args.workload import validate_name
from components.args.zookeeper import ZooKeeperArgs
from components.render.workload import WorkloadNames, pod_dns_names
from components.render.zookeeper import connect_string, zookeeper_workload_args
from components.workload import StatefulWorkload


class ZooKeeperEnsemble(pulumi.ComponentResource):
    """A ZooKeeper ensemble: headless Service (publishNotReadyAddresses), client Service on 2181,
    StatefulSet (Parallel, quorum-aware probes), PDB (maxUnavailable 1) and the config ConfigMap.

    Input is validated, and the whole workload rendered, before anything is registered: bad input
    raises a pydantic ValidationError and leaves no resource behind.

    Outputs: `connect_string` (`<member-fqdn>:2181,...`), `client_service_name`,
    `headless_service_name`, `pod_dns_names`, and `workload`, the StatefulWorkload child.
    """

    # Attribute types are declared in __init__, not on the class: the Pulumi SDK re-evaluates a
    # component class's annotations for every instance it registers.
    def __init__(
        self,
        name: str,
        args: ZooKeeperArgs | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate_name(name)
        args = coerce(ZooKeeperArgs, args)
        workload_args = zookeeper_workload_args(name, args)
        super().__init__("statefulkit:index:ZooKeeperEnsemble", name, None, opts)
        self.args = args
        self.workload_args = workload_args
        self.workload = StatefulWorkload(name, workload_args, opts=pulumi.ResourceOptions(parent=self))

        self.headless_service_name: pulumi.Output[str] = self.workload.headless_service.metadata.name
        client_service = self.workload.client_service
        assert client_service is not None  # zookeeper_workload_args always asks for one
        self.client_service_name = client_service.metadata.apply(lambda meta: str(meta.name))
        names = WorkloadNames.of(name)
        namespace = pulumi.Output.from_input(args.namespace)
        self.pod_dns_names = namespace.apply(lambda ns: pod_dns_names(names, args.replicas, ns, args.cluster_domain))
        self.connect_string = namespace.apply(lambda ns: connect_string(name, args, ns))
        self.register_outputs(
            {
                "connect_string": self.connect_string,
                "client_service_name": self.client_service_name,
                "headless_service_name": self.headless_service_name,
                "pod_dns_names": self.pod_dns_names,
            }
        )
