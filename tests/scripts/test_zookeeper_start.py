"""start.sh, run by bash in a fake pod (no root, no ZooKeeper): with a fake hostname file and a fake
zkServer.sh it must write the right myid and membership, keep a membership ZooKeeper recorded,
refuse a foreign myid, and wait for a serving peer where it must join."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from statefulkit.args.zookeeper import ZooKeeperArgs
from tests.support.zookeeper_fakes import PASSWORD, FakePod, conf_answer
from tests.support.zookeeper_mocks import server_lines


def start(pod: FakePod, name: str, spec: ZooKeeperArgs, hostname: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    pod.install(name, spec)  # no member serves: no peer name resolves here, nothing answers on localhost
    return pod.run("start.sh", hostname, **kw)


def expected_digest(password: str) -> str:
    return base64.b64encode(hashlib.sha1(f"super:{password}".encode()).digest()).decode()  # noqa: S324 - ZooKeeper's


def membership_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.split("--- membership\n", 1)[1].splitlines()


@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_start_script_founds_a_new_ensemble(pod: FakePod, ordinal: int) -> None:
    spec = ZooKeeperArgs()
    result = start(pod, "zk", spec, f"zk-{ordinal}")
    assert result.returncode == 0, result.stderr
    assert (pod.data / "myid").read_text() == f"{ordinal + 1}\n"
    lines = result.stdout.splitlines()
    assert lines[0] == f"zkServer.sh start-foreground {pod.data / 'zoo.cfg'}"
    # The super user is the password's digest, computed in bash; the password itself is on no command line.
    digest = expected_digest(PASSWORD)
    assert (
        lines[1]
        == f"SERVER_JVMFLAGS=-Xms512m -Xmx512m -Dzookeeper.DigestAuthenticationProvider.superDigest=super:{digest}"
    )
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    written = (pod.data / "zoo.cfg").read_text()
    base = (pod.root / "config" / "zoo-base.cfg").read_text()
    assert written == base + f"dynamicConfigFile={pod.data / 'zoo.cfg.dynamic.bootstrap'}\n"
    # A version-less file name: ZooKeeper numbers the first configuration itself once a leader is elected.
    assert (
        membership_of(result)
        == server_lines("zk", spec, "team-a")
        == [
            "server.1=zk-0.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
            "server.2=zk-1.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
            "server.3=zk-2.zk-headless.team-a.svc.cluster.local:2888:3888:participant;2181",
        ]
    )
    assert f"zk-{ordinal} is server {ordinal + 1}; founding a new ensemble of 3 member(s) in namespace team-a" in (
        result.stderr
    )


def test_the_bootstrap_count_comes_from_the_environment_not_the_script(pod: FakePod) -> None:
    result = start(pod, "zk", ZooKeeperArgs(replicas=3), "zk-0", bootstrap_replicas="5")
    assert result.returncode == 0, result.stderr
    assert [line.split("=", 1)[0] for line in membership_of(result)] == [f"server.{i}" for i in range(1, 6)]


def test_start_script_with_offset_domain_flags_and_data_log(pod: FakePod) -> None:
    spec = ZooKeeperArgs(
        replicas=5,
        server_id_offset=10,
        cluster_domain="corp.internal",
        heap="256Mi",
        jvm_flags=["-XX:+UseG1GC", "-Dzookeeper.forceSync=yes"],
        data_log_storage_size="1Gi",
    )
    result = start(pod, "coord", spec, "coord-4.coord-headless.team-a.svc.corp.internal", bootstrap_replicas="5")
    assert result.returncode == 0, result.stderr
    assert (pod.data / "myid").read_text() == "15\n"
    flags = f"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:{expected_digest(PASSWORD)}"
    assert f"SERVER_JVMFLAGS=-Xms256m -Xmx256m {flags} -XX:+UseG1GC -Dzookeeper.forceSync=yes" in result.stdout
    servers = membership_of(result)
    assert servers == server_lines("coord", spec, "team-a")
    assert servers[0] == "server.11=coord-0.coord-headless.team-a.svc.corp.internal:2888:3888:participant;2181"
    assert servers[-1].startswith("server.15=coord-4.")


def test_start_script_accepts_its_own_myid_and_refuses_another(pod: FakePod) -> None:
    spec = ZooKeeperArgs()
    myid = pod.data / "myid"
    myid.write_text("2\n")
    ok = start(pod, "zk", spec, "zk-1")
    assert ok.returncode == 0, ok.stderr
    assert "myid matches: zk-1 is server 2" in ok.stderr

    myid.write_text("3\n")
    (pod.data / "zoo.cfg").unlink()
    refused = start(pod, "zk", spec, "zk-1")
    assert refused.returncode == 1
    assert "FATAL: refusing to start" in refused.stderr
    assert "holds myid '3', but zk-1 (ordinal 1) is server 2" in refused.stderr
    assert "zkServer.sh" not in refused.stdout  # ZooKeeper never started
    assert myid.read_text() == "3\n"  # nor was the evidence overwritten
    assert not (pod.data / "zoo.cfg").exists()


@pytest.mark.parametrize(
    ("hostname", "env", "fragment"),
    [
        ("web-0", {}, "hostname 'web-0' is not 'zk-<ordinal>'"),
        ("zk-x", {}, "hostname 'zk-x' is not 'zk-<ordinal>'"),
        ("zk-01", {}, "hostname 'zk-01' is not 'zk-<ordinal>'"),
        ("zk-0", {"namespace": None}, "POD_NAMESPACE is empty"),
        ("zk-0", {"password": None}, "ZK_SUPER_PASSWORD is empty"),
        ("zk-0", {"password": "two words"}, "password contains whitespace"),
        ("zk-0", {"bootstrap_replicas": None}, "BOOTSTRAP_REPLICAS='' is not a member count"),
        ("zk-0", {"bootstrap_replicas": "0"}, "BOOTSTRAP_REPLICAS='0' is not a member count"),
    ],
)
def test_start_script_refuses_a_wrong_identity(pod: FakePod, hostname: str, env: dict[str, Any], fragment: str) -> None:
    result = start(pod, "zk", ZooKeeperArgs(), hostname, **env)
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "zkServer.sh" not in result.stdout
    assert not (pod.data / "myid").exists()


def recorded_membership(pod: FakePod, voters: list[int], *, history: bool = True) -> Path:
    """A volume as ZooKeeper leaves it: its own rewrite of zoo.cfg pointing at the membership file
    of the last configuration it committed (version 100000003), and a snapshot."""
    (pod.data / "myid").write_text("2\n")
    dynamic = pod.data / "zoo.cfg.dynamic.100000003"
    dynamic.write_text("\n".join(conf_answer(voters).split("membership: \n")[1].splitlines()[:-1]) + "\n")
    (pod.data / "zoo.cfg").write_text(f"tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile={dynamic}\n")
    (pod.data / "zoo.cfg.dynamic.next").write_text("server.2=pending\nversion=100000005\n")
    if history:
        (pod.data / "version-2").mkdir()
        (pod.data / "version-2" / "snapshot.100000003").write_text("snapshot")
    return dynamic


def test_a_membership_zookeeper_recorded_is_kept(pod: FakePod) -> None:
    """The whole ensemble restarts (no peer serves): a listed member starts with the membership
    ZooKeeper recorded, untouched; only the static part of zoo.cfg is rendered again."""
    dynamic = recorded_membership(pod, [1, 2, 3])
    before = dynamic.read_bytes(), dynamic.stat().st_mtime_ns
    result = start(pod, "zk", ZooKeeperArgs(tick_time_ms=3000), "zk-1")
    assert result.returncode == 0, result.stderr
    assert (dynamic.read_bytes(), dynamic.stat().st_mtime_ns) == before
    assert (pod.data / "zoo.cfg.dynamic.next").exists()  # ZooKeeper's own, for a reconfig under way
    written = (pod.data / "zoo.cfg").read_text()
    assert "tickTime=3000" in written.splitlines()
    assert written.endswith(f"dynamicConfigFile={dynamic}\n")
    assert "starts with the membership it recorded" in result.stderr


def test_a_static_membership_from_before_reconfig_is_taken_over(pod: FakePod) -> None:
    """A volume written before membership was dynamic (server lines in zoo.cfg, no role): after the
    upgrade, a whole-ensemble restart starts from that list instead of waiting for a peer forever."""
    (pod.data / "myid").write_text("2\n")
    static = [f"server.{i}=zk-{i - 1}.zk-headless.team-a.svc.cluster.local:2888:3888;2181" for i in (1, 2, 3)]
    (pod.data / "zoo.cfg").write_text("tickTime=2000\nreconfigEnabled=false\n" + "\n".join(static) + "\n")
    (pod.data / "version-2").mkdir()
    (pod.data / "version-2" / "snapshot.100000000").write_text("snapshot")
    result = start(pod, "zk", ZooKeeperArgs(), "zk-1")
    assert result.returncode == 0, result.stderr
    assert membership_of(result) == static
    written = (pod.data / "zoo.cfg").read_text()
    assert written.endswith(f"dynamicConfigFile={pod.data / 'zoo.cfg.dynamic.static'}\n")
    assert not any(line.startswith("server.") for line in written.splitlines())


@pytest.mark.parametrize(
    ("hostname", "setup", "fragment"),
    [
        # Removed when it stopped (no longer listed): it must join through a live peer.
        ("zk-1", lambda pod: recorded_membership(pod, [1, 3]), "waits for one, to join the ensemble"),
        # A data volume without a recorded membership never founds a new ensemble.
        ("zk-1", lambda pod: recorded_membership(pod, [1, 2, 3]) and (pod.data / "zoo.cfg").unlink(), "waits for one"),
        # A member beyond the bootstrap count only ever joins.
        ("zk-3", lambda pod: None, "waits for one, to join the ensemble"),
    ],
    ids=["removed when it stopped", "data without a recorded membership", "beyond the bootstrap count"],
)
def test_a_member_that_must_join_waits_for_a_serving_peer(
    pod: FakePod, hostname: str, setup: Callable[[FakePod], Any], fragment: str
) -> None:
    setup(pod)
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        start(pod, "zk", ZooKeeperArgs(), hostname, timeout=2.5)
    stderr = waited.value.stderr.decode() if isinstance(waited.value.stderr, bytes) else str(waited.value.stderr)
    stdout = waited.value.stdout.decode() if isinstance(waited.value.stdout, bytes) else str(waited.value.stdout or "")
    assert fragment in stderr
    assert "zkServer.sh" not in stdout
