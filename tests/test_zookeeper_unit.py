"""ZooKeeperEnsemble under Pulumi mocks (preview and update), its rendered files run by bash, and its rules.

The start and probe scripts are executed here too (bash, no root, no ZooKeeper): with a fake
hostname file, a fake zkServer.sh and a fake four-letter-word server they must write the right
myid and server lines, refuse a foreign myid, and answer ready/live exactly on the right answers.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.args.zookeeper import DEFAULT_IMAGE, ZooKeeperArgs, fault_tolerance, quorum_size
from components.render.workload import render_workload
from components.render.zookeeper import (
    PROMETHEUS_PROVIDER,
    render_base_config,
    render_probe_script,
    render_start_script,
    render_zookeeper,
    server_lines,
    zookeeper_workload_args,
)
from components.workload import StatefulWorkload
from components.zookeeper import ZooKeeperEnsemble
from tests.support.pulumi_mocks import Deployment, Registered, run_failing_program, run_program
from tests.support.tokens import CM, PDB, SC, STS, SVC, WORKLOAD, ZOOKEEPER

FQDN = "{sts}-{i}.{sts}-headless.{ns}.svc.{domain}"


def deploy(preview: bool, name: str = "zk", **args: Any) -> Deployment:
    def program() -> dict[str, Any]:
        ensemble = ZooKeeperEnsemble(name, args)
        return {
            "connect": ensemble.connect_string,
            "client_service": ensemble.client_service_name,
            "dns": ensemble.pod_dns_names,
        }

    return run_program(program, preview=preview)


def sts_spec(d: Deployment) -> dict[str, Any]:
    spec: dict[str, Any] = d.one(STS).inputs["spec"]
    return spec


def container(d: Deployment) -> dict[str, Any]:
    containers = sts_spec(d)["template"]["spec"]["containers"]
    assert len(containers) == 1
    main: dict[str, Any] = containers[0]
    return main


def service(d: Deployment, k8s_name: str) -> Registered:
    return next(r for r in d.of_type(SVC) if r.k8s_name == k8s_name)


def config_data(d: Deployment) -> dict[str, str]:
    data: dict[str, str] = d.one(CM).inputs["data"]
    return data


# --------------------------------------------------------------------------- the component tree


def test_component_tree_names_and_parents(preview: bool) -> None:
    d = deploy(preview)
    ensemble = d.one(ZOOKEEPER)
    workload = d.one(WORKLOAD)
    assert ensemble.name == "zk" and ensemble.parent.endswith("pulumi:pulumi:Stack::statefulkit-test")
    assert workload.parent == ensemble.urn
    children = [r for r in d.resources if r.type in {STS, SVC, PDB, CM}]
    assert sorted((r.type, r.k8s_name) for r in children) == sorted(
        [(CM, "zk-config"), (SVC, "zk"), (SVC, "zk-headless"), (STS, "zk"), (PDB, "zk")]
    )
    assert all(r.parent == workload.urn for r in children)
    assert d.of_type(SC) == []
    assert sts_spec(d)["serviceName"] == "zk-headless"


def test_statefulset_defaults(preview: bool) -> None:
    d = deploy(preview)
    spec = sts_spec(d)
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "zookeeper",
        "app.kubernetes.io/instance": "zk",
        "app.kubernetes.io/component": "server",
    }
    [claim] = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000 and pod["securityContext"]["fsGroup"] == 1000
    assert pod["automountServiceAccountToken"] is False
    assert (
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
            "labelSelector"
        ]["matchLabels"]
        == spec["selector"]["matchLabels"]
    )
    # Immutable fields replace the StatefulSet (explicit names: delete first).
    assert "spec.podManagementPolicy" in d.one(STS).replace_on_changes
    assert d.one(STS).delete_before_replace


def test_container_image_command_env_ports_and_resources(preview: bool) -> None:
    c = container(deploy(preview))
    assert c["name"] == "zookeeper"
    assert c["image"] == DEFAULT_IMAGE
    assert re.fullmatch(r"zookeeper:3\.9\.\d+", DEFAULT_IMAGE)
    assert c["command"] == ["bash", "/config/start.sh"]
    assert c["env"] == [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "client": 2181,
        "quorum": 2888,
        "election": 3888,
        "admin": 8080,
        "metrics": 7000,
    }
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    assert {m["mountPath"]: m.get("readOnly", False) for m in c["volumeMounts"]} == {"/data": False, "/config": True}
    assert c["securityContext"]["runAsNonRoot"] is True


def test_probes_mean_quorum_membership_and_tolerate_elections(preview: bool) -> None:
    c = container(deploy(preview))
    ready, live, startup = c["readinessProbe"], c["livenessProbe"], c["startupProbe"]
    assert ready["exec"]["command"] == ["bash", "/config/probe.sh", "ready"]
    assert live["exec"]["command"] == ["bash", "/config/probe.sh", "live"]
    assert startup["exec"]["command"] == ["bash", "/config/probe.sh", "live"]
    assert (ready["periodSeconds"], ready["timeoutSeconds"], ready["failureThreshold"]) == (5, 5, 2)
    # Liveness gives a silent server 2 minutes; startup 5 minutes to load a snapshot.
    assert live["periodSeconds"] * live["failureThreshold"] >= 120
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    for probe in (ready, live, startup):
        assert probe["timeoutSeconds"] >= 5
        assert not any(tool in " ".join(probe["exec"]["command"]) for tool in ("nc", "curl", "wget"))


def test_services(preview: bool) -> None:
    d = deploy(preview)
    headless = service(d, "zk-headless").inputs["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["ports"]} == {
        "client": 2181,
        "quorum": 2888,
        "election": 3888,
        "admin": 8080,
        "metrics": 7000,
    }
    client = service(d, "zk").inputs["spec"]
    assert client["type"] == "ClusterIP"
    assert client["ports"] == [{"name": "client", "port": 2181, "targetPort": "client", "protocol": "TCP"}]
    assert client["selector"] == headless["selector"] == sts_spec(d)["selector"]["matchLabels"]
    assert "publishNotReadyAddresses" not in client


def test_client_service_type_and_annotations(preview: bool) -> None:
    d = deploy(preview, client_service_type="LoadBalancer", client_service_annotations={"lb.example/internal": "1"})
    client = service(d, "zk").inputs
    assert client["spec"]["type"] == "LoadBalancer"
    assert client["metadata"]["annotations"]["lb.example/internal"] == "1"


def test_pdb_keeps_quorum(preview: bool) -> None:
    pdb = deploy(preview).one(PDB).inputs["spec"]
    assert pdb == {"selector": {"matchLabels": pdb["selector"]["matchLabels"]}, "maxUnavailable": 1}
    assert deploy(preview, replicas=5).one(PDB).inputs["spec"]["maxUnavailable"] == 1
    assert (
        deploy(preview, replicas=5, disruption_budget={"max_unavailable": 2}).one(PDB).inputs["spec"]["maxUnavailable"]
        == 2
    )


def test_single_member_has_no_pdb_and_runs_standalone(preview: bool) -> None:
    d = deploy(preview, replicas=1)
    assert d.of_type(PDB) == []
    assert "standaloneEnabled=true" in config_data(d)["zoo-base.cfg"]
    assert d.outputs["connect"] == "zk-0.zk-headless.default.svc.cluster.local:2181"


def test_no_pdb_when_asked(preview: bool) -> None:
    assert deploy(preview, disruption_budget=None).of_type(PDB) == []


def test_pass_through_knobs(preview: bool) -> None:
    d = deploy(
        preview,
        replicas=5,
        image="mirror.example/zookeeper:3.9.4",
        image_pull_policy="IfNotPresent",
        pod_management_policy="OrderedReady",
        update_strategy={"type": "RollingUpdate", "partition": 2},
        pvc_retention={"when_deleted": "Delete", "when_scaled": "Retain"},
        anti_affinity={"mode": "required", "topology_key": "topology.kubernetes.io/zone"},
        labels={"team": "data"},
        annotations={"owner": "data-team"},
        pod_annotations={"prometheus.io/scrape": "true"},
        node_selector={"pool": "zk"},
        tolerations=[{"key": "dedicated", "value": "zk", "effect": "NoSchedule"}],
        priority_class_name="critical",
        run_as_user=2000,
        run_as_group=2000,
        fs_group=2000,
        termination_grace_period_seconds=60,
        storage_size="50Gi",
        storage_class_name="fast-ssd",
        resources={"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
        heap="3Gi",
    )
    spec = sts_spec(d)
    pod = spec["template"]["spec"]
    c = container(d)
    assert spec["replicas"] == 5
    assert c["image"] == "mirror.example/zookeeper:3.9.4" and c["imagePullPolicy"] == "IfNotPresent"
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"]["rollingUpdate"]["partition"] == 2
    # A held-back rollout tells pulumi-kubernetes what to wait for instead of hanging.
    assert d.one(STS).inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=5"
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == (
        "topology.kubernetes.io/zone"
    )
    assert spec["template"]["metadata"]["labels"]["team"] == "data"
    assert d.one(PDB).inputs["metadata"]["annotations"]["owner"] == "data-team"
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["nodeSelector"] == {"pool": "zk"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "zk", "effect": "NoSchedule"}]
    assert pod["priorityClassName"] == "critical"
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (2000, 2000)
    assert pod["terminationGracePeriodSeconds"] == 60
    [claim] = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert c["resources"]["limits"]["memory"] == "4Gi"
    assert "HEAP_MIB=3072" in config_data(d)["start.sh"]


def test_separate_data_log_volume_and_created_storage_class(preview: bool) -> None:
    d = deploy(
        preview,
        data_log_storage_size="5Gi",
        create_storage_class={"name": "zk-ssd", "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}},
    )
    claims = {t["metadata"]["name"]: t["spec"] for t in sts_spec(d)["volumeClaimTemplates"]}
    assert set(claims) == {"data", "datalog"}
    assert claims["datalog"]["resources"]["requests"]["storage"] == "5Gi"
    assert {spec["storageClassName"] for spec in claims.values()} == {"zk-ssd"}
    assert d.one(SC).inputs["metadata"]["name"] == "zk-ssd"
    assert d.one(SC).inputs["reclaimPolicy"] == "Retain"
    mounts = {m["name"]: m["mountPath"] for m in container(d)["volumeMounts"]}
    assert mounts["datalog"] == "/datalog"
    data = config_data(d)
    assert "dataLogDir=/datalog" in data["zoo-base.cfg"].splitlines()
    assert "DATA_LOG_DIR=/datalog" in data["start.sh"]


# --------------------------------------------------------------------------- config content


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
        "standaloneEnabled": "true",
        "reconfigEnabled": "false",
        "quorumListenOnAllIPs": "true",
        "admin.enableServer": "true",
        "admin.serverPort": "8080",
        "metricsProvider.className": PROMETHEUS_PROVIDER,
        "metricsProvider.httpPort": "7000",
        "metricsProvider.exportJvmInfo": "true",
    }
    # Server lines are written at start from the pod's identity, never baked into the ConfigMap.
    assert not any(line.startswith("server.") for line in lines)


def test_metrics_and_admin_can_be_turned_off(preview: bool) -> None:
    d = deploy(preview, metrics=False, admin_server=False)
    cfg = config_data(d)["zoo-base.cfg"]
    assert "metricsProvider" not in cfg
    assert "admin.enableServer=false" in cfg.splitlines() and "admin.serverPort" not in cfg
    assert {p["name"] for p in container(d)["ports"]} == {"client", "quorum", "election"}


def test_whitelist_and_extra_config(preview: bool) -> None:
    d = deploy(
        preview,
        four_letter_words=["ruok", "srvr", "stat", "srvr"],
        extra_config={"globalOutstandingLimit": "2000", "snapCount": "50000"},
    )
    lines = config_data(d)["zoo-base.cfg"].splitlines()
    assert "4lw.commands.whitelist=ruok,srvr,stat" in lines
    assert lines[-2:] == ["globalOutstandingLimit=2000", "snapCount=50000"]


def test_start_script_constants(preview: bool) -> None:
    d = deploy(preview, name="coord", replicas=5, server_id_offset=10, cluster_domain="corp.internal", heap="256Mi")
    script = config_data(d)["start.sh"]
    for line in (
        "STS=coord",
        "HEADLESS=coord-headless",
        "REPLICAS=5",
        "SERVER_ID_OFFSET=10",
        "CLUSTER_DOMAIN=corp.internal",
        "DATA_DIR=/data",
        "HEAP_MIB=256",
    ):
        assert line in script.splitlines(), line
    assert 'exec zkServer.sh start-foreground "$config"' in script
    assert d.one(CM).inputs["data"]["probe.sh"] == render_probe_script()


def test_config_change_rolls_the_pods(preview: bool) -> None:
    def config_hash(**args: Any) -> str:
        d = deploy(preview, **args)
        value: str = sts_spec(d)["template"]["metadata"]["annotations"]["statefulkit.io/config-hash"]
        return value

    assert config_hash() != config_hash(tick_time_ms=2500)
    assert config_hash() != config_hash(replicas=5)


# --------------------------------------------------------------------------- outputs


def test_outputs_with_plain_namespace(preview: bool) -> None:
    d = deploy(preview, namespace="data", cluster_domain="corp.internal")
    hosts = [FQDN.format(sts="zk", i=i, ns="data", domain="corp.internal") for i in range(3)]
    assert d.outputs["dns"] == hosts
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["client_service"] == "zk"
    assert all(r.inputs["metadata"]["namespace"] == "data" for r in d.resources if r.type in {STS, SVC, PDB, CM})


def test_outputs_with_output_namespace(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "team-a"})
        ensemble = ZooKeeperEnsemble("coord", ZooKeeperArgs(namespace=ns.metadata.name, replicas=5))
        assert isinstance(ensemble.connect_string, pulumi.Output)
        assert isinstance(ensemble.workload, StatefulWorkload)
        return {"connect": ensemble.connect_string, "dns": ensemble.pod_dns_names}

    d = run_program(program, preview=preview)
    hosts = [FQDN.format(sts="coord", i=i, ns="team-a", domain="cluster.local") for i in range(5)]
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["dns"] == hosts
    namespaced = [r for r in d.resources if r.type in {STS, SVC, PDB, CM}]
    assert len(namespaced) == 5
    assert all(r.inputs["metadata"]["namespace"] == "team-a" for r in namespaced)
    # The ConfigMap does not depend on the Output: the script reads the namespace in the pod.
    assert "team-a" not in "".join(d.one(CM).inputs["data"].values())


def test_typed_and_dict_args_register_the_same(preview: bool) -> None:
    typed = ZooKeeperArgs(replicas=5, heap="256Mi", data_log_storage_size="2Gi", server_id_offset=3)

    def registered(args: Any) -> list[tuple[str, str, Any]]:
        d = run_program(lambda: ZooKeeperEnsemble("zk", args) and None, preview=preview)
        return sorted((r.type, r.name, r.inputs) for r in d.resources)

    assert registered(typed) == registered(typed.model_dump(mode="python"))


def test_registered_manifests_are_the_pure_renderers(preview: bool) -> None:
    """What the real-server tests run (render_zookeeper) is exactly what the component registers."""
    spec = ZooKeeperArgs(replicas=5, data_log_storage_size="1Gi")
    d = run_program(lambda: ZooKeeperEnsemble("zk", spec) and None, preview=preview)
    rendered = render_zookeeper("zk", spec)
    assert rendered == render_workload("zk", zookeeper_workload_args("zk", spec))
    assert d.one(STS).inputs["spec"] == rendered.stateful_set["spec"]
    assert d.one(CM).inputs["data"] == rendered.config_map["data"]  # type: ignore[index]
    assert service(d, "zk-headless").inputs["spec"] == rendered.headless_service["spec"]


# --------------------------------------------------------------------------- bad input

BAD_ARGS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "even replicas",
        {"replicas": 4},
        ["replicas=4", "even", "need 3 for quorum", "adds no fault tolerance", "allow_even_replicas=True"],
    ),
    ("two replicas", {"replicas": 2}, ["replicas=2", "even", "adds no fault tolerance"]),
    ("zero replicas", {"replicas": 0}, ["replicas=0", "at least 1 member"]),
    ("negative replicas", {"replicas": -3}, ["replicas=-3", "at least 1 member"]),
    ("sync limit 0", {"sync_limit": 0}, ["sync_limit=0", "at least 1 tick"]),
    ("init limit 0", {"init_limit": 0}, ["init_limit=0", "at least 1 tick"]),
    ("tick time 0", {"tick_time_ms": 0}, ["tick_time_ms=0", "at least 1 millisecond"]),
    ("tick time negative", {"tick_time_ms": -5}, ["tick_time_ms=-5", "at least 1 millisecond"]),
    (
        "heap above limit",
        {"heap": "2Gi"},
        ["heap='2Gi'", "resources.limits.memory='1Gi'", "not below", "OOM-killed"],
    ),
    (
        "heap equal to limit",
        {"heap": "1Gi", "resources": {"limits": {"memory": "1024Mi"}}},
        ["heap='1Gi'", "resources.limits.memory='1024Mi'", "not below"],
    ),
    ("heap not a quantity", {"heap": "lots"}, ["heap", "'lots'", "not a Kubernetes quantity"]),
    ("heap tiny", {"heap": "16Mi"}, ["heap='16Mi'", "below 32Mi"]),
    ("heap fractional MiB", {"heap": "100.5Mi"}, ["heap='100.5Mi'", "whole number of MiB"]),
    ("jvm heap flag", {"jvm_flags": ["-Xmx2g"]}, ["jvm_flags", "'-Xmx2g'", "use the heap field"]),
    ("jvm flag with space", {"jvm_flags": ["-Da=b c"]}, ["jvm_flags", "'-Da=b c'", "without whitespace"]),
    ("retain 2 snapshots", {"autopurge_snap_retain_count": 2}, ["autopurge_snap_retain_count=2", "at least 3"]),
    (
        "negative purge interval",
        {"autopurge_purge_interval_hours": -1},
        ["autopurge_purge_interval_hours", "-1", "greater than or equal to 0"],
    ),
    (
        "whitelist without srvr",
        {"four_letter_words": ["ruok", "mntr"]},
        ["four_letter_words=['ruok', 'mntr']", "['srvr']", "readiness probe sends srvr"],
    ),
    ("unknown four letter word", {"four_letter_words": ["srvr", "ruok", "kill"]}, ["four_letter_words", "'kill'"]),
    (
        "extra config overrides server list",
        {"extra_config": {"server.9": "evil:2888:3888"}},
        ["extra_config", "'server.9'", "rendered by the ensemble"],
    ),
    (
        "extra config overrides dataDir",
        {"extra_config": {"dataDir": "/tmp"}},
        ["extra_config", "'dataDir'", "rendered by the ensemble"],
    ),
    (
        "extra config newline",
        {"extra_config": {"snapCount": "1\nserver.9=x"}},
        ["extra_config['snapCount']", "single line"],
    ),
    ("extra config bad key", {"extra_config": {"a b": "1"}}, ["extra_config", "'a b'", "not a zoo.cfg property name"]),
    (
        "server ids beyond 255",
        {"server_id_offset": 253},
        ["server_id_offset=253", "replicas=3", "ids up to 256", "between 1 and 255"],
    ),
    ("negative id offset", {"server_id_offset": -1}, ["server_id_offset", "-1", "greater than or equal to 0"]),
    (
        "pdb breaks quorum",
        {"disruption_budget": {"max_unavailable": 2}},
        ["disruption_budget.max_unavailable=2", "replicas=3", "take down 2", "quorum needs 2 of 3"],
    ),
    (
        "pdb percentage breaks quorum",
        {"replicas": 5, "disruption_budget": {"max_unavailable": "50%"}},
        ["disruption_budget.max_unavailable='50%'", "replicas=5", "take down 3", "at most 2"],
    ),
    (
        "pdb min_available below quorum",
        {"disruption_budget": {"min_available": 1}},
        ["disruption_budget.min_available=1", "take down 2", "quorum needs 2 of 3"],
    ),
    (
        "pdb blocks drains",
        {"disruption_budget": {"min_available": 3}},
        ["disruption_budget.min_available=3", "never allows an eviction", "allow_blocking"],
    ),
    (
        "rolling update breaks quorum",
        {"update_strategy": {"type": "RollingUpdate", "max_unavailable": 2}},
        ["update_strategy.max_unavailable=2", "replicas=3", "breaks quorum"],
    ),
    (
        "partition above replicas",
        {"update_strategy": {"type": "RollingUpdate", "partition": 4}},
        ["update_strategy.partition=4", "replicas=3"],
    ),
    (
        "two storage classes",
        {"storage_class_name": "other", "create_storage_class": {"name": "zk-ssd", "provisioner": "p"}},
        ["storage_class_name='other'", "create_storage_class.name='zk-ssd'", "unused"],
    ),
    ("zero storage", {"storage_size": "0Gi"}, ["storage_size", "'0Gi'", "not a positive size"]),
    ("bad data log size", {"data_log_storage_size": "ten"}, ["data_log_storage_size", "'ten'", "Kubernetes quantity"]),
    ("selector label", {"labels": {"app.kubernetes.io/name": "x"}}, ["labels", "app.kubernetes.io/name", "selector"]),
    ("bad namespace", {"namespace": "Team_A"}, ["namespace", "'Team_A'", "DNS-1123"]),
    ("bad pod management", {"pod_management_policy": "Random"}, ["pod_management_policy", "'Random'"]),
    ("unknown field", {"replica": 3}, ["replica", "Extra inputs are not permitted"]),
    ("root user", {"run_as_user": 0}, ["run_as_user", "0", "greater than or equal to 1"]),
    ("image with space", {"image": "zookeeper 3.9"}, ["image", "'zookeeper 3.9'", "pattern"]),
]


@pytest.mark.parametrize(("overrides", "fragments"), [c[1:] for c in BAD_ARGS], ids=[c[0] for c in BAD_ARGS])
def test_bad_args_raise_a_validation_error_naming_field_value_and_rule(
    overrides: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        ZooKeeperArgs.model_validate(overrides)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message}"


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [c[1:] for c in BAD_ARGS[::3]],
    ids=[c[0] for c in BAD_ARGS[::3]],
)
def test_nothing_is_registered_on_bad_args(preview: bool, overrides: dict[str, Any], fragments: list[str]) -> None:
    error, registered = run_failing_program(lambda: ZooKeeperEnsemble("zk", overrides), preview=preview)
    assert isinstance(error, ValidationError)
    assert fragments[0] in str(error)
    assert registered == []


@pytest.mark.parametrize(("name", "fragment"), [("Zk", "DNS-1035"), ("z" * 53, "at most 52"), ("9zk", "DNS-1035")])
def test_bad_names_register_nothing(preview: bool, name: str, fragment: str) -> None:
    error, registered = run_failing_program(lambda: ZooKeeperEnsemble(name, {}), preview=preview)
    assert isinstance(error, ValidationError)
    assert repr(name) in str(error) and fragment in str(error)
    assert registered == []


def test_even_replicas_allowed_on_request(preview: bool) -> None:
    d = deploy(preview, replicas=4, allow_even_replicas=True)
    assert sts_spec(d)["replicas"] == 4
    assert d.one(PDB).inputs["spec"]["maxUnavailable"] == 1


def test_heap_without_memory_limit_is_accepted() -> None:
    spec = ZooKeeperArgs(heap="8Gi", resources={"requests": {"cpu": "1"}})
    assert spec.heap_mib == 8192


def test_quorum_arithmetic() -> None:
    assert [(n, quorum_size(n), fault_tolerance(n)) for n in (1, 2, 3, 4, 5, 7)] == [
        (1, 1, 0),
        (2, 2, 0),
        (3, 2, 1),
        (4, 3, 1),
        (5, 3, 2),
        (7, 4, 3),
    ]


def test_args_are_frozen() -> None:
    spec = ZooKeeperArgs()
    with pytest.raises(ValidationError, match="frozen"):
        spec.replicas = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- the start script, run by bash


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, Path]:
    """A fake pod: hostname file, data dir, config dir, and a zkServer.sh that prints what it got."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "zkServer.sh"
    fake.write_text('#!/usr/bin/env bash\necho "zkServer.sh $*"\necho "SERVER_JVMFLAGS=$SERVER_JVMFLAGS"\ncat "$2"\n')
    fake.chmod(0o755)
    for d in ("data", "datalog", "config"):
        (tmp_path / d).mkdir()
    return {"root": tmp_path, "bin": bin_dir, "hostname": tmp_path / "hostname"}


def run_start(
    env: dict[str, Path], name: str, spec: ZooKeeperArgs, hostname: str, namespace: str | None = "team-a"
) -> subprocess.CompletedProcess[str]:
    root = env["root"]
    script = render_start_script(name, spec)
    # Point the rendered paths at the fake pod; the logic under test is unchanged.
    for key, value in (("DATA_DIR", "data"), ("CONFIG_DIR", "config"), ("DATA_LOG_DIR", "datalog")):
        script, count = re.subn(rf"^{key}=/\S+$", f"{key}={root / value}", script, flags=re.M)
        assert count == (0 if key == "DATA_LOG_DIR" and spec.data_log_storage_size is None else 1)
    script = re.sub(r"^HOSTNAME_FILE=.*$", f"HOSTNAME_FILE={env['hostname']}", script, flags=re.M)
    (root / "config" / "zoo-base.cfg").write_text(render_base_config(name, spec))
    env["hostname"].write_text(hostname + "\n")
    bash = shutil.which("bash")
    assert bash is not None
    variables = {"PATH": f"{env['bin']}:/usr/bin:/bin"}
    if namespace is not None:
        variables["POD_NAMESPACE"] = namespace
    return subprocess.run([bash, "-c", script], env=variables, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_start_script_derives_myid_and_server_lines(script_env: dict[str, Path], ordinal: int) -> None:
    spec = ZooKeeperArgs()
    result = run_start(script_env, "zk", spec, f"zk-{ordinal}")
    assert result.returncode == 0, result.stderr
    data = script_env["root"] / "data"
    assert (data / "myid").read_text() == f"{ordinal + 1}\n"
    lines = result.stdout.splitlines()
    assert lines[0] == f"zkServer.sh start-foreground {data / 'zoo.cfg'}"
    assert lines[1] == "SERVER_JVMFLAGS=-Xms512m -Xmx512m"
    written = (data / "zoo.cfg").read_text().splitlines()
    assert written[: len(render_base_config("zk", spec).splitlines())] == render_base_config("zk", spec).splitlines()
    assert (
        [line for line in written if line.startswith("server.")]
        == server_lines("zk", spec, "team-a")
        == [
            "server.1=zk-0.zk-headless.team-a.svc.cluster.local:2888:3888;2181",
            "server.2=zk-1.zk-headless.team-a.svc.cluster.local:2888:3888;2181",
            "server.3=zk-2.zk-headless.team-a.svc.cluster.local:2888:3888;2181",
        ]
    )
    assert f"zk-{ordinal} is server {ordinal + 1} of 3 in namespace team-a" in result.stderr


def test_start_script_with_offset_domain_flags_and_data_log(script_env: dict[str, Path]) -> None:
    spec = ZooKeeperArgs(
        replicas=5,
        server_id_offset=10,
        cluster_domain="corp.internal",
        heap="256Mi",
        jvm_flags=["-XX:+UseG1GC", "-Dzookeeper.forceSync=yes"],
        data_log_storage_size="1Gi",
    )
    result = run_start(script_env, "coord", spec, "coord-4.coord-headless.team-a.svc.corp.internal")
    assert result.returncode == 0, result.stderr
    assert (script_env["root"] / "data" / "myid").read_text() == "15\n"
    assert "SERVER_JVMFLAGS=-Xms256m -Xmx256m -XX:+UseG1GC -Dzookeeper.forceSync=yes" in result.stdout
    servers = [line for line in result.stdout.splitlines() if line.startswith("server.")]
    assert servers == server_lines("coord", spec, "team-a")
    assert servers[0] == "server.11=coord-0.coord-headless.team-a.svc.corp.internal:2888:3888;2181"
    assert servers[-1].startswith("server.15=coord-4.")


def test_start_script_accepts_its_own_myid_and_refuses_another(script_env: dict[str, Path]) -> None:
    spec = ZooKeeperArgs()
    myid = script_env["root"] / "data" / "myid"
    myid.write_text("2\n")
    ok = run_start(script_env, "zk", spec, "zk-1")
    assert ok.returncode == 0, ok.stderr
    assert "myid matches: zk-1 is server 2" in ok.stderr

    myid.write_text("3\n")
    (script_env["root"] / "data" / "zoo.cfg").unlink()
    refused = run_start(script_env, "zk", spec, "zk-1")
    assert refused.returncode == 1
    assert "FATAL: refusing to start" in refused.stderr
    assert "holds myid '3', but zk-1 (ordinal 1) is server 2" in refused.stderr
    assert "zkServer.sh" not in refused.stdout  # ZooKeeper never started
    assert myid.read_text() == "3\n"  # nor was the evidence overwritten
    assert not (script_env["root"] / "data" / "zoo.cfg").exists()


@pytest.mark.parametrize(
    ("hostname", "namespace", "fragment"),
    [
        ("web-0", "team-a", "hostname 'web-0' is not 'zk-<ordinal>'"),
        ("zk-x", "team-a", "hostname 'zk-x' is not 'zk-<ordinal>'"),
        ("zk-01", "team-a", "hostname 'zk-01' is not 'zk-<ordinal>'"),
        ("zk-3", "team-a", "ordinal 3, but the ensemble has 3 members"),
        ("zk-0", None, "POD_NAMESPACE is empty"),
    ],
)
def test_start_script_refuses_a_wrong_identity(
    script_env: dict[str, Path], hostname: str, namespace: str | None, fragment: str
) -> None:
    result = run_start(script_env, "zk", ZooKeeperArgs(), hostname, namespace)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert not (script_env["root"] / "data" / "myid").exists()


# --------------------------------------------------------------------------- the probe script, run by bash


class FourLetterServer:
    """Answers every connection with a fixed reply per four-letter word, then closes (as ZooKeeper does)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                word = conn.recv(4).decode()
                conn.sendall(self.answers.get(word, "").encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def four_letter_server() -> Iterator[FourLetterServer]:
    server = FourLetterServer({})
    yield server
    server.close()


def run_probe(port: int, mode: str) -> subprocess.CompletedProcess[str]:
    script = re.sub(r"^PORT=\d+$", f"PORT={port}", render_probe_script(), flags=re.M)
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, "-c", script, "probe.sh", mode], capture_output=True, text=True, timeout=15, check=False
    )


SRVR = "Zookeeper version: 3.9.4\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000000\nMode: {mode}\nNode count: 5\n"


@pytest.mark.parametrize(
    ("answer", "ready"),
    [
        (SRVR.format(mode="leader"), True),
        (SRVR.format(mode="follower"), True),
        (SRVR.format(mode="standalone"), True),
        (SRVR.format(mode="read-only"), False),
        (SRVR.format(mode="observer"), False),
        ("This ZooKeeper instance is not currently serving requests\n", False),
        ("srvr is not executed because it is not in the whitelist.\n", False),
        ("", False),
    ],
)
def test_readiness_means_serving_in_the_quorum(four_letter_server: FourLetterServer, answer: str, ready: bool) -> None:
    four_letter_server.answers = {"srvr": answer, "ruok": "imok"}
    result = run_probe(four_letter_server.port, "ready")
    assert (result.returncode == 0) is ready, result.stdout


@pytest.mark.parametrize(("answer", "live"), [("imok", True), ("", False), ("ruok is not executed", False)])
def test_liveness_is_ruok(four_letter_server: FourLetterServer, answer: str, live: bool) -> None:
    # A member in leader election answers srvr "not currently serving" but ruok "imok": it stays alive.
    four_letter_server.answers = {"ruok": answer, "srvr": "This ZooKeeper instance is not currently serving requests\n"}
    assert (run_probe(four_letter_server.port, "live").returncode == 0) is live
    assert run_probe(four_letter_server.port, "ready").returncode == 1


def test_probes_fail_fast_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    for mode in ("ready", "live"):
        result = run_probe(port, mode)
        assert result.returncode == 1
        assert "nothing answers" in result.stdout
    assert run_probe(port, "bogus").returncode == 2


# --------------------------------------------------------------------------- properties

ZK_NAMES = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


def mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, so that accepted specs are common enough to check."""
    return st.sampled_from([True] * 12 + [False]).flatmap(lambda ok: valid if ok else invalid)


SPEC_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "replicas": mostly(st.sampled_from([1, 3, 5, 7]), st.integers(-2, 8)),
        "allow_even_replicas": st.booleans(),
        "server_id_offset": mostly(st.integers(0, 200), st.integers(-1, 260)),
        "tick_time_ms": mostly(st.integers(1, 5000), st.integers(-1, 0)),
        "init_limit": mostly(st.integers(1, 20), st.integers(-1, 0)),
        "sync_limit": mostly(st.integers(1, 20), st.integers(-1, 0)),
        "heap": mostly(
            st.sampled_from(["64Mi", "128Mi", "512Mi", "768Mi"]), st.sampled_from(["16Mi", "2Gi", "1.5Mi", "x"])
        ),
        "resources": st.sampled_from(
            [{}, {"limits": {"memory": "1Gi"}}, {"limits": {"memory": "256Mi"}}, {"requests": {"memory": "3Gi"}}]
        ),
        "autopurge_snap_retain_count": mostly(st.integers(3, 10), st.integers(0, 2)),
        "four_letter_words": mostly(
            st.lists(st.sampled_from(["mntr", "stat", "conf", "isro"]), max_size=3).map(lambda w: ["srvr", "ruok", *w]),
            st.lists(st.sampled_from(["srvr", "ruok", "mntr", "kill"]), max_size=3),
        ),
        "disruption_budget": st.sampled_from(
            [
                None,
                "auto",
                {"max_unavailable": 1},
                {"max_unavailable": 2},
                {"min_available": "60%"},
                {"min_available": 1},
            ]
        ),
        "update_strategy": st.sampled_from(
            [
                {"type": "OnDelete"},
                {"type": "RollingUpdate"},
                {"type": "RollingUpdate", "partition": 2},
                {"type": "RollingUpdate", "max_unavailable": 2},
            ]
        ),
        "data_log_storage_size": mostly(st.sampled_from([None, "1Gi"]), st.just("0")),
        "cluster_domain": mostly(st.sampled_from(["cluster.local", "corp.internal"]), st.just("Bad_Domain")),
        "extra_config": mostly(st.sampled_from([{}, {"snapCount": "1000"}]), st.just({"server.1": "x"})),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=ZK_NAMES, fields=SPEC_FIELDS, namespace=st.sampled_from(["default", "team-a"]))
def test_accepted_specs_render_a_correct_ensemble(name: str, fields: dict[str, Any], namespace: str) -> None:
    try:
        spec = ZooKeeperArgs.model_validate(fields)
    except ValidationError:
        event("rejected")
        return  # rejected cleanly; any other exception fails the test
    event("accepted")
    n = spec.replicas
    assert n >= 1 and (n % 2 == 1 or spec.allow_even_replicas)
    lines = server_lines(name, spec, namespace)
    ids = [int(line.split("=", 1)[0].removeprefix("server.")) for line in lines]
    assert len(lines) == n and len(set(ids)) == n
    assert all(1 <= i <= 255 for i in ids)
    assert len({line.split("=", 1)[1] for line in lines}) == n
    manifests = render_zookeeper(name, spec)  # never raises for an accepted spec
    assert manifests.stateful_set["spec"]["replicas"] == n
    assert manifests.headless_service["spec"]["publishNotReadyAddresses"] is True
    budget = manifests.pdb["spec"] if manifests.pdb else None
    if budget and "maxUnavailable" in budget and isinstance(budget["maxUnavailable"], int):
        assert budget["maxUnavailable"] <= fault_tolerance(n)
    cfg = manifests.config_map["data"]["zoo-base.cfg"] if manifests.config_map else ""
    assert "srvr" in cfg and "ruok" in cfg


def test_auto_budget_follows_the_quorum_not_the_replica_count() -> None:
    """Two members cannot lose one and keep a quorum: 'auto' gives them no PDB (a budget could
    only block drains), three or more get maxUnavailable 1."""
    two = render_zookeeper("zk", ZooKeeperArgs(replicas=2, allow_even_replicas=True))
    assert two.pdb is None
    for replicas in (3, 4, 5):
        manifests = render_zookeeper("zk", ZooKeeperArgs(replicas=replicas, allow_even_replicas=True))
        assert manifests.pdb is not None and manifests.pdb["spec"]["maxUnavailable"] == 1
