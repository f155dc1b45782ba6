"""An ensemble's backup and restore objects, registered as its children (render: statefulkit.render.backup).

The repository Secrets come first (the pods and jobs read them), then with a restore the check Job,
which the StatefulSet waits for; with a backup, after the workload, the job's scripts, its
NetworkPolicies, the CronJob and, where the ensemble is scraped, its alerts.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.manifest import manifest_kwargs
from statefulkit.render.ensemble import EnsembleRender
from statefulkit.render.monitoring import PROMETHEUS_RULE_API, render_backup_alerts


def register_repository_secrets(parent: pulumi.Resource, render: EnsembleRender[Any]) -> list[pulumi.Resource]:
    """The backup's and the restore's repository Secrets, from Pulumi secrets (kept secret in the state)."""
    return [
        k8s.core.v1.Secret(
            manifest["metadata"]["name"],
            **manifest_kwargs(manifest),
            opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["data", "stringData"]),
        )
        for manifest in render.repository_secrets()
    ]


def register_restore_check(
    parent: pulumi.Resource, render: EnsembleRender[Any], secrets: list[pulumi.Resource]
) -> list[pulumi.Resource]:
    """With `restore`: the Job that must read the snapshot before the StatefulSet is created (the
    provider awaits a Job; a failed one fails `up` with its pod's message)."""
    if render.args.restore is None:
        return []
    manifest = render.restore_check()
    job = k8s.batch.v1.Job(
        manifest["metadata"]["name"],
        **manifest_kwargs(manifest),
        # A new snapshot or repository is a new check; its fixed name goes first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=secrets, delete_before_replace=True),
    )
    return [job]


def register_backup(
    parent: pulumi.Resource,
    render: EnsembleRender[Any],
    namespace: pulumi.Output[str],
    after: list[pulumi.Resource],
) -> k8s.batch.v1.CronJob | None:
    """With `backup`: the job's scripts, its NetworkPolicies, the CronJob, and with pod_monitor a
    PrometheusRule; `after` the workload, whose members and config the job reads, and the Secrets."""
    backup = render.args.backup
    if backup is None:
        return None
    ordered = pulumi.ResourceOptions(parent=parent, depends_on=after)
    scripts_manifest = render.backup_config_map()
    scripts = k8s.core.v1.ConfigMap(
        scripts_manifest["metadata"]["name"], **manifest_kwargs(scripts_manifest), opts=ordered
    )
    for policy in render.backup_policies():
        k8s.networking.v1.NetworkPolicy(policy["metadata"]["name"], **manifest_kwargs(policy), opts=ordered)
    manifest = render.backup_cron_job()
    name = manifest["metadata"]["name"]
    cron_job = k8s.batch.v1.CronJob(
        name, **manifest_kwargs(manifest), opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, scripts])
    )
    if render.args.pod_monitor is not None:
        # Where the ensemble is scraped, its backups are watched too (the PrometheusRule CRD).
        k8s.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version=PROMETHEUS_RULE_API[0],
            kind=PROMETHEUS_RULE_API[1],
            metadata=render.metadata(f"{name}-alerts"),
            spec=namespace.apply(lambda ns: render_backup_alerts(name, ns, backup.stale_after_hours)),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return cron_job
