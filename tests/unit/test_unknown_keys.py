"""An unknown key is refused, naming the field it most likely meant, at any depth; nothing else of
the error changes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from statefulkit import (
    RedisArgs,
    StatefulWorkloadArgs,
    ZooKeeperArgs,
)


@pytest.mark.parametrize(
    ("model", "key"),
    [(StatefulWorkloadArgs, "colour"), (ZooKeeperArgs, "flavour"), (RedisArgs, "zz"), (ZooKeeperArgs, "x" * 40)],
)
def test_an_unknown_key_like_no_field_gets_no_suggestion(model: type[BaseModel], key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"image": "app:1", "auth": False, key: 1} if model is not ZooKeeperArgs else {key: 1})
    (error,) = [e for e in caught.value.errors() if e["loc"] == (key,)]
    assert error["type"] == "extra_forbidden" and error["msg"] == "Extra inputs are not permitted"
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("replica", "replicas"),
        ("Replicas", "replicas"),
        ("storageSize", "storage_size"),
        ("heap_size", "heap"),
        ("tls_enabled", "tls"),
        ("sidecar", "sidecars"),
        ("extra_envs", "extra_env"),
        ("storage_clas", "create_storage_class"),  # close to the deprecated name: its new one
    ],
)
def test_an_unknown_key_suggests_the_field_it_most_likely_meant(key: str, meant: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ZooKeeperArgs.model_validate({key: 1})
    (error,) = [e for e in caught.value.errors() if e["loc"] == (key,)]
    assert error["type"] == "extra_forbidden"
    assert error["msg"] == f"unknown field; did you mean '{meant}'?"
    assert error["ctx"] == {"suggestion": meant}


def test_suggestions_keep_the_other_errors_as_they_were() -> None:
    """Rewriting the unknown key's error leaves every other error of the model, nested ones
    included, exactly as pydantic made it."""
    bad = {"replicas": "x", "heap": "1Gb", "tls": {}, "anti_affinity": {"mode": "x"}}
    with pytest.raises(ValidationError) as plain:
        ZooKeeperArgs.model_validate(bad)
    with pytest.raises(ValidationError) as suggested:
        ZooKeeperArgs.model_validate({**bad, "replica": 3, "sentinel": 1, "pvc_retention": {"when_delted": "Retain"}})
    added = {("replica",): "replicas", ("pvc_retention", "when_delted"): "when_deleted", ("sentinel",): None}
    for loc, meant in added.items():  # a nested suggestion survives the outer model's too
        (error,) = [e for e in suggested.value.errors() if e["loc"] == loc]
        assert error["msg"] == (
            f"unknown field; did you mean '{meant}'?" if meant else "Extra inputs are not permitted"
        )
    kept = [e for e in suggested.value.errors() if e["loc"] not in added]
    assert [(e["type"], e["loc"], e["msg"]) for e in kept] == [
        (e["type"], e["loc"], e["msg"]) for e in plain.value.errors()
    ]
