"""examples/composition: statefulkit inside a larger stack, run under mocks as `pulumi up` would run it.

The mocks name objects without `metadata.name` the way pulumi-kubernetes does (`shop-<suffix>`),
so the Namespace's and the Secret's names exist only as Outputs: every check below that finds them
in a child proves the Output was passed through, not a name repeated by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.mocks import env_of
from tests.support.stack_config import (
    CLUSTER_SCOPED,
    REPO,
    StackRun,
    engine_config,
    plain_occurrences,
    run_stack,
)
from tests.support.tokens import DEPLOYMENT, NS, SECRET, STS
from tools.project import project_settings

EXAMPLE = REPO / "examples" / "composition"
PASSWORD = "C0mp0s1t10n-Pa55w0rd"  # noqa: S105 - test-only password
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}
ALLOWED_VOLUMES |= {"secret"}


def deploy(preview: bool) -> StackRun:
    config = engine_config(EXAMPLE, {}, secrets={"redis_password": PASSWORD})
    result = run_stack(EXAMPLE, config, project=project_settings(EXAMPLE)["name"], preview=preview)
    assert result.error is None, result.error
    return result


def pod_specs(result: StackRun) -> dict[str, dict[str, Any]]:
    d = result.deployment
    return {r.name: r.inputs["spec"]["template"]["spec"] for r in d.of_type(STS) + d.of_type(DEPLOYMENT)}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the `restricted` Pod Security Standard (latest) would refuse in this pod spec."""
    found = [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    found += [f"volume {v['name']}" for v in pod.get("volumes", []) if not set(v) - {"name"} <= ALLOWED_VOLUMES]
    pod_security = pod.get("securityContext", {})
    for c in pod.get("initContainers", []) + pod["containers"]:
        security = c.get("securityContext", {})
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            found.append(f"{c['name']}: runAsNonRoot")
        if 0 in (security.get("runAsUser"), pod_security.get("runAsUser")):
            found.append(f"{c['name']}: runAsUser 0")
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{c['name']}: seccompProfile")
        if security.get("allowPrivilegeEscalation") is not False:
            found.append(f"{c['name']}: allowPrivilegeEscalation")
        if security.get("privileged"):
            found.append(f"{c['name']}: privileged")
        capabilities = security.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{c['name']}: capabilities")
        if any("hostPort" in p for p in c.get("ports", [])):
            found.append(f"{c['name']}: hostPort")
    return found


def test_the_namespace_output_reaches_every_namespaced_object(preview: bool) -> None:
    result = deploy(preview)
    d = result.deployment
    namespace = d.one(NS)
    name = result.exports_raw["namespace"]
    assert name.startswith("shop-") and name != "shop"  # the name Pulumi gave it, known only as an Output
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    namespaced = [r for r in d.resources if r.type.startswith("kubernetes:") and r.type not in CLUSTER_SCOPED]
    # Secret, Deployment, per ensemble: StatefulSet, 2 Services, PDB, ConfigMap, NetworkPolicy;
    # ZooKeeper's admin Secret and bootstrap ConfigMap
    assert len(namespaced) == 16
    for r in namespaced:
        assert r.inputs["metadata"]["namespace"] == name, f"{r.type} {r.name}"
        assert namespace.urn in r.dependencies, f"{r.type} {r.name} does not wait for the Namespace"


def test_redis_reads_the_password_from_the_stacks_secret(preview: bool) -> None:
    result = deploy(preview)
    d = result.deployment
    # The stack's own: RedisEnsemble creates none with existing_secret (ZooKeeper's is zk-admin).
    secret = next(r for r in d.of_type(SECRET) if r.k8s_name != "zk-admin")
    secret_name = result.exports_raw["redis_password_secret"]
    assert secret_name.startswith("redis-password-")
    redis = next(r for r in d.of_type(STS) if r.k8s_name == "cache")
    for container in redis.inputs["spec"]["template"]["spec"]["containers"]:
        assert env_of(container)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": secret_name, "key": "password"}}
    assert secret.urn in redis.dependencies


def test_the_client_consumes_the_connection_details(preview: bool) -> None:
    result = deploy(preview)
    d = result.deployment
    exports = result.exports_raw
    client = d.one(DEPLOYMENT)
    (container,) = client.inputs["spec"]["template"]["spec"]["containers"]
    assert env_of(container) == {
        "ZK_CONNECT": exports["zookeeper_connect_string"],
        "REDIS_SENTINELS": ",".join(exports["redis_sentinel_addresses"]),
        "REDIS_MASTER_NAME": "mymaster",
        "REDIS_PASSWORD": {"secretKeyRef": {"name": exports["redis_password_secret"], "key": "password"}},
    }
    assert exports["zookeeper_connect_string"].count(f".zk-headless.{exports['namespace']}.svc.cluster.local:2181") == 3
    assert len(exports["redis_sentinel_addresses"]) == 3
    # Started after both ensembles: it depends on every StatefulSet (and so on their Ready pods).
    assert {r.urn for r in d.of_type(STS)} <= set(client.dependencies)


@pytest.mark.parametrize("workload", ["zk", "cache", "shop-client"])
def test_every_pod_passes_the_restricted_pod_security_standard(preview: bool, workload: str) -> None:
    pod = pod_specs(deploy(preview))[workload]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False


def test_the_restricted_check_finds_violations() -> None:
    pod = {"hostNetwork": True, "containers": [{"name": "c", "securityContext": {"privileged": True}}]}
    assert restricted_violations(pod) == [
        "hostNetwork: true",
        "c: runAsNonRoot",
        "c: seccompProfile",
        "c: allowPrivilegeEscalation",
        "c: privileged",
        "c: capabilities",
    ]


def test_the_password_is_never_plain(preview: bool) -> None:
    result = deploy(preview)
    for r in result.deployment.resources:
        assert plain_occurrences(r.wire, PASSWORD) == [], f"{r.type} {r.name} (raw)"
        assert plain_occurrences(r.inputs, PASSWORD) == [], f"{r.type} {r.name} (inputs)"
    holders = [r for r in result.deployment.resources if PASSWORD in repr(r.wire)]
    assert [r.type for r in holders] == [SECRET]
    assert PASSWORD not in repr(result.exports_raw)


def test_the_example_is_its_own_pulumi_project() -> None:
    project = project_settings(EXAMPLE)
    assert project["name"] == "statefulkit-composition"
    assert project["runtime"]["name"] == "python"
    assert project["config"]["redis_password"] == {
        "type": "string",
        "secret": True,
        "description": project["config"]["redis_password"]["description"],
    }
    assert "-e ../.." in (EXAMPLE / "requirements.txt").read_text().splitlines()  # the components of this checkout
