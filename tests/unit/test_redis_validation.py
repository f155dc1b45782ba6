"""RedisArgs' rules: every bad input is refused before anything is registered, naming its field,
value and rule, and never echoing a password; the documented defaults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from statefulkit.args.redis import REDIS_IMAGE, RedisArgs
from statefulkit.args.redis_commands import DEFAULT_RENAMED_COMMANDS
from statefulkit.args.sentinel import SentinelSettings
from statefulkit.redis import RedisEnsemble
from statefulkit.testing import run
from tests.support.redis_mocks import args


def rejected(overrides: dict[str, Any], name: str = "cache") -> str:
    """Build the component with bad args; assert it raises before registering anything."""
    errors: list[Exception] = []

    def program() -> None:
        with pytest.raises(ValidationError) as info:
            RedisEnsemble(name, overrides)
        errors.append(info.value)

    d = run(program, preview=True)
    assert d.resources == [], [r.name for r in d.resources]
    assert len(errors) == 1
    return str(errors[0])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"replicas": 2}, ["replicas=2", "at least 3 pods", "allow_small_sentinel_quorum=True"]),
        ({"replicas": 1}, ["replicas=1", "majority"]),
        ({"replicas": 0, "allow_small_sentinel_quorum": True}, ["replicas=0", "minimum of 1"]),
        ({"sentinel": {"quorum": 4}}, ["sentinel.quorum=4", "larger than the 3 Sentinels"]),
        ({"replicas": 5, "sentinel": {"quorum": 6}}, ["sentinel.quorum=6", "5 Sentinels"]),
        ({"sentinel": {"quorum": 0}}, ["sentinel.quorum=0", "at least 1"]),
        ({"sentinel": {"down_after_milliseconds": 50}}, ["sentinel.down_after_milliseconds=50", "minimum of 100"]),
        ({"sentinel": {"failover_timeout_milliseconds": 10}}, ["failover_timeout_milliseconds=10", "minimum"]),
        ({"sentinel": {"parallel_syncs": 0}}, ["sentinel.parallel_syncs=0", "minimum of 1"]),
        ({"maxmemory": "lots"}, ["maxmemory='lots'", "not a size", "256mb"]),
        ({"maxmemory": "1.5gb"}, ["maxmemory='1.5gb'", "not a size"]),
        ({"maxmemory": "100kb"}, ["maxmemory='100kb'", "102400 bytes", "at least 1mb"]),
        ({"maxmemory": 0}, ["maxmemory=0", "at least 1mb"]),
        (
            {"maxmemory": "2gb", "resources": {"limits": {"memory": "2Gi"}}},
            ["maxmemory='2gb'", "resources.limits.memory='2Gi'", "headroom"],
        ),
        ({"maxmemory_policy": "lru"}, ["maxmemory_policy='lru'", "allkeys-lru"]),
        ({"renamed_commands": {"CONFIG": ""}}, ["renamed_commands['CONFIG']=''", "Sentinel sends CONFIG", "rename"]),
        ({"renamed_commands": {"slaveof": ""}}, ["renamed_commands['slaveof']=''", "SLAVEOF"]),
        ({"renamed_commands": {"PING": "P"}}, ["renamed_commands['PING']='P'", "cannot be renamed"]),
        ({"renamed_commands": {"FLUSHALL": "two words"}}, ["renamed_commands['FLUSHALL']='two words'", "letters"]),
        ({"renamed_commands": {"FLUSHALL": "X", "FLUSHDB": "X"}}, ["'FLUSHALL' and 'FLUSHDB'", "'X'"]),
        ({"renamed_commands": {"keys": "", "KEYS": ""}}, ["['KEYS']", "more than once"]),
        ({"renamed_commands": {"no such!": ""}}, ["'no such!'", "not a Redis command name"]),
        ({"extra_config": {"requirepass": "x"}}, ["extra_config['requirepass']", "managed"]),
        ({"extra_config": {"Bad Key": "x"}}, ["'Bad Key'", "directive name"]),
        ({"extra_config": {"hz": "1\nrequirepass x"}}, ["extra_config['hz']", "single line"]),
        ({"min_replicas_to_write": 3}, ["min_replicas_to_write=3", "replicas=3", "refuse every write"]),
        ({"master_name": "my master"}, ["master_name='my master'", "letters, digits"]),
        ({"storage_size": "0"}, ["'0'", "positive size"]),
        ({"discovery_timeout_seconds": -1}, ["discovery_timeout_seconds=-1", "minimum of 0"]),
        ({"master_handoff_seconds": -1}, ["master_handoff_seconds=-1", "minimum of 0"]),
        (
            {"master_handoff_seconds": 26},
            ["master_handoff_seconds=26", "termination_grace_period_seconds=30", "5 s before", "killed mid-handoff"],
        ),
    ],
)
def test_bad_input_is_rejected_before_anything_is_registered(overrides: dict[str, Any], expected: list[str]) -> None:
    message = rejected(args(**overrides))
    for part in expected:
        assert part in message, f"{part!r} not in {message}"


def test_plain_str_password_is_refused_with_instructions_and_never_echoed() -> None:
    message = rejected({"password": "hunter2-plain"})
    assert "password=<plain str of 13 characters, redacted>" in message
    assert "pulumi.Output.secret(" in message
    assert 'require_secret("redisPassword")' in message
    assert "existing_secret" in message
    assert "hunter2-plain" not in message


def test_password_of_another_type_is_refused() -> None:
    assert "password of type int is not a Pulumi Output[str]" in rejected({"password": 1234})


def test_auth_needs_a_password_source() -> None:
    message = rejected({})
    assert "auth=True (the default) needs a password source" in message
    assert "auth=False" in message


def test_auth_off_with_a_password_is_contradictory() -> None:
    assert "auth=False but password is set" in rejected(args(auth=False))
    assert "auth=False but existing_secret is set" in rejected(
        {"auth": False, "existing_secret": {"name": "s", "key": "k"}}
    )


def test_two_password_sources_are_refused() -> None:
    assert "password and existing_secret are both set" in rejected(args(existing_secret={"name": "s", "key": "k"}))


def test_bad_component_name_is_refused_before_registration() -> None:
    assert "DNS-1035" in rejected(args(), name="Redis_1")


def test_unknown_field_is_refused() -> None:
    message = rejected(args(sentinels=3))
    assert "sentinels" in message and "unknown field; did you mean 'sentinel'?" in message
    assert "sentinel.quorom" in rejected(args(sentinel={"quorom": 2}))
    assert "did you mean 'quorum'?" in rejected(args(sentinel={"quorom": 2}))


@pytest.mark.parametrize(
    ("tls", "fragments"),
    [
        ({}, ["tls", "neither of secret_name and issuer_ref set"]),
        ({"secret_name": "s", "issuer_ref": {"name": "i"}}, ["tls", "both of secret_name and issuer_ref"]),
        ({"issuer_ref": {"name": "i", "kind": "Vault"}}, ["tls.issuer_ref.kind", "Issuer", "ClusterIssuer"]),
        ({"secret_name": "Bad_Name"}, ["tls.secret_name", "Bad_Name"]),
    ],
)
def test_bad_tls_settings_are_refused(tls: dict[str, Any], fragments: list[str]) -> None:
    message = rejected(args(tls=tls))
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ("exporter", "fragments"),
    [
        ({"port": 26379}, ["exporter.port", "26379", "taken by Redis or Sentinel"]),
        ({"check_keys": ["a,b"]}, ["exporter.check_keys", "a,b", "no ','"]),
        ({"image": "bad image"}, ["exporter.image", "pattern"]),
    ],
)
def test_bad_exporter_settings_are_refused(exporter: dict[str, Any], fragments: list[str]) -> None:
    message = rejected(args(exporter=exporter))
    for fragment in fragments:
        assert fragment in message, message


def test_errors_never_show_the_raw_input() -> None:
    with pytest.raises(ValidationError) as info:
        RedisArgs.model_validate({"password": "hunter2-plain", "replicas": 2})
    assert "hunter2-plain" not in str(info.value)
    assert "input_value" not in str(info.value)


def test_defaults_documented() -> None:
    spec = RedisArgs(**args())
    assert spec.renamed_commands == DEFAULT_RENAMED_COMMANDS
    assert spec.sentinel == SentinelSettings()
    assert spec.effective_quorum() == 2
    assert (spec.replicas, spec.image, spec.master_name, spec.auth) == (3, REDIS_IMAGE, "mymaster", True)
    for name, field in RedisArgs.model_fields.items():
        assert field.description, f"{name} lacks a description with its default"
