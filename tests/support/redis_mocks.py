"""A RedisEnsemble under mocks, and what its tests read from it."""

from __future__ import annotations

from typing import Any

import pulumi

from statefulkit.redis import RedisEnsemble
from statefulkit.testing import Deployment, run
from tests.support.mocks import sts_spec
from tests.support.tokens import CM

PASSWORD = "Pl41n-T3xt-N3v3r!"  # noqa: S105 - test-only password


def args(**overrides: Any) -> dict[str, Any]:
    """An ensemble's arguments: the test password as a secret Output, and `overrides`."""
    base: dict[str, Any] = {"password": pulumi.Output.secret(PASSWORD)}
    base.update(overrides)
    return base


def deploy(preview: bool, name: str = "cache", **overrides: Any) -> Deployment:
    def program() -> dict[str, Any]:
        redis = RedisEnsemble(name, args(**overrides))
        outputs: dict[str, Any] = {
            "master_name": redis.master_name,
            "sentinel_addresses": redis.sentinel_addresses,
            "pod_dns_names": redis.pod_dns_names,
            "headless_service_name": redis.headless_service_name,
            "sentinel_service_name": redis.sentinel_service_name,
            "workload_dns": redis.workload.pod_dns_names,
        }
        if redis.password_secret_name is not None:
            outputs["password_secret_name"] = redis.password_secret_name
        return outputs

    return run(program, preview=preview)


def containers(d: Deployment) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in sts_spec(d)["template"]["spec"]["containers"]}


def files(d: Deployment) -> dict[str, str]:
    data: dict[str, str] = d.one(CM).inputs["data"]
    return data
