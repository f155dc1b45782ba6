"""Property tests: RedisArgs accepts exactly the valid combinations, and renders them; memory sizes
in Redis's units."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from statefulkit.args.common import memory_bytes
from statefulkit.args.redis import (
    MAXMEMORY_POLICIES,
    RedisArgs,
)
from statefulkit.render.redis import RedisRender, render_config_files, render_sentinel_conf
from statefulkit.render.workload import render_workload
from tests.support.redis_mocks import args


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replicas=st.integers(min_value=-1, max_value=9),
    quorum=st.none() | st.integers(min_value=-1, max_value=11),
    allow_small=st.booleans(),
    maxmemory=st.none() | st.integers(min_value=0, max_value=2**34),
    policy=st.sampled_from([*MAXMEMORY_POLICIES, "lru", "allkeys"]),
    exporter_port=st.none() | st.sampled_from([0, 6379, 9121, 26379, 9400, 65536]),
)
def test_redis_args_accepts_exactly_the_valid_combinations(  # noqa: PLR0917 - one per hypothesis strategy
    replicas: int, quorum: int | None, allow_small: bool, maxmemory: int | None, policy: str, exporter_port: int | None
) -> None:
    valid = (
        replicas >= 1
        and (replicas >= 3 or allow_small)
        and (quorum is None or 1 <= quorum <= replicas)
        and (maxmemory is None or maxmemory >= 2**20)
        and policy in MAXMEMORY_POLICIES
        and (exporter_port is None or exporter_port in (9121, 9400))
    )
    raw = args(
        replicas=replicas,
        sentinel={"quorum": quorum},
        allow_small_sentinel_quorum=allow_small,
        maxmemory=maxmemory,
        maxmemory_policy=policy,
        exporter=None if exporter_port is None else {"port": exporter_port},
    )
    if not valid:
        with pytest.raises(ValidationError):
            RedisArgs.model_validate(raw)
        return
    spec = RedisArgs.model_validate(raw)
    effective = spec.effective_quorum()
    assert 1 <= effective <= replicas
    assert effective == (quorum if quorum is not None else replicas // 2 + 1)
    assert f"@MASTER@ 6379 {effective}\n" in render_sentinel_conf(spec)
    manifests = render_workload("cache", RedisRender("cache", spec).workload_args())
    assert manifests.stateful_set["spec"]["replicas"] == replicas
    assert (manifests.pdb is None) == (replicas < 2)
    pod = manifests.stateful_set["spec"]["template"]["spec"]
    ports = [p["containerPort"] for c in pod["containers"] if c["name"] == "metrics" for p in c["ports"]]
    assert ports == ([] if exporter_port is None else [exporter_port])
    conf = render_config_files("cache", spec)["redis.conf"]
    assert (f"maxmemory {maxmemory}\n" in conf) == (maxmemory is not None)
    assert f"maxmemory-policy {policy}\n" in conf


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["b", "k", "kb", "m", "mb", "g", "gb", "Ki", "Mi", "Gi", "KB", "MB", "GB"]), st.integers(1, 4096)
)
def test_memory_sizes_follow_redis_units(unit: str, number: int) -> None:
    decimal = {"b": 1, "k": 1000, "m": 10**6, "g": 10**9}
    factor = decimal.get(unit.lower()) or 1024 ** ("kmg".index(unit[0].lower()) + 1)
    assert memory_bytes(f"{number}{unit}") == number * factor
