"""RedisEnsemble: Redis replication with a Sentinel beside every node, on one StatefulSet."""

from __future__ import annotations

from typing import Any

import pulumi

from statefulkit.args.redis import RedisArgs
from statefulkit.ensemble import Ensemble
from statefulkit.render.redis import RedisRender


class RedisEnsemble(Ensemble[RedisArgs]):
    """One primary, replicas-1 replicas and a Sentinel per pod, with auth from a Pulumi secret.

    Bad args raise a pydantic ValidationError before anything is registered. The password only
    travels as a secret Output into a Kubernetes Secret (or comes from an existing Secret); pods
    read it through secretKeyRef, so neither the ConfigMap nor the StatefulSet holds it.

    Outputs: `master_name`, `sentinel_addresses` (`<pod fqdn>:26379` each), `sentinel_service_name`,
    `headless_service_name`, `pod_dns_names`, `password_secret_name` (None with auth=False), and
    `workload`, the StatefulWorkload child.
    """

    pulumi_type = "statefulkit:index:RedisEnsemble"
    args_type = RedisArgs
    render_type = RedisRender
    secret_field = "password"  # noqa: S105 - a field name
    exports = (
        ("sentinel_addresses", "sentinel_addresses"),
        ("master_name", "master_name"),
        ("sentinel_service", "sentinel_service_name"),
        *Ensemble.exports,
        # The Secret's name; the password stays in it.
        ("password_secret", "password_secret_name"),
    )

    def _password(self) -> pulumi.Output[str]:
        password = self.args.password
        assert password is not None  # RedisArgs requires one when the component creates the Secret
        return pulumi.Output.secret(password)

    def _outputs(self) -> dict[str, Any]:
        render: RedisRender = self.render  # type: ignore[assignment]
        self.master_name = pulumi.Output.from_input(self.args.master_name)
        self.sentinel_addresses = self._namespace.apply(render.sentinel_addresses)
        # The workload's client Service is the Sentinel Service.
        sentinel_service = self.workload.client_service
        assert sentinel_service is not None
        self.sentinel_service_name: pulumi.Output[str] = sentinel_service.metadata.name
        return {
            "master_name": self.master_name,
            "sentinel_addresses": self.sentinel_addresses,
            "sentinel_service_name": self.sentinel_service_name,
        }
