"""Bad backup and restore input is refused naming the field, the value and the rule, before
anything is registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from statefulkit import RedisEnsemble, ZooKeeperEnsemble
from statefulkit.args.schedule import check_schedule
from statefulkit.testing import run

SECRET = pulumi.Output.secret("x")


def repository(**overrides: Any) -> dict[str, Any]:
    keys = {"password": SECRET, "access_key_id": SECRET, "secret_access_key": SECRET}
    return {"endpoint": "http://10.1.0.1:7070", "bucket": "backups", "path": "prod/cache", **keys, **overrides}


@pytest.mark.parametrize(
    "schedule",
    ["17 3 * * *", "*/5 * * * *", "0 0-23/2 1,15 JAN-jun MON-FRI", "@daily", "@hourly", "0 3 ? * SUN", "5 4 * * 6"],
)
def test_schedules_kubernetes_accepts(schedule: str) -> None:
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("* * *", "has 3 fields; a cron schedule has five"),
        ("61 * * * *", "the minute field '61': '61' is not a number from 0 to 59"),
        ("0 24 * * *", "the hour field '24': '24' is not a number from 0 to 23"),
        ("0 0 0 * *", "the day of month field '0': '0' is not a number from 1 to 31"),
        ("0 0 * 13 *", "the month field '13'"),
        ("0 0 * * 8", "the day of week field '8'"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 5-2 * * *", "range '5-2' runs backwards"),
        ("@every 1h", "has 2 fields"),
        ("TZ=UTC 0 3 * * *", "has 6 fields"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(schedule: str, message: str) -> None:
    def program() -> None:
        RedisEnsemble("cache", {"password": SECRET, "backup": {"repository": repository(), "schedule": schedule}})

    with pytest.raises(ValidationError) as error:
        run(program, preview=False)
    text = str(error.value)
    assert "backup.schedule" in text and f"schedule={schedule!r}" in text and message in text, text


@pytest.mark.parametrize("field", ["password", "access_key_id", "secret_access_key"])
def test_a_plain_string_key_is_refused_redacted(field: str) -> None:
    leaked = "AKIA-PLAIN-DO-NOT-ECHO"
    with pytest.raises(ValidationError) as error:
        RedisEnsemble.args_type.model_validate(
            {"password": SECRET, "backup": {"repository": repository(**{field: leaked})}}
        )
    text = str(error.value)
    assert f"backup.repository.{field}" in text
    assert f"{field}=<plain str of {len(leaked)} characters, redacted>" in text
    assert leaked not in text


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        ({"bucket": "Bad_Bucket"}, "backup.repository.bucket", "must be an S3 bucket name"),
        ({"endpoint": "s3.example.net"}, "backup.repository.endpoint", "must be http(s)://host[:port]"),
        ({"endpoint": "https://s3.example.net/b"}, "backup.repository.endpoint", "with no path"),
        ({"path": "/lead"}, "backup.repository.path", "no leading or trailing '/'"),
        ({"password": None}, "backup.repository", "password not set"),
        ({"existing_secret": "s3"}, "backup.repository", "come from one place"),
    ],
)
def test_bad_repositories_are_refused(overrides: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        RedisEnsemble.args_type.model_validate({"password": SECRET, "backup": {"repository": repository(**overrides)}})
    assert where in str(error.value) and message in str(error.value), str(error.value)


def test_retention_keeps_the_newest() -> None:
    with pytest.raises(ValidationError, match=r"retention.keep_last=0 is below the minimum of 1"):
        RedisEnsemble.args_type.model_validate(
            {"password": SECRET, "backup": {"repository": repository(), "retention": {"keep_last": 0}}}
        )


def test_a_bad_snapshot_id_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"snapshot='HEAD~1' must be 'latest' or a restic snapshot id"):
        RedisEnsemble.args_type.model_validate(
            {"password": SECRET, "restore": {"repository": repository(), "snapshot": "HEAD~1"}}
        )


def test_a_single_redis_has_no_replica_to_back_up_from() -> None:
    args = {"password": SECRET, "replicas": 1, "allow_small_sentinel_quorum": True}
    with pytest.raises(ValidationError, match=r"backup with replicas=1: a backup is copied from a replica"):
        RedisEnsemble.args_type.model_validate({**args, "backup": {"repository": repository()}})


@pytest.mark.parametrize("field", ["backup", "restore"])
def test_zookeeper_refuses_what_it_cannot_do_yet(field: str) -> None:
    with pytest.raises(ValidationError, match=rf"{field} is set, but ZooKeeperArgs cannot back up or restore yet"):
        ZooKeeperEnsemble.args_type.model_validate({field: {"repository": repository()}})


def test_refused_input_registers_nothing() -> None:
    refused: list[ValidationError] = []

    def program() -> None:
        try:
            RedisEnsemble("cache", {"password": SECRET, "backup": {"repository": repository(), "schedule": "bad"}})
        except ValidationError as error:
            refused.append(error)

    d = run(program, preview=False)
    assert len(refused) == 1
    assert d.resources == [], [r.name for r in d.resources]
