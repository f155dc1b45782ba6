"""The Pulumi program (__main__.py) with each stack config exactly as stacks/Pulumi.<env>.yaml holds it.

Each stack file is parsed and handed to the program the way the engine does (Pulumi.yaml defaults
applied, maps as JSON strings, the password as a secret key), the program runs inside
`run_in_stack` under recording mocks, and the registered objects and the stack's exports (its
RegisterResourceOutputs) are checked, in preview and update mode.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from statefulkit import ENSEMBLES
from statefulkit.program_config import REPOSITORY_SECRETS
from statefulkit.testing import Resource
from tests.support.stack_config import (
    CLUSTER_SCOPED,
    REPO,
    SIMPLE_TYPES,
    StackRun,
    plain_occurrences,
    stack_values,
)
from tests.support.stack_runs import PASSWORD, STACKS, deployed, run, set_value, without
from tests.support.tokens import CM, NETPOL, NS, PDB, REDIS, SC, SECRET, STS, SVC, WORKLOAD, ZOOKEEPER
from tools.project import project_settings

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def sts(result: StackRun, name: str) -> dict[str, Any]:
    found = [r for r in result.deployment.of_type(STS) if r.k8s_name == name]
    assert len(found) == 1, [r.k8s_name for r in result.deployment.of_type(STS)]
    return found[0].inputs


def claims(stateful_set: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """volumeClaimTemplate name -> (size, storageClassName or None for the cluster default)."""
    return {
        t["metadata"]["name"]: (t["spec"]["resources"]["requests"]["storage"], t["spec"].get("storageClassName"))
        for t in stateful_set["spec"].get("volumeClaimTemplates", [])
    }


def anti_affinity(stateful_set: dict[str, Any]) -> str:
    """'required' or 'preferred' per node, checking that the term selects exactly this StatefulSet's pods."""
    rules = stateful_set["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (kind,) = rules
    (term,) = rules[kind]
    term = term.get("podAffinityTerm", term)
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == stateful_set["spec"]["selector"]["matchLabels"]
    return {"requiredDuringSchedulingIgnoredDuringExecution": "required"}.get(kind, "preferred")


def pdbs(result: StackRun) -> dict[str, dict[str, Any]]:
    return {r.k8s_name: r.inputs["spec"] for r in result.deployment.of_type(PDB)}


@dataclass(frozen=True)
class Expected:
    namespace: str
    storage_class: str | None
    zookeeper: int
    zookeeper_claims: dict[str, str]
    zookeeper_anti: str
    redis: int
    redis_claim: str
    redis_anti: str


def expect(namespace: str, storage_class: str | None, zookeeper: str, redis: str) -> Expected:
    """`zookeeper`: "<members> <claim>=<size>... <anti-affinity>"; `redis`: "<pods> <size> <anti-affinity>"."""
    zk_members, *zk_claims, zk_anti = zookeeper.split()
    redis_pods, redis_claim, redis_anti = redis.split()
    return Expected(
        namespace,
        storage_class,
        int(zk_members),
        dict(claim.split("=") for claim in zk_claims),
        zk_anti,
        int(redis_pods),
        redis_claim,
        redis_anti,
    )


EXPECTED = {
    "dev": expect("statefulkit-dev", None, "1 data=1Gi preferred", "1 1Gi preferred"),
    "staging": expect("statefulkit-staging", "statefulkit-staging", "3 data=10Gi preferred", "3 8Gi preferred"),
    "prod": expect("statefulkit-prod", "statefulkit-prod", "5 data=50Gi datalog=20Gi required", "3 32Gi required"),
}


# --------------------------------------------------------------------------- what each stack deploys


@pytest.mark.parametrize("stack", STACKS)
def test_stack_deploys_its_ensembles(preview: bool, stack: str) -> None:
    want = EXPECTED[stack]
    result = deployed(preview, stack)
    d = result.deployment
    sizes = {"zookeeper": want.zookeeper, "redis": want.redis}
    with_pdb = [name for name, size in sizes.items() if size >= 2]  # none for one member: it would block drains
    assert Counter(r.type for r in d.resources) == Counter(
        {
            NS: 1,
            SECRET: 2,  # redis-auth, from the secret config; zookeeper-admin, generated
            STS: 2,
            CM: 3,  # one per ensemble, and ZooKeeper's bootstrap count (outside the pod template)
            SVC: 4,  # headless + client per ensemble
            PDB: len(with_pdb),
            NETPOL: 2,  # one per ensemble
            SC: int(want.storage_class is not None),
            ZOOKEEPER: 1,
            REDIS: 1,
            WORKLOAD: 2,
        }
    )  # Counter equality treats a missing type as a count of 0

    namespace = d.one(NS).inputs["metadata"]
    assert namespace == {"name": want.namespace, "labels": RESTRICTED}
    for r in d.resources:
        if r.type.startswith("kubernetes:") and r.type not in CLUSTER_SCOPED:
            assert r.inputs["metadata"]["namespace"] == want.namespace, r.name

    zookeeper, redis = sts(result, "zookeeper")["spec"], sts(result, "redis")["spec"]
    assert (zookeeper["replicas"], redis["replicas"]) == (want.zookeeper, want.redis)
    assert zookeeper["podManagementPolicy"] == redis["podManagementPolicy"] == "Parallel"
    assert claims(sts(result, "zookeeper")) == {n: (s, want.storage_class) for n, s in want.zookeeper_claims.items()}
    assert claims(sts(result, "redis")) == {"data": (want.redis_claim, want.storage_class)}
    assert anti_affinity(sts(result, "zookeeper")) == want.zookeeper_anti
    assert anti_affinity(sts(result, "redis")) == want.redis_anti
    for spec in (zookeeper, redis):
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert {name: spec["maxUnavailable"] for name, spec in pdbs(result).items()} == dict.fromkeys(with_pdb, 1)
    for name, spec in pdbs(result).items():
        assert spec["selector"] == sts(result, name)["spec"]["selector"]

    if want.storage_class is None:
        assert d.of_type(SC) == []
    else:
        storage = d.one(SC)
        assert storage.inputs["metadata"]["name"] == want.storage_class
        assert storage.inputs["provisioner"] == "ebs.csi.aws.com"
        assert storage.inputs["reclaimPolicy"] == "Retain"
        assert storage.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
        assert storage.inputs["allowVolumeExpansion"] is True
        assert set(storage.replace_on_changes) >= {"provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"}
        # Both ensembles are registered after the class exists, so their claims can bind.
        assert storage.urn in d.one(ZOOKEEPER).dependencies and storage.urn in d.one(REDIS).dependencies


def test_dev_fits_the_local_kwok_cluster(preview: bool) -> None:
    """kwok: default StorageClass local-pv with 1Gi/2Gi/5Gi/10Gi PVs, 6 nodes, PodSecurity admission."""
    result = deployed(preview, "dev")
    d = result.deployment
    assert d.of_type(SC) == [] and d.of_type(PDB) == []  # one member each: a PDB would block every drain
    for name in ("zookeeper", "redis"):
        assert set(claims(sts(result, name)).values()) == {("1Gi", None)}  # the cluster's default class
        assert sts(result, name)["spec"]["replicas"] <= 6
    assert d.one(NS).inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_prod_is_built_for_failures_and_canaries(preview: bool) -> None:
    result = deployed(preview, "prod")
    zookeeper = sts(result, "zookeeper")
    assert "pulumi.com/waitFor" not in zookeeper["metadata"].get("annotations", {})
    data_dirs = {m["mountPath"] for m in zookeeper["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert {"/data", "/datalog"} <= data_dirs
    assert result.export_values()["zookeeper_connect_string"].count(":2181") == 5

    # An operator raises the partition for a canary: only member 4 takes the new revision, and
    # `pulumi up` waits for Ready pods instead of a rollout that is held back on purpose.
    def canary(values: dict[str, Any]) -> None:
        values["statefulkit:zookeeper"]["update_strategy"]["partition"] = 4

    canaried = sts(deployed(preview, "prod", canary), "zookeeper")
    assert canaried["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 4}
    assert canaried["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=5"


@pytest.mark.parametrize("stack", STACKS)
def test_exports(preview: bool, stack: str) -> None:
    want = EXPECTED[stack]
    result = deployed(preview, stack)
    fqdn = "{name}-{i}.{name}-headless." + want.namespace + ".svc.cluster.local"
    expected = {
        "namespace": want.namespace,
        "zookeeper_connect_string": ",".join(
            fqdn.format(name="zookeeper", i=i) + ":2181" for i in range(want.zookeeper)
        ),
        "zookeeper_client_service": "zookeeper",
        "zookeeper_headless_service": "zookeeper-headless",
        "redis_sentinel_addresses": [fqdn.format(name="redis", i=i) + ":26379" for i in range(want.redis)],
        "redis_master_name": "mymaster",
        "redis_sentinel_service": "redis",
        "redis_headless_service": "redis-headless",
        "redis_password_secret": "redis-auth",
    }
    if want.storage_class is not None:
        expected["storage_class"] = want.storage_class
    # Observed where the engine would see them: the root stack's RegisterResourceOutputs.
    assert result.exports_raw == expected


# --------------------------------------------------------------------------- the password


@pytest.mark.parametrize("stack", STACKS)
def test_password_is_secret_everywhere(preview: bool, stack: str) -> None:
    result = deployed(preview, stack)
    for r in result.deployment.resources:
        assert plain_occurrences(r.wire, PASSWORD) == [], f"{r.type} {r.name} (raw)"
        assert plain_occurrences(r.inputs, PASSWORD) == [], f"{r.type} {r.name} (inputs)"
    holders: list[Resource] = [r for r in result.deployment.resources if PASSWORD in repr(r.wire)]
    assert [r.name for r in holders] == ["redis-auth"]  # inside the secret-wrapped stringData only
    assert holders[0].wire["stringData"]["value"] == {"password": PASSWORD}
    # Nothing about it is exported, not even as a secret.
    assert PASSWORD not in repr(result.exports_raw) and PASSWORD not in repr(result.exports)


def test_no_stack_file_holds_a_plain_password() -> None:
    for stack in STACKS:
        for key, value in stack_values(REPO, stack).items():
            if "password" in key:
                assert isinstance(value, dict) and set(value) == {"secure"}, f"{stack}: {key} is not encrypted"


# --------------------------------------------------------------------------- optional blocks


@pytest.mark.parametrize(
    ("edit", "secrets", "kept"),
    [
        (without("redis", "redis_password"), {}, ["zookeeper"]),
        (set_value("statefulkit:redis", False), {}, ["zookeeper"]),
        (without("zookeeper"), None, ["redis"]),
        (without("zookeeper", "redis", "redis_password"), {}, []),
    ],
    ids=["no redis block", "redis false", "no zookeeper block", "neither"],
)
def test_a_stack_deploys_only_the_blocks_it_sets(
    preview: bool, edit: Any, secrets: dict[str, str] | None, kept: list[str]
) -> None:
    result = run(preview, "staging", edit, secrets=secrets)
    assert result.error is None, result.error
    components = {ZOOKEEPER: "zookeeper", REDIS: "redis"}
    assert sorted(components[r.type] for r in result.deployment.resources if r.type in components) == kept
    assert len(result.deployment.of_type(NS)) == 1
    exported = {key.split("_")[0] for key in result.exports_raw if key not in ("namespace", "storage_class")}
    assert sorted(exported) == kept


@pytest.mark.parametrize(("stack", "retained"), [("dev", False), ("staging", True), ("prod", True)])
def test_destroy_leaves_the_namespace_and_its_claims_unless_dev(preview: bool, stack: str, retained: bool) -> None:
    """Deleting a namespace deletes its PVCs whatever their retention policy: keep it by default."""
    (namespace,) = deployed(preview, stack).deployment.of_type(NS)
    assert namespace.retain_on_delete is retained


def test_an_existing_namespace_is_used_when_asked(preview: bool) -> None:
    result = deployed(preview, "staging", set_value("statefulkit:create_namespace", False))
    assert result.deployment.of_type(NS) == []
    for r in result.deployment.resources:
        if r.type.startswith("kubernetes:") and r.type not in CLUSTER_SCOPED:
            assert r.inputs["metadata"]["namespace"] == "statefulkit-staging"


# --------------------------------------------------------------------------- Pulumi.yaml declarations


def test_pulumi_yaml_declares_every_key_the_program_and_the_stacks_use() -> None:
    project = project_settings(REPO)
    assert project["stackConfigDir"] == "stacks"
    declared: dict[str, dict[str, Any]] = project["config"]
    program = (REPO / "components/statefulkit/program_config.py").read_text()
    read = set(re.findall(r"config\.(?:get|require)\w*\(\s*\"(\w+)\"", program))
    # One block per registered ensemble, and the secret each takes from the stack.
    read |= set(ENSEMBLES) | {f"{k}_{e.secret_field}" for k, e in ENSEMBLES.items() if e.secret_field}
    read |= {f"backup_{field}" for field in REPOSITORY_SECRETS}  # the repositories' keys
    assert read == set(declared), "keys the program reads vs declared in Pulumi.yaml"
    for stack in STACKS:
        keys = {key.removeprefix("statefulkit:") for key in stack_values(REPO, stack)}
        assert keys <= set(declared), f"{stack}: undeclared {keys - set(declared)}"
        required = {k for k, d in declared.items() if "default" not in d and not d.get("secret")}
        assert required <= keys, f"{stack} misses required {required - keys}"
    for key, declaration in declared.items():
        assert set(declaration) <= {"type", "description", "default", "secret", "items"}, key
        assert declaration.get("description"), f"{key} has no description"
        # The schema allows only these types; maps (zookeeper, redis, create_storage_class) have none.
        assert declaration.get("type", "string") in SIMPLE_TYPES, key
        if declaration.get("type") == "array":
            assert "items" in declaration, key
    # Optional: a stack without a redis block needs no password; the program refuses one in plain text.
    assert declared["redis_password"] == declared["redis_password"] | {"type": "string", "default": ""}
    assert all("type" not in declared[k] for k in ("zookeeper", "redis", "create_storage_class", "storage_class"))
    assert all(declared[k]["default"] is False for k in ENSEMBLES), "an ensemble block is optional"
