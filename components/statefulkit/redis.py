"""RedisEnsemble: Redis replication with a Sentinel beside every node, on one StatefulSet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.args.common import coerce
from statefulkit.args.redis import RedisArgs
from statefulkit.args.workload import validate_name
from statefulkit.certificate import register_certificate
from statefulkit.render.redis import (
    APP_NAME,
    RedisNames,
    pod_fqdns,
    redis_workload_args,
    render_auth_secret,
    sentinel_addresses,
)
from statefulkit.workload import StatefulWorkload


class RedisEnsemble(pulumi.ComponentResource):
    """One primary, replicas-1 replicas and a Sentinel per pod, with auth from a Pulumi secret.

    Bad args raise a pydantic ValidationError before anything is registered. The password only
    travels as a secret Output into a Kubernetes Secret (or comes from an existing Secret); pods
    read it through secretKeyRef, so neither the ConfigMap nor the StatefulSet holds it.
    """

    # Attribute types are declared in __init__, not on the class: the Pulumi SDK re-evaluates a
    # component class's annotations for every instance it registers.
    def __init__(
        self,
        name: str,
        args: RedisArgs | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate_name(name)
        args = coerce(RedisArgs, args)
        # Validate the whole workload (with the Secret's future name) before registering anything.
        redis_workload_args(name, args)
        super().__init__("statefulkit:index:RedisEnsemble", name, None, opts)
        self.args = args
        self.names = RedisNames.of(name)
        child = pulumi.ResourceOptions(parent=self)

        self.secret: k8s.core.v1.Secret | None = None
        secret_name: Any = None
        if args.auth and args.existing_secret is None:
            manifest = render_auth_secret(name, args, pulumi.Output.secret(args.password))
            self.secret = k8s.core.v1.Secret(
                self.names.secret,
                metadata=manifest["metadata"],
                type=manifest["type"],
                string_data=manifest["stringData"],
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
                ),
            )
            # The Output name makes the StatefulSet wait for the Secret.
            secret_name = self.secret.metadata.name

        services = [self.names.headless_service, self.names.sentinel_service]
        self.certificate = register_certificate(name, APP_NAME, args, services, child)
        depends_on = [] if self.certificate is None else [self.certificate]
        self.workload = StatefulWorkload(
            name,
            redis_workload_args(name, args, secret_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

        self.master_name = pulumi.Output.from_input(args.master_name)
        self.pod_dns_names = pulumi.Output.from_input(args.namespace).apply(lambda ns: pod_fqdns(name, args, ns))
        self.sentinel_addresses = pulumi.Output.from_input(args.namespace).apply(
            lambda ns: sentinel_addresses(name, args, ns)
        )
        self.headless_service_name: pulumi.Output[str] = self.workload.headless_service.metadata.name
        assert self.workload.client_service is not None  # the Sentinel Service is always rendered
        self.sentinel_service_name: pulumi.Output[str] = self.workload.client_service.metadata.name
        self.password_secret_name: pulumi.Output[str] | None = None
        if self.secret is not None:
            self.password_secret_name = self.secret.metadata.name
        elif args.existing_secret is not None:
            self.password_secret_name = pulumi.Output.from_input(args.existing_secret.name)

        self.register_outputs(
            {
                "master_name": self.master_name,
                "sentinel_addresses": self.sentinel_addresses,
                "pod_dns_names": self.pod_dns_names,
                "headless_service_name": self.headless_service_name,
                "sentinel_service_name": self.sentinel_service_name,
                "password_secret_name": self.password_secret_name,
            }
        )
