"""Backups in a stack file: the repository's keys come from the stack's `backup_*` secrets, never
from the file; missing or plain ones are reported with the key, before anything registers."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc

from statefulkit.testing import SECRET_SIG
from tests.support.stack_runs import PASSWORD, both, deployed, run, set_value
from tests.support.tokens import SECRET

CRON_JOB = "kubernetes:batch/v1:CronJob"
KEYS = {"backup_password": "r3p0-St4ck", "backup_access_key_id": "AKIA-ST4CK", "backup_secret_access_key": "s3-St4ck"}
REPOSITORY = {"endpoint": "https://s3.example.net", "bucket": "backups", "path": "prod/redis"}


def backup(**settings: Any) -> Any:
    """An edit that adds a backup block (fresh dicts: a later edit may change them)."""
    return set_value("statefulkit:redis.backup", {"repository": dict(REPOSITORY), "schedule": "@daily", **settings})


BACKUP = backup()


def test_the_stack_secrets_fill_the_repository(preview: bool) -> None:
    result = run(preview, "prod", BACKUP, secrets={"redis_password": PASSWORD, **KEYS})
    assert result.error is None, result.error
    d = result.deployment
    assert d.one(CRON_JOB).inputs["spec"]["schedule"] == "@daily"
    secret = next(s for s in d.of_type(SECRET) if s.name.endswith("-backup-repository"))
    wrapped = secret.wire["stringData"]
    assert wrapped[rpc._special_sig_key] == SECRET_SIG
    assert wrapped["value"] == {
        "RESTIC_PASSWORD": KEYS["backup_password"],
        "AWS_ACCESS_KEY_ID": KEYS["backup_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": KEYS["backup_secret_access_key"],
    }
    for value in KEYS.values():
        assert all(value not in repr(r.wire) for r in d.resources if r is not secret), value


@pytest.mark.parametrize(
    ("edit", "secrets", "expected"),
    [
        (BACKUP, {"redis_password": PASSWORD}, "statefulkit:backup_password: required with statefulkit:redis.backup"),
        (
            both(backup(), set_value("statefulkit:redis.backup.repository.password", "plain-in-file")),
            {"redis_password": PASSWORD, **KEYS},
            "statefulkit:redis.backup.repository.password: not allowed in a stack file; it comes from the secret "
            "statefulkit:backup_password",
        ),
        (
            backup(schedule="every day"),
            {"redis_password": PASSWORD, **KEYS},
            "statefulkit:redis.backup.schedule: 'every day': schedule='every day' has 2 fields",
        ),
    ],
)
def test_stack_file_mistakes_are_reported_before_anything_registers(
    preview: bool, edit: Any, secrets: dict[str, str], expected: str
) -> None:
    result = run(preview, "prod", edit, secrets=secrets)
    assert result.error is not None
    assert expected in str(result.error), str(result.error)
    assert "plain-in-file" not in str(result.error)
    assert result.deployment.resources == []


def test_an_existing_secret_needs_no_stack_secrets(preview: bool) -> None:
    repository = {**REPOSITORY, "existing_secret": "s3-keys"}
    result = deployed(preview, "prod", set_value("statefulkit:redis.backup", {"repository": repository}))
    assert result.deployment.one(CRON_JOB)


def test_a_key_in_the_file_is_refused_unechoed_even_beside_an_existing_secret(preview: bool) -> None:
    repository = {**REPOSITORY, "existing_secret": "s3-keys", "secret_access_key": "plain-in-file"}
    result = run(preview, "prod", set_value("statefulkit:redis.backup", {"repository": repository}))
    assert "statefulkit:redis.backup.repository.secret_access_key: not allowed in a stack file" in str(result.error)
    assert "plain-in-file" not in str(result.error)
    assert result.deployment.resources == []


def test_a_restore_block_takes_the_same_stack_secrets(preview: bool) -> None:
    """A stack that clones from a backup: its restore repository's keys come from the same secrets."""
    restore = {"repository": dict(REPOSITORY), "snapshot": "0a1b2c3d"}
    result = run(
        preview, "prod", set_value("statefulkit:redis.restore", restore), secrets={"redis_password": PASSWORD, **KEYS}
    )
    assert result.error is None, result.error
    d = result.deployment
    assert d.one("kubernetes:batch/v1:Job").inputs["spec"]["template"]["spec"]["containers"][0]["env"][0] == {
        "name": "SNAPSHOT",
        "value": "0a1b2c3d",
    }
    secret = next(s for s in d.of_type(SECRET) if s.name.endswith("-restore-repository"))
    assert secret.wire["stringData"][rpc._special_sig_key] == SECRET_SIG
    assert secret.wire["stringData"]["value"]["RESTIC_PASSWORD"] == KEYS["backup_password"]
