"""StatefulWorkload under Pulumi mocks: every rendered rule, in preview and update mode."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from statefulkit import (
    AntiAffinity,
    DisruptionBudget,
    OnDelete,
    PodManagementPolicy,
    PvcRetentionPolicy,
    RollingUpdate,
    StatefulWorkload,
    StatefulWorkloadArgs,
    StorageClassArgs,
    VolumeClaim,
)
from statefulkit.render.shell import render_script
from statefulkit.testing import Deployment, run
from tests.support.mocks import pod_spec, service, sts_spec
from tests.support.tokens import CM, NETPOL, PDB, SC, STS, SVC, WORKLOAD

SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}


def base(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "image": "registry.example/app:1.0",
        "replicas": 3,
        "ports": {"client": 2181, "peer": 2888},
        "volume_claims": [{"name": "data", "size": "1Gi", "mount_path": "/data"}],
    }
    args.update(overrides)
    return args


def deploy(preview: bool, name: str = "zk", **overrides: Any) -> Deployment:
    def program() -> dict[str, Any]:
        workload = StatefulWorkload(name, base(**overrides))
        return {"dns": workload.pod_dns_names}

    return run(program, preview=preview)


def test_explicit_names_and_service_name(preview: bool) -> None:
    d = deploy(preview, client_service=True, config_files={"app.cfg": "x=1"})
    assert d.one(STS).k8s_name == "zk"
    assert sorted(r.k8s_name for r in d.of_type(SVC)) == ["zk", "zk-headless"]
    assert d.one(PDB).k8s_name == "zk"
    assert d.one(CM).k8s_name == "zk-config"
    assert sts_spec(d)["serviceName"] == "zk-headless"


def test_selector_labels_subset_of_pod_labels_and_used_everywhere(preview: bool) -> None:
    d = deploy(preview, client_service=True, labels={"team": "data"})
    selector = sts_spec(d)["selector"]["matchLabels"]
    assert set(selector) == SELECTOR_KEYS
    assert selector == {
        "app.kubernetes.io/name": "zk",
        "app.kubernetes.io/instance": "zk",
        "app.kubernetes.io/component": "server",
    }
    pod_labels = sts_spec(d)["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert pod_labels["team"] == "data"
    term = pod_spec(d)["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["labelSelector"] == {"matchLabels": selector}
    assert d.one(PDB).inputs["spec"]["selector"] == {"matchLabels": selector}
    for svc in d.of_type(SVC):
        assert svc.inputs["spec"]["selector"] == selector


@pytest.mark.parametrize("publish", [True, False])
def test_headless_service(preview: bool, publish: bool) -> None:
    d = deploy(preview, publish_not_ready_addresses=publish)
    headless = service(d, "zk-headless").inputs["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is publish
    assert [(p["name"], p["port"], p["targetPort"]) for p in headless["ports"]] == [
        ("client", 2181, "client"),
        ("peer", 2888, "peer"),
    ]


def test_client_service_exposes_chosen_ports(preview: bool) -> None:
    d = deploy(preview, client_service={"port_names": ["client"]})
    client = service(d, "zk").inputs["spec"]
    assert client["type"] == "ClusterIP"
    assert [p["name"] for p in client["ports"]] == ["client"]
    assert "clusterIP" not in client


def test_no_client_service_by_default(preview: bool) -> None:
    d = deploy(preview)
    assert [r.k8s_name for r in d.of_type(SVC)] == ["zk-headless"]


def test_one_claim_template_per_volume_claim_mounted_in_every_container(preview: bool) -> None:
    claims = [
        {"name": "data", "size": "10Gi", "mount_path": "/data", "storage_class_name": "fast"},
        {"name": "logs", "size": "500Mi", "mount_path": "/datalog"},
    ]
    sidecar = {"name": "exporter", "args": ["--watch"]}
    d = deploy(
        preview, volume_claims=claims, create_storage_class={"name": "made", "provisioner": "x.csi"}, sidecars=[sidecar]
    )
    templates = sts_spec(d)["volumeClaimTemplates"]
    assert [t["metadata"]["name"] for t in templates] == ["data", "logs"]
    assert templates[0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert templates[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert templates[0]["spec"]["storageClassName"] == "fast"  # the claim's own class wins
    assert templates[1]["spec"]["storageClassName"] == "made"  # else the created StorageClass
    for container in pod_spec(d)["containers"]:
        assert {(m["name"], m["mountPath"]) for m in container["volumeMounts"]} == {
            ("data", "/data"),
            ("logs", "/datalog"),
        }


def test_storage_class_name_omitted_without_any_class(preview: bool) -> None:
    d = deploy(preview)
    assert "storageClassName" not in sts_spec(d)["volumeClaimTemplates"][0]["spec"]
    assert d.of_type(SC) == []


def test_storage_class_created_with_safe_defaults_and_replaced_on_immutable_change(preview: bool) -> None:
    d = deploy(
        preview,
        create_storage_class={
            "name": "zk-ssd",
            "provisioner": "pd.csi.storage.gke.io",
            "parameters": {"type": "pd-ssd"},
        },
    )
    sc = d.one(SC)
    assert sc.inputs["metadata"]["name"] == "zk-ssd"
    assert sc.inputs["provisioner"] == "pd.csi.storage.gke.io"
    assert sc.inputs["parameters"] == {"type": "pd-ssd"}
    assert sc.inputs["reclaimPolicy"] == "Retain"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.inputs["allowVolumeExpansion"] is True
    assert set(sc.replace_on_changes) == {"provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"}
    assert sc.delete_before_replace
    # The StatefulSet waits for its StorageClass.
    assert sc.urn in d.one(STS).dependencies


def test_statefulset_immutable_fields_force_replacement(preview: bool) -> None:
    sts = deploy(preview).one(STS)
    assert set(sts.replace_on_changes) == {
        "spec.selector",
        "spec.serviceName",
        "spec.podManagementPolicy",
        "spec.volumeClaimTemplates",
    }
    assert sts.delete_before_replace


@pytest.mark.parametrize("policy", list(PodManagementPolicy))
def test_pod_management_policy_mapped(preview: bool, policy: PodManagementPolicy) -> None:
    assert sts_spec(deploy(preview, pod_management_policy=policy))["podManagementPolicy"] == policy.value


def test_rolling_update_without_partition_uses_default_await(preview: bool) -> None:
    d = deploy(preview)
    assert sts_spec(d)["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert "pulumi.com/waitFor" not in d.one(STS).inputs["metadata"].get("annotations", {})


def test_partitioned_rollout_waits_for_ready_pods_not_for_full_rollout(preview: bool) -> None:
    d = deploy(preview, update_strategy=RollingUpdate(partition=2, max_unavailable="50%"))
    assert sts_spec(d)["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 2, "maxUnavailable": "50%"},
    }
    annotations = d.one(STS).inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=3"


def test_on_delete_mapped_and_does_not_wait_for_rollout(preview: bool) -> None:
    d = deploy(preview, update_strategy={"type": "OnDelete"})
    assert sts_spec(d)["updateStrategy"] == {"type": "OnDelete"}
    assert d.one(STS).inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=3"


def test_pvc_retention_defaults_to_retain(preview: bool) -> None:
    retention = sts_spec(deploy(preview))["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    custom = sts_spec(deploy(preview, pvc_retention=PvcRetentionPolicy(when_scaled="Delete")))
    assert custom["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Delete"}


@pytest.mark.parametrize(
    ("replicas", "expected"), [(0, None), (1, None), (2, {"maxUnavailable": 1}), (5, {"maxUnavailable": 1})]
)
def test_default_pdb_never_blocks_a_single_replica_drain(
    preview: bool, replicas: int, expected: dict[str, int] | None
) -> None:
    d = deploy(preview, replicas=replicas)
    pdbs = d.of_type(PDB)
    if expected is None:
        assert pdbs == []
    else:
        spec = pdbs[0].inputs["spec"]
        assert {k: v for k, v in spec.items() if k != "selector"} == expected


def test_explicit_pdb_is_rendered_even_for_one_replica(preview: bool) -> None:
    d = deploy(preview, replicas=1, disruption_budget=DisruptionBudget(max_unavailable=1))
    assert d.one(PDB).inputs["spec"]["maxUnavailable"] == 1
    d = deploy(preview, replicas=5, disruption_budget={"min_available": "60%"})
    assert d.one(PDB).inputs["spec"]["minAvailable"] == "60%"


def test_pdb_can_be_turned_off(preview: bool) -> None:
    assert deploy(preview, disruption_budget=None).of_type(PDB) == []


def test_restricted_pod_security_by_default(preview: bool) -> None:
    pod = pod_spec(deploy(preview, sidecars=[{"name": "side"}]))
    assert pod["automountServiceAccountToken"] is False
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] != 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert len(pod["containers"]) == 2
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["runAsNonRoot"] is True
    assert "hostNetwork" not in pod and "hostPID" not in pod


@pytest.mark.parametrize("mode", ["required", "none"])
def test_anti_affinity_modes(preview: bool, mode: str) -> None:
    pod = pod_spec(deploy(preview, anti_affinity=AntiAffinity(mode=mode, topology_key="topology.kubernetes.io/zone")))  # type: ignore[arg-type]
    if mode == "none":
        assert "affinity" not in pod
        return
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "topology.kubernetes.io/zone"
    assert set(term["labelSelector"]["matchLabels"]) == SELECTOR_KEYS


def test_config_files_become_a_mounted_configmap_and_roll_pods_on_change(preview: bool) -> None:
    d1 = deploy(preview, config_files={"app.cfg": "a=1", "start.sh": "#!/bin/sh\nexec app\n"})
    assert d1.one(CM).inputs["data"] == {"app.cfg": "a=1", "start.sh": "#!/bin/sh\nexec app\n"}
    pod = pod_spec(d1)
    assert pod["volumes"] == [{"name": "config", "configMap": {"name": "zk-config", "defaultMode": 0o555}}]
    assert {"name": "config", "mountPath": "/config", "readOnly": True} in pod["containers"][0]["volumeMounts"]
    assert d1.one(CM).urn in d1.one(STS).dependencies
    hash1 = sts_spec(d1)["template"]["metadata"]["annotations"]["statefulkit.io/config-hash"]
    d2 = deploy(preview, config_files={"app.cfg": "a=2", "start.sh": "#!/bin/sh\nexec app\n"})
    assert sts_spec(d2)["template"]["metadata"]["annotations"]["statefulkit.io/config-hash"] != hash1


def test_container_fields(preview: bool) -> None:
    d = deploy(
        preview,
        command=["/bin/sh", "-c"],
        args=["exec app"],
        env=[
            {"name": "MODE", "value": "prod"},
            {"name": "POD", "field_path": "metadata.name"},
            {"name": "PASSWORD", "secret_key_ref": {"name": "creds", "key": "password"}},
        ],
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        readiness_probe={"exec_command": ["check", "ready"], "period_seconds": 5},
        liveness_probe={"tcp_port": "client", "failure_threshold": 6},
        startup_probe={"http_get": {"path": "/healthz", "port": 8080}},
        image_pull_policy="IfNotPresent",
    )
    (container,) = pod_spec(d)["containers"]
    assert container["name"] == "main"
    assert container["image"] == "registry.example/app:1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["command"] == ["/bin/sh", "-c"]
    assert container["args"] == ["exec app"]
    assert container["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
    ]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    assert container["readinessProbe"]["exec"] == {"command": ["check", "ready"]}
    assert container["readinessProbe"]["periodSeconds"] == 5
    assert container["livenessProbe"]["tcpSocket"] == {"port": "client"}
    assert container["livenessProbe"]["failureThreshold"] == 6
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": 8080, "scheme": "HTTP"}
    assert [p["containerPort"] for p in container["ports"]] == [2181, 2888]


def test_every_child_has_the_component_as_parent_and_outputs_are_registered(preview: bool) -> None:
    d = deploy(
        preview, client_service=True, config_files={"a": "b"}, create_storage_class={"name": "s", "provisioner": "p"}
    )
    component = d.one(WORKLOAD)
    children = [r for r in d.resources if r is not component]
    assert {r.type for r in children} == {STS, SVC, PDB, SC, CM, NETPOL}
    assert len(children) == 7
    for child in children:
        assert child.parent == component.urn, child.name
    assert component.urn in d.outputs_registered


def test_pod_dns_names_from_a_plain_namespace(preview: bool) -> None:
    d = deploy(preview, namespace="data", cluster_domain="corp.internal")
    assert d.outputs["dns"] == [f"zk-{i}.zk-headless.data.svc.corp.internal" for i in range(3)]


def test_namespace_output_reaches_every_namespaced_child(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "team-a"})
        workload = StatefulWorkload(
            "kv",
            StatefulWorkloadArgs(
                namespace=ns.metadata.name,
                image="app:1",
                replicas=2,
                ports=[{"name": "client", "container_port": 6379}],
                client_service=True,
                config_files={"a": "b"},
            ),
        )
        return {"dns": workload.pod_dns_names}

    d = run(program, preview=preview)
    namespaced = [r for r in d.resources if r.type in {STS, SVC, PDB, CM}]
    assert len(namespaced) == 5
    for r in namespaced:
        assert r.inputs["metadata"]["namespace"] == "team-a", r.name
    assert d.outputs["dns"] == [
        "kv-0.kv-headless.team-a.svc.cluster.local",
        "kv-1.kv-headless.team-a.svc.cluster.local",
    ]


def test_typed_args_and_dict_args_render_identically(preview: bool) -> None:
    typed = StatefulWorkloadArgs(
        image="app:1",
        replicas=3,
        volume_claims=[VolumeClaim(name="data", size="1Gi", mount_path="/data")],
        update_strategy=OnDelete(),
        pod_management_policy=PodManagementPolicy.PARALLEL,
        create_storage_class=StorageClassArgs(name="s", provisioner="p"),
    )
    as_dict = typed.model_dump(mode="python")

    def program(args: Any) -> Any:
        return lambda: StatefulWorkload("w", args) and None

    def registered(args: Any) -> list[tuple[str, str, Any]]:
        return sorted((r.type, r.name, r.inputs) for r in run(program(args), preview=preview).resources)

    inputs_typed, inputs_dict = registered(typed), registered(as_dict)
    assert len(inputs_typed) == 6
    assert inputs_typed == inputs_dict


def test_user_annotations_on_objects_and_pods(preview: bool) -> None:
    d = deploy(preview, annotations={"owner": "data-team"}, pod_annotations={"prometheus.io/scrape": "true"})
    assert d.one(STS).inputs["metadata"]["annotations"]["owner"] == "data-team"
    assert d.one(PDB).inputs["metadata"]["annotations"]["owner"] == "data-team"
    assert sts_spec(d)["template"]["metadata"]["annotations"] == {"prometheus.io/scrape": "true"}


def test_outputs_are_pulumi_outputs() -> None:
    def program() -> dict[str, Any]:
        workload = StatefulWorkload("w", base())
        assert isinstance(workload.pod_dns_names, pulumi.Output)
        assert workload.client_service is None and workload.storage_class is None and workload.config_map is None
        assert isinstance(workload.pdb, k8s.policy.v1.PodDisruptionBudget)
        return {"sts_name": workload.stateful_set.metadata.name}

    assert run(program, preview=False).outputs == {"sts_name": "w"}


def test_a_script_gets_exactly_the_values_it_names() -> None:
    given: dict[str, str | int] = {"PORT": 2181, "READ_TIMEOUT": 4, "TLS_DIR": ""}
    probe = render_script("zookeeper-probe.sh", **given)
    assert "PORT=2181\nREAD_TIMEOUT=4\nTLS_DIR=''\n" in probe and "@@" not in probe
    needs = r"zookeeper-probe.sh: needs \['PORT', 'READ_TIMEOUT', 'TLS_DIR'\], given \['PORT', 'TLS_DIR'\]"
    with pytest.raises(ValueError, match=needs):
        render_script("zookeeper-probe.sh", PORT=2181, TLS_DIR="")
    with pytest.raises(ValueError, match=r"given \['EXTRA', 'PORT', 'READ_TIMEOUT', 'TLS_DIR'\]"):
        render_script("zookeeper-probe.sh", **given, EXTRA=1)
    assert "PORT='21 81'\n" in render_script("zookeeper-probe.sh", **{**given, "PORT": "21 81"})  # shell-quoted


def test_pre_stop_hooks_reach_their_containers(preview: bool) -> None:
    sidecar = {"name": "agent", "command": ["agent"], "pre_stop": ["agent", "drain"]}
    d = deploy(preview, pre_stop=["sh", "-c", "handover"], sidecars=[sidecar])
    main, agent = pod_spec(d)["containers"]
    assert main["lifecycle"] == {"preStop": {"exec": {"command": ["sh", "-c", "handover"]}}}
    assert agent["lifecycle"] == {"preStop": {"exec": {"command": ["agent", "drain"]}}}
    assert "lifecycle" not in pod_spec(deploy(preview))["containers"][0]
