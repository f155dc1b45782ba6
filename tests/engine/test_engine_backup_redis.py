"""The restore drill, through the real engine on real pods: a Redis ensemble deployed by the project's
program backs up to a real S3 API (versitygw on the cluster's bridge) while a client writes; the
ensemble is destroyed and its claims deleted; a user's own program clones it from the snapshot into
another namespace under another name. Every write acknowledged before the backup started is there,
with its value; the writes after it that are missing are the RPO, measured and printed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster_pods import wait_ready
from tests.support.engine_project import Project, real_pod_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.object_store import ObjectStore, object_store
from tests.support.redis_pods import ContinuousWriter, real_redis_pods
from tools import backup_now
from tools.engine import ROOT, Engine

PASSWORD = "Backup-Drill-" + uuid.uuid4().hex
REPOSITORY_PASSWORD = "Drill-Repo-" + uuid.uuid4().hex
NAME = "redis"
CLONE = "orders-clone"
PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def node_address(cluster: LocalCluster) -> str:
    """The cluster bridge's host address, every real node's IP: the pods reach it as a store outside."""
    nodes = cluster.get("nodes", selector="statefulkit.dev/node=real")["items"]
    return str(next(a["address"] for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP"))


@pytest.fixture(scope="module")
def store(
    local_cluster: LocalCluster, real_nodes: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ObjectStore]:
    with object_store(tmp_path_factory.mktemp("store"), host=node_address(local_cluster)) as running:
        yield running


def repository_keys(store: ObjectStore, prefix: str) -> dict[str, str]:
    """The repository's password and the store's keys, as stack secrets named `<prefix><field>`."""
    keys = {"password": REPOSITORY_PASSWORD, "access_key_id": store.access_key_id}
    return {f"{prefix}{k}": v for k, v in {**keys, "secret_access_key": store.secret_access_key}.items()}


def set_secrets(project: Project, namespace: str, secrets: dict[str, str]) -> None:
    for key, value in secrets.items():
        project.set_secret(f"{namespace}:{key}", value)


def redis_config(images: dict[str, str]) -> dict[str, Any]:
    config = real_pod_ensembles("unused", images)["statefulkit:redis"]
    return {**config, "discovery_timeout_seconds": 3}


@pytest.fixture(scope="module")
def source(
    engine: Engine,
    local_cluster: LocalCluster,
    debian_images: dict[str, str],
    store: ObjectStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Project]:
    namespace = f"sk-backup-{uuid.uuid4().hex[:6]}"
    config = real_pod_ensembles(namespace, debian_images)
    config["statefulkit:zookeeper"] = False
    config["statefulkit:redis"] = {
        **redis_config(debian_images),
        "backup": {
            "repository": {"endpoint": store.endpoint, "bucket": "backups", "path": "drill/redis"},
            "schedule": "0 0 1 1 *",  # once a year: the drill runs it on demand
            "image": debian_images["restic"],
            "image_pull_policy": "Never",
        },
    }
    project = Project.copy(ROOT, tmp_path_factory.mktemp("source"), engine, "backupsource", config)
    set_secrets(project, "statefulkit", {"redis_password": PASSWORD, **repository_keys(store, "backup_")})
    try:
        yield project
    finally:
        project.remove(local_cluster)


Cloner = Callable[..., Project]


@pytest.fixture(scope="module")
def cloner(
    engine: Engine, debian_images: dict[str, str], store: ObjectStore, tmp_path_factory: pytest.TempPathFactory
) -> Cloner:
    """The user's program (tests/projects/restore_clone), set to clone a snapshot into a namespace."""

    def clone(
        namespace: str, snapshot: str, *, path: str = "drill/redis", repository_password: str = REPOSITORY_PASSWORD
    ) -> Project:
        config = {
            "statefulkit-restore-clone:namespace": namespace,
            "statefulkit-restore-clone:name": CLONE,
            "statefulkit-restore-clone:redis": redis_config(debian_images),
            "statefulkit-restore-clone:restore": {
                "repository": {"endpoint": store.endpoint, "bucket": "backups", "path": path},
                "snapshot": snapshot,
                "image": debian_images["restic"],
                "image_pull_policy": "Never",
                "check_deadline_seconds": 60,
            },
        }
        project = Project.copy(PROJECTS / "restore_clone", tmp_path_factory.mktemp("clone"), engine, "clone", config)
        keys = repository_keys(store, "")
        keys["repository_password"] = repository_password
        del keys["password"]
        set_secrets(project, "statefulkit-restore-clone", {"password": PASSWORD, **keys})
        return project

    return clone


def test_backup_destroy_and_clone_into_another_namespace_under_another_name(
    local_cluster: LocalCluster, debian_images: dict[str, str], source: Project, cloner: Cloner
) -> None:
    namespace = source.namespace
    source.up()
    wait_ready(local_cluster, namespace, NAME, 3, timeout=300)
    assert source.outputs()["redis_backup_cron_job"] == f"{NAME}-backup"
    pods = real_redis_pods(local_cluster, namespace, NAME, redis_config(debian_images), PASSWORD)

    with ContinuousWriter(pods) as writer:
        time.sleep(3)
        backup_started = time.monotonic()
        snapshot = backup_now.run_now(local_cluster.kubeconfig, namespace, f"{NAME}-backup", print, timeout=300)
        backup_took = time.monotonic() - backup_started
        time.sleep(3)
    log = writer.log
    before = [key for key, at in log.acked if at < backup_started]
    after = [key for key, at in log.acked if at >= backup_started]
    print(f"\nbackup {snapshot}: {backup_took:.1f}s; {len(before)} writes acknowledged before it, {len(after)} after")

    # The ensemble and its claims are gone.
    source.destroy()
    local_cluster.kubectl("delete", "pvc", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}", "--wait=true")
    assert local_cluster.get("pvc", namespace=namespace)["items"] == []

    # A user's own program clones it from the snapshot: another namespace, another name.
    clone_namespace = f"sk-clone-{uuid.uuid4().hex[:6]}"
    clone = cloner(clone_namespace, snapshot)
    try:
        started = time.monotonic()
        clone.up()
        wait_ready(local_cluster, clone_namespace, CLONE, 3, timeout=300)
        restore_took = time.monotonic() - started
        cloned = real_redis_pods(local_cluster, clone_namespace, CLONE, redis_config(debian_images), PASSWORD)
        master = cloned.current_master()
        assert master is not None
        with cloned.connect(master) as client:
            values = client.mget(log.keys()) if log.keys() else []
        held = {key: value for key, value in zip(log.keys(), values, strict=True) if value is not None}
        missing_before = [key for key in before if key not in held]
        assert missing_before == [], f"{len(missing_before)} writes acknowledged before the backup are missing"
        assert all(held[key] == key.split(":")[1] for key in before)
        rpo = [key for key in after if key not in held]
        # The snapshot's point in time: the last write it holds, counted from the backup's start.
        point = max(at for key, at in log.acked if key in held) - backup_started
        print(
            f"restore of {len(held)} keys into {clone_namespace}/{CLONE}: {restore_took:.1f}s from `up` to 3 Ready; "
            f"RPO: {len(rpo)} of the {len(after)} writes acknowledged after the backup started are missing; the "
            f"snapshot holds the writes of the first {point:.1f}s of the {backup_took:.1f}s backup"
        )
    finally:
        clone.remove(local_cluster)


FAULTS = {
    "unknown snapshot": ("deadbeef", REPOSITORY_PASSWORD, 'no matching ID found for prefix "deadbeef"'),
    "wrong password": ("latest", "not-the-password", "wrong password or no key found"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_restore_that_cannot_read_its_snapshot_fails_up_at_once_with_the_stores_message(
    local_cluster: LocalCluster, store: ObjectStore, cloner: Cloner, fault: str
) -> None:
    snapshot, password, message = FAULTS[fault]
    path = f"faults/{uuid.uuid4().hex[:6]}"
    store.restic(path, REPOSITORY_PASSWORD, "init").check_returncode()
    namespace = f"sk-fault-{uuid.uuid4().hex[:6]}"
    clone = cloner(namespace, snapshot, path=path, repository_password=password)
    try:
        started = time.monotonic()
        printed = clone.failing("up")
        took = time.monotonic() - started
        print(f"\n{fault}: up failed after {took:.0f}s")
        assert message in printed.text, printed.text
        assert took < 60 + 60, f"{fault}: up took {took:.0f}s"  # the check's deadline and the engine's own time
        # Nothing of the ensemble runs: the StatefulSet is never created.
        assert local_cluster.get("statefulsets", namespace=namespace)["items"] == []
    finally:
        clone.remove(local_cluster)
