"""ZooKeeperEnsemble's ConfigMap under Pulumi mocks: zoo.cfg's static part, the scripts' rendered
constants, and what a change of them rolls (or, for a scale, does not)."""

from __future__ import annotations

import json

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.zookeeper import PROMETHEUS_PROVIDER, render_probe_script
from statefulkit.testing import Deployment
from tests.support.mocks import sts_spec
from tests.support.zookeeper_mocks import config_data, config_map, container, deploy


def test_base_config_content(preview: bool) -> None:
    d = deploy(preview, tick_time_ms=3000, init_limit=15, sync_limit=7, autopurge_purge_interval_hours=6)
    lines = config_data(d)["zoo-base.cfg"].splitlines()
    settings_ = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert settings_ == {
        "tickTime": "3000",
        "initLimit": "15",
        "syncLimit": "7",
        "dataDir": "/data",
        "maxClientCnxns": "60",
        "autopurge.snapRetainCount": "3",
        "autopurge.purgeInterval": "6",
        "4lw.commands.whitelist": "srvr,ruok,mntr,conf,isro",
        "standaloneEnabled": "false",
        "reconfigEnabled": "true",
        "quorumListenOnAllIPs": "true",
        "admin.enableServer": "true",
        "admin.serverPort": "8080",
        "metricsProvider.className": PROMETHEUS_PROVIDER,
        "metricsProvider.httpPort": "7000",
        "metricsProvider.exportJvmInfo": "true",
    }
    # The membership is ZooKeeper's (a dynamic file on the data volume), never baked into the ConfigMap.
    assert not any(line.startswith(("server.", "dynamicConfigFile")) for line in lines)


def test_metrics_and_admin_can_be_turned_off(preview: bool) -> None:
    d = deploy(preview, metrics=False, admin_server=False)
    cfg = config_data(d)["zoo-base.cfg"]
    assert "metricsProvider" not in cfg
    assert "admin.enableServer=false" in cfg.splitlines() and "admin.serverPort" not in cfg
    assert {p["name"] for p in container(d)["ports"]} == {"client", "quorum", "election"}


def test_whitelist_and_extra_config(preview: bool) -> None:
    d = deploy(
        preview,
        four_letter_words=["ruok", "srvr", "stat", "srvr", "conf"],
        extra_config={"globalOutstandingLimit": "2000", "snapCount": "50000"},
    )
    lines = config_data(d)["zoo-base.cfg"].splitlines()
    assert "4lw.commands.whitelist=ruok,srvr,stat,conf" in lines
    assert lines[-2:] == ["globalOutstandingLimit=2000", "snapCount=50000"]


def test_script_constants(preview: bool) -> None:
    d = deploy(
        preview,
        name="coord",
        replicas=5,
        server_id_offset=10,
        cluster_domain="corp.internal",
        heap="256Mi",
        member_removal_seconds=40,
        termination_grace_period_seconds=45,
    )
    data = config_data(d)
    assert set(data) == {"zoo-base.cfg", "common.sh", "start.sh", "prestop.sh", "probe.sh"}
    for line in (
        "STS=coord",
        "HEADLESS=coord-headless",
        "SERVER_ID_OFFSET=10",
        "CLUSTER_DOMAIN=corp.internal",
        "DATA_DIR=/data",
        "PORT=2181",
    ):
        assert line in data["common.sh"].splitlines(), line
    assert "HEAP_MIB=256" in data["start.sh"].splitlines()
    # A member with an empty volume waits out an election ((initLimit + syncLimit) ticks) before founding.
    assert "BOOTSTRAP_WAIT=30" in data["start.sh"].splitlines()
    assert "REMOVAL_SECONDS=40" in data["prestop.sh"].splitlines()
    assert 'exec zkServer.sh start-foreground "$config"' in data["start.sh"]
    assert data["probe.sh"] == render_probe_script(ZooKeeperArgs())
    # Nothing in the hashed files depends on the replica count.
    assert not any("REPLICAS=5" in text for text in data.values())
    assert container(d)["lifecycle"]["preStop"]["exec"]["command"] == ["bash", "/config/prestop.sh"]
    assert sts_spec(d)["template"]["spec"]["terminationGracePeriodSeconds"] == 45


def config_hash(d: Deployment) -> str:
    value: str = sts_spec(d)["template"]["metadata"]["annotations"]["statefulkit.io/config-hash"]
    return value


def test_config_change_rolls_the_pods(preview: bool) -> None:
    assert config_hash(deploy(preview)) != config_hash(deploy(preview, tick_time_ms=2500))
    assert config_hash(deploy(preview)) != config_hash(deploy(preview, member_removal_seconds=10))


def test_replica_change_leaves_the_pod_template_alone(preview: bool) -> None:
    """A scale restarts no member: only spec.replicas and the unhashed bootstrap ConfigMap change;
    the members then add or remove themselves one at a time (start.sh, prestop.sh)."""
    three, five = deploy(preview, replicas=3), deploy(preview, replicas=5)
    assert json.dumps(sts_spec(three)["template"], sort_keys=True) == json.dumps(
        sts_spec(five)["template"], sort_keys=True
    )
    assert config_hash(three) == config_hash(five)
    assert config_data(three) == config_data(five)
    assert (sts_spec(three)["replicas"], sts_spec(five)["replicas"]) == (3, 5)
    assert config_map(three, "zk-bootstrap").inputs["data"] == {"replicas": "3"}
    assert config_map(five, "zk-bootstrap").inputs["data"] == {"replicas": "5"}
    # Unhashed on purpose: the pod reads it by reference when it starts.
    assert "statefulkit.io/config-hash" not in json.dumps(config_map(five, "zk-bootstrap").inputs)
    ref = next(e for e in container(five)["env"] if e["name"] == "BOOTSTRAP_REPLICAS")
    assert ref["valueFrom"]["configMapKeyRef"] == {"name": "zk-bootstrap", "key": "replicas"}
