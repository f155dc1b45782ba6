"""The prometheus-operator objects: a workload's PodMonitor (PodMonitorArgs), an ensemble's backup alerts."""

from __future__ import annotations

from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.pod import Manifest

POD_MONITOR_API = ("monitoring.coreos.com/v1", "PodMonitor")
PROMETHEUS_RULE_API = ("monitoring.coreos.com/v1", "PrometheusRule")


def render_pod_monitor(args: StatefulWorkloadArgs, selector: dict[str, str]) -> Manifest | None:
    """spec of a PodMonitor scraping every `metrics` port of the workload's pods (None unless asked)."""
    monitor = args.pod_monitor
    if monitor is None:
        return None
    ports = [p for c in args.all_containers() for p in c.ports if p.reachable_by == "metrics"]
    return {
        "selector": {"matchLabels": dict(selector)},
        "podMetricsEndpoints": [
            {"port": p.name, "path": "/metrics", "interval": f"{monitor.interval_seconds}s"} for p in ports
        ],
    }


def render_backup_alerts(cron_job: str, namespace: str, stale_after_hours: int) -> Manifest:
    """spec of a PrometheusRule on kube-state-metrics' CronJob and Job series: the last successful
    backup is older than `stale_after_hours` (or there never was one), or a backup job failed."""
    where = f'namespace="{namespace}", cronjob="{cron_job}"'
    jobs = f'namespace="{namespace}", job_name=~"{cron_job}-.*"'
    last = f"kube_cronjob_status_last_successful_time{{{where}}}"
    return {
        "groups": [
            {
                "name": f"{cron_job}.rules",
                "rules": [
                    {
                        "alert": "StatefulkitBackupStale",
                        "expr": f"(time() - {last} > {stale_after_hours * 3600}) or absent({last})",
                        "for": "15m",
                        "labels": {"severity": "warning"},
                        "annotations": {
                            "summary": f"{namespace}/{cron_job}: no successful backup for {stale_after_hours} h",
                            "description": "the log of its last job says why: kubectl logs job/<job> --all-containers",
                        },
                    },
                    {
                        "alert": "StatefulkitBackupFailed",
                        "expr": f"kube_job_status_failed{{{jobs}}} > 0",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": f"{namespace}/{cron_job}: a backup job failed after its retries"},
                    },
                ],
            }
        ]
    }
