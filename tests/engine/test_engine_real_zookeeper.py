"""The Kubernetes ZooKeeper tutorial's checks on a ZooKeeperEnsemble of real pods, deployed by the
project's program through the real Pulumi engine onto the local cluster's real nodes: containers
of the image made from Debian's packages run under containerd, probed by the kubelet, in the
namespace the program creates (restricted Pod Security enforced), resolving each other through
CoreDNS. The tests run in order on one stack.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kazoo.client import KazooClient

from statefulkit.args.zookeeper import CLIENT_PORT, CONTAINER_NAME
from tests.support.cluster_pods import frozen, is_ready, members, pod_processes, wait_ready
from tests.support.engine_project import Project, real_pod_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tools.engine import ROOT, Engine

PASSWORD_KEY = "statefulkit:redis_password"  # noqa: S105 - a config key
NAME = "zookeeper"
MEMBERS = 3
UID = 1000  # ZooKeeperArgs' default run_as_user, and the image's user


@pytest.fixture(scope="module")
def project(
    engine: Engine, local_cluster: LocalCluster, debian_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    namespace = f"sk-real-zk-{uuid.uuid4().hex[:6]}"
    config = real_pod_ensembles(namespace, debian_images)
    # A real JVM: room beyond its 128Mi heap under the container's memory limit.
    config["statefulkit:zookeeper"]["resources"] = {
        "requests": {"cpu": "100m", "memory": "384Mi"},
        "limits": {"memory": "384Mi"},
    }
    config["statefulkit:redis"].update(replicas=1, allow_small_sentinel_quorum=True)  # Redis: its own module
    project = Project.copy(ROOT, tmp_path_factory.mktemp("project"), engine, "realzk", config)
    project.set_secret(PASSWORD_KEY, "Real-Pods-" + uuid.uuid4().hex)
    try:
        yield project
    finally:
        project.remove(local_cluster)


def exec_in(cluster: LocalCluster, namespace: str, pod: str, *command: str) -> str:
    """`kubectl exec` in the ZooKeeper container: what the command printed on its standard output
    (it must succeed)."""
    ran = cluster.kubectl("exec", "-n", namespace, pod, "-c", CONTAINER_NAME, "--", *command, check=False)
    assert ran.returncode == 0, f"{pod}: {command} failed: {ran.stdout}{ran.stderr}"
    return ran.stdout


def zkcli(cluster: LocalCluster, namespace: str, pod: str, *command: str) -> str:
    """zkCli.sh in the pod, against its own server; all it printed (it reports some results on stderr)."""
    argv = ["zkCli.sh", "-server", f"127.0.0.1:{CLIENT_PORT}", *command]
    ran = cluster.kubectl("exec", "-n", namespace, pod, "-c", CONTAINER_NAME, "--", *argv, check=False)
    assert ran.returncode == 0, f"{pod}: {command} failed: {ran.stdout}{ran.stderr}"
    return ran.stdout + ran.stderr


def fqdn(namespace: str, i: int) -> str:
    return f"{NAME}-{i}.{NAME}-headless.{namespace}.svc.cluster.local"


def test_up_runs_three_real_members_in_a_restricted_namespace(project: Project, local_cluster: LocalCluster) -> None:
    started = time.monotonic()
    project.up()
    print(f"pulumi up with 3 real ZooKeeper members: {time.monotonic() - started:.1f}s")
    ns = project.namespace
    labels = local_cluster.get("namespace", ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = wait_ready(local_cluster, ns, NAME, MEMBERS)
    for pod in pods.values():
        assert pod["spec"]["nodeSelector"] == {"statefulkit.dev/node": "real"}
        state = pod["status"]["containerStatuses"][0]
        assert state["ready"] and "running" in state["state"], state
        assert pod["status"]["podIP"].startswith("10.")  # a CNI address on the cluster's bridge
    # The namespace enforces the standard: a pod that breaks it is refused by the API server.
    privileged = local_cluster.kubectl(
        "run", "breaks-restricted", "-n", ns, "--image", "statefulkit.local/none:0", "--dry-run=server",
        "--overrides", '{"spec": {"containers": [{"name": "c", "image": "statefulkit.local/none:0", '
        '"securityContext": {"privileged": true}}]}}', check=False,
    )  # fmt: skip
    assert privileged.returncode != 0 and "violates PodSecurity" in privileged.stderr, privileged.stderr


def test_each_member_has_its_hostname_fqdn_myid_and_server_lines(project: Project, local_cluster: LocalCluster) -> None:
    ns = project.namespace
    pods = wait_ready(local_cluster, ns, NAME, MEMBERS)
    for i in range(MEMBERS):
        pod = f"{NAME}-{i}"
        assert exec_in(local_cluster, ns, pod, "cat", "/proc/sys/kernel/hostname").strip() == pod
        # The FQDN: the name the kubelet gives the pod (its /etc/hosts entry), and what CoreDNS
        # answers for it to another member.
        own = exec_in(local_cluster, ns, pod, "getent", "hosts", pod).split()
        assert own[1] == fqdn(ns, i), own
        other = f"{NAME}-{(i + 1) % MEMBERS}"
        resolved = exec_in(local_cluster, ns, other, "getent", "hosts", fqdn(ns, i)).split()
        assert resolved[0] == pods[pod]["status"]["podIP"], resolved
        # myid = ordinal + 1, on the member's own volume, written as the pods' user.
        assert exec_in(local_cluster, ns, pod, "cat", "/data/myid").strip() == str(i + 1)
        assert exec_in(local_cluster, ns, pod, "stat", "-c", "%u", "/data/myid").strip() == str(UID)
        assert exec_in(local_cluster, ns, pod, "id", "-u").strip() == str(UID)
        # zoo.cfg points at the membership: one participant line per member, by FQDN.
        config = exec_in(local_cluster, ns, pod, "cat", "/data/zoo.cfg")
        dynamic = re.search(r"^dynamicConfigFile=(\S+)$", config, re.M)
        assert dynamic, config
        lines = exec_in(local_cluster, ns, pod, "cat", dynamic[1]).split()
        expected = [
            rf"server\.{j + 1}={re.escape(fqdn(ns, j))}:2888:3888:participant;(0\.0\.0\.0:)?2181" for j in range(3)
        ]
        assert len(lines) == MEMBERS and all(re.fullmatch(e, line) for e, line in zip(expected, lines, strict=True)), (
            lines
        )


def test_a_znode_written_through_one_member_is_read_through_another(
    project: Project, local_cluster: LocalCluster
) -> None:
    ns = project.namespace
    assert "Created /hello" in zkcli(local_cluster, ns, f"{NAME}-0", "create", "/hello", "world")
    assert "\nworld\n" in zkcli(local_cluster, ns, f"{NAME}-2", "get", "/hello")
    # A client from outside the pods (this host, on the cluster's bridge) reads it through each member.
    pods = members(local_cluster, ns, NAME)
    for i in range(MEMBERS):
        with kazoo(f"{pods[f'{NAME}-{i}']['status']['podIP']}:{CLIENT_PORT}") as client:
            assert client.get("/hello")[0] == b"world"


def test_a_deleted_member_comes_back_with_its_identity_and_data(project: Project, local_cluster: LocalCluster) -> None:
    ns = project.namespace
    before = members(local_cluster, ns, NAME)[f"{NAME}-1"]
    claim = local_cluster.get("pvc", f"data-{NAME}-1", namespace=ns)
    local_cluster.kubectl("delete", "pod", "-n", ns, f"{NAME}-1", "--wait=true")
    after = wait_ready(local_cluster, ns, NAME, MEMBERS, timeout=180)[f"{NAME}-1"]
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    # The same claim (not a new one of the same name), on the same volume.
    mounted = {
        v["persistentVolumeClaim"]["claimName"] for v in after["spec"]["volumes"] if "persistentVolumeClaim" in v
    }
    assert mounted == {f"data-{NAME}-1"}
    again = local_cluster.get("pvc", f"data-{NAME}-1", namespace=ns)
    assert (again["metadata"]["uid"], again["spec"]["volumeName"]) == (
        claim["metadata"]["uid"],
        claim["spec"]["volumeName"],
    )
    assert exec_in(local_cluster, ns, f"{NAME}-1", "cat", "/data/myid").strip() == "2"
    assert "\nworld\n" in zkcli(local_cluster, ns, f"{NAME}-1", "get", "/hello")


def test_readiness_is_false_while_a_member_is_outside_the_quorum(project: Project, local_cluster: LocalCluster) -> None:
    """Two of three members frozen (their JVMs stopped from the host): the third still runs and
    answers `ruok`, but serves no quorum, so it is not Ready (and is not restarted: liveness holds);
    thawed, all three are Ready again."""
    ns = project.namespace
    wait_ready(local_cluster, ns, NAME, MEMBERS)
    started = time.monotonic()
    jvms = [
        pid for pod in (f"{NAME}-1", f"{NAME}-2") for pid in pod_processes(local_cluster, ns, pod, "QuorumPeerMain")
    ]
    assert len(jvms) == 2, f"expected one ZooKeeper JVM in each of the two pods, found {jvms}"
    with frozen(jvms):

        def unready() -> dict[str, Any] | None:
            pod: dict[str, Any] = members(local_cluster, ns, NAME)[f"{NAME}-0"]
            return None if is_ready(pod) else pod

        alone = wait_until(f"{NAME}-0 to turn un-Ready without a quorum", unready, timeout=90)
        print(f"{NAME}-0 un-Ready {time.monotonic() - started:.1f}s after losing its quorum")
        assert alone["status"]["containerStatuses"][0]["restartCount"] == 0
    thawed = time.monotonic()
    wait_ready(local_cluster, ns, NAME, MEMBERS, timeout=120)
    print(f"all members Ready {time.monotonic() - thawed:.1f}s after the quorum came back")
    assert all(
        p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in members(local_cluster, ns, NAME).values()
    )


@contextmanager
def kazoo(hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=hosts, timeout=10.0)
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()
