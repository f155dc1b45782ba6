"""Renamed public names keep working for one more release, each with a DeprecationWarning that
names its replacement; using both the old and the new name is refused."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

import statefulkit
from statefulkit import RedisArgs, StatefulWorkloadArgs, StorageClassArgs, VolumeClaim, ZooKeeperArgs
from tests.support.stack_config import REPO, engine_config, run_stack, stack_values
from tests.support.tokens import SC

CLASS = {"name": "fast", "provisioner": "ebs.csi.aws.com"}
CLAIM = {"name": "data", "size": "1Gi", "mount_path": "/data"}


def test_the_old_class_name_is_the_new_class() -> None:
    with pytest.warns(DeprecationWarning, match="statefulkit.StorageClassSpec is deprecated: use StorageClassArgs"):
        from statefulkit import StorageClassSpec  # noqa: PLC0415 - the import is what is tested
    assert StorageClassSpec is StorageClassArgs
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = statefulkit.NoSuchName  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("model", "base", "old", "value", "new"),
    [
        (StatefulWorkloadArgs, {"image": "app:1"}, "storage_class", CLASS, "create_storage_class"),
        (ZooKeeperArgs, {}, "storage_class", CLASS, "create_storage_class"),
        (RedisArgs, {"auth": False}, "storage_class", "fast", "storage_class_name"),
        # `metrics` was a bool in ZooKeeperArgs and the exporter sidecar in RedisArgs.
        (RedisArgs, {"auth": False}, "metrics", {"port": 9500}, "exporter"),
        (
            VolumeClaim,
            {"name": "data", "size": "1Gi", "mount_path": "/data"},
            "storage_class",
            "fast",
            "storage_class_name",
        ),
    ],
)
def test_a_renamed_field_still_works_and_warns(
    model: Any, base: dict[str, Any], old: str, value: Any, new: str
) -> None:
    with pytest.warns(DeprecationWarning, match=f"{model.__name__}.{old} is deprecated: use {new}"):
        args = model.model_validate({**base, old: value})
    assert args == model.model_validate({**base, new: value})
    with pytest.raises(ValidationError, match=f"{old} and {new} are both set"):
        model.model_validate({**base, old: value, new: value})


def test_the_programs_old_storage_class_key_still_creates_the_class(monkeypatch: pytest.MonkeyPatch) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    values = stack_values(REPO, "staging")
    values["statefulkit:storage_class"] = values.pop("statefulkit:create_storage_class")
    config = engine_config(REPO, values, secrets={"redis_password": "pa55-word-for-tests"})
    result = run_stack(REPO, config, project="statefulkit", preview=False)
    assert result.error is None, result.error
    (created,) = result.deployment.of_type(SC)
    assert created.inputs["metadata"]["name"] == "statefulkit-staging"
    assert warned == ["statefulkit:storage_class is deprecated: rename it to statefulkit:create_storage_class"]
