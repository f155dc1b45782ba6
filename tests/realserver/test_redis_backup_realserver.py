"""Redis backups and restores with real servers, the real restic and a real S3 API (versitygw).

The backup job is the CronJob's pod as rendered, run once by podsim: the fetch copies an RDB from
a replica with redis-cli, the store writes it to the repository with restic. The restore is a new
ensemble whose pods start with the rendered restore init container.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from statefulkit.render.redis import RedisRender
from tests.realserver.test_redis_realserver import PASSWORD, make_spec
from tests.support.backup_pods import backup_job
from tests.support.object_store import ObjectStore, object_store
from tests.support.podsim import PodNetwork, PodStartError, netns_unavailable_reason
from tests.support.polling import wait_until
from tests.support.redis_pods import RedisPods, redis_ensemble, render_for_sim

REPOSITORY_PASSWORD = "r3st1c pa$$ 'word'"  # noqa: S105 - test-only
KEYS = 2000


@pytest.fixture
def network() -> Iterator[PodNetwork]:
    reason = netns_unavailable_reason()
    missing = [tool for tool in ("redis-server", "redis-cli", "restic") if shutil.which(tool) is None]
    if reason or missing:
        pytest.skip(reason or f"needs {missing} on PATH (tools/system-deps installs them)")
    with PodNetwork() as net:
        yield net


@pytest.fixture
def store(network: PodNetwork, tmp_path: Path) -> Iterator[ObjectStore]:
    # On the pods' gateway address: the pods reach it as they would a store outside the cluster.
    with object_store(tmp_path, host=network.gateway) as running:
        yield running


def repository(store: ObjectStore, secret: str, path: str = "prod/cache") -> dict[str, str]:
    return {"endpoint": store.endpoint, "bucket": "backups", "path": path, "existing_secret": secret}


def keys_secret(store: ObjectStore) -> dict[str, Any]:
    return {"stringData": store.keys(REPOSITORY_PASSWORD)}


def write_keys(pods: RedisPods, count: int, prefix: str = "k") -> None:
    master = pods.current_master()
    assert master is not None
    with pods.connect(master) as client:
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            pipe.set(f"{prefix}{i}", f"value-{i}")
        pipe.execute()
        client.wait(2, 5000)  # both replicas hold them before the backup starts


def take_backup(network: PodNetwork, workdir: Path, pods: RedisPods, store: ObjectStore) -> str:
    render = RedisRender(pods.name, pods.spec)
    secrets = {**render_for_sim(pods.name, pods.spec, PASSWORD)[1], "cache-s3": keys_secret(store)}
    with backup_job(network, workdir, render, secrets) as run:
        assert "copied an RDB" in run.log and "from replica cache-" in run.log, run.log
        return run.snapshot()


def test_backup_from_a_replica_then_restore_a_clone_with_appendonly(
    network: PodNetwork, store: ObjectStore, tmp_path: Path
) -> None:
    spec = make_spec(backup={"repository": repository(store, "cache-s3")})
    secrets = {"cache-s3": keys_secret(store)}
    with redis_ensemble(network, tmp_path / "source", "cache", spec, PASSWORD, extra_secrets=secrets) as source:
        write_keys(source, KEYS)
        master = source.current_master()
        snapshot = take_backup(network, tmp_path / "job", source, store)

    listed = store.restic("prod/cache", REPOSITORY_PASSWORD, "snapshots", "--json")
    assert listed.returncode == 0, listed.stderr
    (taken,) = json.loads(listed.stdout)
    assert taken["short_id"] == snapshot or taken["id"].startswith(snapshot)
    tags = dict(tag.split("=", 1) for tag in taken["tags"])
    assert tags["ensemble"] == "cache" and tags["statefulkit"] == "0.2.0"
    assert tags["source"] != f"cache-{master}", "a backup must never be copied from the master"
    assert int(tags["offset"]) > 0 and len(tags["master_run_id"]) == 40

    # A clone under another name, appendonly on (the default): its master loads the RDB.
    clone_spec = make_spec(restore={"repository": repository(store, "clone-s3"), "snapshot": snapshot})
    assert clone_spec.appendonly
    with redis_ensemble(
        network, tmp_path / "clone", "clone", clone_spec, PASSWORD, extra_secrets={"clone-s3": keys_secret(store)}
    ) as clone:
        assert clone.current_master() == 0
        for member in range(3):

            def synced(i: int = member) -> bool:
                with clone.connect(i) as client:
                    return bool(client.dbsize() == KEYS)

            wait_until(f"clone-{member} to hold every key", synced, timeout=60)
        with clone.connect(0) as client:
            assert client.mget([f"k{i}" for i in range(0, KEYS, 97)]) == [f"value-{i}" for i in range(0, KEYS, 97)]
        # A restart does not restore again: the volume holds the marker, and new writes survive it.
        with clone.connect(0) as client:
            client.set("after-restore", "kept")
            client.wait(2, 5000)
        clone.sim.restart(0)
        clone.wait_ready()
        assert "was restored before" in clone.sim.log(0, "restore")
        master = clone.current_master()
        assert master is not None
        with clone.connect(master) as client:
            assert client.get("after-restore") == "kept"
            assert client.dbsize() == KEYS + 1


def test_a_restore_never_overwrites_a_volume_that_holds_data(
    network: PodNetwork, store: ObjectStore, tmp_path: Path
) -> None:
    spec = make_spec(restore={"repository": repository(store, "clone-s3")})
    # Ordinal 0's claim, the one the snapshot would seed, already holds data from another life.
    claim = tmp_path / "pvc" / "data-clone-0"
    claim.mkdir(parents=True)
    (claim / "dump.rdb").write_bytes(b"precious")
    secrets = {"clone-s3": keys_secret(store)}
    with (
        pytest.raises(PodStartError) as refused,
        redis_ensemble(network, tmp_path, "clone", spec, PASSWORD, extra_secrets=secrets),
    ):
        pass
    message = str(refused.value)
    assert "refusing to restore: pod clone-0's claim data-clone-0 already holds data (dump.rdb" in message, message
    assert "overwrite_existing_data" in message
    assert (claim / "dump.rdb").read_bytes() == b"precious"


@pytest.mark.parametrize("fault", ["unknown snapshot", "wrong password", "store down"])
def test_a_restore_that_cannot_read_the_snapshot_fails_with_the_stores_message(
    network: PodNetwork, store: ObjectStore, tmp_path: Path, fault: str
) -> None:
    store.restic("prod/cache", REPOSITORY_PASSWORD, "init").check_returncode()
    snapshot = "deadbeef" if fault == "unknown snapshot" else "latest"
    keys = keys_secret(store)
    if fault == "wrong password":
        keys = {"stringData": store.keys("not-the-password")}
    if fault == "store down":
        store.stop()
    spec = make_spec(restore={"repository": repository(store, "clone-s3"), "snapshot": snapshot})
    with (
        pytest.raises(PodStartError) as failed,
        redis_ensemble(network, tmp_path, "clone", spec, PASSWORD, extra_secrets={"clone-s3": keys}),
    ):
        pass
    expected = {
        "unknown snapshot": 'no matching ID found for prefix "deadbeef"',
        "wrong password": "wrong password or no key found",
        "store down": "connection refused",
    }[fault]
    assert expected in str(failed.value), str(failed.value)
    assert not any((tmp_path / "pvc" / "data-clone-0").glob("dump.rdb"))


def test_a_failed_attempt_leaves_nothing_that_blocks_the_next(
    network: PodNetwork, store: ObjectStore, tmp_path: Path
) -> None:
    """What a restore that died mid-download left (its staging folder) is not data: the next start restores."""
    source_spec = make_spec(backup={"repository": repository(store, "cache-s3")})
    secrets = {"cache-s3": keys_secret(store), "clone-s3": keys_secret(store)}
    with redis_ensemble(network, tmp_path / "source", "cache", source_spec, PASSWORD, extra_secrets=secrets) as source:
        write_keys(source, 100)
        take_backup(network, tmp_path / "job", source, store)
        staging = tmp_path / "clone" / "pvc" / "data-clone-0" / ".restore-staging"
        staging.mkdir(parents=True)
        (staging / "partial").write_bytes(b"half")
        spec = make_spec(restore={"repository": repository(store, "clone-s3")})
        with redis_ensemble(network, tmp_path / "clone", "clone", spec, PASSWORD, extra_secrets=secrets) as clone:
            with clone.connect(0) as client:
                assert client.dbsize() == 100
            assert not staging.exists()
