"""The Redis password under Pulumi mocks: a secret everywhere it is registered, never plain; or no
password when auth is off, or one from an existing Secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi.runtime import rpc

from statefulkit.redis import RedisEnsemble
from statefulkit.testing import SECRET_SIG, run
from tests.support.mocks import env_of
from tests.support.redis_mocks import PASSWORD, containers, deploy, files
from tests.support.tokens import SECRET

SIG_KEY = rpc._special_sig_key


def test_auth_disabled_explicitly(preview: bool) -> None:
    d = deploy(preview, password=None, auth=False)
    assert d.of_type(SECRET) == []
    for c in containers(d).values():
        assert "REDIS_PASSWORD" not in env_of(c)
    assert "AUTH=0" in files(d)["common.sh"].splitlines()
    assert "password_secret_name" not in d.outputs


def test_existing_secret(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = pulumi.Output.from_input("apps")
        secret_name = pulumi.Output.from_input("shared-redis")
        redis = RedisEnsemble(
            "cache", {"namespace": ns, "existing_secret": {"name": secret_name, "key": "redis-password"}}
        )
        assert redis.password_secret_name is not None
        return {"secret": redis.password_secret_name}

    d = run(program, preview=preview)
    assert d.of_type(SECRET) == []
    assert d.outputs == {"secret": "shared-redis"}
    for c in containers(d).values():
        assert env_of(c)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "shared-redis", "key": "redis-password"}}


def _plain_occurrences(value: Any, needle: str, path: str = "") -> Iterator[str]:
    """Paths where `needle` appears outside a secret-wrapped value."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return  # a secret: encrypted in the state
        for key, item in value.items():
            if needle in str(key):
                yield f"{path}.{key} (key)"
            yield from _plain_occurrences(item, needle, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _plain_occurrences(item, needle, f"{path}[{i}]")
    elif needle in str(value):
        yield path


def test_password_is_never_plain_in_any_registered_input(preview: bool) -> None:
    d = deploy(preview)
    for r in d.resources:
        assert list(_plain_occurrences(r.wire, PASSWORD)) == [], f"{r.type} {r.name} (raw)"
        assert list(_plain_occurrences(r.inputs, PASSWORD)) == [], f"{r.type} {r.name} (inputs)"
    # It is there, once, as a secret on the Secret only.
    secret = d.one(SECRET)
    wrapped = secret.wire["stringData"]
    assert wrapped[SIG_KEY] == SECRET_SIG
    assert wrapped["value"] == {"password": PASSWORD}
    holders = [r.name for r in d.resources if PASSWORD in repr(r.wire)]
    assert holders == ["cache-auth"]
    assert not any(PASSWORD in text for text in files(d).values())


def test_secret_manifest_and_secret_outputs(preview: bool) -> None:
    d = deploy(preview)
    secret_outputs = {r.name: r.additional_secret_outputs for r in d.resources}
    secret = d.one(SECRET).inputs
    assert secret["metadata"]["name"] == "cache-auth"
    assert secret["type"] == "Opaque"
    assert "data" not in secret
    assert {"data", "stringData"} <= set(secret_outputs["cache-auth"])


def test_a_non_secret_output_is_wrapped_as_secret(preview: bool) -> None:
    def program() -> None:
        RedisEnsemble("cache", {"password": pulumi.Output.from_input(PASSWORD)})

    d = run(program, preview=preview)
    for r in d.resources:
        assert list(_plain_occurrences(r.wire, PASSWORD)) == [], r.name
