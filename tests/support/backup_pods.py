"""An ensemble's backup job run by podsim: the CronJob's pod template, as rendered, as one pod."""

from __future__ import annotations

import contextlib
import copy
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statefulkit.render.ensemble import EnsembleRender
from tests.support.podsim import PodNetwork, PodStartError, StatefulSetSim


@dataclass
class JobRun:
    exit_code: int | None  # None: the fetch (init container) failed
    log: str  # the fetch's output, then the store's

    def snapshot(self) -> str:
        found = re.findall(r"^snapshot=([0-9a-f]+)$", self.log, re.MULTILINE)
        assert self.exit_code == 0 and len(found) == 1, self.log
        return str(found[0])


def job_statefulset(cron_job: dict[str, Any]) -> dict[str, Any]:
    """The CronJob's pod template in a one-pod StatefulSet, the shape podsim runs."""
    template = copy.deepcopy(cron_job["spec"]["jobTemplate"]["spec"]["template"])
    name = cron_job["metadata"]["name"]
    return {
        "metadata": {"name": name, "namespace": cron_job["metadata"]["namespace"]},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
        },
    }


@contextlib.contextmanager
def backup_job(
    network: PodNetwork, workdir: Path, render: EnsembleRender[Any], secrets: dict[str, Any], timeout: float = 120
) -> Iterator[JobRun]:
    """Run the job's pod once (fetch, then store) and yield what it did; the pod is removed after."""
    manifests = render.manifests()
    assert manifests.config_map is not None
    configmaps = {render.workload_names.config_map: manifests.config_map}
    scripts = render.backup_config_map()
    configmaps[scripts["metadata"]["name"]] = scripts
    namespace = render.args.namespace if isinstance(render.args.namespace, str) else "default"
    sim = StatefulSetSim(
        network,
        job_statefulset(render.backup_cron_job()),
        configmaps=configmaps,
        secrets=secrets,
        workdir=workdir,
        namespace=namespace,
        cluster_domain=render.args.cluster_domain,
    )
    try:
        try:
            sim.start(0)
        except PodStartError as failed:
            yield JobRun(None, str(failed))
            return
        try:
            code: int | None = sim.wait_exit(0, "store", timeout)
        except subprocess.TimeoutExpired:
            code = None
        yield JobRun(code, sim.log(0, "fetch") + sim.log(0, "store"))
    finally:
        sim.close()
