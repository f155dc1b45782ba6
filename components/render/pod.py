"""The pod template: containers, probes, env, mounts and the restricted security context."""

from __future__ import annotations

from typing import Any

from components.args.parts import Container, EnvVar, Probe
from components.args.workload import StatefulWorkloadArgs

CONFIG_VOLUME = "config"
Manifest = dict[str, Any]


def render_probe(probe: Probe) -> Manifest:
    handler: Manifest
    if probe.exec_command is not None:
        handler = {"exec": {"command": list(probe.exec_command)}}
    elif probe.tcp_port is not None:
        handler = {"tcpSocket": {"port": probe.tcp_port}}
    else:
        assert probe.http_get is not None
        get = probe.http_get
        handler = {"httpGet": {"path": get.path, "port": get.port, "scheme": get.scheme}}
    return {
        **handler,
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
        "successThreshold": probe.success_threshold,
    }


def render_env(var: EnvVar) -> Manifest:
    if var.value is not None:
        return {"name": var.name, "value": var.value}
    if var.secret_key_ref is not None:
        ref = var.secret_key_ref
        return {"name": var.name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
    if var.config_map_key_ref is not None:
        ref = var.config_map_key_ref
        return {"name": var.name, "valueFrom": {"configMapKeyRef": {"name": ref.name, "key": ref.key}}}
    return {"name": var.name, "valueFrom": {"fieldRef": {"fieldPath": var.field_path}}}


def _volume_mounts(args: StatefulWorkloadArgs) -> list[Manifest]:
    mounts: list[Manifest] = [{"name": c.name, "mountPath": c.mount_path} for c in args.volume_claims]
    if args.config_files:
        mounts.append({"name": CONFIG_VOLUME, "mountPath": args.config_mount_path, "readOnly": True})
    return mounts


def _container_security(args: StatefulWorkloadArgs) -> Manifest:
    # The container-level half of the `restricted` Pod Security Standard.
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": args.read_only_root_filesystem,
    }


def render_container(container: Container, args: StatefulWorkloadArgs) -> Manifest:
    rendered: Manifest = {"name": container.name, "image": container.image or args.image}
    if args.image_pull_policy:
        rendered["imagePullPolicy"] = args.image_pull_policy
    if container.command:
        rendered["command"] = list(container.command)
    if container.args:
        rendered["args"] = list(container.args)
    if container.env:
        rendered["env"] = [render_env(var) for var in container.env]
    if container.ports:
        rendered["ports"] = [
            {"name": p.name, "containerPort": p.container_port, "protocol": p.protocol} for p in container.ports
        ]
    if container.resources is not None:
        resources = {
            k: dict(v)
            for k, v in (("requests", container.resources.requests), ("limits", container.resources.limits))
            if v
        }
        if resources:
            rendered["resources"] = resources
    for field, key in (
        ("readiness_probe", "readinessProbe"),
        ("liveness_probe", "livenessProbe"),
        ("startup_probe", "startupProbe"),
    ):
        probe = getattr(container, field)
        if probe is not None:
            rendered[key] = render_probe(probe)
    if container.pre_stop:
        rendered["lifecycle"] = {"preStop": {"exec": {"command": list(container.pre_stop)}}}
    mounts = _volume_mounts(args)
    if mounts:
        rendered["volumeMounts"] = mounts
    rendered["securityContext"] = _container_security(args)
    return rendered


def render_affinity(args: StatefulWorkloadArgs, selector: dict[str, str]) -> Manifest | None:
    anti = args.anti_affinity
    term = {"labelSelector": {"matchLabels": dict(selector)}, "topologyKey": anti.topology_key}
    if anti.mode == "required":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    if anti.mode == "preferred":
        weighted = {"weight": anti.weight, "podAffinityTerm": term}
        return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted]}}
    return None


def render_pod_spec(args: StatefulWorkloadArgs, selector: dict[str, str], config_map_name: str) -> Manifest:
    pod: Manifest = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": args.termination_grace_period_seconds,
        # The pod-level half of the `restricted` Pod Security Standard.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": args.run_as_user,
            "runAsGroup": args.run_as_group,
            "fsGroup": args.fs_group,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [render_container(c, args) for c in args.all_containers()],
    }
    affinity = render_affinity(args, selector)
    if affinity is not None:
        pod["affinity"] = affinity
    if args.node_selector:
        pod["nodeSelector"] = dict(args.node_selector)
    if args.tolerations:
        pod["tolerations"] = [_toleration(t.model_dump(exclude_none=True)) for t in args.tolerations]
    if args.priority_class_name:
        pod["priorityClassName"] = args.priority_class_name
    if args.config_files:
        pod["volumes"] = [
            {
                "name": CONFIG_VOLUME,
                "configMap": {"name": config_map_name, "defaultMode": args.config_file_mode},
            }
        ]
    return pod


def _toleration(fields: dict[str, Any]) -> Manifest:
    seconds = fields.pop("toleration_seconds", None)
    if seconds is not None:
        fields["tolerationSeconds"] = seconds
    return fields
