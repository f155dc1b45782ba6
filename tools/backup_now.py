"""`make backup STACK=<env>`: a backup of every ensemble of the stack that backs up, now.

For each `<block>_backup_cron_job` output of the stack, a Job is made from the CronJob (what
`kubectl create job --from=cronjob/<name>` does), waited for, and its snapshot id printed; a failed
job prints its log (the store's message) and the command exits 1. The one-liner for a cluster of
your own, without this repository:

    kubectl -n NS create job --from=cronjob/NAME-backup NAME-backup-now &&
    kubectl -n NS wait --for=condition=complete --timeout=1h job/NAME-backup-now &&
    kubectl -n NS logs job/NAME-backup-now -c store | grep '^snapshot='
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from typing import Any

from tools import engine

SUFFIX = "_backup_cron_job"


class BackupError(Exception):
    """The job saved no snapshot; the message holds its log."""


def backups_of(outputs: Mapping[str, Any]) -> dict[str, str]:
    """block -> the CronJob's name, for every block of the stack that backs up."""
    return {key.removesuffix(SUFFIX): str(value) for key, value in outputs.items() if key.endswith(SUFFIX)}


def run_now(kubeconfig: str, namespace: str, cron_job: str, out: engine.Print, timeout: float = 3600) -> str:
    """Run the CronJob once; its snapshot id. Raises BackupError with the job's log."""
    kubectl = engine.toolchain_env(("kubernetes",))["STATEFULKIT_KUBE_BIN"] + "/kubectl"

    def ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [kubectl, "--kubeconfig", kubeconfig, "-n", namespace, *args]
        return subprocess.run(command, capture_output=True, text=True, check=check)

    job = f"{cron_job}-now-{int(time.time())}"
    ctl("create", "job", f"--from=cronjob/{cron_job}", job)
    out(f"[backup] {namespace}/{job}: started from cronjob/{cron_job}")
    deadline = time.monotonic() + timeout
    # Complete, or Failed once its retries are spent (or its deadline passed).
    finished = '{.status.conditions[?(@.status=="True")].type}'
    while time.monotonic() < deadline:
        if {"Complete", "Failed"} & set(ctl("get", "job", job, "-o", f"jsonpath={finished}").stdout.split()):
            break
        time.sleep(2)
    log = ctl("logs", f"job/{job}", "--all-containers", "--prefix", check=False).stdout
    snapshots = [line.rsplit("snapshot=", 1)[1] for line in log.splitlines() if "] snapshot=" in line]
    if not snapshots:
        raise BackupError(f"{namespace}/{job} saved no snapshot; its log:\n{log}")
    return snapshots[-1]
