"""A stack file with a mistake: every problem is reported at once, with its config key path, the value
and the rule, before anything registers; a password is never echoed. (The stacks as they are:
test_stacks.py.)"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.support.stack_config import (
    REPO,
    EngineConfigError,
    engine_config,
    run_stack,
    stack_values,
)
from tests.support.stack_runs import PASSWORD, both, drop, run, set_value

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


BROKEN = {
    "even ZooKeeper in prod": (
        "prod",
        set_value("statefulkit:zookeeper.replicas", 4),
        ["statefulkit:zookeeper.replicas: replicas=4 is even", "use 3 or 5, or set allow_even_replicas=True"],
    ),
    "wrong type": (
        "staging",
        set_value("statefulkit:zookeeper.replicas", "three"),
        ["statefulkit:zookeeper.replicas: 'three': Input should be a valid integer"],
    ),
    "unknown key": (
        "dev",
        set_value("statefulkit:redis.storage_sise", "1Gi"),
        ["statefulkit:redis.storage_sise: '1Gi': unknown key (not a field of this block)"],
    ),
    "nested value": (
        "prod",
        set_value("statefulkit:zookeeper.anti_affinity.mode", "always"),
        ["statefulkit:zookeeper.anti_affinity.mode: 'always': Input should be 'preferred', 'required' or 'none'"],
    ),
    "union member field": (
        "prod",
        set_value("statefulkit:zookeeper.update_strategy.partition", -1),
        ["statefulkit:zookeeper.update_strategy.partition: -1: Input should be greater than or equal to 0"],
    ),
    "cross-field Redis rule": (
        "prod",
        set_value("statefulkit:redis.min_replicas_to_write", 3),
        ["statefulkit:redis.min_replicas_to_write: min_replicas_to_write=3 with replicas=3", "refuse every write"],
    ),
    "storage class value": (
        "prod",
        set_value("statefulkit:create_storage_class.reclaim_policy", "Keep"),
        ["statefulkit:create_storage_class.reclaim_policy: 'Keep': Input should be 'Retain' or 'Delete'"],
    ),
    "storage class missing key": (
        "staging",
        drop("statefulkit:create_storage_class.provisioner"),
        ["statefulkit:create_storage_class.provisioner: Field required"],
    ),
    "namespace": (
        "dev",
        set_value("statefulkit:namespace", "Bad_Namespace"),
        ["statefulkit:namespace: 'Bad_Namespace' is not a DNS-1123 label"],
    ),
    "namespace inside a block": (
        "dev",
        set_value("statefulkit:zookeeper.namespace", "elsewhere"),
        ["statefulkit:zookeeper.namespace: not allowed in this block; it comes from statefulkit:namespace"],
    ),
    "block that is not a map": (
        "dev",
        set_value("statefulkit:zookeeper", [3]),
        ["statefulkit:zookeeper: [3]: must be a map of ZooKeeperArgs keys"],
    ),
    "unknown key like a field": (
        "prod",
        set_value("statefulkit:zookeeper.replica", 3),
        ["statefulkit:zookeeper.replica: 3: unknown key (not a field of this block); did you mean 'replicas'?"],
    ),
    "unknown nested key like a field": (
        "staging",
        set_value("statefulkit:redis.sentinel", {"quorom": 2}),
        ["statefulkit:redis.sentinel.quorom: 2: unknown key (not a field of this block); did you mean 'quorum'?"],
    ),
    "variable the ensemble sets itself": (
        "dev",
        set_value("statefulkit:zookeeper.extra_env", {"POD_NAMESPACE": "x"}),
        [
            "statefulkit:zookeeper.extra_env.POD_NAMESPACE: 'POD_NAMESPACE' is set by the ensemble itself (the pod's "
            "namespace, from the downward API); a variable is set once per container"
        ],
    ),
    "variable the ensemble sets itself, as a list": (
        "staging",
        set_value("statefulkit:redis.extra_env", [{"name": "TZ", "value": "UTC"}, {"name": "POD_NAME", "value": "x"}]),
        ["statefulkit:redis.extra_env[1]: 'POD_NAME' is set by the ensemble itself"],
    ),
    "sidecar named like the ensemble's container": (
        "prod",
        set_value("statefulkit:redis.sidecars", [{"name": "sentinel"}]),
        ["statefulkit:redis.sidecars[0].name: 'sentinel' is set by the ensemble itself (the Sentinel container)"],
    ),
    "volume mounted over the ensemble's data": (
        "prod",
        both(
            set_value("statefulkit:zookeeper.extra_volumes", [{"name": "scratch", "empty_dir": True}]),
            set_value("statefulkit:zookeeper.extra_volume_mounts", [{"name": "scratch", "mount_path": "/datalog"}]),
        ),
        [
            "statefulkit:zookeeper.extra_volume_mounts[0].mount_path: '/datalog' is set by the ensemble itself "
            "(where claim 'datalog' is mounted, with data_log_storage_size)"
        ],
    ),
    "pod monitor the network policy would block": (
        "staging",
        set_value("statefulkit:zookeeper.pod_monitor", {"interval_seconds": 15}),
        [
            "statefulkit:zookeeper.pod_monitor: {'interval_seconds': 15, 'labels': {}}: pod_monitor is set but "
            "network_policy.metrics=[] admits no metrics source",
            "or set network_policy=None",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_bad_config_names_the_key_and_registers_nothing(preview: bool, case: str) -> None:
    stack, edit, expected = BROKEN[case]
    result = run(preview, stack, edit)
    assert isinstance(result.error, pulumi.RunError), repr(result.error)
    message = str(result.error)
    for fragment in expected:
        assert fragment in message, message
    assert result.deployment.resources == [], [r.name for r in result.deployment.resources]
    assert result.exports_raw == {}


def test_several_problems_are_reported_together(preview: bool) -> None:
    def edit(values: dict[str, Any]) -> None:
        values["statefulkit:redis"]["replicas"] = "many"
        values["statefulkit:redis"]["appendfsync"] = "sometimes"

    message = str(run(preview, "staging", edit).error)
    assert "statefulkit:redis.replicas: 'many':" in message
    assert "statefulkit:redis.appendfsync: 'sometimes':" in message


def test_every_problem_of_the_stack_file_is_reported_in_one_run(preview: bool) -> None:
    """A field error must not hide a rule between fields (pydantic skips those when a field fails),
    nor one block's errors another's."""

    def edit(values: dict[str, Any]) -> None:
        values["statefulkit:namespace"] = "Bad_Namespace"
        values["statefulkit:zookeeper"] |= {"replicas": 4, "storage_size": "1Gb"}
        values["statefulkit:redis"] |= {"storage_size": "1Gb"}

    result = run(preview, "staging", edit)
    assert isinstance(result.error, pulumi.RunError)
    lines = str(result.error).splitlines()[1:]
    assert [line.split(":")[1] for line in lines] == [
        "namespace",
        "zookeeper.storage_size",
        "zookeeper.replicas",
        "redis.storage_size",
    ], lines
    assert "replicas=4 is even" in lines[2]
    assert result.deployment.resources == []


def test_a_clash_with_the_ensembles_pod_is_reported_beside_a_field_error(preview: bool) -> None:
    """The pod's rules run once the fields are valid; they still speak when another key fails."""

    def edit(values: dict[str, Any]) -> None:
        values["statefulkit:zookeeper"] |= {"replicas": "many", "extra_env": {"POD_NAMESPACE": "x"}}

    result = run(preview, "staging", edit)
    lines = [line.strip() for line in str(result.error).splitlines()[1:]]
    assert [line.split(":")[1] for line in lines] == ["zookeeper.replicas", "zookeeper.extra_env.POD_NAMESPACE"], lines
    assert result.deployment.resources == []


def test_an_unknown_key_gets_no_suggestion_when_nothing_is_close_or_the_program_sets_it(preview: bool) -> None:
    def edit(values: dict[str, Any]) -> None:
        values["statefulkit:zookeeper"] |= {"colour": "blue", "namespce": "elsewhere"}

    lines = [line.strip() for line in str(run(preview, "dev", edit).error).splitlines()[1:]]
    assert lines == [
        "statefulkit:zookeeper.colour: 'blue': unknown key (not a field of this block)",
        # `namespace` is close, but it comes from statefulkit:namespace, not from this block.
        "statefulkit:zookeeper.namespce: 'elsewhere': unknown key (not a field of this block)",
    ]


def test_a_rule_about_a_field_that_failed_is_not_judged_on_its_default(preview: bool) -> None:
    def edit(values: dict[str, Any]) -> None:
        strategy = {"type": "RollingUpdate", "partition": 5}
        values["statefulkit:zookeeper"] |= {"replicas": "many", "update_strategy": strategy}

    # partition=5 > replicas would be true of the default (3), not of what the user wrote.
    lines = [line.strip() for line in str(run(preview, "staging", edit).error).splitlines()[1:]]
    assert len(lines) == 1 and lines[0].startswith("statefulkit:zookeeper.replicas: 'many'"), lines


def test_a_password_in_the_redis_block_is_refused_and_never_echoed(preview: bool) -> None:
    result = run(preview, "dev", set_value("statefulkit:redis.password", "hunter2-in-plain-yaml"))
    message = str(result.error)
    assert "statefulkit:redis.password: not allowed in this block" in message
    assert "pulumi config set --secret" in message
    assert "hunter2" not in message
    assert result.deployment.resources == []


def test_a_redis_block_without_its_password_is_refused_before_anything_registers(preview: bool) -> None:
    # The engine cannot require it (a stack without Redis needs none): the program does.
    config = engine_config(REPO, stack_values(REPO, "dev"), secrets={})
    result = run_stack(REPO, config, project="statefulkit", preview=preview)
    assert isinstance(result.error, pulumi.RunError)
    assert (
        "statefulkit:redis_password: required with a statefulkit:redis block; set it with "
        "`pulumi config set --secret statefulkit:redis_password ...`"
    ) in str(result.error)
    assert result.deployment.resources == []


def test_a_password_in_plain_text_is_refused_without_being_echoed(preview: bool) -> None:
    plain = stack_values(REPO, "dev") | {"statefulkit:redis_password": PASSWORD}
    result = run_stack(REPO, engine_config(REPO, plain, secrets={}), project="statefulkit", preview=preview)
    assert isinstance(result.error, pulumi.RunError)
    assert "statefulkit:redis_password: stored in plain text, but it is a password" in str(result.error)
    assert PASSWORD not in str(result.error)
    assert result.deployment.resources == []


def test_the_engine_checks_typed_keys() -> None:
    values = stack_values(REPO, "dev") | {"statefulkit:create_namespace": "maybe"}
    with pytest.raises(EngineConfigError, match="'create_namespace' must be of type 'boolean'"):
        engine_config(REPO, values, secrets={"redis_password": PASSWORD})
