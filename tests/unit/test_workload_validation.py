"""Bad input: a ValidationError naming the field, the value and the rule; nothing registered."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from statefulkit import (
    ENSEMBLES,
    DisruptionBudget,
    OnDelete,
    RedisArgs,
    RollingUpdate,
    StatefulWorkload,
    StatefulWorkloadArgs,
    ZooKeeperArgs,
)
from statefulkit.args.workload import validate_name
from statefulkit.testing import run_failing


def base(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"image": "app:1", "replicas": 3, "ports": {"client": 2181}}
    args.update(overrides)
    return args


CLAIM = {"name": "data", "size": "1Gi", "mount_path": "/data"}

# (case id, args overrides, fragments the message must contain: field, value, rule)
BAD_ARGS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("negative replicas", {"replicas": -1}, ["replicas", "-1", "greater than or equal to 0"]),
    (
        "partition above replicas",
        {"update_strategy": {"type": "RollingUpdate", "partition": 4}},
        ["update_strategy.partition", "4", "replicas=3"],
    ),
    (
        "max_unavailable with OnDelete",
        {"update_strategy": {"type": "OnDelete", "max_unavailable": 1}},
        ["max_unavailable", "1", "does not apply to OnDelete"],
    ),
    (
        "max_unavailable zero",
        {"update_strategy": {"type": "RollingUpdate", "max_unavailable": 0}},
        ["max_unavailable", "0", "at least 1"],
    ),
    ("unknown strategy", {"update_strategy": {"type": "Recreate"}}, ["update_strategy", "Recreate", "RollingUpdate"]),
    (
        "both pdb bounds",
        {"disruption_budget": {"min_available": 1, "max_unavailable": 1}},
        ["min_available=1", "max_unavailable=1", "exactly one"],
    ),
    ("neither pdb bound", {"disruption_budget": {}}, ["min_available=None", "max_unavailable=None", "exactly one"]),
    (
        "pdb min_available equals replicas",
        {"disruption_budget": {"min_available": 3}},
        ["disruption_budget.min_available", "3", "never allows an eviction", "allow_blocking"],
    ),
    (
        "pdb min_available 100%",
        {"disruption_budget": {"min_available": "100%"}},
        ["disruption_budget.min_available", "100%", "never allows an eviction"],
    ),
    (
        "pdb max_unavailable zero",
        {"disruption_budget": {"max_unavailable": 0}},
        ["disruption_budget.max_unavailable", "0", "never allows an eviction"],
    ),
    ("pdb bad percent", {"disruption_budget": {"max_unavailable": "150%"}}, ["max_unavailable", "150%", "percentage"]),
    (
        "size not a quantity",
        {"volume_claims": [{**CLAIM, "size": "10GB"}]},
        ["volume_claims.0.size", "10GB", "not a Kubernetes quantity"],
    ),
    ("zero size", {"volume_claims": [{**CLAIM, "size": "0Gi"}]}, ["size", "0Gi", "positive"]),
    (
        "duplicate claim names",
        {"volume_claims": [CLAIM, {**CLAIM, "mount_path": "/other"}]},
        ["volume_claims", "data", "unique"],
    ),
    (
        "duplicate mount paths",
        {"volume_claims": [CLAIM, {**CLAIM, "name": "logs"}]},
        ["volume_claims.1.mount_path", "'/data' is also volume_claims[0].mount_path", "one volume per container"],
    ),
    (
        "config mount clashes with claim",
        {"volume_claims": [{**CLAIM, "mount_path": "/config"}], "config_files": {"a": "b"}},
        ["config_mount_path", "/config"],
    ),
    ("relative mount path", {"volume_claims": [{**CLAIM, "mount_path": "data"}]}, ["mount_path", "'data'", "absolute"]),
    (
        "port name too long",
        {"ports": [{"name": "a-very-long-port-name", "container_port": 1}]},
        ["ports.0.name", "a-very-long-port-name", "limit is 15"],
    ),
    (
        "duplicate port names",
        {"ports": [{"name": "client", "container_port": 1}, {"name": "client", "container_port": 2}]},
        ["ports", "client", "unique"],
    ),
    ("port out of range", {"ports": {"client": 70000}}, ["container_port", "70000", "less than or equal to 65535"]),
    (
        "duplicate port numbers",
        {"ports": [{"name": "a", "container_port": 80}, {"name": "b", "container_port": 80}]},
        ["ports.1.container_port", "port 80/TCP is also ports[0].container_port", "declared once"],
    ),
    ("unknown key", {"replica": 3}, ["replica\n", "unknown field; did you mean 'replicas'?"]),
    ("unknown camelCase key", {"podMonitor": {}}, ["podMonitor\n", "did you mean 'pod_monitor'?"]),
    (
        "unknown nested key",
        {"volume_claims": [{**CLAIM, "sise": "1Gi"}]},
        ["volume_claims.0.sise", "unknown field; did you mean 'size'?"],
    ),
    (
        "unknown key in a union member",
        {"update_strategy": {"type": "RollingUpdate", "partiton": 1}},
        ["update_strategy.RollingUpdate.partiton", "did you mean 'partition'?"],
    ),
    (
        "unknown key like a deprecated name",
        {"storage_clas": {}},
        ["storage_clas\n", "did you mean 'create_storage_class'?"],
    ),
    ("bad namespace", {"namespace": "Team_A"}, ["namespace", "Team_A", "DNS-1123"]),
    (
        "bad storage class name",
        {"create_storage_class": {"name": "Fast!", "provisioner": "p"}},
        ["storage_class.name", "Fast!"],
    ),
    (
        "bad reclaim policy",
        {"create_storage_class": {"name": "s", "provisioner": "p", "reclaim_policy": "Recycle"}},
        ["reclaim_policy", "Recycle", "'Retain' or 'Delete'"],
    ),
    ("bad memory request", {"resources": {"requests": {"memory": "lots"}}}, ["memory", "lots", "quantity"]),
    (
        "request above limit",
        {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
        ["requests.memory='2Gi'", "limits.memory='1Gi'", "must fit"],
    ),
    (
        "probe port not declared",
        {"readiness_probe": {"tcp_port": "admin"}},
        ["readiness_probe", "admin", "not a declared port"],
    ),
    ("probe without handler", {"liveness_probe": {"period_seconds": 3}}, ["liveness_probe", "exactly one"]),
    (
        "liveness success threshold",
        {"liveness_probe": {"tcp_port": 2181, "success_threshold": 2}},
        ["liveness_probe.success_threshold\n", "success_threshold=2", "requires 1 for liveness_probe"],
    ),
    (
        "selector label override",
        {"labels": {"app.kubernetes.io/instance": "other"}},
        ["labels", "app.kubernetes.io/instance", "selector"],
    ),
    ("bad anti-affinity mode", {"anti_affinity": {"mode": "sometimes"}}, ["anti_affinity.mode", "sometimes"]),
    ("root user", {"run_as_user": 0}, ["run_as_user", "0", "greater than or equal to 1"]),
    (
        "duplicate env",
        {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
        ["env.A\n", "'A' is given twice in env", "a variable is set once per container"],
    ),
    (
        "duplicate env of an init container",
        {"init_containers": [{"name": "init", "env": [{"name": "B", "value": "1"}, {"name": "B", "value": "2"}]}]},
        ["init_containers.0.env.B", "'B' is given twice in init_containers[0].env"],
    ),
    (
        "env two sources",
        {"env": [{"name": "A", "value": "1", "field_path": "metadata.name"}]},
        ["env 'A'", "exactly one"],
    ),
    (
        "client service port unknown",
        {"client_service": {"port_names": ["admin"]}},
        ["client_service.port_names", "admin", "not declared"],
    ),
    ("client service without ports", {"ports": [], "client_service": True}, ["client_service", "no ports"]),
    (
        "sidecar name clash",
        {"sidecars": [{"name": "main"}]},
        ["sidecars.0.name", "'main' is also container_name", "container names must be unique"],
    ),
    (
        "sidecar port name clash",
        {"sidecars": [{"name": "side", "ports": {"client": 9000}}]},
        ["sidecars.0.ports.0.name", "'client' is also ports[0].name", "port names must be unique"],
    ),
    (
        "sidecar probe of an undeclared port",
        {"sidecars": [{"name": "side", "readiness_probe": {"http_get": {"port": "web"}}}]},
        ["sidecars.0.readiness_probe.http_get.port", "'web' is not a declared port name", "['client']"],
    ),
    (
        "claim named like the config volume",
        {"volume_claims": [{**CLAIM, "name": "config"}], "config_files": {"a": "b"}},
        ["volume_claims.0.name", "'config' is set by the workload itself (the volume of config_files)"],
    ),
    ("image with spaces", {"image": "my image"}, ["image", "my image", "pattern"]),
    # Pod extensions (components/statefulkit/args/extensions.py), shared by every Args model.
    (
        "spread min_domains without DoNotSchedule",
        {"topology_spread": [{"min_domains": 2}]},
        ["topology_spread.0", "min_domains=2", "ScheduleAnyway", "only with DoNotSchedule"],
    ),
    (
        "spread twice on one key",
        {"topology_spread": [{}, {"max_skew": 2}]},
        ["topology_spread", "topology.kubernetes.io/zone", "ScheduleAnyway", "one constraint per topology_key"],
    ),
    ("spread skew zero", {"topology_spread": [{"max_skew": 0}]}, ["topology_spread.0.max_skew", "0", "greater than"]),
    (
        "volume with two sources",
        {"extra_volumes": [{"name": "x", "secret": "s", "empty_dir": True}]},
        ["extra volume 'x'", "exactly one of config_map, secret, empty_dir, persistent_volume_claim"],
    ),
    (
        "volume named like a claim",
        {"volume_claims": [CLAIM], "extra_volumes": [{"name": "data", "empty_dir": True}]},
        ["extra_volumes.0.name", "'data' is also volume_claims[0].name", "volume names must be unique"],
    ),
    (
        "mount of an unknown volume",
        {"extra_volume_mounts": [{"name": "certs", "mount_path": "/certs"}]},
        ["extra_volume_mounts", "'certs'", "name no volume of extra_volumes"],
    ),
    (
        "mount over a claim",
        {
            "volume_claims": [CLAIM],
            "extra_volumes": [{"name": "scratch", "empty_dir": True}],
            "extra_volume_mounts": [{"name": "scratch", "mount_path": "/data"}],
        },
        ["extra_volume_mounts.0.mount_path", "'/data' is also volume_claims[0].mount_path"],
    ),
    (
        "sub_path escaping the volume",
        {
            "extra_volumes": [{"name": "scratch", "empty_dir": True}],
            "extra_volume_mounts": [{"name": "scratch", "mount_path": "/s", "sub_path": "../etc"}],
        },
        ["sub_path", "../etc", "relative path inside the volume"],
    ),
    (
        "init container with a probe",
        {"init_containers": [{"name": "init", "readiness_probe": {"tcp_port": 1}}]},
        ["init_containers", "'init'", "readiness_probe", "no probes, ports or pre_stop"],
    ),
    (
        "init container named like the main one",
        {"init_containers": [{"name": "main"}]},
        ["init_containers.0.name", "'main' is also container_name"],
    ),
    (
        "sidecar mount of an unknown volume",
        {"sidecars": [{"name": "backup", "volume_mounts": [{"name": "bucket", "mount_path": "/b"}]}]},
        ["volume_mounts of container 'backup'", "'bucket'", "name no volume"],
    ),
    (
        "unconfined seccomp",
        {"security": {"seccomp_profile": "Unconfined"}},
        ["security.seccomp_profile", "Unconfined", "restricted Pod Security Standard"],
    ),
    (
        "capability beyond NET_BIND_SERVICE",
        {"security": {"add_capabilities": ["NET_ADMIN"]}},
        ["security.add_capabilities", "NET_ADMIN", "restricted Pod Security Standard allows adding only"],
    ),
    (
        "root supplemental group",
        {"security": {"supplemental_groups": [0]}},
        ["security.supplemental_groups", "[0]", "at least 1"],
    ),
    ("bad service account", {"service_account_name": "Bad SA"}, ["service_account_name", "Bad SA"]),
    ("bad pull secret", {"image_pull_secrets": ["Bad!"]}, ["image_pull_secrets.0", "Bad!"]),
]


@pytest.mark.parametrize(("overrides", "fragments"), [c[1:] for c in BAD_ARGS], ids=[c[0] for c in BAD_ARGS])
def test_bad_args_name_field_value_and_rule(overrides: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        StatefulWorkloadArgs.model_validate(base(**overrides))
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("Zoo_Keeper", ["name", "Zoo_Keeper", "DNS-1035"]),
        ("9lives", ["name", "9lives", "DNS-1035"]),
        ("a" * 53, ["name", "53 characters", "at most 52", "controller-revision-hash"]),
        ("trailing-", ["trailing-", "DNS-1035"]),
    ],
)
def test_bad_names_rejected(preview: bool, name: str, fragments: list[str]) -> None:
    failed = run_failing(lambda: StatefulWorkload(name, base()), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError)
    for fragment in fragments:
        assert fragment in str(error)
    assert registered == []


def test_longest_allowed_name_is_accepted() -> None:
    assert validate_name("a" * 52) == "a" * 52


@pytest.mark.parametrize(("overrides", "fragments"), [c[1:] for c in BAD_ARGS[:6]], ids=[c[0] for c in BAD_ARGS[:6]])
def test_nothing_is_registered_on_bad_args(preview: bool, overrides: dict[str, Any], fragments: list[str]) -> None:
    failed = run_failing(lambda: StatefulWorkload("ok", base(**overrides)), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError)
    assert fragments[0] in str(error)
    assert registered == []


def test_blocking_pdb_allowed_when_forced() -> None:
    args = StatefulWorkloadArgs(
        image="app:1", replicas=3, disruption_budget=DisruptionBudget(min_available=3, allow_blocking=True)
    )
    assert args.effective_disruption_budget() == DisruptionBudget(min_available=3, allow_blocking=True)


def test_models_are_frozen() -> None:
    strategy = RollingUpdate(partition=1)
    with pytest.raises(ValidationError, match="frozen"):
        strategy.partition = 2  # type: ignore[misc]
    assert OnDelete().type == "OnDelete"


@pytest.mark.parametrize(
    ("model", "required"),
    [(StatefulWorkloadArgs, {"image": "app:1"}), (ZooKeeperArgs, {}), (RedisArgs, {"auth": False})],
)
def test_defaults_are_already_validated_values(model: type[BaseModel], required: dict[str, Any]) -> None:
    """Defaults are not re-validated per instance (it is measurably slow), so each must already
    be what validation would make of it."""
    built = model(**required)
    revalidated = model.model_validate(built.model_dump())
    for field in type(built).model_fields:
        assert getattr(built, field) == getattr(revalidated, field), field
        assert type(getattr(built, field)) is type(getattr(revalidated, field)), field


@pytest.mark.parametrize(
    ("model", "bad", "fragments"),
    [
        (
            ZooKeeperArgs,
            {"extra_env": {"BOOTSTRAP_REPLICAS": "9"}},
            ["extra_env.BOOTSTRAP_REPLICAS\n", "'BOOTSTRAP_REPLICAS' is set by the ensemble itself"],
        ),
        (
            RedisArgs,
            {"extra_env": {"REDIS_PASSWORD": "x"}},
            ["extra_env.REDIS_PASSWORD\n", "'REDIS_PASSWORD' is set by the ensemble itself"],
        ),
        (ZooKeeperArgs, {"sidecars": [{"name": "zookeeper"}]}, ["sidecars.0.name", "set by the ensemble itself"]),
        (RedisArgs, {"init_containers": [{"name": "sentinel"}]}, ["init_containers.0.name", "the Sentinel container"]),
        (ZooKeeperArgs, {"security": {"add_capabilities": ["SYS_ADMIN"]}}, ["security.add_capabilities", "SYS_ADMIN"]),
        (RedisArgs, {"topology_spread": [{"min_domains": 3}]}, ["min_domains=3", "only with DoNotSchedule"]),
        (
            RedisArgs,
            {"pod_monitor": {}, "network_policy": {"metrics": [{}]}},
            ["pod_monitor is set but exporter is None", "RedisExporter()"],
        ),
        (
            ZooKeeperArgs,
            {"metrics": False, "pod_monitor": {}, "network_policy": {"metrics": [{}]}},
            ["pod_monitor is set but metrics=False"],
        ),
        (ZooKeeperArgs, {"pod_monitor": {}}, ["pod_monitor\n", "network_policy.metrics=[] admits no metrics source"]),
        (ZooKeeperArgs, {"replica": 3}, ["replica\n", "did you mean 'replicas'?"]),
        (RedisArgs, {"sentinel": {"quorom": 2}}, ["sentinel.quorom\n", "did you mean 'quorum'?"]),
    ],
)
def test_ensembles_refuse_bad_extensions_before_anything_is_registered(
    preview: bool, model: type[BaseModel], bad: dict[str, Any], fragments: list[str]
) -> None:
    """The ensembles take the same pod extensions; a clash with what they render is refused too."""
    (component,) = [ensemble for ensemble in ENSEMBLES.values() if ensemble.args_type is model]
    args = {"namespace": "ns", **bad}
    if component.secret_field is not None:  # a password the program would give: an existing Secret's
        args["existing_secret"] = {"name": "ens-auth", "key": "password"}
    failed = run_failing(lambda: component("ens", args), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError), error
    for fragment in fragments:
        assert fragment in str(error), f"{fragment!r} missing from:\n{error}"
    assert registered == []
