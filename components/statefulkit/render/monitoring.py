"""The prometheus-operator PodMonitor of a workload (PodMonitorArgs)."""

from __future__ import annotations

from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.pod import Manifest

POD_MONITOR_API = ("monitoring.coreos.com/v1", "PodMonitor")


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
