"""RedisEnsemble under Pulumi mocks (preview and update): its children, outputs, Services and budget."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from statefulkit.args.redis import (
    RedisArgs,
)
from statefulkit.redis import RedisEnsemble
from statefulkit.testing import run
from tests.support.mocks import service
from tests.support.redis_mocks import args, deploy, files
from tests.support.tokens import CM, NETPOL, PDB, REDIS, SECRET, STS, SVC, WORKLOAD


def test_component_and_children(preview: bool) -> None:
    d = deploy(preview)
    component = d.one(REDIS)
    workload = d.one(WORKLOAD)
    secret = d.one(SECRET)
    assert component.name == "cache"
    assert workload.parent == component.urn and secret.parent == component.urn
    for typ in (STS, CM, PDB, NETPOL):
        assert d.one(typ).parent == workload.urn
    assert {r.parent for r in d.of_type(SVC)} == {workload.urn}
    assert sorted(r.type for r in d.resources) == sorted([REDIS, WORKLOAD, SECRET, STS, SVC, SVC, PDB, CM, NETPOL])
    # The StatefulSet waits for the password Secret (its env references the Secret's Output name).
    assert secret.urn in d.one(STS).dependencies


def test_outputs(preview: bool) -> None:
    d = deploy(preview, namespace="data")
    fqdns = [f"cache-{i}.cache-headless.data.svc.cluster.local" for i in range(3)]
    assert d.outputs == {
        "master_name": "mymaster",
        "sentinel_addresses": [f"{f}:26379" for f in fqdns],
        "pod_dns_names": fqdns,
        "headless_service_name": "cache-headless",
        "sentinel_service_name": "cache",
        "password_secret_name": "cache-auth",
        "workload_dns": fqdns,
    }


def test_registers_its_outputs(preview: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, dict[str, Any]] = {}
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: Any) -> None:
        seen[type(self).__name__] = dict(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)
    deploy(preview)
    assert set(seen["RedisEnsemble"]) == {
        "master_name",
        "sentinel_addresses",
        "pod_dns_names",
        "headless_service_name",
        "sentinel_service_name",
        "password_secret_name",
        "backup_cron_job_name",
        "backup_repository",
    }


def test_services_and_pdb(preview: bool) -> None:
    d = deploy(preview)
    headless = service(d, "cache-headless").inputs["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"]) for p in headless["ports"]] == [("redis", 6379), ("sentinel", 26379)]
    sentinel = service(d, "cache").inputs["spec"]
    assert sentinel["type"] == "ClusterIP"
    assert sentinel["ports"] == [{"name": "sentinel", "port": 26379, "targetPort": "sentinel", "protocol": "TCP"}]
    assert sentinel["selector"] == headless["selector"]
    pdb = d.one(PDB).inputs["spec"]
    assert pdb == {"selector": {"matchLabels": headless["selector"]}, "maxUnavailable": 1}


def test_single_pod_needs_explicit_intent_and_gets_no_pdb(preview: bool) -> None:
    d = deploy(preview, replicas=1, allow_small_sentinel_quorum=True)
    assert d.of_type(PDB) == []
    assert "sentinel monitor mymaster @MASTER@ 6379 1" in files(d)["sentinel.conf"]


def test_rollout_retention_and_budget_pass_through(preview: bool) -> None:
    """Canary rollouts and PVC retention are set per ensemble, and bad values are refused early."""

    def program() -> None:
        RedisEnsemble(
            "cache",
            RedisArgs(
                password=pulumi.Output.secret("pw-for-test"),
                update_strategy={"type": "RollingUpdate", "partition": 2},
                pvc_retention={"when_scaled": "Delete"},
                disruption_budget={"min_available": 2},
            ),
        )

    d = run(program, preview=preview)
    sts = d.one(STS).inputs
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Delete"}
    assert sts["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=3"
    assert d.one(PDB).inputs["spec"]["minAvailable"] == 2
    with pytest.raises(ValidationError, match=r"update_strategy.partition=4 is greater than replicas=3"):
        RedisArgs(auth=False, update_strategy={"type": "RollingUpdate", "partition": 4})
    with pytest.raises(ValidationError, match=r"disruption_budget.min_available=3 with replicas=3 never allows"):
        RedisArgs(auth=False, disruption_budget={"min_available": 3})


def test_namespace_output_never_enters_the_configmap(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = pulumi.Output.from_input("tenant-a")
        redis = RedisEnsemble("cache", args(namespace=ns))
        return {"addresses": redis.sentinel_addresses}

    d = run(program, preview=preview)
    assert d.outputs["addresses"][0] == "cache-0.cache-headless.tenant-a.svc.cluster.local:26379"
    assert not any("tenant-a" in text for text in files(d).values())
    assert d.one(CM).inputs["metadata"]["namespace"] == "tenant-a"
    assert d.one(SECRET).inputs["metadata"]["namespace"] == "tenant-a"
