"""RedisEnsemble with real Redis servers and Sentinels, one simulated pod per network namespace.

The StatefulSet, ConfigMap and Secret are the ones the component registers (pure renderer); podsim
runs every container as a process with the pod's hostname, /etc/hosts, env and volumes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
import redis

from components.args.redis import RedisArgs, SentinelSettings
from tests.support.podsim import PodNetwork, netns_unavailable_reason
from tests.support.polling import wait_until
from tests.support.redis_pods import NOT_YET, RedisPods, redis_ensemble

pytestmark = pytest.mark.realserver

# Short Sentinel timings so failovers finish in seconds; set through the typed args.
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000
# A password that needs careful quoting in redis.conf and in sh.
PASSWORD = "s3cr3t \"quoted\" \\ back$lash 'single' #hash"  # noqa: S105 - test-only password


def _missing() -> str | None:
    reason = netns_unavailable_reason()
    if reason:
        return reason
    missing = [tool for tool in ("redis-server", "redis-cli", "timeout", "od") if shutil.which(tool) is None]
    return f"needs {missing} on PATH (tools/system-deps installs them)" if missing else None


@pytest.fixture
def network() -> Iterator[PodNetwork]:
    # One network per test: a pod IP reused by a later sim on the same network gets a new MAC,
    # and the host's stale neighbour entry for it stalls connections for tens of seconds.
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with PodNetwork() as net:
        yield net


def make_spec(**overrides: object) -> RedisArgs:
    args: dict[str, object] = {
        "password": pulumi.Output.secret("only-the-rendered-secret-matters-here"),
        "sentinel": SentinelSettings(
            down_after_milliseconds=DOWN_AFTER_MS, failover_timeout_milliseconds=FAILOVER_TIMEOUT_MS
        ),
        "discovery_timeout_seconds": 3,
    }
    args.update(overrides)
    return RedisArgs.model_validate(args)


@pytest.fixture
def pods(network: PodNetwork, tmp_path: Path) -> Iterator[RedisPods]:
    with redis_ensemble(network, tmp_path, "cache", make_spec(), PASSWORD) as running:
        yield running


def assert_one_master(pods: RedisPods, expected: int, seconds: float = 3.0) -> None:
    """Sample for a while: exactly `expected` is master, every other node replicates from it."""
    deadline = time.monotonic() + seconds
    while True:
        roles = {i: pods.role(i) for i in range(pods.spec.replicas)}
        assert [i for i, r in roles.items() if r == "master"] == [expected], roles
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    for i in range(pods.spec.replicas):
        if i != expected:
            assert pods.replication(i)["master_host"] == pods.fqdn(expected)


def failover_attempts(pods: RedisPods) -> int:
    """`+try-failover` events in every Sentinel's log so far (logs persist across restarts)."""
    return sum(pods.sim.log(i, "sentinel").count("+try-failover") for i in range(pods.spec.replicas))


def fail_over(pods: RedisPods, old: int) -> tuple[int, float]:
    """SIGKILL every container of pod `old`; return the promoted ordinal and the seconds it took."""
    survivors = [i for i in range(pods.spec.replicas) if i != old]
    start = time.monotonic()
    pods.sim.kill(old)

    def promoted() -> int | None:
        views = {pods.sentinel_master(i) for i in survivors}
        if len(views) != 1:
            return None
        (host,) = views
        if host is None or host == pods.fqdn(old):
            return None
        new = pods.ordinal_of(host)
        return new if pods.role(new) == "master" else None

    new = wait_until(
        "a Sentinel failover",
        promoted,
        timeout=(DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS) / 1000 + 20,
        interval=0.2,
        tolerate=NOT_YET,
    )
    elapsed = time.monotonic() - start
    print(f"\nfailover: pod {old} killed -> pod {new} promoted in {elapsed:.2f}s (down-after {DOWN_AFTER_MS} ms)")
    return new, elapsed


def test_three_pods_replicate_with_auth_and_pass_their_probes(pods: RedisPods) -> None:
    # Roles: ordinal 0 bootstrapped as master, the others follow it by FQDN.
    assert pods.role(0) == "master"
    for i in (1, 2):
        assert pods.role(i) == "slave"
        info = pods.replication(i)
        assert info["master_host"] == pods.fqdn(0)
    pods.wait_replication(0, 2)
    announced = {v["ip"] for k, v in pods.replication(0).items() if k.startswith("slave") and isinstance(v, dict)}
    assert announced == {pods.fqdn(1), pods.fqdn(2)}  # replicas are known by hostname, not pod IP

    with pods.connect(0) as master:
        assert master.set("greeting", "hello")
        assert master.execute_command("WAIT", 2, 5000) == 2
    for i in (1, 2):
        with pods.connect(i) as replica:
            assert replica.get("greeting") == "hello"
            with pytest.raises(redis.ReadOnlyError):
                replica.set("nope", "1")

    # Auth on both ports: no password and a wrong one are refused.
    for sentinel in (False, True):
        with pods.connect(0, sentinel=sentinel, password=False) as anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        wrong = "not-the-password"
        with pods.connect(1, sentinel=sentinel, password=wrong) as intruder, pytest.raises(redis.AuthenticationError):
            intruder.ping()

    # Dangerous commands: disabled, CONFIG only under its alias.
    with pods.connect(0) as master:
        for command in ("FLUSHALL", "FLUSHDB", "CONFIG GET maxmemory-policy"):
            with pytest.raises(redis.ResponseError, match="unknown command"):
                master.execute_command(*command.split())
        assert master.execute_command("SK_CONFIG", "GET", "appendonly") in (
            {"appendonly": "yes"},
            ["appendonly", "yes"],
        )
        assert master.get("greeting") == "hello"

    # Every Sentinel sees the master, both replicas and the two other Sentinels, by hostname.
    for i in range(3):

        def settled(i: int = i) -> bool:
            state = pods.sentinel_state(i)
            return bool(state["num-slaves"] == 2 and state["num-other-sentinels"] == 2)

        wait_until(f"Sentinel {i} to discover its peers", settled, timeout=30, interval=0.2, tolerate=NOT_YET)
        with pods.connect(i, sentinel=True) as s:
            assert s.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster") == [pods.fqdn(0), "6379"]
            assert str(s.execute_command("SENTINEL", "ckquorum", "mymaster")).startswith("OK")
        state = pods.sentinel_state(i)
        assert state["quorum"] == 2
        assert state["down-after-milliseconds"] == DOWN_AFTER_MS

    for i in range(3):
        assert pods.sim.probe(i, "readiness"), f"pod {i} readiness"
        assert pods.sim.probe(i, "liveness"), f"pod {i} liveness"


def test_sentinels_promote_a_replica_when_the_master_dies(pods: RedisPods) -> None:
    pods.wait_replication(0, 2)
    with pods.connect(0) as master:
        master.set("before", "1")
        assert master.execute_command("WAIT", 2, 5000) == 2

    new, elapsed = fail_over(pods, 0)
    assert new in (1, 2)
    assert elapsed < (DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS) / 1000

    # Clients find the master through the Sentinels and write to it.
    host = pods.sentinel_master(3 - new)
    assert host == pods.fqdn(new)
    with pods.connect(pods.ordinal_of(host)) as master:
        assert master.get("before") == "1"
        assert master.set("after", "2")
    other = 3 - new
    wait_until(
        "the other replica to follow the new master",
        lambda: pods.replication(other)["master_host"] == pods.fqdn(new),
        timeout=30,
        interval=0.2,
        tolerate=NOT_YET,
    )
    pods.wait_replication(new, 1)
    with pods.connect(new) as master:
        assert master.execute_command("WAIT", 1, 5000) == 1
    with pods.connect(other) as replica:
        assert replica.get("after") == "2"


def test_old_master_rejoins_as_replica_without_split_brain(pods: RedisPods) -> None:
    pods.wait_replication(0, 2)
    new, _ = fail_over(pods, 0)
    with pods.connect(new) as master:
        master.set("written-while-0-was-down", "yes")

    pods.sim.start(0)
    pods.sim.wait_ready(0, timeout=60)
    assert pods.role(0) == "slave"
    assert pods.replication(0)["master_host"] == pods.fqdn(new)
    decisions = [line for line in pods.sim.log(0, "redis").splitlines() if line.startswith("statefulkit[")]
    assert decisions[-1].endswith(f"starting as replica of {pods.fqdn(new)} (from the Sentinels)")
    pods.wait_replication(new, 2)
    assert_one_master(pods, new)
    with pods.connect(new) as master:
        assert master.execute_command("WAIT", 2, 5000) == 2
    with pods.connect(0) as old:
        assert old.get("written-while-0-was-down") == "yes"
    # The restarted Sentinel agrees with the others.
    wait_until(
        "Sentinel 0 to follow the new master",
        lambda: pods.sentinel_master(0) == pods.fqdn(new),
        timeout=30,
        interval=0.2,
        tolerate=NOT_YET,
    )


def test_full_restart_keeps_every_acknowledged_write_and_the_elected_master(pods: RedisPods) -> None:
    pods.wait_replication(0, 2)
    # Move the master away from ordinal 0 first: a naive bootstrap would wrongly pick pod 0 again.
    new, _ = fail_over(pods, 0)
    pods.sim.start(0)
    pods.sim.wait_ready(0, timeout=60)
    pods.wait_replication(new, 2)

    written = {f"key:{n}": str(n * n) for n in range(200)}
    with pods.connect(new) as master:
        pipe = master.pipeline(transaction=False)
        for key, value in written.items():
            pipe.set(key, value)
        pipe.execute()
        assert master.execute_command("WAIT", 2, 5000) == 2
    # Let every Sentinel save the current epoch and master before the outage.
    wait_until(
        "all Sentinels to agree",
        lambda: {pods.sentinel_master(i) for i in range(3)} == {pods.fqdn(new)},
        timeout=30,
        interval=0.2,
        tolerate=NOT_YET,
    )

    attempts_before = failover_attempts(pods)
    for i in range(3):
        pods.sim.stop(i, grace=10)
    pods.sim.start_all()
    pods.wait_ready(timeout=90)

    wait_until(
        "a master after the restart", lambda: pods.masters() == [new], timeout=30, interval=0.2, tolerate=NOT_YET
    )
    assert_one_master(pods, new)
    pods.wait_replication(new, 2)
    for i in range(3):
        with pods.connect(i) as client:
            values = client.mget(list(written))
        assert dict(zip(written, values, strict=True)) == written, f"pod {i} lost acknowledged writes"
    # The restart was not mistaken for a failure: no Sentinel even tried a failover.
    assert failover_attempts(pods) == attempts_before
