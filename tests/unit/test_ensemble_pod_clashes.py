"""A user's addition that clashes with what an ensemble puts into its pods, case by case: the error
names the user's field path, the value and the rule, and every clash is reported at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from statefulkit import RedisArgs, ZooKeeperArgs
from statefulkit.args.common import Loc
from statefulkit.args.ensemble import EnsembleOptions
from tests.support.ensemble_pods import SECRET, TLS

CASES: list[tuple[type[EnsembleOptions], dict[str, Any], Loc, list[str]]] = [
    (
        ZooKeeperArgs,
        {"extra_env": {"POD_NAMESPACE": "x"}},
        ("extra_env", "POD_NAMESPACE"),
        ["'POD_NAMESPACE' is set by the ensemble itself (the pod's namespace", "a variable is set once per container"],
    ),
    (
        ZooKeeperArgs,
        {"extra_env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
        ("extra_env", "A"),
        ["'A' is given twice in extra_env"],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "zookeeper"}]},
        ("sidecars", 0, "name"),
        [
            "'zookeeper' is set by the ensemble itself (the ZooKeeper server's container)",
            "container names must be unique",
        ],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "side"}], "init_containers": [{"name": "side"}]},
        ("init_containers", 0, "name"),
        ["'side' is also sidecars[0].name", "container names must be unique in a pod"],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "side", "ports": {"metrics": 9000}}]},
        ("sidecars", 0, "ports", 0, "name"),
        ["'metrics' is set by the ensemble itself (ZooKeeper's port 'metrics', 7000/TCP, with metrics)"],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "side", "ports": {"web": 8080}}]},
        ("sidecars", 0, "ports", 0, "container_port"),
        ["port 8080/TCP is set by the ensemble itself (ZooKeeper's port 'admin', with admin_server)", "declared once"],
    ),
    (
        ZooKeeperArgs,
        {"tls": TLS, "sidecars": [{"name": "side", "ports": {"plain": 2181}}]},
        ("sidecars", 0, "ports", 0, "container_port"),
        ["port 2181/TCP is set by the ensemble itself (ZooKeeper's plaintext listener on the pod's loopback"],
    ),
    (
        ZooKeeperArgs,
        {"data_log_storage_size": "1Gi", "extra_volumes": [{"name": "datalog", "empty_dir": True}]},
        ("extra_volumes", 0, "name"),
        ["'datalog' is set by the ensemble itself (the dataLogDir claim, with data_log_storage_size)"],
    ),
    (
        ZooKeeperArgs,
        {
            "tls": TLS,
            "extra_volumes": [{"name": "scratch", "empty_dir": True}],
            "extra_volume_mounts": [{"name": "scratch", "mount_path": "/tls-keystore"}],
        },
        ("extra_volume_mounts", 0, "mount_path"),
        ["'/tls-keystore' is set by the ensemble itself (where the key store 'tls-keystore' is mounted, with tls)"],
    ),
    (
        ZooKeeperArgs,
        {
            "extra_volumes": [{"name": "scratch", "empty_dir": True}],
            "init_containers": [{"name": "prepare", "volume_mounts": [{"name": "scratch", "mount_path": "/config"}]}],
        },
        ("init_containers", 0, "volume_mounts", 0, "mount_path"),
        ["'/config' is set by the ensemble itself (where the config files and scripts are mounted)"],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "side", "readiness_probe": {"tcp_port": "client-tls"}}]},
        ("sidecars", 0, "readiness_probe", "tcp_port"),
        ["'client-tls' is not a declared port name of the pod", "'client'"],
    ),
    (
        ZooKeeperArgs,
        {"sidecars": [{"name": "side", "startup_probe": {"tcp_port": 2181, "success_threshold": 3}}]},
        ("sidecars", 0, "startup_probe", "success_threshold"),
        ["success_threshold=3: Kubernetes requires 1 for startup_probe"],
    ),
    (
        RedisArgs,
        {"auth": False, "extra_env": {"CONFIG_DIR": "/etc"}},
        ("extra_env", "CONFIG_DIR"),
        ["'CONFIG_DIR' is set by the ensemble itself (where the scripts are)"],
    ),
    (
        RedisArgs,
        {"existing_secret": SECRET, "extra_env": {"REDIS_PASSWORD": "hunter2"}},
        ("extra_env", "REDIS_PASSWORD"),
        ["'REDIS_PASSWORD' is set by the ensemble itself (the password, from its Secret, with auth)"],
    ),
    (
        RedisArgs,
        {"auth": False, "sidecars": [{"name": "sentinel"}]},
        ("sidecars", 0, "name"),
        ["'sentinel' is set by the ensemble itself (the Sentinel container)"],
    ),
    (
        RedisArgs,
        {"auth": False, "exporter": {}, "sidecars": [{"name": "metrics"}]},
        ("sidecars", 0, "name"),
        ["'metrics' is set by the ensemble itself (the exporter's container, with exporter)"],
    ),
    (
        RedisArgs,
        {"auth": False, "sidecars": [{"name": "proxy", "ports": {"proxy": 26379}}]},
        ("sidecars", 0, "ports", 0, "container_port"),
        ["port 26379/TCP is set by the ensemble itself (Sentinel's port 'sentinel')"],
    ),
    (
        RedisArgs,
        {"auth": False, "tls": TLS, "extra_volumes": [{"name": "tls", "secret": "other"}]},
        ("extra_volumes", 0, "name"),
        ["'tls' is set by the ensemble itself (the certificate Secret, with tls)"],
    ),
]


@pytest.mark.parametrize(("model", "fields", "loc", "fragments"), CASES, ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
def test_a_clash_names_the_users_field_the_value_and_the_rule(
    model: type[EnsembleOptions], fields: dict[str, Any], loc: Loc, fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(fields)
    (error,) = [e for e in caught.value.errors() if e["loc"] == loc]
    for fragment in fragments:
        assert fragment in error["msg"], error["msg"]
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value.errors())


def test_every_clash_is_reported_at_once() -> None:
    fields = {
        "extra_env": {"POD_NAMESPACE": "x", "BOOTSTRAP_REPLICAS": "3"},
        "sidecars": [{"name": "zookeeper", "ports": {"quorum": 1}}],
        "extra_volumes": [{"name": "data", "empty_dir": True}],
    }
    with pytest.raises(ValidationError) as caught:
        ZooKeeperArgs.model_validate(fields)
    assert sorted(str(e["loc"]) for e in caught.value.errors()) == sorted(
        str(loc)
        for loc in [
            ("extra_env", "POD_NAMESPACE"),
            ("extra_env", "BOOTSTRAP_REPLICAS"),
            ("sidecars", 0, "name"),
            ("sidecars", 0, "ports", 0, "name"),
            ("extra_volumes", 0, "name"),
        ]
    )
