"""RedisEnsemble with real Redis servers and Sentinels, one simulated pod per network namespace.

The StatefulSet, ConfigMap and Secret are the ones the component registers (pure renderer); podsim
runs every container as a process with the pod's hostname, /etc/hosts, env and volumes.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
import redis

from statefulkit.args.redis import EXPORTER_PORT, REDIS_PORT, SENTINEL_PORT, RedisArgs
from statefulkit.args.sentinel import SentinelSettings
from tests.support.certs import make_ca, make_leaf, tls_secret
from tests.support.metrics import sample, scrape
from tests.support.podsim import PodNetwork, netns_unavailable_reason
from tests.support.polling import wait_until
from tests.support.redis_pods import NOT_YET, ContinuousWriter, RedisPods, WriteLog, redis_ensemble

# Short Sentinel timings so failovers finish in seconds; set through the typed args.
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000
# A password that needs careful quoting in redis.conf and in sh.
PASSWORD = "s3cr3t \"quoted\" \\ back$lash 'single' #hash"  # noqa: S105 - test-only password


def _missing() -> str | None:
    reason = netns_unavailable_reason()
    if reason:
        return reason
    tools = ("redis-server", "redis-cli", "timeout", "od", "prometheus-redis-exporter")
    missing = [tool for tool in tools if shutil.which(tool) is None]
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

    tried = failover_attempts(pods)
    new, _ = fail_over(pods, 0)
    assert new in (1, 2)
    # Promoted by the Sentinels' first attempt (a split vote tries again only after twice
    # failover-timeout): counted in their logs rather than timed, which a busy machine slows.
    assert failover_attempts(pods) == tried + 1

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
    assert decisions[-1].endswith(f"starting as replica of {pods.fqdn(new)} (from 2 of 3 Sentinels)")
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


def point_sentinel_at(pods: RedisPods, i: int, master: int) -> None:
    """Make pod i's Sentinel name `master`, as a Sentinel does mid-failover before the others follow."""
    name = pods.spec.master_name
    with pods.connect(i, sentinel=True) as sentinel:
        sentinel.execute_command("SENTINEL", "REMOVE", name)
        sentinel.execute_command("SENTINEL", "MONITOR", name, pods.fqdn(master), REDIS_PORT, 2)
        sentinel.execute_command("SENTINEL", "SET", name, "auth-pass", PASSWORD)


def test_a_restarting_pod_waits_while_the_sentinels_disagree(pods: RedisPods) -> None:
    """Pod 2 restarts while one Sentinel names pod 2 and another pod 0 (a failover in flight). It must
    not follow either one of a split vote (it would start as a second master), only the majority."""
    pods.wait_replication(0, 2)
    pods.sim.kill(2)
    point_sentinel_at(pods, 1, master=2)
    pods.sim.start(2)
    time.sleep(pods.spec.discovery_timeout_seconds + 2)
    assert pods.role(2) is None, "pod 2 started its Redis on a split vote"
    point_sentinel_at(pods, 1, master=0)  # the failover that never was ends: the Sentinels agree
    pods.sim.wait_ready(2, timeout=60)
    assert_one_master(pods, 0)
    decisions = [line for line in pods.sim.log(2, "redis").splitlines() if line.startswith("statefulkit[")]
    assert decisions[-1].endswith(f"starting as replica of {pods.fqdn(0)} (from 2 of 3 Sentinels)")


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
    # Replicas first: a master stopped last has no replica to hand its role to, so this is an
    # outage, not a handover.
    for i in sorted(range(3), key=lambda i: i == new):
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


def rolling_restart(pods: RedisPods, away_seconds: float = 0.0) -> None:
    """What the StatefulSet controller does on a template change: highest ordinal first, each pod
    stopped gracefully (preStop, then SIGTERM), away for `away_seconds` (a real replacement pod
    waits for scheduling, its image and its volume), and Ready again before the next one goes."""
    for i in reversed(range(pods.spec.replicas)):
        pods.sim.stop(i, grace=None)
        time.sleep(away_seconds)
        pods.sim.start(i)
        pods.sim.wait_ready(i, timeout=90)


# Long enough to tell a handoff from the Sentinels noticing a missing master.
HANDOFF_DOWN_AFTER_MS = 5000


def restart_under_writes(network: PodNetwork, workdir: Path, handoff_seconds: int) -> tuple[WriteLog, list[str]]:
    spec = make_spec(
        master_handoff_seconds=handoff_seconds,
        sentinel=SentinelSettings(
            down_after_milliseconds=HANDOFF_DOWN_AFTER_MS, failover_timeout_milliseconds=FAILOVER_TIMEOUT_MS
        ),
    )
    with redis_ensemble(network, workdir, "rr", spec, PASSWORD) as pods:
        pods.wait_replication(0, 2)
        with ContinuousWriter(pods) as writer:
            # Away longer than down-after: without a handoff, the Sentinels fail over meanwhile.
            rolling_restart(pods, away_seconds=HANDOFF_DOWN_AFTER_MS / 1000 + 1)
            time.sleep(1)  # writes after the last restart, to see that writing goes on
        log = writer.log
        return log, log.lost(pods)


def test_a_master_hands_over_before_it_stops_and_no_acknowledged_write_is_lost(
    network: PodNetwork, tmp_path: Path
) -> None:
    """A rolling restart of all pods under a continuous writer, with and without the handoff. Without
    it, a master that is away longer than down-after costs down-after plus the failover; with it,
    the master stops acknowledging writes, its replicas catch up and Sentinel fails over first."""
    without, lost_without = restart_under_writes(network, tmp_path / "without", 0)
    with_handoff, lost_with = restart_under_writes(network, tmp_path / "with", 15)
    print(
        f"rolling restart of 3 pods, down-after {HANDOFF_DOWN_AFTER_MS} ms: "
        f"without handoff longest write gap {without.longest_gap():.2f}s, {len(lost_without)} of "
        f"{len(without.acked)} acknowledged writes lost; with handoff {with_handoff.longest_gap():.2f}s, "
        f"{len(lost_with)} of {len(with_handoff.acked)} lost"
    )
    assert lost_with == [], lost_with[:10]
    assert with_handoff.longest_gap() < HANDOFF_DOWN_AFTER_MS / 1000 < without.longest_gap()


def test_a_scale_down_leaves_no_stale_sentinel_or_replica_counted(network: PodNetwork, tmp_path: Path) -> None:
    """5 -> 3 as the StatefulSet does it: ordinals 4 and 3 stop, then the new config (3 members)
    rolls over the survivors. Every survivor then counts exactly the other two Sentinels and two replicas."""
    with redis_ensemble(network, tmp_path, "shrink", make_spec(replicas=5), PASSWORD) as pods:
        pods.wait_replication(0, 4)
        wait_until(
            "every Sentinel to see the four others",
            lambda: all(int(pods.sentinel_state(i)["num-other-sentinels"]) == 4 for i in range(5)),
            timeout=60,
            interval=0.5,
            tolerate=NOT_YET,
        )
        smaller = pods.scale_to(3)
        rolling_restart(smaller)
        master = smaller.current_master()
        assert master is not None

        def settled() -> bool:
            for i in range(3):
                state = smaller.sentinel_state(i)
                if (int(state["num-other-sentinels"]), int(state["num-slaves"])) != (2, 2):
                    return False
            return True

        wait_until("every survivor to count 2 Sentinels and 2 replicas", settled, timeout=60, tolerate=NOT_YET)
        with smaller.connect(master, sentinel=True) as sentinel:
            peers = sentinel.execute_command("SENTINEL", "SENTINELS", smaller.spec.master_name)
        assert len(peers) == 2, peers


def test_the_exporter_serves_real_metrics_of_its_own_redis_with_the_password(
    network: PodNetwork, tmp_path: Path
) -> None:
    """Debian's redis_exporter in each pod, configured only by what the component renders: it logs in
    with the Secret's password (redis_up 1) and reports this pod's own server (role, keys written,
    maxmemory read through the renamed CONFIG command). The control: the same exporter with a wrong
    password reports redis_up 0."""
    spec = make_spec(exporter={}, maxmemory="64mb", maxmemory_policy="allkeys-lru")
    with redis_ensemble(network, tmp_path, "cache", spec, PASSWORD) as pods:
        master = pods.current_master()
        assert master is not None
        with pods.connect(master) as client:
            for i in range(25):
                client.set(f"key-{i}", i)
        pods.wait_replication(master, 2)
        replica = next(i for i in range(3) if i != master)

        def scraped(i: int) -> str | None:
            text = scrape(pods.sim.pod_ip(i), EXPORTER_PORT)
            return text if sample(text, "redis_db_keys", db="db0") == 25 else None

        on_master = wait_until("the master's exporter to count 25 keys", lambda: scraped(master), tolerate=(OSError,))
        on_replica = wait_until("a replica's exporter to count 25 keys", lambda: scraped(replica), tolerate=(OSError,))
        assert sample(on_master, "redis_up") == 1
        assert sample(on_master, "redis_instance_info", role="master") == 1
        assert sample(on_master, "redis_connected_slaves") == 2
        assert sample(on_replica, "redis_instance_info", role="slave") == 1
        assert sample(on_master, "redis_config_maxmemory") == 64 * 1024 * 1024  # via SK_CONFIG GET

        wrong = subprocess.Popen(
            ["prometheus-redis-exporter", "-web.listen-address", "127.0.0.1:19121"],
            env={"REDIS_ADDR": f"redis://{pods.sim.pod_ip(master)}:{REDIS_PORT}", "REDIS_PASSWORD": "wrong"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            refused = wait_until("the control exporter", lambda: scrape("127.0.0.1", 19121), tolerate=(OSError,))
        finally:
            wrong.terminate()
            wrong.wait(timeout=10)
        assert sample(refused, "redis_up") == 0


def test_replication_failover_and_clients_go_over_tls_and_a_wrong_ca_is_refused(
    network: PodNetwork, tmp_path: Path
) -> None:
    """TLS from a Secret (as cert-manager's CA issuer writes it): redis-py over TLS, replication and
    Sentinel's monitoring and failover over TLS with no plaintext port, the exporter over TLS; a
    plaintext client and a client trusting another CA are refused."""
    ca, other_ca = make_ca(tmp_path / "pki", "ensemble-ca"), make_ca(tmp_path / "pki", "other-ca")
    zone = "cache-headless.default.svc.cluster.local"
    server = make_leaf(tmp_path / "pki", ca, "cache", [f"*.{zone}", zone, "localhost"], ["127.0.0.1"])
    secret = tls_secret(ca, server)
    client_tls = {"ssl": True, "ssl_ca_certs": str(ca.cert), "ssl_check_hostname": False}
    spec = make_spec(tls={"secret_name": "cache-tls"}, exporter={})
    with redis_ensemble(
        network, tmp_path / "run", "cache", spec, PASSWORD, extra_secrets={"cache-tls": secret}, client_tls=client_tls
    ) as pods:
        master = pods.current_master()
        assert master is not None
        with pods.connect(master) as client:
            for i in range(10):
                client.set(f"k{i}", i)
            assert client.info("server")["redis_version"]
        pods.wait_replication(master, 2)
        assert pods.replication(master)["connected_slaves"] == 2
        # Nothing listens in plaintext on the Redis or Sentinel port.
        for port in (REDIS_PORT, SENTINEL_PORT):
            with pytest.raises(redis.ConnectionError):
                redis.Redis(host=pods.sim.pod_ip(master), port=port, password=PASSWORD, socket_timeout=3).ping()
        # A client that trusts another CA does not get a session.
        with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
            pods.client(master, ssl_ca_certs=str(other_ca.cert)).ping()

        def logged_in() -> str | None:
            text = scrape(pods.sim.pod_ip(master), EXPORTER_PORT)
            return text if sample(text, "redis_up") == 1 else None

        metrics = wait_until("the exporter to log in over TLS", logged_in, tolerate=(OSError,))
        assert sample(metrics, "redis_db_keys", db="db0") == 10

        new, elapsed = fail_over(pods, master)  # Sentinels see the master go, over TLS, and agree
        assert new != master
        with pods.connect(new) as client:
            assert client.get("k9") == "9"
        print(f"\nTLS failover: {elapsed:.2f}s")
