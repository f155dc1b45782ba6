"""The pod template: containers, probes, env, mounts and the restricted security context."""

from __future__ import annotations

from typing import Any

from statefulkit.args.container import Container, EnvVar, Probe
from statefulkit.args.extensions import ExtraVolume, TopologySpread
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.workload import CONFIG_VOLUME, StatefulWorkloadArgs

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


def _volume_mounts(args: StatefulWorkloadArgs, container: Container) -> list[Manifest]:
    mounts: list[Manifest] = [{"name": c.name, "mountPath": c.mount_path} for c in args.volume_claims]
    if args.config_files:
        mounts.append({"name": CONFIG_VOLUME, "mountPath": args.config_mount_path, "readOnly": True})
    for mount in container.volume_mounts:
        rendered: Manifest = {"name": mount.name, "mountPath": mount.mount_path}
        if mount.read_only:
            rendered["readOnly"] = True
        if mount.sub_path is not None:
            rendered["subPath"] = mount.sub_path
        mounts.append(rendered)
    return mounts


def _container_security(args: StatefulWorkloadArgs) -> Manifest:
    # The container-level half of the `restricted` Pod Security Standard.
    capabilities: Manifest = {"drop": ["ALL"]}
    if args.security.add_capabilities:
        capabilities["add"] = list(args.security.add_capabilities)
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": capabilities,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": args.read_only_root_filesystem,
    }


def _seccomp(profile: str) -> Manifest:
    if profile == "RuntimeDefault":
        return {"type": "RuntimeDefault"}
    return {"type": "Localhost", "localhostProfile": profile.removeprefix("Localhost/")}


def _volume(volume: ExtraVolume) -> Manifest:
    mode = {} if volume.default_mode is None else {"defaultMode": volume.default_mode}
    if volume.config_map is not None:
        return {"name": volume.name, "configMap": {"name": volume.config_map, **mode}}
    if volume.secret is not None:
        return {"name": volume.name, "secret": {"secretName": volume.secret, **mode}}
    if volume.persistent_volume_claim is not None:
        return {"name": volume.name, "persistentVolumeClaim": {"claimName": volume.persistent_volume_claim}}
    return {"name": volume.name, "emptyDir": {"medium": "Memory"} if volume.memory else {}}


def _spread(constraint: TopologySpread, selector: dict[str, str]) -> Manifest:
    rendered: Manifest = {
        "maxSkew": constraint.max_skew,
        "topologyKey": constraint.topology_key,
        "whenUnsatisfiable": constraint.when_unsatisfiable,
        "labelSelector": {"matchLabels": dict(selector)},
    }
    if constraint.min_domains is not None:
        rendered["minDomains"] = constraint.min_domains
    return rendered


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
    mounts = _volume_mounts(args, container)
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
    security = args.security
    pod_security: Manifest = {
        "runAsNonRoot": True,
        "runAsUser": args.run_as_user,
        "runAsGroup": args.run_as_group,
        "fsGroup": args.fs_group,
        "fsGroupChangePolicy": security.fs_group_change_policy,
        "seccompProfile": _seccomp(security.seccomp_profile),
    }
    if security.supplemental_groups:
        pod_security["supplementalGroups"] = list(security.supplemental_groups)
    pod: Manifest = {
        "automountServiceAccountToken": args.automount_service_account_token,
        "terminationGracePeriodSeconds": args.termination_grace_period_seconds,
        # The pod-level half of the `restricted` Pod Security Standard.
        "securityContext": pod_security,
        "containers": [render_container(c, args) for c in args.all_containers()],
    }
    if args.init_containers:
        pod["initContainers"] = [render_container(c, args) for c in args.init_containers]
    if args.service_account_name is not None:
        pod["serviceAccountName"] = args.service_account_name
    affinity = render_affinity(args, selector)
    if affinity is not None:
        pod["affinity"] = affinity
    if args.topology_spread:
        pod["topologySpreadConstraints"] = [_spread(c, selector) for c in args.topology_spread]
    pod.update(render_placement(args))
    volumes = [_volume(v) for v in args.extra_volumes]
    if args.config_files:
        config = {"name": config_map_name, "defaultMode": args.config_file_mode}
        volumes.insert(0, {"name": CONFIG_VOLUME, "configMap": config})
    if volumes:
        pod["volumes"] = volumes
    return pod


def render_placement(options: WorkloadOptions) -> Manifest:
    """Where the workload's pods may run and how their images are pulled; the ensemble's jobs
    (backup, restore check) take the same, so they run where its pods can."""
    placement: Manifest = {}
    if options.image_pull_secrets:
        placement["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    if options.node_selector:
        placement["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        placement["tolerations"] = [_toleration(t.model_dump(exclude_none=True)) for t in options.tolerations]
    if options.priority_class_name:
        placement["priorityClassName"] = options.priority_class_name
    return placement


def _toleration(fields: dict[str, Any]) -> Manifest:
    seconds = fields.pop("toleration_seconds", None)
    if seconds is not None:
        fields["tolerationSeconds"] = seconds
    return fields
