"""The pure decisions of statefulkit.render.delete_plan (what a StatefulSet delete means, which claims
belong to it, how long its pods may take). The hooks that run them: tests/unit/test_hooks_unit.py; the
cluster side: tests/engine/test_engine_day2.py and tests/engine/test_engine_providers.py."""

from __future__ import annotations

from typing import Any

import pytest

from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.delete_plan import (
    Growth,
    VolumeGrowthRefusedError,
    claim_ordinal,
    plan_delete,
    teardown_bound_seconds,
)
from statefulkit.render.workload import render_workload

WHERE = "StatefulSet ns/zk"


def spec(**overrides: Any) -> dict[str, Any]:
    """The rendered spec of a 3-replica workload with a 'data' and a 'log' claim template."""
    args: dict[str, Any] = {
        "namespace": "ns",
        "image": "zookeeper:3.9",
        "replicas": 3,
        "volume_claims": [
            {"name": "data", "size": "1Gi", "mount_path": "/data"},
            {"name": "log", "size": "512Mi", "mount_path": "/log"},
        ],
        **overrides,
    }
    rendered: dict[str, Any] = render_workload("zk", StatefulWorkloadArgs.model_validate(args)).stateful_set["spec"]
    return rendered


def sized(data: str, log: str = "512Mi", **overrides: Any) -> dict[str, Any]:
    return spec(
        volume_claims=[
            {"name": "data", "size": data, "mount_path": "/data"},
            {"name": "log", "size": log, "mount_path": "/log"},
        ],
        **overrides,
    )


def test_a_size_only_change_is_a_growth_of_the_changed_templates() -> None:
    assert plan_delete(sized("1Gi"), sized("2Gi"), WHERE) == Growth({"data": ("1Gi", "2Gi")})
    assert plan_delete(sized("1Gi"), sized("2Gi", "1Gi"), WHERE) == Growth(
        {"data": ("1Gi", "2Gi"), "log": ("512Mi", "1Gi")}
    )


def test_the_same_quantity_written_differently_is_no_change() -> None:
    assert plan_delete(sized("1Gi"), sized("1024Mi"), WHERE) is None


def test_a_delete_without_a_declared_spec_or_with_another_immutable_change_is_a_teardown() -> None:
    assert plan_delete(sized("1Gi"), None, WHERE) is None  # destroy, or removed from the program
    other_policy = sized("2Gi", pod_management_policy="OrderedReady")
    assert plan_delete(sized("1Gi", pod_management_policy="Parallel"), other_policy, WHERE) is None
    other_class = spec(
        volume_claims=[
            {"name": "data", "size": "2Gi", "mount_path": "/data", "storage_class_name": "fast"},
            {"name": "log", "size": "512Mi", "mount_path": "/log"},
        ]
    )
    assert plan_delete(sized("1Gi"), other_class, WHERE) is None
    fewer_templates = spec(volume_claims=[{"name": "data", "size": "2Gi", "mount_path": "/d"}])
    assert plan_delete(sized("1Gi"), fewer_templates, WHERE) is None


def test_a_smaller_size_is_refused_naming_the_template_both_sizes_and_the_rule() -> None:
    with pytest.raises(VolumeGrowthRefusedError) as refused:
        plan_delete(sized("2Gi", "1Gi"), sized("1Gi", "2Gi"), WHERE)
    message = str(refused.value)
    assert "storage size of volume claim template data: 2Gi -> 1Gi (StatefulSet ns/zk)" in message
    assert "a claim can only grow" in message and "Nothing was changed" in message
    assert "log" not in message.split("(StatefulSet", maxsplit=1)[0]  # the growing template is not blamed


@pytest.mark.parametrize(
    ("claim", "ordinal"),
    [("data-zk-0", 0), ("data-zk-12", 12), ("data-zk-01", None), ("data-zk-x-0", None), ("log-zk-0", None)],
)
def test_claims_of_a_template_are_named_template_statefulset_ordinal(claim: str, ordinal: int | None) -> None:
    assert claim_ordinal(claim, "data", "zk") == ordinal


def test_the_teardown_bound_counts_every_grace_period_when_pods_stop_one_by_one() -> None:
    ordered = spec(pod_management_policy="OrderedReady", termination_grace_period_seconds=20)
    parallel = spec(pod_management_policy="Parallel", termination_grace_period_seconds=20)
    assert teardown_bound_seconds(ordered) == 3 * 20 + 60
    assert teardown_bound_seconds(parallel) == 20 + 60
