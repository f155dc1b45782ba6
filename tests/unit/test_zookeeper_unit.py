"""ZooKeeperEnsemble under Pulumi mocks (preview and update), its rendered files run by bash, and its rules.

The start, preStop and probe scripts are executed here too (bash, no root, no ZooKeeper): with a fake
hostname file, a fake zkServer.sh / zkCli.sh and a fake four-letter-word server they must write the
right myid and membership, keep a membership ZooKeeper recorded, refuse a foreign myid, remove the
member as the super user within their bound, and answer ready/live exactly on the right answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pydantic import ValidationError

from statefulkit.args.quorum import fault_tolerance, quorum_size
from statefulkit.args.zookeeper import (
    CLIENT_PORT,
    DEFAULT_IMAGE,
    ELECTION_PORT,
    QUORUM_PORT,
    ZooKeeperArgs,
)
from statefulkit.render.workload import WorkloadNames, pod_dns_names, render_workload
from statefulkit.render.zookeeper import PROMETHEUS_PROVIDER, ZooKeeperRender, render_config_files, render_probe_script
from statefulkit.testing import SECRET_SIG, Deployment, Resource, run, run_failing
from statefulkit.workload import StatefulWorkload
from statefulkit.zookeeper import ZooKeeperEnsemble
from tests.support.tokens import CERTIFICATE, CM, NETPOL, PDB, SC, SECRET, STS, SVC, WORKLOAD, ZOOKEEPER

FQDN = "{sts}-{i}.{sts}-headless.{ns}.svc.{domain}"


def deploy(preview: bool, name: str = "zk", **args: Any) -> Deployment:
    def program() -> dict[str, Any]:
        ensemble = ZooKeeperEnsemble(name, args)
        return {
            "connect": ensemble.connect_string,
            "client_service": ensemble.client_service_name,
            "dns": ensemble.pod_dns_names,
            "secret_name": ensemble.password_secret_name,
        }

    return run(program, preview=preview, project="statefulkit")


def sts_spec(d: Deployment) -> dict[str, Any]:
    spec: dict[str, Any] = d.one(STS).inputs["spec"]
    return spec


def container(d: Deployment) -> dict[str, Any]:
    containers = sts_spec(d)["template"]["spec"]["containers"]
    assert len(containers) == 1
    main: dict[str, Any] = containers[0]
    return main


def service(d: Deployment, k8s_name: str) -> Resource:
    return next(r for r in d.of_type(SVC) if r.k8s_name == k8s_name)


def config_map(d: Deployment, k8s_name: str | None = None) -> Resource:
    """The ConfigMap named `k8s_name`; by default the ensemble's hashed `<name>-config`."""
    return next(
        r for r in d.of_type(CM) if r.k8s_name == k8s_name or (k8s_name is None and r.k8s_name.endswith("-config"))
    )


def config_data(d: Deployment) -> dict[str, str]:
    data: dict[str, str] = config_map(d).inputs["data"]
    return data


def server_lines(name: str, spec: ZooKeeperArgs, namespace: str) -> list[str]:
    """What a brand-new ensemble's membership must be: one participant line per member, ids from
    ordinal + 1 + server_id_offset, hosts the members' FQDNs (the oracle for start.sh)."""
    hosts = pod_dns_names(WorkloadNames.of(name), spec.replicas, namespace, spec.cluster_domain)
    return [
        f"server.{server_id}={host}:{QUORUM_PORT}:{ELECTION_PORT}:participant;{CLIENT_PORT}"
        for server_id, host in zip(spec.server_ids(), hosts, strict=True)
    ]


# --------------------------------------------------------------------------- the component tree


def test_component_tree_names_and_parents(preview: bool) -> None:
    d = deploy(preview)
    ensemble = d.one(ZOOKEEPER)
    workload = d.one(WORKLOAD)
    assert ensemble.name == "zk" and ensemble.parent.endswith("pulumi:pulumi:Stack::statefulkit-test")
    assert workload.parent == ensemble.urn
    children = [r for r in d.resources if r.type in {STS, SVC, PDB, CM} and r.parent == workload.urn]
    assert sorted((r.type, r.k8s_name) for r in children) == sorted(
        [(CM, "zk-config"), (SVC, "zk"), (SVC, "zk-headless"), (STS, "zk"), (PDB, "zk")]
    )
    # The ensemble's own: the replica count a new ensemble founds itself with, and the super user's password.
    own = [r for r in d.resources if r.parent == ensemble.urn and r.type != WORKLOAD]
    assert sorted((r.type, r.k8s_name) for r in own) == [(CM, "zk-bootstrap"), (SECRET, "zk-admin")]
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
    assert c["env"] == [
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "BOOTSTRAP_REPLICAS", "valueFrom": {"configMapKeyRef": {"name": "zk-bootstrap", "key": "replicas"}}},
        {"name": "ZK_SUPER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "zk-admin", "key": "password"}}},
    ]
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["bash", "/config/prestop.sh"]}}}
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


def test_tls_serves_clients_and_the_members_own_scripts_on_the_tls_port_only(preview: bool) -> None:
    d = deploy(preview, namespace="data", tls={"secret_name": "zk-certs", "client_certificates": True})
    files = config_data(d)
    base = files["zoo-base.cfg"]
    for line in (
        "secureClientPort=2281",
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
        "sslQuorum=true",
        "ssl.keyStore.location=/tls-keystore/keystore.pem",
        "ssl.quorum.keyStore.type=PEM",
        "ssl.quorum.trustStore.location=/tls/ca.crt",
        "ssl.clientAuth=need",
    ):
        assert f"\n{line}\n" in base, line
    assert "clientPort=" not in base.replace("secureClientPort=", "")  # the server lines say: loopback
    assert "-----BEGIN" not in "".join(files.values())  # no key or certificate in the ConfigMap
    # The scripts talk to the members over TLS, and list them without a plaintext client port.
    for line in (
        "PORT=2281",
        "CLIENT_SPEC=';127.0.0.1:2181'",
        "TLS_DIR=/tls",
        "TLS_KEYSTORE=/tls-keystore/keystore.pem",
    ):
        assert f"\n{line}\n" in files["common.sh"], line
    for line in ("PORT=2281", "TLS_DIR=/tls"):
        assert f"\n{line}\n" in files["probe.sh"], line
    pod = sts_spec(d)["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "zk-certs", "defaultMode": 0o440}} in pod["volumes"]
    assert {"name": "tls-keystore", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    mounts = container(d)["volumeMounts"]
    assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in mounts
    assert {"name": "tls-keystore", "mountPath": "/tls-keystore"} in mounts
    assert 2181 not in [p["containerPort"] for p in container(d)["ports"]]
    client = service(d, "zk").inputs["spec"]
    assert client["ports"] == [
        {"name": "secure-client", "port": 2281, "targetPort": "secure-client", "protocol": "TCP"}
    ]
    assert d.outputs["connect"].startswith("zk-0.zk-headless.data.svc.cluster.local:2281,")
    policy = d.one(NETPOL).inputs["spec"]["ingress"]
    assert [p["port"] for p in policy[0]["ports"]] == [2281, 2888, 3888]  # members
    assert [p["port"] for p in policy[1]["ports"]] == [2281]  # clients: TLS only
    plain = config_data(deploy(preview))
    assert "ssl" not in plain["zoo-base.cfg"] and "secureClientPort" not in plain["zoo-base.cfg"]
    for line in ("PORT=2181", "CLIENT_SPEC=';2181'", "TLS_DIR=''", "TLS_KEYSTORE=''"):
        assert f"\n{line}\n" in plain["common.sh"], line


def test_plaintext_client_port_keeps_2181_for_clients_beside_tls(preview: bool) -> None:
    d = deploy(preview, tls={"secret_name": "zk-certs"}, plaintext_client_port=True)
    files = config_data(d)
    for line in ("PORT=2281", "CLIENT_SPEC=';2181'", "TLS_DIR=/tls"):
        assert f"\n{line}\n" in files["common.sh"], line
    assert [p["name"] for p in service(d, "zk").inputs["spec"]["ports"]] == ["client", "secure-client"]
    policy = d.one(NETPOL).inputs["spec"]["ingress"]
    assert [p["port"] for p in policy[1]["ports"]] == [2181, 2281]
    assert d.outputs["connect"].startswith("zk-0.zk-headless.default.svc.cluster.local:2281,")


def test_tls_from_cert_manager_names_every_member_and_service(preview: bool) -> None:
    d = deploy(preview, namespace="data", tls={"issuer_ref": {"name": "ca"}})
    (certificate,) = d.of_type(CERTIFICATE)
    spec = certificate.inputs["spec"]
    assert spec["secretName"] == "zk-tls" and spec["issuerRef"]["kind"] == "Issuer"
    assert "*.zk-headless.data.svc.cluster.local" in spec["dnsNames"]
    assert "zk.data.svc.cluster.local" in spec["dnsNames"] and "zk" in spec["dnsNames"]
    assert certificate.urn in d.one(STS).dependencies


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


def test_single_member_has_no_pdb_and_is_a_quorum_of_one(preview: bool) -> None:
    d = deploy(preview, replicas=1)
    assert d.of_type(PDB) == []
    # Not standalone: a quorum of one can grow by reconfig without a restart.
    assert "standaloneEnabled=false" in config_data(d)["zoo-base.cfg"].splitlines()
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
    assert "REMOVAL_SECONDS=20" in config_data(d)["prestop.sh"].splitlines()


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
    assert "DATA_LOG_DIR=/datalog" in data["common.sh"]


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


# --------------------------------------------------------------------------- the super user's password


def test_the_admin_secret_is_random_secret_and_kept(preview: bool) -> None:
    first, second = deploy(preview), deploy(preview)
    secrets_ = [d.one(SECRET) for d in (first, second)]
    for secret in secrets_:
        assert secret.k8s_name == "zk-admin"
        assert secret.inputs["type"] == "Opaque"
        # Marked secret in the state, and generated only once: later runs keep the Secret's data.
        assert secret.wire["stringData"][rpc._special_sig_key] == SECRET_SIG
        assert set(secret.additional_secret_outputs) == {"data", "stringData"}
        assert set(secret.ignore_changes) == {"data", "stringData"}
    passwords = [secret.wire["stringData"]["value"]["password"] for secret in secrets_]
    assert passwords[0] != passwords[1]  # a fresh one per run, which ignore_changes drops after the first
    for password in passwords:
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", password), password
    # The password is nowhere else: not in the ConfigMaps, the StatefulSet or the outputs.
    for r in first.resources:
        if r.type != SECRET:
            assert passwords[0] not in json.dumps(r.inputs, default=str), r.name
    assert passwords[0] not in json.dumps(first.outputs, default=str)
    # The StatefulSet waits for the Secret and the bootstrap ConfigMap it reads, but none of its
    # properties come from that ConfigMap: a scale replaces it, and must not replace the StatefulSet.
    sts = first.one(STS)
    bootstrap = config_map(first, "zk-bootstrap").urn
    assert first.one(SECRET).urn in sts.dependencies
    assert bootstrap in sts.dependencies
    assert first.one(SECRET).urn in sts.property_dependencies["spec"]
    assert not [key for key, urns in sts.property_dependencies.items() if bootstrap in urns]
    assert first.outputs["secret_name"] == first.one(SECRET).k8s_name


def test_an_existing_secret_is_used_instead(preview: bool) -> None:
    d = deploy(preview, existing_secret={"name": "zk-super", "key": "pw"})
    assert d.of_type(SECRET) == []
    env = {e["name"]: e["valueFrom"] for e in container(d)["env"]}
    assert env["ZK_SUPER_PASSWORD"] == {"secretKeyRef": {"name": "zk-super", "key": "pw"}}
    assert d.outputs["secret_name"] == "zk-super"  # noqa: S105 - a Secret's name


def test_an_existing_secret_may_be_an_output(preview: bool) -> None:
    def program() -> dict[str, Any]:
        secret = k8s.core.v1.Secret("super", metadata={"name": "super-pw"}, string_data={"pw": "x"})
        ensemble = ZooKeeperEnsemble("zk", {"existing_secret": {"name": secret.metadata.name, "key": "pw"}})
        return {"secret_name": ensemble.password_secret_name}

    d = run(program, preview=preview)
    sts = d.one(STS)
    env = {e["name"]: e["valueFrom"] for e in sts.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ZK_SUPER_PASSWORD"] == {"secretKeyRef": {"name": "super-pw", "key": "pw"}}
    assert d.outputs["secret_name"] == "super-pw"  # noqa: S105 - a Secret's name
    assert next(r for r in d.of_type(SECRET) if r.k8s_name == "super-pw").urn in sts.dependencies


# --------------------------------------------------------------------------- outputs


def test_outputs_with_plain_namespace(preview: bool) -> None:
    d = deploy(preview, namespace="data", cluster_domain="corp.internal")
    hosts = [FQDN.format(sts="zk", i=i, ns="data", domain="corp.internal") for i in range(3)]
    assert d.outputs["dns"] == hosts
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["client_service"] == "zk"
    assert all(
        r.inputs["metadata"]["namespace"] == "data" for r in d.resources if r.type in {STS, SVC, PDB, CM, SECRET}
    )


def test_outputs_with_output_namespace(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "team-a"})
        ensemble = ZooKeeperEnsemble("coord", ZooKeeperArgs(namespace=ns.metadata.name, replicas=5))
        assert isinstance(ensemble.connect_string, pulumi.Output)
        assert isinstance(ensemble.workload, StatefulWorkload)
        return {"connect": ensemble.connect_string, "dns": ensemble.pod_dns_names}

    d = run(program, preview=preview)
    hosts = [FQDN.format(sts="coord", i=i, ns="team-a", domain="cluster.local") for i in range(5)]
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["dns"] == hosts
    namespaced = [r for r in d.resources if r.type in {STS, SVC, PDB, CM, SECRET}]
    assert len(namespaced) == 7
    assert all(r.inputs["metadata"]["namespace"] == "team-a" for r in namespaced)
    # The ConfigMap does not depend on the Output: the script reads the namespace in the pod.
    assert "team-a" not in "".join(config_data(d).values())


def test_typed_and_dict_args_register_the_same(preview: bool) -> None:
    typed = ZooKeeperArgs(replicas=5, heap="256Mi", data_log_storage_size="2Gi", server_id_offset=3)

    def registered(args: Any) -> list[tuple[str, str, Any]]:
        d = run(lambda: ZooKeeperEnsemble("zk", args) and None, preview=preview)
        # The generated password differs on every run (the Secret keeps the first one).
        return sorted((r.type, r.name, r.inputs) for r in d.resources if r.type != SECRET)

    assert registered(typed) == registered(typed.model_dump(mode="python"))


def test_registered_manifests_are_the_pure_renderers(preview: bool) -> None:
    """What the real-server tests run (render_zookeeper) is exactly what the component registers."""
    spec = ZooKeeperArgs(replicas=5, data_log_storage_size="1Gi")
    d = run(lambda: ZooKeeperEnsemble("zk", spec) and None, preview=preview)
    rendered = ZooKeeperRender("zk", spec).manifests()
    assert rendered == render_workload("zk", ZooKeeperRender("zk", spec).workload_args())
    assert d.one(STS).inputs["spec"] == rendered.stateful_set["spec"]
    assert config_data(d) == rendered.config_map["data"]  # type: ignore[index]
    assert config_map(d, "zk-bootstrap").inputs["data"] == ZooKeeperRender("zk", spec).config_maps()[0]["data"]
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
        {"four_letter_words": ["ruok", "mntr", "conf"]},
        ["four_letter_words=['ruok', 'mntr', 'conf']", "['srvr']", "readiness probe sends srvr"],
    ),
    (
        "whitelist without conf",
        {"four_letter_words": ["srvr", "ruok"]},
        ["four_letter_words=['srvr', 'ruok']", "must contain ['conf']", "reads the membership from its peers"],
    ),
    (
        "removal outlasts the grace period",
        {"member_removal_seconds": 28},
        [
            "member_removal_seconds=28 with termination_grace_period_seconds=30",
            "at least 5 s before the grace period",
            "killed mid-reconfiguration",
        ],
    ),
    (
        "grace period too short for the removal",
        {"termination_grace_period_seconds": 10},
        ["member_removal_seconds=20 with termination_grace_period_seconds=10", "raise the grace period"],
    ),
    (
        "removal too short",
        {"member_removal_seconds": 2},
        ["member_removal_seconds=2 is below the minimum of 5", "each try runs zkCli.sh"],
    ),
    (
        "skipACL in extra config",
        {"extra_config": {"skipACL": "yes"}},
        ["extra_config", "'skipACL'", "without the super user's password"],
    ),
    (
        "super digest in jvm flags",
        {"jvm_flags": ["-Dzookeeper.DigestAuthenticationProvider.superDigest=super:x"]},
        ["jvm_flags", "superDigest=super:x'", "without the super user's password"],
    ),
    (
        "skipACL in jvm flags",
        {"jvm_flags": ["-Dzookeeper.skipACL=yes"]},
        ["jvm_flags", "'-Dzookeeper.skipACL=yes'", "reconfigure the ensemble"],
    ),
    (
        "existing secret without a key",
        {"existing_secret": {"name": "zk-super", "key": ""}},
        ["existing_secret.key", "at least 1 character"],
    ),
    (
        "existing secret with a bad name",
        {"existing_secret": {"name": "Super_PW", "key": "pw"}},
        ["existing_secret.name", "'Super_PW'", "DNS-1123"],
    ),
    ("unknown four letter word", {"four_letter_words": ["srvr", "ruok", "kill"]}, ["four_letter_words", "'kill'"]),
    (
        "plaintext client port without tls",
        {"plaintext_client_port": True},
        ["plaintext_client_port=True without tls", "set tls or drop plaintext_client_port"],
    ),
    (
        "secure client port in extra config",
        {"extra_config": {"secureClientPort": "3000"}},
        ["extra_config", "'secureClientPort'", "rendered by the ensemble itself"],
    ),
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
    ("unknown field", {"replica": 3}, ["replica", "unknown field; did you mean 'replicas'?"]),
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
    failed = run_failing(lambda: ZooKeeperEnsemble("zk", overrides), preview=preview)
    error, registered = failed.error, failed.resources
    assert isinstance(error, ValidationError)
    assert fragments[0] in str(error)
    assert registered == []


@pytest.mark.parametrize(("name", "fragment"), [("Zk", "DNS-1035"), ("z" * 53, "at most 52"), ("9zk", "DNS-1035")])
def test_bad_names_register_nothing(preview: bool, name: str, fragment: str) -> None:
    failed = run_failing(lambda: ZooKeeperEnsemble(name, {}), preview=preview)
    error, registered = failed.error, failed.resources
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


# --------------------------------------------------------------------------- the scripts, run by bash in a fake pod

PASSWORD = "s3cret-super-pw"  # noqa: S105 - a test-only password


def conf_answer(
    voters: list[int], version: str = "100000003", observers: tuple[int, ...] = (), server_id: int = 2
) -> str:
    """What `conf` answers on serving member `server_id`: its settings, then the committed membership."""
    lines = ["clientPort=2181", f"serverId={server_id}", "electionPort=3888", "membership: "]
    for i in sorted([*voters, *observers]):
        role = "observer" if i in observers else "participant"
        lines.append(f"server.{i}=zk-{i - 1}.zk-headless.team-a.svc.cluster.local:2888:3888:{role};0.0.0.0:2181")
    return "\n".join(lines) + f"\nversion={version}"


NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


class FourLetterServer:
    """Answers every connection with a reply per four-letter word (a string, or a function of nothing
    for an answer that changes), then closes, as ZooKeeper does."""

    def __init__(self, answers: dict[str, str | Callable[[], str]]) -> None:
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
                answer = self.answers.get(conn.recv(4).decode(), "")
                conn.sendall((answer() if callable(answer) else answer).encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def four_letter_server() -> Iterator[FourLetterServer]:
    server = FourLetterServer({})
    yield server
    server.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
    return port


# zkCli.sh stand-in: logs its arguments and standard input, then answers as the next line of
# zkcli-outcomes says: `busy` (another reconfig runs), `disabled` (an ensemble without reconfig), `ok`
# (committed; creates the `committed` file, which the fake server's conf answer follows) or anything
# else (a failure).
FAKE_ZKCLI = """#!/usr/bin/env bash
root=@ROOT@
{ printf 'ARGS %s\\n' "$*"; cat; printf 'END\\n'; } >>"$root/zkcli-calls"
n=$(grep -c '^END$' "$root/zkcli-calls")
outcome=$(sed -n "${n}p" "$root/zkcli-outcomes" 2>/dev/null)
case "$outcome" in
busy) echo "KeeperErrorCode = ReconfigInProgress"; exit 1 ;;
disabled) echo "KeeperErrorCode = Reconfig is disabled"; exit 1 ;;
ok) touch "$root/committed"; printf 'Committed new configuration:\\nversion=200000002\\n'; exit 0 ;;
*) echo "KeeperErrorCode = ConnectionLoss"; exit 1 ;;
esac
"""
# zkServer.sh stand-in: prints what it got, the config and the membership file it points at. It
# marks the member as leaving, so the start script's join helper ends (in a pod, with the container).
FAKE_ZKSERVER = """#!/usr/bin/env bash
echo "zkServer.sh $*"
echo "SERVER_JVMFLAGS=$SERVER_JVMFLAGS"
cat "$2"
echo "--- membership"
cat "$(sed -n 's/^dynamicConfigFile=//p' "$2")"
touch "$(dirname "$2")/statefulkit-leaving"
"""


@dataclass
class FakePod:
    """A pod's file system for the scripts: hostname file, config, data and data log dirs, fake tools."""

    root: Path

    def __post_init__(self) -> None:
        for d in ("bin", "config", "data", "datalog"):
            (self.root / d).mkdir()
        for tool, text in (("zkServer.sh", FAKE_ZKSERVER), ("zkCli.sh", FAKE_ZKCLI.replace("@ROOT@", str(self.root)))):
            (self.root / "bin" / tool).write_text(text)
            (self.root / "bin" / tool).chmod(0o755)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def install(self, name: str, spec: ZooKeeperArgs, client_port: int | None = None) -> None:
        """The rendered ConfigMap files, their paths (and the client port, for a fake server) pointed
        at this fake pod."""
        paths = {"DATA_DIR": "data", "CONFIG_DIR": "config", "DATA_LOG_DIR": "datalog"}
        for file, rendered in render_config_files(name, spec).items():
            text = rendered
            for key, value in paths.items():
                text = re.sub(rf"^{key}=/\S+$", f"{key}={self.root / value}", text, flags=re.M)
            text = re.sub(r"^HOSTNAME_FILE=.*$", f"HOSTNAME_FILE={self.root / 'hostname'}", text, flags=re.M)
            if client_port is not None:
                text = re.sub(r"^PORT=\d+$", f"PORT={client_port}", text, flags=re.M)
            (self.root / "config" / file).write_text(text)

    def run(
        self,
        script: str,
        hostname: str,
        *,
        namespace: str | None = "team-a",
        password: str | None = PASSWORD,
        bootstrap_replicas: str | None = "3",
        timeout: float = 30,
        args: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        (self.root / "hostname").write_text(hostname + "\n")
        bash = shutil.which("bash")
        assert bash is not None
        env = {"PATH": f"{self.root / 'bin'}:/usr/bin:/bin"}
        for key, value in (
            ("POD_NAMESPACE", namespace),
            ("ZK_SUPER_PASSWORD", password),
            ("BOOTSTRAP_REPLICAS", bootstrap_replicas),
        ):
            if value is not None:
                env[key] = value
        return subprocess.run(
            [bash, str(self.root / "config" / script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def zkcli_calls(self) -> list[tuple[str, list[str]]]:
        """(arguments, standard input lines) of every zkCli.sh run."""
        path = self.root / "zkcli-calls"
        text = path.read_text() if path.exists() else ""
        calls = []
        for block in text.split("END\n")[:-1]:
            args, *stdin = block.splitlines()
            calls.append((args.removeprefix("ARGS "), stdin))
        return calls


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    return FakePod(tmp_path)


def start(pod: FakePod, name: str, spec: ZooKeeperArgs, hostname: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    pod.install(name, spec)  # no member serves: no peer name resolves here, nothing answers on localhost
    return pod.run("start.sh", hostname, **kw)


def expected_digest(password: str) -> str:
    return base64.b64encode(hashlib.sha1(f"super:{password}".encode()).digest()).decode()  # noqa: S324 - ZooKeeper's


def membership_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.split("--- membership\n", 1)[1].splitlines()


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_start_script_founds_a_new_ensemble(pod: FakePod, ordinal: int) -> None:
    spec = ZooKeeperArgs()
    result = start(pod, "zk", spec, f"zk-{ordinal}")
    assert result.returncode == 0, result.stderr
    assert (pod.data / "myid").read_text() == f"{ordinal + 1}\n"
    lines = result.stdout.splitlines()
    assert lines[0] == f"zkServer.sh start-foreground {pod.data / 'zoo.cfg'}"
    # The super user is the password's digest, computed in bash; the password itself is on no command line.
    digest = expected_digest(PASSWORD)
    assert (
        lines[1]
        == f"SERVER_JVMFLAGS=-Xms512m -Xmx512m -Dzookeeper.DigestAuthenticationProvider.superDigest=super:{digest}"
    )
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    written = (pod.data / "zoo.cfg").read_text()
    base = (pod.root / "config" / "zoo-base.cfg").read_text()
    assert written == base + f"dynamicConfigFile={pod.data / 'zoo.cfg.dynamic.bootstrap'}\n"
    # A version-less file name: ZooKeeper numbers the first configuration itself once a leader is elected.
    assert (
        membership_of(result)
        == server_lines("zk", spec, "team-a")
        == [
            "server.1=zk-0.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
            "server.2=zk-1.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
            "server.3=zk-2.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
        ]
    )
    assert f"zk-{ordinal} is server {ordinal + 1}; founding a new ensemble of 3 member(s) in namespace team-a" in (
        result.stderr
    )


def test_the_bootstrap_count_comes_from_the_environment_not_the_script(pod: FakePod) -> None:
    result = start(pod, "zk", ZooKeeperArgs(replicas=3), "zk-0", bootstrap_replicas="5")
    assert result.returncode == 0, result.stderr
    assert [line.split("=", 1)[0] for line in membership_of(result)] == [f"server.{i}" for i in range(1, 6)]


def test_start_script_with_offset_domain_flags_and_data_log(pod: FakePod) -> None:
    spec = ZooKeeperArgs(
        replicas=5,
        server_id_offset=10,
        cluster_domain="corp.internal",
        heap="256Mi",
        jvm_flags=["-XX:+UseG1GC", "-Dzookeeper.forceSync=yes"],
        data_log_storage_size="1Gi",
    )
    result = start(pod, "coord", spec, "coord-4.coord-headless.team-a.svc.corp.internal", bootstrap_replicas="5")
    assert result.returncode == 0, result.stderr
    assert (pod.data / "myid").read_text() == "15\n"
    flags = f"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:{expected_digest(PASSWORD)}"
    assert f"SERVER_JVMFLAGS=-Xms256m -Xmx256m {flags} -XX:+UseG1GC -Dzookeeper.forceSync=yes" in result.stdout
    servers = membership_of(result)
    assert servers == server_lines("coord", spec, "team-a")
    assert servers[0] == "server.11=coord-0.coord-headless.team-a.svc.corp.internal:2888:3888:participant;2181"
    assert servers[-1].startswith("server.15=coord-4.")


def test_start_script_accepts_its_own_myid_and_refuses_another(pod: FakePod) -> None:
    spec = ZooKeeperArgs()
    myid = pod.data / "myid"
    myid.write_text("2\n")
    ok = start(pod, "zk", spec, "zk-1")
    assert ok.returncode == 0, ok.stderr
    assert "myid matches: zk-1 is server 2" in ok.stderr

    myid.write_text("3\n")
    (pod.data / "zoo.cfg").unlink()
    refused = start(pod, "zk", spec, "zk-1")
    assert refused.returncode == 1
    assert "FATAL: refusing to start" in refused.stderr
    assert "holds myid '3', but zk-1 (ordinal 1) is server 2" in refused.stderr
    assert "zkServer.sh" not in refused.stdout  # ZooKeeper never started
    assert myid.read_text() == "3\n"  # nor was the evidence overwritten
    assert not (pod.data / "zoo.cfg").exists()


@pytest.mark.parametrize(
    ("hostname", "env", "fragment"),
    [
        ("web-0", {}, "hostname 'web-0' is not 'zk-<ordinal>'"),
        ("zk-x", {}, "hostname 'zk-x' is not 'zk-<ordinal>'"),
        ("zk-01", {}, "hostname 'zk-01' is not 'zk-<ordinal>'"),
        ("zk-0", {"namespace": None}, "POD_NAMESPACE is empty"),
        ("zk-0", {"password": None}, "ZK_SUPER_PASSWORD is empty"),
        ("zk-0", {"password": "two words"}, "password contains whitespace"),
        ("zk-0", {"bootstrap_replicas": None}, "BOOTSTRAP_REPLICAS='' is not a member count"),
        ("zk-0", {"bootstrap_replicas": "0"}, "BOOTSTRAP_REPLICAS='0' is not a member count"),
    ],
)
def test_start_script_refuses_a_wrong_identity(pod: FakePod, hostname: str, env: dict[str, Any], fragment: str) -> None:
    result = start(pod, "zk", ZooKeeperArgs(), hostname, **env)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "zkServer.sh" not in result.stdout
    assert not (pod.data / "myid").exists()


def recorded_membership(pod: FakePod, voters: list[int], *, history: bool = True) -> Path:
    """A volume as ZooKeeper leaves it: its own rewrite of zoo.cfg pointing at the membership file
    of the last configuration it committed (version 100000003), and a snapshot."""
    (pod.data / "myid").write_text("2\n")
    dynamic = pod.data / "zoo.cfg.dynamic.100000003"
    dynamic.write_text("\n".join(conf_answer(voters).split("membership: \n")[1].splitlines()[:-1]) + "\n")
    (pod.data / "zoo.cfg").write_text(f"tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile={dynamic}\n")
    (pod.data / "zoo.cfg.dynamic.next").write_text("server.2=pending\nversion=100000005\n")
    if history:
        (pod.data / "version-2").mkdir()
        (pod.data / "version-2" / "snapshot.100000003").write_text("snapshot")
    return dynamic


def test_a_membership_zookeeper_recorded_is_kept(pod: FakePod) -> None:
    """The whole ensemble restarts (no peer serves): a listed member starts with the membership
    ZooKeeper recorded, untouched; only the static part of zoo.cfg is rendered again."""
    dynamic = recorded_membership(pod, [1, 2, 3])
    before = dynamic.read_bytes(), dynamic.stat().st_mtime_ns
    result = start(pod, "zk", ZooKeeperArgs(tick_time_ms=3000), "zk-1")
    assert result.returncode == 0, result.stderr
    assert (dynamic.read_bytes(), dynamic.stat().st_mtime_ns) == before
    assert (pod.data / "zoo.cfg.dynamic.next").exists()  # ZooKeeper's own, for a reconfig under way
    written = (pod.data / "zoo.cfg").read_text()
    assert "tickTime=3000" in written.splitlines()
    assert written.endswith(f"dynamicConfigFile={dynamic}\n")
    assert "starts with the membership it recorded" in result.stderr


def test_a_static_membership_from_before_reconfig_is_taken_over(pod: FakePod) -> None:
    """A volume written before membership was dynamic (server lines in zoo.cfg, no role): after the
    upgrade, a whole-ensemble restart starts from that list instead of waiting for a peer forever."""
    (pod.data / "myid").write_text("2\n")
    static = [f"server.{i}=zk-{i - 1}.zk-headless.team-a.svc.cluster.local:2888:3888;2181" for i in (1, 2, 3)]
    (pod.data / "zoo.cfg").write_text("tickTime=2000\nreconfigEnabled=false\n" + "\n".join(static) + "\n")
    (pod.data / "version-2").mkdir()
    (pod.data / "version-2" / "snapshot.100000000").write_text("snapshot")
    result = start(pod, "zk", ZooKeeperArgs(), "zk-1")
    assert result.returncode == 0, result.stderr
    assert membership_of(result) == static
    written = (pod.data / "zoo.cfg").read_text()
    assert written.endswith(f"dynamicConfigFile={pod.data / 'zoo.cfg.dynamic.static'}\n")
    assert not any(line.startswith("server.") for line in written.splitlines())


@pytest.mark.parametrize(
    ("hostname", "setup", "fragment"),
    [
        # Removed when it stopped (no longer listed): it must join through a live peer.
        ("zk-1", lambda pod: recorded_membership(pod, [1, 3]), "waits for one, to join the ensemble"),
        # A data volume without a recorded membership never founds a new ensemble.
        ("zk-1", lambda pod: recorded_membership(pod, [1, 2, 3]) and (pod.data / "zoo.cfg").unlink(), "waits for one"),
        # A member beyond the bootstrap count only ever joins.
        ("zk-3", lambda pod: None, "waits for one, to join the ensemble"),
    ],
    ids=["removed when it stopped", "data without a recorded membership", "beyond the bootstrap count"],
)
def test_a_member_that_must_join_waits_for_a_serving_peer(
    pod: FakePod, hostname: str, setup: Callable[[FakePod], Any], fragment: str
) -> None:
    setup(pod)
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        start(pod, "zk", ZooKeeperArgs(), hostname, timeout=2.5)
    stderr = waited.value.stderr.decode() if isinstance(waited.value.stderr, bytes) else str(waited.value.stderr)
    stdout = waited.value.stdout.decode() if isinstance(waited.value.stdout, bytes) else str(waited.value.stdout or "")
    assert fragment in stderr
    assert "zkServer.sh" not in stdout


# --------------------------------------------------------------------------- the preStop hook, run by bash


def prestop(
    pod: FakePod, server: FourLetterServer, outcomes: list[str], *, removal_seconds: int = 5
) -> tuple[subprocess.CompletedProcess[str], float]:
    """zk-1 (server 2) stops; the fake server answers for it on 127.0.0.1, zkCli.sh as `outcomes` say.
    `removal_seconds` is written into the rendered script, below the model's minimum, to keep this quick."""
    pod.install("zk", ZooKeeperArgs(), server.port)
    hook = pod.root / "config" / "prestop.sh"
    hook.write_text(
        re.sub(r"^REMOVAL_SECONDS=\d+$", f"REMOVAL_SECONDS={removal_seconds}", hook.read_text(), flags=re.M)
    )
    (pod.root / "zkcli-outcomes").write_text("".join(f"{o}\n" for o in outcomes))
    started = time.monotonic()
    result = pod.run("prestop.sh", "zk-1", timeout=removal_seconds + 20)
    return result, time.monotonic() - started


def listed_until_committed(pod: FakePod) -> Callable[[], str]:
    return lambda: conf_answer([1, 3] if (pod.root / "committed").exists() else [1, 2, 3])


def test_prestop_removes_the_member_as_the_super_user_retrying_a_busy_ensemble(
    pod: FakePod, four_letter_server: FourLetterServer
) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    result, took = prestop(pod, four_letter_server, ["busy", "ok"])
    assert result.returncode == 0, result.stderr
    calls = pod.zkcli_calls()
    assert len(calls) == 2
    for args, stdin in calls:
        # The password goes in on standard input, never on the command line.
        assert args == f"-server 127.0.0.1:{four_letter_server.port}"
        assert stdin == [f"addauth digest super:{PASSWORD}", "reconfig -remove 2"]
    assert took < 5
    account = (pod.data / "statefulkit-prestop.log").read_text()
    assert "ReconfigInProgress" in account
    assert "removed server 2: configuration 200000002" in account
    assert "server 2 does not vote in configuration 100000003; stopping" in account
    # Marked as leaving: a join attempt still under way stops, and cannot add it back.
    assert (pod.data / "statefulkit-leaving").exists()


def test_prestop_lets_a_join_attempt_end_first(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    # start.sh's join helper, still running: it removes its pid file when it ends.
    pid_file = pod.data / "statefulkit-joiner.pid"
    joiner = subprocess.Popen(["bash", "-c", f'sleep 1.5; rm -f "{pid_file}"'])
    try:
        pid_file.write_text(f"{joiner.pid}\n")
        result, took = prestop(pod, four_letter_server, ["ok"])
    finally:
        joiner.wait()
    assert result.returncode == 0, result.stderr
    assert took >= 1.4
    assert len(pod.zkcli_calls()) == 1


def test_prestop_stops_at_once_where_reconfig_is_disabled(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    """A member of an ensemble from before dynamic membership, during the upgrade's roll: it cannot
    leave, so it does not spend its whole bound trying."""
    four_letter_server.answers = {"conf": conf_answer([1, 2, 3])}
    result, took = prestop(pod, four_letter_server, ["disabled", "ok"])
    assert result.returncode == 0
    assert len(pod.zkcli_calls()) == 1 and took < 2
    assert "reconfiguration is disabled in this ensemble" in (pod.data / "statefulkit-prestop.log").read_text()


def test_prestop_keeps_the_last_voter(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": conf_answer([2])}
    result, _ = prestop(pod, four_letter_server, ["ok"])
    assert result.returncode == 0
    assert pod.zkcli_calls() == []
    assert "server 2 is the last voting member; it stays listed" in (pod.data / "statefulkit-prestop.log").read_text()


@pytest.mark.parametrize(
    "answers",
    [
        {"conf": conf_answer([1, 2, 3])},  # every removal fails
        {"conf": NOT_SERVING},  # no quorum: nothing to ask
    ],
    ids=["removal fails", "not serving"],
)
def test_prestop_gives_up_within_its_bound(
    pod: FakePod, four_letter_server: FourLetterServer, answers: dict[str, str]
) -> None:
    four_letter_server.answers = dict(answers)
    result, took = prestop(pod, four_letter_server, ["fail"] * 100, removal_seconds=2)
    assert result.returncode == 0
    assert 1 <= took < 4  # retried for its whole bound (bash counts whole seconds), and no longer
    assert "still listed after 2s; it stops listed and rejoins" in (pod.data / "statefulkit-prestop.log").read_text()


# --------------------------------------------------------------------------- the probe script, run by bash


def run_probe(port: int, mode: str) -> subprocess.CompletedProcess[str]:
    script = re.sub(r"^PORT=\d+$", f"PORT={port}", render_probe_script(ZooKeeperArgs()), flags=re.M)
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, "-c", script, "probe.sh", mode], capture_output=True, text=True, timeout=15, check=False
    )


SRVR = "Zookeeper version: 3.9.4\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000000\nMode: {mode}\nNode count: 5\n"


@pytest.mark.parametrize(
    ("answer", "conf", "ready"),
    [
        (SRVR.format(mode="leader"), conf_answer([1, 2, 3]), True),
        (SRVR.format(mode="follower"), conf_answer([1, 2, 3]), True),
        (SRVR.format(mode="standalone"), conf_answer([2]), True),
        # The server's own id comes from conf (serverId), not from a fixed guess.
        (SRVR.format(mode="follower"), conf_answer([1, 3], server_id=3), True),
        (SRVR.format(mode="follower"), conf_answer([2, 3], server_id=1), False),
        # Synced but not (yet, or no longer) a voter: a joiner before its reconfig -add, a member
        # that removed itself before stopping.
        (SRVR.format(mode="follower"), conf_answer([1, 3]), False),
        (SRVR.format(mode="follower"), conf_answer([1, 3], observers=(2,)), False),
        (SRVR.format(mode="follower"), NOT_SERVING, False),
        (SRVR.format(mode="read-only"), conf_answer([1, 2, 3]), False),
        (SRVR.format(mode="observer"), conf_answer([1, 2, 3]), False),
        (NOT_SERVING, conf_answer([1, 2, 3]), False),
        ("srvr is not executed because it is not in the whitelist.\n", conf_answer([1, 2, 3]), False),
        ("", conf_answer([1, 2, 3]), False),
    ],
)
def test_readiness_means_serving_as_a_voter(
    four_letter_server: FourLetterServer, answer: str, conf: str, ready: bool
) -> None:
    four_letter_server.answers = {"srvr": answer, "conf": conf, "ruok": "imok"}
    result = run_probe(four_letter_server.port, "ready")
    assert (result.returncode == 0) is ready, result.stdout
    assert result.stdout.startswith("ready: Mode: " if ready else "not ready: "), result.stdout
    if not ready and conf.startswith("clientPort") and "Mode: follower" in answer:
        assert "does not vote in the ensemble's configuration" in result.stdout


@pytest.mark.parametrize(("answer", "live"), [("imok", True), ("", False), ("ruok is not executed", False)])
def test_liveness_is_ruok(four_letter_server: FourLetterServer, answer: str, live: bool) -> None:
    # A member in leader election answers srvr "not currently serving" but ruok "imok": it stays alive.
    four_letter_server.answers = {"ruok": answer, "srvr": NOT_SERVING}
    assert (run_probe(four_letter_server.port, "live").returncode == 0) is live
    assert run_probe(four_letter_server.port, "ready").returncode == 1


def test_probes_fail_fast_when_nothing_listens() -> None:
    port = closed_port()
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
            st.lists(st.sampled_from(["mntr", "stat", "isro"]), max_size=3).map(lambda w: ["srvr", "ruok", "conf", *w]),
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
        "tls": st.sampled_from(
            [
                None,
                {"secret_name": "zk-certs"},
                {"issuer_ref": {"name": "ca"}, "client_certificates": True},
                {},  # neither source
                {"secret_name": "zk-certs", "issuer_ref": {"name": "ca"}},  # both
                {"secret_name": "Bad_Secret"},
            ]
        ),
        "plaintext_client_port": st.booleans(),
        "metrics": st.booleans(),
        "pod_monitor": st.sampled_from([None, {}, {"interval_seconds": 0}]),
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
    manifests = ZooKeeperRender(name, spec).manifests()  # never raises for an accepted spec
    assert manifests.stateful_set["spec"]["replicas"] == n
    assert manifests.headless_service["spec"]["publishNotReadyAddresses"] is True
    budget = manifests.pdb["spec"] if manifests.pdb else None
    if budget and "maxUnavailable" in budget and isinstance(budget["maxUnavailable"], int):
        assert budget["maxUnavailable"] <= fault_tolerance(n)
    cfg = manifests.config_map["data"]["zoo-base.cfg"] if manifests.config_map else ""
    assert "srvr" in cfg and "ruok" in cfg
    # TLS: quorum TLS and a TLS client port exactly when asked, and clients are sent there.
    assert ("sslQuorum=true" in cfg) == ("secureClientPort=2281" in cfg) == (spec.tls is not None)
    client_ports = {p["port"] for p in manifests.client_service["spec"]["ports"]} if manifests.client_service else set()
    expected = {2181} if spec.tls is None else ({2181, 2281} if spec.plaintext_client_port else {2281})
    assert client_ports == expected
    assert spec.tls is not None or not spec.plaintext_client_port
    assert (manifests.pod_monitor is not None) == (spec.pod_monitor is not None)


def test_auto_budget_follows_the_quorum_not_the_replica_count() -> None:
    """Two members cannot lose one and keep a quorum: 'auto' gives them no PDB (a budget could
    only block drains), three or more get maxUnavailable 1."""
    two = ZooKeeperRender("zk", ZooKeeperArgs(replicas=2, allow_even_replicas=True)).manifests()
    assert two.pdb is None
    for replicas in (3, 4, 5):
        manifests = ZooKeeperRender("zk", ZooKeeperArgs(replicas=replicas, allow_even_replicas=True)).manifests()
        assert manifests.pdb is not None and manifests.pdb["spec"]["maxUnavailable"] == 1
