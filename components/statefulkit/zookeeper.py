"""ZooKeeperEnsemble: a StatefulWorkload configured into a working, quorum-safe ZooKeeper ensemble."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.args.common import coerce
from statefulkit.args.workload import validate_name
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.certificate import register_certificate
from statefulkit.manifest import manifest_kwargs
from statefulkit.render.workload import pod_dns_names
from statefulkit.render.zookeeper import (
    APP_NAME,
    ZooKeeperNames,
    connect_string,
    render_admin_secret,
    render_bootstrap_config_map,
    zookeeper_workload_args,
)
from statefulkit.workload import StatefulWorkload

# Bytes of randomness in a generated super-user password (URL-safe base64: no whitespace, no quotes).
PASSWORD_BYTES = 32


class ZooKeeperEnsemble(pulumi.ComponentResource):
    """A ZooKeeper ensemble: headless Service (publishNotReadyAddresses), client Service on 2181,
    StatefulSet (Parallel, quorum-aware probes, a preStop that leaves the ensemble), PDB
    (maxUnavailable 1), the config ConfigMap, the bootstrap ConfigMap (the replica count, kept out
    of the pod template so a scale restarts nobody) and, unless `existing_secret` names one, the
    Secret `<name>-admin` with the super user's password that membership changes require.

    Input is validated, and the whole workload rendered, before anything is registered: bad input
    raises a pydantic ValidationError and leaves no resource behind.

    Outputs: `connect_string` (`<member-fqdn>:2181,...`), `client_service_name`,
    `headless_service_name`, `pod_dns_names`, `password_secret_name`, and `workload`, the
    StatefulWorkload child.
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
        zookeeper_workload_args(name, args)  # the whole workload validates before anything is registered
        super().__init__("statefulkit:index:ZooKeeperEnsemble", name, None, opts)
        self.args = args
        self.names = ZooKeeperNames.of(name)
        child = pulumi.ResourceOptions(parent=self)

        self.secret: k8s.core.v1.Secret | None = None
        secret_name: Any = None
        if args.existing_secret is None:
            # A new random password on every run, but only the first one is ever used: ignore_changes
            # keeps the Secret's data as created, so the members' super-user digest never changes.
            password = pulumi.Output.secret(secrets.token_urlsafe(PASSWORD_BYTES))
            manifest = render_admin_secret(name, args, password)
            self.secret = k8s.core.v1.Secret(
                self.names.admin_secret,
                **manifest_kwargs(manifest),
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        additional_secret_outputs=["data", "stringData"], ignore_changes=["data", "stringData"]
                    ),
                ),
            )
            secret_name = self.secret.metadata.name
        self.bootstrap_config_map = k8s.core.v1.ConfigMap(
            self.names.bootstrap_config_map, **manifest_kwargs(render_bootstrap_config_map(name, args)), opts=child
        )

        # The Secret's Output name makes the StatefulSet wait for it. The bootstrap ConfigMap is only
        # ordered before the StatefulSet (depends_on, no property dependency): a new replica count
        # replaces that ConfigMap (the provider replaces a ConfigMap whose data changes; its fixed
        # name means delete-before-replace), and the engine replaces along with it every resource
        # whose properties came from it, which would take the whole ensemble down for a scale.
        self.workload_args = zookeeper_workload_args(name, args, secret_name)
        names = self.names.workload
        services = [names.headless_service, names.client_service]
        self.certificate = register_certificate(name, APP_NAME, args, services, child)
        ordered_after = [self.bootstrap_config_map, *([self.certificate] if self.certificate else [])]
        self.workload = StatefulWorkload(
            name, self.workload_args, opts=pulumi.ResourceOptions(parent=self, depends_on=ordered_after)
        )

        self.headless_service_name: pulumi.Output[str] = self.workload.headless_service.metadata.name
        client_service = self.workload.client_service
        assert client_service is not None  # zookeeper_workload_args always asks for one
        self.client_service_name = client_service.metadata.apply(lambda meta: str(meta.name))
        self.password_secret_name: pulumi.Output[str] = (
            self.secret.metadata.name
            if self.secret is not None
            else pulumi.Output.from_input(args.existing_secret.name)  # type: ignore[union-attr]
        )
        namespace = pulumi.Output.from_input(args.namespace)
        self.pod_dns_names = namespace.apply(lambda ns: pod_dns_names(names, args.replicas, ns, args.cluster_domain))
        self.connect_string = namespace.apply(lambda ns: connect_string(name, args, ns))
        self.register_outputs(
            {
                "connect_string": self.connect_string,
                "client_service_name": self.client_service_name,
                "headless_service_name": self.headless_service_name,
                "pod_dns_names": self.pod_dns_names,
                "password_secret_name": self.password_secret_name,
            }
        )
