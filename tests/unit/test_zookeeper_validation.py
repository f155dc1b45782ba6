"""ZooKeeperArgs' rules: every bad input fails naming its field, value and rule, and registers nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.testing import run_failing
from statefulkit.zookeeper import ZooKeeperEnsemble

BAD_ARGS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "even replicas",
        {"replicas": 4},
        ["replicas=4", "even", "need 3 for quorum", "adds no fault tolerance", "allow_even_replicas=True"],
    ),
    ("two replicas", {"replicas": 2}, ["replicas=2", "even", "adds no fault tolerance"]),
    ("zero replicas", {"replicas": 0}, ["replicas=0", "at least 1 member"]),
    ("negative replicas", {"replicas": -3}, ["replicas=-3", "at least 1 member"]),
    ("sync limit 0", {"sync_limit": 0}, ["sync_limit=0", "at least 1 tick"]),
    ("init limit 0", {"init_limit": 0}, ["init_limit=0", "at least 1 tick"]),
    ("tick time 0", {"tick_time_ms": 0}, ["tick_time_ms=0", "at least 1 millisecond"]),
    ("tick time negative", {"tick_time_ms": -5}, ["tick_time_ms=-5", "at least 1 millisecond"]),
    (
        "heap above limit",
        {"heap": "2Gi"},
        ["heap='2Gi'", "resources.limits.memory='1Gi'", "not below", "OOM-killed"],
    ),
    (
        "heap equal to limit",
        {"heap": "1Gi", "resources": {"limits": {"memory": "1024Mi"}}},
        ["heap='1Gi'", "resources.limits.memory='1024Mi'", "not below"],
    ),
    ("heap not a quantity", {"heap": "lots"}, ["heap", "'lots'", "not a Kubernetes quantity"]),
    ("heap tiny", {"heap": "16Mi"}, ["heap='16Mi'", "below 32Mi"]),
    ("heap fractional MiB", {"heap": "100.5Mi"}, ["heap='100.5Mi'", "whole number of MiB"]),
    ("jvm heap flag", {"jvm_flags": ["-Xmx2g"]}, ["jvm_flags", "'-Xmx2g'", "use the heap field"]),
    ("jvm flag with space", {"jvm_flags": ["-Da=b c"]}, ["jvm_flags", "'-Da=b c'", "without whitespace"]),
    ("retain 2 snapshots", {"autopurge_snap_retain_count": 2}, ["autopurge_snap_retain_count=2", "at least 3"]),
    (
        "negative purge interval",
        {"autopurge_purge_interval_hours": -1},
        ["autopurge_purge_interval_hours", "-1", "greater than or equal to 0"],
    ),
    (
        "whitelist without srvr",
        {"four_letter_words": ["ruok", "mntr", "conf"]},
        ["four_letter_words=['ruok', 'mntr', 'conf']", "['srvr']", "readiness probe sends srvr"],
    ),
    (
        "whitelist without conf",
        {"four_letter_words": ["srvr", "ruok"]},
        ["four_letter_words=['srvr', 'ruok']", "must contain ['conf']", "reads the membership from its peers"],
    ),
    (
        "removal outlasts the grace period",
        {"member_removal_seconds": 28},
        [
            "member_removal_seconds=28 with termination_grace_period_seconds=30",
            "at least 5 s before the grace period",
            "killed mid-reconfiguration",
        ],
    ),
    (
        "grace period too short for the removal",
        {"termination_grace_period_seconds": 10},
        ["member_removal_seconds=20 with termination_grace_period_seconds=10", "raise the grace period"],
    ),
    (
        "removal too short",
        {"member_removal_seconds": 2},
        ["member_removal_seconds=2 is below the minimum of 5", "each try runs zkCli.sh"],
    ),
    (
        "skipACL in extra config",
        {"extra_config": {"skipACL": "yes"}},
        ["extra_config", "'skipACL'", "without the super user's password"],
    ),
    (
        "super digest in jvm flags",
        {"jvm_flags": ["-Dzookeeper.DigestAuthenticationProvider.superDigest=super:x"]},
        ["jvm_flags", "superDigest=super:x'", "without the super user's password"],
    ),
    (
        "skipACL in jvm flags",
        {"jvm_flags": ["-Dzookeeper.skipACL=yes"]},
        ["jvm_flags", "'-Dzookeeper.skipACL=yes'", "reconfigure the ensemble"],
    ),
    (
        "existing secret without a key",
        {"existing_secret": {"name": "zk-super", "key": ""}},
        ["existing_secret.key", "at least 1 character"],
    ),
    (
        "existing secret with a bad name",
        {"existing_secret": {"name": "Super_PW", "key": "pw"}},
        ["existing_secret.name", "'Super_PW'", "DNS-1123"],
    ),
    ("unknown four letter word", {"four_letter_words": ["srvr", "ruok", "kill"]}, ["four_letter_words", "'kill'"]),
    (
        "plaintext client port without tls",
        {"plaintext_client_port": True},
        ["plaintext_client_port=True without tls", "set tls or drop plaintext_client_port"],
    ),
    (
        "secure client port in extra config",
        {"extra_config": {"secureClientPort": "3000"}},
        ["extra_config", "'secureClientPort'", "rendered by the ensemble itself"],
    ),
    (
        "extra config overrides server list",
        {"extra_config": {"server.9": "evil:2888:3888"}},
        ["extra_config", "'server.9'", "rendered by the ensemble"],
    ),
    (
        "extra config overrides dataDir",
        {"extra_config": {"dataDir": "/tmp"}},
        ["extra_config", "'dataDir'", "rendered by the ensemble"],
    ),
    (
        "extra config newline",
        {"extra_config": {"snapCount": "1\nserver.9=x"}},
        ["extra_config['snapCount']", "single line"],
    ),
    ("extra config bad key", {"extra_config": {"a b": "1"}}, ["extra_config", "'a b'", "not a zoo.cfg property name"]),
    (
        "server ids beyond 255",
        {"server_id_offset": 253},
        ["server_id_offset=253", "replicas=3", "ids up to 256", "between 1 and 255"],
    ),
    ("negative id offset", {"server_id_offset": -1}, ["server_id_offset", "-1", "greater than or equal to 0"]),
    (
        "pdb breaks quorum",
        {"disruption_budget": {"max_unavailable": 2}},
        ["disruption_budget.max_unavailable=2", "replicas=3", "take down 2", "quorum needs 2 of 3"],
    ),
    (
        "pdb percentage breaks quorum",
        {"replicas": 5, "disruption_budget": {"max_unavailable": "50%"}},
        ["disruption_budget.max_unavailable='50%'", "replicas=5", "take down 3", "at most 2"],
    ),
    (
        "pdb min_available below quorum",
        {"disruption_budget": {"min_available": 1}},
        ["disruption_budget.min_available=1", "take down 2", "quorum needs 2 of 3"],
    ),
    (
        "pdb blocks drains",
        {"disruption_budget": {"min_available": 3}},
        ["disruption_budget.min_available=3", "never allows an eviction", "allow_blocking"],
    ),
    (
        "rolling update breaks quorum",
        {"update_strategy": {"type": "RollingUpdate", "max_unavailable": 2}},
        ["update_strategy.max_unavailable=2", "replicas=3", "breaks quorum"],
    ),
    (
        "partition above replicas",
        {"update_strategy": {"type": "RollingUpdate", "partition": 4}},
        ["update_strategy.partition=4", "replicas=3"],
    ),
    (
        "two storage classes",
        {"storage_class_name": "other", "create_storage_class": {"name": "zk-ssd", "provisioner": "p"}},
        ["storage_class_name='other'", "create_storage_class.name='zk-ssd'", "unused"],
    ),
    ("zero storage", {"storage_size": "0Gi"}, ["storage_size", "'0Gi'", "not a positive size"]),
    ("bad data log size", {"data_log_storage_size": "ten"}, ["data_log_storage_size", "'ten'", "Kubernetes quantity"]),
    ("selector label", {"labels": {"app.kubernetes.io/name": "x"}}, ["labels", "app.kubernetes.io/name", "selector"]),
    ("bad namespace", {"namespace": "Team_A"}, ["namespace", "'Team_A'", "DNS-1123"]),
    ("bad pod management", {"pod_management_policy": "Random"}, ["pod_management_policy", "'Random'"]),
    ("unknown field", {"replica": 3}, ["replica", "unknown field; did you mean 'replicas'?"]),
    ("root user", {"run_as_user": 0}, ["run_as_user", "0", "greater than or equal to 1"]),
    ("image with space", {"image": "zookeeper 3.9"}, ["image", "'zookeeper 3.9'", "pattern"]),
]


@pytest.mark.parametrize(("overrides", "fragments"), [c[1:] for c in BAD_ARGS], ids=[c[0] for c in BAD_ARGS])
def test_bad_args_raise_a_validation_error_naming_field_value_and_rule(
    overrides: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        ZooKeeperArgs.model_validate(overrides)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message}"


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [c[1:] for c in BAD_ARGS[::3]],
    ids=[c[0] for c in BAD_ARGS[::3]],
)
def test_nothing_is_registered_on_bad_args(preview: bool, overrides: dict[str, Any], fragments: list[str]) -> None:
    failed = run_failing(lambda: ZooKeeperEnsemble("zk", overrides), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError)
    assert fragments[0] in str(error)
    assert registered == []


@pytest.mark.parametrize(("name", "fragment"), [("Zk", "DNS-1035"), ("z" * 53, "at most 52"), ("9zk", "DNS-1035")])
def test_bad_names_register_nothing(preview: bool, name: str, fragment: str) -> None:
    failed = run_failing(lambda: ZooKeeperEnsemble(name, {}), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError)
    assert repr(name) in str(error) and fragment in str(error)
    assert registered == []


def test_heap_without_memory_limit_is_accepted() -> None:
    spec = ZooKeeperArgs(heap="8Gi", resources={"requests": {"cpu": "1"}})
    assert spec.heap_mib == 8192


def test_args_are_frozen() -> None:
    spec = ZooKeeperArgs()
    with pytest.raises(ValidationError, match="frozen"):
        spec.replicas = 5  # type: ignore[misc]
