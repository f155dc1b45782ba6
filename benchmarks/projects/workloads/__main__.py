"""K StatefulWorkloads of one replica with a client Service, in an existing namespace (no claims,
so any number fits the local cluster's volumes)."""

import pulumi

from statefulkit import StatefulWorkload

config = pulumi.Config()
for i in range(config.require_int("count")):
    StatefulWorkload(
        f"w{i}",
        {
            "namespace": config.require("namespace"),
            "image": "registry.example/app:1.0",
            "ports": {"client": 7000},
            "client_service": True,
        },
    )
