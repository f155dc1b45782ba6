"""ZooKeeperEnsemble's StatefulSet and pod under Pulumi mocks: defaults, the container, its probes,
and every knob passed through."""

from __future__ import annotations

import re

from statefulkit.args.zookeeper import DEFAULT_IMAGE
from tests.support.mocks import sts_spec
from tests.support.tokens import PDB, SC, STS
from tests.support.zookeeper_mocks import config_data, container, deploy


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
