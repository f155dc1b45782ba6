"""Backups and restores as objects: the repository Secrets, the backup CronJob and its NetworkPolicies,
the restore check Job and the restore's init container. Pure: no Pulumi import.

A backup job's pod copies the data in an init container of the ensemble's own image (the fetch
script, which reads the ensemble's config ConfigMap for how to reach its members), then stores it
with restic in its one container: a tagged snapshot, then `forget --prune` with the retention. A
restore puts an init container of the restic image in front of the ensemble's own: it fills an empty
data volume from the snapshot before the server first starts, and never one that holds data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statefulkit.args.backup import (
    ACCESS_KEY_ID_KEY,
    BACKUP_UID,
    PASSWORD_KEY,
    RESTORE_CONTAINER,
    SECRET_ACCESS_KEY_KEY,
    BackupArgs,
    BackupRepository,
    RestoreArgs,
)
from statefulkit.args.container import Container, EnvVar, KeyRef
from statefulkit.render.pod import Manifest, render_env
from statefulkit.render.shell import render_script

BACKUP_DIR = "/backup"  # the job's emptyDir the fetch fills and restic stores
SCRIPTS_DIR = "/backup-scripts"
STORE_SH = "backup-store.sh"
RESTORE_SH = "restore-seed.sh"
RESTORE_CHECK_SH = "restore-check.sh"
# A file on a restored volume: the snapshot it came from. A volume with it is never restored again;
# a volume with data and without it is never overwritten (unless the user says so).
RESTORED_MARKER = ".statefulkit-restored"
# restic's home, cache and temporary files: an emptyDir (the job's root filesystem is read-only).
RESTIC_HOME = "/restic"


@dataclass(frozen=True)
class BackupFetch:
    """What an ensemble puts into its backup job: the script that copies its data from a member that
    is not the primary into BACKUP_DIR (with a `backup.tags` file), and what the script needs."""

    script: str  # file name in the backup ConfigMap
    text: str
    port: int  # the members' port it reads from, the only one the job may reach
    env: list[EnvVar] = field(default_factory=list)
    # (volume, mountPath) pairs beyond BACKUP_DIR, the scripts, RESTIC_HOME and the ensemble's config.
    mounts: list[tuple[Manifest, str]] = field(default_factory=list)


def repository_secret_name(name: str, purpose: str) -> str:
    """`<name>-backup-repository` or `<name>-restore-repository`: the Secret the component creates."""
    return f"{name}-{purpose}-repository"


def repository_secret_ref(name: str, purpose: str, repository: BackupRepository) -> str:
    return repository.existing_secret or repository_secret_name(name, purpose)


def repository_secret(metadata: Manifest, repository: BackupRepository) -> Manifest:
    """The Secret the component creates from the repository's Pulumi secrets (passed through)."""
    data = {
        PASSWORD_KEY: repository.password,
        ACCESS_KEY_ID_KEY: repository.access_key_id,
        SECRET_ACCESS_KEY_KEY: repository.secret_access_key,
    }
    return {"metadata": metadata, "type": "Opaque", "stringData": data}


def restic_env(repository: BackupRepository, secret_name: Any) -> list[EnvVar]:
    """What restic reads: the repository, its password and the store's keys (from the Secret)."""
    return [
        EnvVar(name="RESTIC_REPOSITORY", value=repository.url()),
        EnvVar(name="AWS_DEFAULT_REGION", value=repository.region),
        *(
            EnvVar(name=key, secret_key_ref=KeyRef(name=secret_name, key=key))
            for key in (
                PASSWORD_KEY,
                ACCESS_KEY_ID_KEY,
                SECRET_ACCESS_KEY_KEY,
            )
        ),
    ]


# --------------------------------------------------------------------------- the backup job


def backup_labels(app_name: str, name: str) -> dict[str, str]:
    """The job's pods: not the ensemble's selector (component=server), so no Service or budget takes them."""
    return {
        "app.kubernetes.io/name": app_name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "backup",
    }


def backup_config_files(fetch: BackupFetch, ensemble: str, version: str, retention_flags: list[str]) -> dict[str, str]:
    store = render_script(STORE_SH, ENSEMBLE=ensemble, STATEFULKIT_VERSION=version, RETENTION=" ".join(retention_flags))
    return {fetch.script: fetch.text, STORE_SH: store}


def _security() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
    }


def _resources(backup: BackupArgs) -> Manifest:
    return {"requests": dict(backup.resources.requests), "limits": dict(backup.resources.limits)}


def render_cron_job(
    *,
    name: str,
    metadata: Manifest,
    labels: dict[str, str],
    backup: BackupArgs,
    fetch: BackupFetch,
    image: str,
    image_pull_policy: str | None,
    config_map: str,
    config_dir: str,
    secret_name: Any,
    placement: Manifest,
) -> Manifest:
    """The CronJob: one job at a time (Forbid), bounded by its deadline, retried `retries` times."""
    volumes: list[Manifest] = [
        {"name": "backup", "emptyDir": {}},
        {"name": "restic", "emptyDir": {}},
        {"name": "scripts", "configMap": {"name": metadata["name"]}},
        {"name": "config", "configMap": {"name": config_map}},
        *(volume for volume, _ in fetch.mounts),
    ]
    common_mounts = [
        {"name": "backup", "mountPath": BACKUP_DIR},
        {"name": "restic", "mountPath": RESTIC_HOME},
        {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
    ]
    fetcher: Manifest = {
        "name": "fetch",
        "image": image,
        **({"imagePullPolicy": image_pull_policy} if image_pull_policy else {}),
        "command": ["sh", f"{SCRIPTS_DIR}/{fetch.script}"],
        "env": [render_env(e) for e in [*_job_env(config_dir), *fetch.env]],
        "volumeMounts": [
            *common_mounts,
            {"name": "config", "mountPath": config_dir, "readOnly": True},
            *({"name": volume["name"], "mountPath": path, "readOnly": True} for volume, path in fetch.mounts),
        ],
        "resources": _resources(backup),
        "securityContext": _security(),
    }
    store: Manifest = {
        "name": "store",
        "image": backup.image,
        "imagePullPolicy": backup.image_pull_policy,
        "command": ["sh", f"{SCRIPTS_DIR}/{STORE_SH}"],
        "env": [
            render_env(e)
            for e in [
                *_job_env(config_dir),
                *restic_env(backup.repository, secret_name),
                EnvVar(name="HOME", value=RESTIC_HOME),
                EnvVar(name="RESTIC_CACHE_DIR", value=f"{RESTIC_HOME}/cache"),
                EnvVar(name="TMPDIR", value=RESTIC_HOME),
            ]
        ],
        "volumeMounts": common_mounts,
        "resources": _resources(backup),
        "securityContext": _security(),
    }
    pod_spec: Manifest = {**_job_pod(placement), "initContainers": [fetcher], "containers": [store], "volumes": volumes}
    spec: Manifest = {
        "schedule": backup.schedule,
        "concurrencyPolicy": "Forbid",
        # A run missed by more than this (the controller was down) is skipped, not started late.
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "backoffLimit": backup.retries,
                "activeDeadlineSeconds": backup.deadline_seconds,
                "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            },
        },
    }
    if backup.time_zone is not None:
        spec["timeZone"] = backup.time_zone
    return {"metadata": {**metadata, "name": f"{name}-backup"}, "spec": spec}


def _job_pod(placement: Manifest) -> Manifest:
    """A job's pod under the restricted Pod Security Standard (not root, no token, no retries in
    place), placed where the ensemble's pods may run."""
    return {
        **placement,
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": BACKUP_UID,
            "runAsGroup": BACKUP_UID,
            "fsGroup": BACKUP_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def _job_env(config_dir: str) -> list[EnvVar]:
    return [
        EnvVar(name="POD_NAME", field_path="metadata.name"),
        EnvVar(name="POD_NAMESPACE", field_path="metadata.namespace"),
        EnvVar(name="CONFIG_DIR", value=config_dir),
        EnvVar(name="BACKUP_DIR", value=BACKUP_DIR),
    ]


def render_backup_policies(
    metadata: Manifest, job_labels: dict[str, str], members: dict[str, str], fetch: BackupFetch, store_port: int
) -> list[Manifest]:
    """Two policies: the members admit the job on the one port it reads from; the job reaches only
    that port of the members, the cluster's DNS and the store's port."""
    port = [{"port": fetch.port, "protocol": "TCP"}]
    reads = {
        "metadata": {**metadata, "name": f"{metadata['name']}-reads"},
        "spec": {
            "podSelector": {"matchLabels": dict(members)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": dict(job_labels)}}], "ports": port}],
        },
    }
    job = {
        "metadata": {**metadata, "name": f"{metadata['name']}-job"},
        "spec": {
            "podSelector": {"matchLabels": dict(job_labels)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": dict(members)}}], "ports": port},
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"ports": [{"port": store_port, "protocol": "TCP"}]},
            ],
        },
    }
    return [reads, job]


# --------------------------------------------------------------------------- the restore


def restore_container(
    name: str,
    restore: RestoreArgs,
    secret_name: Any,
    *,
    claim: str,
    data_dir: str,
    config_dir: str,
    layout: dict[str, str],
) -> Container:
    """The init container that seeds an empty data volume from the snapshot (restore-seed.sh)."""
    settings = {
        "SNAPSHOT": restore.snapshot,
        "OVERWRITE": "1" if restore.overwrite_existing_data else "0",
        "DATA_DIR": data_dir,
        "CLAIM_PREFIX": f"{claim}-{name}",
        **layout,
    }
    return Container(
        name=RESTORE_CONTAINER,
        image=restore.image,
        command=["sh", f"{config_dir}/{RESTORE_SH}"],
        env=[
            EnvVar(name="POD_NAME", field_path="metadata.name"),
            *(EnvVar(name=key, value=value) for key, value in settings.items()),
            *restic_env(restore.repository, secret_name),
        ],
    )


def render_restore_check(
    metadata: Manifest, labels: dict[str, str], restore: RestoreArgs, secret_name: Any, placement: Manifest
) -> Manifest:
    """A Job that reads the snapshot once, before the StatefulSet exists: an unknown snapshot, a
    wrong password or a store that does not answer fails it (and so `up`) within the deadline,
    with restic's message, instead of pods stuck in their init container for the provider's 10 min."""
    check: Manifest = {
        "name": "check",
        "image": restore.image,
        "imagePullPolicy": restore.image_pull_policy,
        "command": ["sh", "-c", render_script(RESTORE_CHECK_SH)],
        "env": [
            render_env(e)
            for e in [EnvVar(name="SNAPSHOT", value=restore.snapshot), *restic_env(restore.repository, secret_name)]
        ],
        # The log's tail becomes the pod's termination message, which the provider reports.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": _security(),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }
    return {
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": restore.check_deadline_seconds,
            "template": {"metadata": {"labels": dict(labels)}, "spec": {**_job_pod(placement), "containers": [check]}},
        },
    }


def restore_script() -> str:
    return render_script(RESTORE_SH, MARKER=RESTORED_MARKER, BACKUP_DIR=BACKUP_DIR)
