"""A RedisEnsemble of real pods, deployed by the project's program through the real Pulumi engine
onto the local cluster's real nodes: Redis and Sentinel of the image made from Debian's packages
run under containerd, probed by the kubelet, in the namespace the program creates. The tests run in
order on one stack:

1. replication: three Ready pods, one master and two replicas, a write on the master read on both;
2. restricted Pod Security enforced, the servers running as the non-root user, writing their volumes;
3. a killed master pod: Sentinel promotes a replica, the pod comes back as its replica, and a
   writer that finds the master through the Sentinels (from the test host) loses no acknowledged write;
4. a rolling update through the stack config: each master hands its role over in preStop before
   its pod stops; the writer's longest gap is measured and bounded, no acknowledged write is lost.

The test host reaches the pods' IPs on the cluster's bridge: redis-py talks to them directly
(RedisPodsOf over tests/support/cluster_pods.py `StatefulSetPods`); `kubectl exec` shows the same from inside.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from statefulkit.args.redis import REDIS_CONTAINER, REDIS_PORT, SENTINEL_CONTAINER
from tests.support.cluster_pods import StatefulSetPods, frozen, members, pod_processes, wait_ready
from tests.support.engine_project import Project, real_pod_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tests.support.redis_pods import NOT_YET, ContinuousWriter, RedisPodsOf, SentinelEvents, real_redis_pods
from tools.engine import ROOT, Engine

PASSWORD = "Real-Redis-" + uuid.uuid4().hex
PASSWORD_KEY = "statefulkit:redis_password"  # noqa: S105 - a config key
NAME = "redis"
REPLICAS = 3
# Sentinel notices a dead master after this: short, so the killed master's failover takes seconds,
# and longer than a handoff takes, so that a handoff is not mistaken for (or beaten by) detection.
DOWN_AFTER_MS = 5000
FAILOVER_TIMEOUT_MS = 10000
# The longest stall of the writer a rolling update may cause: down-after. A master that is found
# dead first stalls writes for at least that (plus the failover: 8-18 s measured); a handoff
# (a Sentinel asked to fail over once the replicas caught up) took 2.1 s on these real pods.
ROLLOUT_GAP_BOUND = DOWN_AFTER_MS / 1000
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


@pytest.fixture(scope="module")
def project(
    engine: Engine, local_cluster: LocalCluster, debian_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    namespace = f"sk-real-redis-{uuid.uuid4().hex[:6]}"
    config = real_pod_ensembles(namespace, debian_images)
    # The program always deploys ZooKeeper: one member, a real JVM with room beyond its heap.
    config["statefulkit:zookeeper"].update(
        replicas=1, resources={"requests": {"cpu": "50m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}}
    )
    config["statefulkit:redis"].update(
        sentinel={"down_after_milliseconds": DOWN_AFTER_MS, "failover_timeout_milliseconds": FAILOVER_TIMEOUT_MS},
        discovery_timeout_seconds=3,
    )
    project = Project.copy(ROOT, tmp_path_factory.mktemp("project"), engine, "realredis", config)
    project.set_secret(PASSWORD_KEY, PASSWORD)
    try:
        yield project
    finally:
        project.remove(local_cluster)


@pytest.fixture(scope="module")
def pods(project: Project, local_cluster: LocalCluster) -> RedisPodsOf[StatefulSetPods]:
    """redis-py clients of the stack's Redis pods, from the test host, by ordinal."""
    return real_redis_pods(local_cluster, project.namespace, NAME, project.config["statefulkit:redis"], PASSWORD)


def in_pod(cluster: LocalCluster, namespace: str, pod: str, script: str, container: str = REDIS_CONTAINER) -> str:
    """`kubectl exec` a shell script in a container of the pod; what it printed (it must succeed)."""
    command = ["exec", "-n", namespace, pod, "-c", container, "--", "sh", "-c", script]
    ran = cluster.kubectl(*command, check=False)
    assert ran.returncode == 0, f"{pod}/{container}: {script}: {ran.stdout}{ran.stderr}"
    return ran.stdout


def cli(cluster: LocalCluster, namespace: str, pod: str, command: str) -> str:
    """redis-cli in the pod's Redis container, with the container's own password (from the Secret)."""
    return in_pod(cluster, namespace, pod, f'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning {command}')


def fields(info: str) -> dict[str, str]:
    """INFO's `key:value` lines."""
    return dict(line.split(":", 1) for line in info.replace("\r", "").splitlines() if ":" in line)


def wait_master(pods: RedisPodsOf[StatefulSetPods], survivors: list[int], not_host: str | None = None) -> int:
    """The ordinal every Sentinel of `survivors` names as master (not `not_host`), once it says so itself."""

    def agreed() -> tuple[int] | None:  # a tuple: ordinal 0 is falsy
        views = {pods.sentinel_master(i) for i in survivors}
        if len(views) != 1:
            return None
        (host,) = views
        if host is None or host == not_host:
            return None
        new = pods.ordinal_of(host)
        return (new,) if pods.role(new) == "master" else None

    try:
        (found,) = wait_until("the Sentinels to agree on a master", agreed, timeout=60, interval=0.2, tolerate=NOT_YET)
    except TimeoutError:
        views = {i: (pods.sentinel_master(i), pods.role(i)) for i in range(pods.spec.replicas)}
        print(f"Sentinels' master and role of each pod: {views}\n{pods.logs()}")
        raise
    return found


# 1 ------------------------------------------------------------------------------------------


def test_up_runs_one_master_and_two_replicas_that_replicate(
    project: Project, local_cluster: LocalCluster, real_nodes: list[str], pods: RedisPodsOf[StatefulSetPods]
) -> None:
    ns = project.namespace
    started = time.monotonic()
    project.up()
    running = wait_ready(local_cluster, ns, NAME, REPLICAS, timeout=300)
    print(f"\n{REPLICAS} real Redis pods Ready {time.monotonic() - started:.0f}s after `up` began")
    for pod in running.values():
        assert pod["spec"]["nodeName"] in real_nodes
        statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert set(statuses) == {REDIS_CONTAINER, SENTINEL_CONTAINER}
        assert all(c["containerID"].startswith("containerd://") and c["ready"] for c in statuses.values())

    # From inside each pod: a fresh ensemble bootstraps ordinal 0 as its master.
    roles = {i: fields(cli(local_cluster, ns, f"{NAME}-{i}", "INFO replication")) for i in range(REPLICAS)}
    assert [i for i, info in roles.items() if info["role"] == "master"] == [0], roles
    assert roles[0]["connected_slaves"] == "2"
    for i in (1, 2):
        assert roles[i]["role"] == "slave" and roles[i]["master_host"] == pods.fqdn(0), roles[i]
        assert roles[i]["master_link_status"] == "up"
    # From the test host, on the pod IPs: the same roles.
    assert [pods.role(i) for i in range(REPLICAS)] == ["master", "slave", "slave"]

    with pods.connect(0) as master:
        assert master.set("greeting", "hello from the engine")
        assert master.execute_command("WAIT", 2, 5000) == 2
    for i in (1, 2):
        with pods.connect(i) as replica:
            assert replica.get("greeting") == "hello from the engine"
        assert cli(local_cluster, ns, f"{NAME}-{i}", "GET greeting").strip() == "hello from the engine"


# 2 ------------------------------------------------------------------------------------------


def test_the_namespace_enforces_restricted_and_the_servers_run_as_their_user_writing_the_volume(
    project: Project, local_cluster: LocalCluster, pods: RedisPodsOf[StatefulSetPods]
) -> None:
    ns = project.namespace
    labels = local_cluster.get("namespace", ns)["metadata"]["labels"]
    assert RESTRICTED.items() <= labels.items(), labels
    # Enforced, not only labelled: the API server refuses a pod that may run as root.
    root_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "as-root", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": pods.spec.image, "securityContext": {"runAsUser": 0}}]},
    }
    refused = local_cluster.apply([root_pod], dry_run=True)
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr

    uid = pods.spec.run_as_user
    for i in range(REPLICAS):
        pod = f"{NAME}-{i}"
        for container in (REDIS_CONTAINER, SENTINEL_CONTAINER):
            assert in_pod(local_cluster, ns, pod, "id -u", container).strip() == str(uid)
            status = fields(in_pod(local_cluster, ns, pod, "cat /proc/1/status", container))
            assert status["Uid"].split() == [str(uid)] * 4, status["Uid"]  # real, effective, saved, fs
            assert "redis-server" in in_pod(local_cluster, ns, pod, "cat /proc/1/cmdline", container)
        # What the servers wrote on their volume, as that user: the AOF, the rendered config, the
        # Sentinel state, and a snapshot made now.
        cli(local_cluster, ns, pod, "BGSAVE")

        def saved(pod: str = pod) -> bool:
            info = fields(cli(local_cluster, ns, pod, "INFO persistence"))
            return info["rdb_bgsave_in_progress"] == "0" and info["rdb_last_bgsave_status"] == "ok"

        wait_until(f"{pod}'s snapshot", saved, timeout=30)
        files = "/data/dump.rdb /data/appendonlydir /data/conf/redis.conf /data/sentinel/sentinel.conf"
        owners = in_pod(local_cluster, ns, pod, f"stat -c '%u %n' {files} /data/appendonlydir/*")
        assert {line.split()[0] for line in owners.splitlines()} == {str(uid)}, owners
        assert fields(cli(local_cluster, ns, pod, "INFO persistence"))["aof_last_write_status"] == "ok"


# 3 ------------------------------------------------------------------------------------------


@contextmanager
def no_new_pods(cluster: LocalCluster, namespace: str) -> Iterator[None]:
    """No pod may be created in the namespace while the block runs (a ResourceQuota of as many pods
    as there are now, counted by the quota controller first); removed at the end."""
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "hold-replacements", "namespace": namespace},
        "spec": {"hard": {"pods": str(len(cluster.pods(namespace)) - 1)}},
    }
    applied = cluster.apply([quota])
    assert applied.returncode == 0, applied.stderr
    try:
        wait_until(
            "the quota's usage",
            lambda: (
                cluster.get("resourcequota", "hold-replacements", namespace=namespace).get("status", {}).get("used")
            ),
        )
        yield
    finally:
        cluster.delete([quota])


def test_a_killed_master_pod_is_replaced_through_sentinel_without_losing_an_acknowledged_write(
    project: Project, local_cluster: LocalCluster, pods: RedisPodsOf[StatefulSetPods]
) -> None:
    """The master's pod hangs (its processes frozen from this host) and is force-deleted
    (`--grace-period=0 --force`): the API object goes at once and the kubelet kills the containers
    after its minimum grace; the preStop does run, but cannot reach its frozen server, so there is no
    handoff and only Sentinel's failure detection can move the master. (Without the freeze the hook
    hands the master over within those 2 s, as in a rolling update.) That is a pod lost to the
    cluster, as a node that stops answering loses it. Its replacement is held off (a ResourceQuota of the
    test's own in the namespace: no new pod) until the Sentinels have promoted a replica, as it is
    when the lost pod's node (and its local volume) is gone for longer than down-after: on a live
    node the StatefulSet's replacement runs within a second, before down-after, and simply carries
    on as the master (the Sentinels log +reboot, no failover), which is not what this test is after.
    Then the StatefulSet creates the pod with the same name and volume, which must come back as a
    replica of the new master."""
    ns = project.namespace
    wait_ready(local_cluster, ns, NAME, REPLICAS)
    old = pods.current_master()
    assert old is not None
    victim = f"{NAME}-{old}"
    before = members(local_cluster, ns, NAME)[victim]["metadata"]["uid"]
    survivors = [i for i in range(REPLICAS) if i != old]
    with SentinelEvents(pods) as events, ContinuousWriter(pods) as writer:
        time.sleep(1)
        with no_new_pods(local_cluster, ns), frozen(pod_processes(local_cluster, ns, victim)):
            killed = time.monotonic()
            local_cluster.kubectl("delete", "pod", "-n", ns, victim, "--grace-period=0", "--force", "--wait=false")
            new = wait_master(pods, survivors, not_host=pods.fqdn(old))
            failover = time.monotonic() - killed
            assert victim not in members(local_cluster, ns, NAME), "the replacement was not held off"

        def replaced() -> dict[str, Any] | None:
            pod = wait_ready(local_cluster, ns, NAME, REPLICAS)[victim]
            return pod if pod["metadata"]["uid"] != before else None

        wait_until(f"a new {victim} Ready", replaced, timeout=180)
        back = time.monotonic() - killed
        pods.sim.pods(fresh=True)
        pods.wait_replication(new, 2)
        time.sleep(1)  # writes after the old master is back
    log = writer.log
    lost = log.lost(pods)
    print(
        f"\nmaster {victim} force-deleted: {NAME}-{new} promoted after {failover:.2f}s (down-after "
        f"{DOWN_AFTER_MS} ms), {victim} back Ready as a replica after {back:.1f}s; writer: "
        f"{len(log.acked)} acknowledged, {log.errors} failed, longest gap {log.longest_gap():.2f}s, {len(lost)} lost"
    )
    assert new != old
    # Found dead by the Sentinels (objectively down: a quorum agreed), then replaced by the new master.
    down = f"master {pods.spec.master_name} {pods.fqdn(old)} {REDIS_PORT} "
    assert any(e.data.startswith(down) for e in events.of("+odown")), events.of("+odown")
    moved = f"{pods.spec.master_name} {pods.fqdn(old)} {REDIS_PORT} {pods.fqdn(new)} {REDIS_PORT}"
    assert moved in {e.data for e in events.of("+switch-master")}, events.of("+switch-master")
    assert lost == [], lost[:10]
    assert pods.role(old) == "slave"
    replication = pods.replication(old)
    assert replication["master_host"] == pods.fqdn(new) and replication["master_link_status"] == "up", replication
    decisions = [line for line in pods.sim.log(old, REDIS_CONTAINER).splitlines() if line.startswith("statefulkit[")]
    assert decisions and decisions[-1].endswith(f"starting as replica of {pods.fqdn(new)} (from 2 of 3 Sentinels)")
    assert wait_master(pods, list(range(REPLICAS))) == new  # every Sentinel, the new one's too
    assert pods.masters() == [new]


# 4 ------------------------------------------------------------------------------------------


def test_a_rolling_update_hands_the_master_over_with_a_short_write_gap_and_no_lost_write(
    project: Project, local_cluster: LocalCluster, pods: RedisPodsOf[StatefulSetPods]
) -> None:
    """A pod-template change through the stack config rolls every pod, highest ordinal first. The
    master's preStop pauses writes, lets the replicas catch up and has Sentinel fail over before
    its pod stops: the writer stalls for the handoff only, not for down-after plus the failover,
    nor for the pod's replacement. Told apart by Sentinel's own events: a handoff is a requested
    failover, with no +odown (no quorum finding the master dead) before the master moves.

    Unlike podsim, which runs every container's preStop before it stops any container, the kubelet
    stops a pod's containers in parallel: the Sentinel container (no preStop) gets SIGTERM as the
    Redis container's preStop begins, so the handoff cannot rely on the pod's own Sentinel."""
    ns = project.namespace
    wait_ready(local_cluster, ns, NAME, REPLICAS)
    master_before = pods.current_master()
    pods.wait_replication(master_before or 0, 2)
    stamp = uuid.uuid4().hex
    before = {n: p["metadata"]["uid"] for n, p in members(local_cluster, ns, NAME).items()}
    with (
        local_cluster.watch("pods", ns, f"app.kubernetes.io/instance={NAME}") as watch,
        SentinelEvents(pods) as events,
        ContinuousWriter(pods) as writer,
    ):
        time.sleep(1)
        started = time.monotonic()
        with project.editing() as config:
            config["statefulkit:redis"]["pod_annotations"] = {"statefulkit.test/rollout": stamp}
        project.up()

        def rolled() -> dict[str, Any] | None:
            sts = local_cluster.get("statefulset", NAME, namespace=ns)["status"]
            if sts.get("updatedReplicas") != REPLICAS or sts.get("currentRevision") != sts.get("updateRevision"):
                return None
            found = wait_ready(local_cluster, ns, NAME, REPLICAS)
            stamped = all(
                p["metadata"].get("annotations", {}).get("statefulkit.test/rollout") == stamp for p in found.values()
            )
            return found if stamped else None

        after = wait_until("every pod rolled and Ready", rolled, timeout=300)
        took = time.monotonic() - started
        pods.sim.pods(fresh=True)
        time.sleep(1)  # writes after the last pod is back
    log = writer.log
    lost = log.lost(pods)
    gap = log.longest_gap()
    master_after = pods.current_master()
    stopping: dict[str, float] = {}
    for event in watch.events:
        if event.terminating and event.uid in before.values():
            stopping.setdefault(event.name, event.at - started)
    times = [t - started for _, t in log.acked]
    stalls = [f"{b - a:.2f}s at +{a:.1f}s" for a, b in itertools.pairwise(times) if b - a > 1]
    switches = sorted({(e.data.split()[1], e.data.split()[3]) for e in events.of("+switch-master")})
    detected = sorted({e.data for e in events.of("+odown")})
    print(
        f"\nrolling update of {REPLICAS} real pods in {took:.0f}s (master {NAME}-{master_before} before, "
        f"{NAME}-{master_after} after): writer {len(log.acked)} acknowledged, {log.errors} failed, "
        f"longest gap {gap:.2f}s, {len(lost)} lost; pods stopping at "
        + ", ".join(f"{n} +{t:.1f}s" for n, t in sorted(stopping.items(), key=lambda item: item[1]))
        + f"; writes stalled {', '.join(stalls) or 'never over 1 s'}; master moves {switches}, "
        f"failovers on failure detection (+odown) {len(detected)}"
    )
    assert not set(before.items()) & {n: p["metadata"]["uid"] for n, p in after.items()}.items(), "a pod not replaced"
    assert lost == [], lost[:10]
    # Every pod stopped, so the master moved at least once; each move was a handoff: no Sentinel had
    # to find the master dead (+odown) first.
    assert switches, "the master never moved, though its pod was replaced"
    assert not detected, f"the master moved on failure detection, not by a handoff: {detected}"
    assert gap < ROLLOUT_GAP_BOUND, f"the writer stalled {gap:.2f}s"
    assert master_after is not None and pods.masters() == [master_after]
    pods.wait_replication(master_after, 2)
