"""What a Redis backup and a restore cost, by data size, beside the plain alternatives, in one run.

Real servers under podsim (tests/support/podsim), Debian's redis-server and restic, and a real S3
API (versitygw): for each size, a 3-pod ensemble is loaded with N keys of 100 random hex bytes, then
  backup   the rendered backup job (fetch an RDB from a replica, restic to S3)
           beside `redis-cli --rdb` from the host to a local file (no store, no encryption);
  again    a second backup after 1% of the keys changed: its time and what it added to the store
           (restic deduplicates);
  restore  a new ensemble from the snapshot, from start until all 3 pods are Ready and hold N keys,
           beside a new empty ensemble's start.
Needs root (network namespaces), like the real-server tests.

    python -m benchmarks.backup_restore [N ...]      (default: 10000 100000)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi

from statefulkit.args.redis import RedisArgs
from statefulkit.render.redis import RedisRender
from tests.support.backup_pods import backup_job
from tests.support.object_store import ObjectStore, object_store
from tests.support.podsim import PodNetwork
from tests.support.polling import wait_until
from tests.support.redis_pods import RedisPods, redis_ensemble, render_for_sim

PASSWORD = "bench-password"  # noqa: S105 - a throwaway benchmark ensemble
REPOSITORY_PASSWORD = "bench-repository"  # noqa: S105


def spec(store: ObjectStore, **overrides: object) -> RedisArgs:
    repository = {"endpoint": store.endpoint, "bucket": "backups", "path": "bench", "existing_secret": "s3"}
    args: dict[str, object] = {
        "password": pulumi.Output.secret(""),
        "discovery_timeout_seconds": 3,
        "backup": {"repository": repository},
        **overrides,
    }
    return RedisArgs.model_validate(args)


def load(pods: RedisPods, count: int, start: int = 0) -> None:
    master = pods.current_master()
    assert master is not None
    with pods.connect(master) as client:
        for first in range(start, start + count, 10_000):
            pipe = client.pipeline(transaction=False)
            for i in range(first, min(first + 10_000, start + count)):
                pipe.set(f"key:{i}", os.urandom(50).hex())  # 100 bytes that compress like real data
            pipe.execute()
        client.wait(2, 30_000)


def timed_backup(network: PodNetwork, workdir: Path, pods: RedisPods, store: ObjectStore) -> tuple[float, str]:
    render = RedisRender(pods.name, pods.spec)
    secrets = {
        **render_for_sim(pods.name, pods.spec, PASSWORD)[1],
        "s3": {"stringData": store.keys(REPOSITORY_PASSWORD)},
    }
    started = time.monotonic()
    with backup_job(network, workdir, render, secrets, timeout=600) as run:
        return time.monotonic() - started, run.snapshot()


def store_bytes(store: ObjectStore) -> int:
    return sum(f.stat().st_size for f in (store.root / "backups" / "bench").rglob("*") if f.is_file())


def measure(count: int, workdir: Path) -> dict[str, float]:
    # A pod IP that a closed sim freed and a new one reuses stalls connections (stale neighbour
    # entries): the clone starts while the source still runs, the empty ensemble on a network of its own.
    row: dict[str, float] = {}
    with PodNetwork() as network, object_store(workdir, host=network.gateway) as store:
        secrets = {"s3": {"stringData": store.keys(REPOSITORY_PASSWORD)}}
        with redis_ensemble(network, workdir / "source", "cache", spec(store), PASSWORD, extra_secrets=secrets) as pods:
            load(pods, count)
            row["backup job"], snapshot = timed_backup(network, workdir / "job1", pods, store)
            row["stored MB"] = store_bytes(store) / 1e6
            replica = next(i for i in range(3) if pods.role(i) == "slave")
            started = time.monotonic()
            rdb = ["redis-cli", "-h", pods.sim.pod_ip(replica), "-a", PASSWORD, "--no-auth-warning", "--rdb"]
            subprocess.run([*rdb, str(workdir / "raw.rdb")], check=True, capture_output=True)
            row["redis-cli --rdb"] = time.monotonic() - started
            load(pods, max(count // 100, 1), start=count)  # 1% new keys
            before = store_bytes(store)
            row["second backup"], _ = timed_backup(network, workdir / "job2", pods, store)
            row["second added MB"] = (store_bytes(store) - before) / 1e6
            repository = spec(store).backup.repository.model_dump()  # type: ignore[union-attr]
            clone = spec(store, backup=None, restore={"repository": repository, "snapshot": snapshot})
            started = time.monotonic()
            with redis_ensemble(
                network, workdir / "clone", "clone", clone, PASSWORD, extra_secrets=secrets
            ) as restored:
                for i in range(3):
                    with restored.connect(i) as client:

                        def complete(c: Any = client) -> bool:
                            return bool(c.dbsize() == count)

                        wait_until(f"clone-{i} to hold {count} keys", complete, timeout=600)
                row["restore"] = time.monotonic() - started
    with PodNetwork() as network:
        started = time.monotonic()
        with redis_ensemble(network, workdir / "empty", "empty", spec(store, backup=None), PASSWORD):
            row["empty start"] = time.monotonic() - started
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("counts", nargs="*", type=int, default=[10_000, 100_000])
    counts = parser.parse_args().counts
    rows = {}
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="sk-bench-") as scratch:
            rows[count] = measure(count, Path(scratch))
    columns = list(next(iter(rows.values())))
    print(f"{'keys':>8}  " + "  ".join(f"{c:>16}" for c in columns))
    for count, row in rows.items():
        print(f"{count:>8}  " + "  ".join(f"{row[c]:>16.2f}" for c in columns))
    print("seconds, except MB; backup and restore through the rendered job and init container, real servers")


if __name__ == "__main__":
    main()
