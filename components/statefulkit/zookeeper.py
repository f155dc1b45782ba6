"""ZooKeeperEnsemble: a StatefulWorkload configured into a working, quorum-safe ZooKeeper ensemble."""

from __future__ import annotations

import secrets
from typing import Any

import pulumi

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.ensemble import Ensemble
from statefulkit.render.zookeeper import ZooKeeperRender

# Bytes of randomness in a generated super-user password (URL-safe base64: no whitespace, no quotes).
PASSWORD_BYTES = 32


class ZooKeeperEnsemble(Ensemble[ZooKeeperArgs]):
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

    pulumi_type = "statefulkit:index:ZooKeeperEnsemble"
    args_type = ZooKeeperArgs
    render_type = ZooKeeperRender
    # A new random password on every run, but only the first one is ever used, so the members'
    # super-user digest never changes.
    keeps_first_password = True
    exports = (
        ("connect_string", "connect_string"),
        ("client_service", "client_service_name"),
        *Ensemble.exports,
    )

    def _password(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(secrets.token_urlsafe(PASSWORD_BYTES))

    def _outputs(self) -> dict[str, Any]:
        render: ZooKeeperRender = self.render  # type: ignore[assignment]
        client_service = self.workload.client_service
        assert client_service is not None  # a ZooKeeper workload always has one
        self.client_service_name = client_service.metadata.apply(lambda meta: str(meta.name))
        self.connect_string = self._namespace.apply(render.connect_string)
        return {"connect_string": self.connect_string, "client_service_name": self.client_service_name}
