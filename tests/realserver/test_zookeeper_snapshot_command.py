"""ZooKeeper 3.9's streaming snapshot command (the AdminServer's /commands/snapshot, ZOOKEEPER-4570), which
the backups will use, on real servers: ZooKeeper 3.9.5 from its Maven jars (Debian packages 3.8, which
has no such command) in the ensemble the component renders, run by podsim (tests/support/zk.py).

A follower streams its snapshot to the super user (`Authorization: digest super:<password>`); the
answer's `last_zxid` header names it. Written as `version-2/snapshot.<last zxid>` into the empty data
claims of a new ensemble, it is every member's data once they form a quorum, and stays after a restart.
The image of those jars (tools/images: statefulkit.local/zookeeper-maven:3.9) meets the ZooKeeper
image contract.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, Permissions

from statefulkit.args.zookeeper import (
    ADMIN_PORT,
    CLIENT_PORT,
    DATA_CLAIM,
    DATA_DIR,
    ELECTION_PORT,
    METRICS_PORT,
    QUORUM_PORT,
)
from tests.support.metrics import sample, scrape
from tests.support.podsim import PodNetwork, netns_unavailable_reason
from tests.support.zk import (
    TEST_PASSWORD,
    Ensemble,
    four_letter_word,
    maven_zookeeper_missing,
    realserver_args,
    run_ensemble,
)
from tools.images import build, contract, sandbox, zookeeper_maven

_UNAVAILABLE = netns_unavailable_reason() or maven_zookeeper_missing()
pytestmark = [
    pytest.mark.timeout(420),
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"cannot run real ZooKeeper pods here: {_UNAVAILABLE}"),
]
SNAPSHOT = "/commands/snapshot?streaming=true"
SUPER = f"digest super:{TEST_PASSWORD}"
ZNODES = 300


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def error(self) -> object:
        """The JSON answer's `error` (a refusal's reason)."""
        return json.loads(self.body)["error"]


def request(host: str, authorization: str | None, connection: http.client.HTTPConnection | None = None) -> Answer:
    conn = connection or http.client.HTTPConnection(host, ADMIN_PORT, timeout=60)
    try:
        conn.request("GET", SNAPSHOT, headers={"Authorization": authorization} if authorization else {})
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def burst(host: str, authorization: str, n: int = 3) -> list[int]:
    """The statuses of `n` snapshot requests sent at once, over connections opened beforehand."""
    connections = [http.client.HTTPConnection(host, ADMIN_PORT, timeout=60) for _ in range(n)]
    for conn in connections:
        conn.connect()
    start = threading.Barrier(n)
    statuses = [0] * n

    def one(k: int) -> None:
        start.wait()
        statuses[k] = request(host, authorization, connections[k]).status

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@dataclass(frozen=True)
class Taken:
    """What the source ensemble answered (the fixture asks, the tests judge)."""

    znodes: dict[str, bytes]
    last_write_zxid: int
    answers: dict[str, Answer]
    burst: list[int]
    znode_count: float | None  # the follower's, from the Prometheus provider


def snapshot_of_a_follower(ensemble: Ensemble) -> Taken:
    """Writes ZNODES znodes, then asks the followers for snapshots: without and with credentials, on the
    default root ACL and on one that keeps ADMIN from `world`, in a burst and a second later."""
    client = ensemble.connect()
    znodes = {f"/orders/o-{n:03d}": f"order {n}".encode() for n in range(ZNODES)}
    for path, value in znodes.items():
        client.create(path, value, makepath=True)
    stat = client.exists(path)
    assert stat is not None
    first, second = (i for i, mode in sorted(ensemble.modes().items()) if mode == "follower")
    follower, other = ensemble.ip(first), ensemble.ip(second)
    answers = {
        "no header": request(follower, None),
        "another scheme": request(follower, f"Basic super:{TEST_PASSWORD}"),
        # On the default ACL of / (world:anyone:cdrwa) a digest of any user and password qualifies.
        "wrong password, default root ACL": request(other, "digest super:wrong"),
    }
    admin = KazooClient(hosts=ensemble.hosts(), auth_data=[("digest", f"super:{TEST_PASSWORD}")])
    ensemble.clients.append(admin)
    admin.start(timeout=15)
    admin.set_acls("/", [ACL(Permissions.ALL & ~Permissions.ADMIN, Id("world", "anyone"))])
    ensemble.connect([first]).sync("/orders")  # the follower has applied the last write
    answers["wrong password, root ACL without ADMIN for world"] = request(follower, "digest super:wrong")
    answers["super"] = request(follower, SUPER)
    statuses = burst(follower, SUPER)
    print("burst:", statuses)
    time.sleep(1.0)
    answers["super, a second later"] = request(follower, SUPER)
    return Taken(znodes, stat.czxid, answers, statuses, sample(scrape(follower, METRICS_PORT), "znode_count"))


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Taken]:
    with (
        PodNetwork() as network,
        run_ensemble(
            network, "zk", realserver_args(), tmp_path_factory.mktemp("source"), server_version=zookeeper_maven.VERSION
        ) as ensemble,
    ):
        ensemble.sim.start_all()
        ensemble.wait_formed()
        yield snapshot_of_a_follower(ensemble)


def test_a_follower_streams_its_snapshot_to_the_super_user(taken: Taken) -> None:
    super_user = taken.answers["super"]
    print("snapshot answer headers:", super_user.headers)
    assert super_user.status == 200
    assert super_user.headers["content-type"] == "application/octet-stream"
    assert super_user.body.startswith(b"ZKSN")  # a snapshot file's magic
    assert int(super_user.headers["snapshot_size"]) == len(super_user.body) > 0
    # The snapshot's name on the server (snapshot.<zxid>): what ZooKeeper reads the zxid of a snapshot from.
    last_zxid = super_user.headers["last_zxid"]
    assert last_zxid.startswith("0x") and int(last_zxid, 16) >= taken.last_write_zxid
    print(f"last_zxid {last_zxid}, {len(super_user.body)} bytes")

    refused = {k: (a.status, a.error) for k, a in taken.answers.items() if a.status != 200}
    assert refused == {
        "no header": (401, "Auth info is missing for the command"),
        "another scheme": (401, "Not authenticated"),
        "wrong password, root ACL without ADMIN for world": (403, "Not authorized"),
    }
    # The command asks for ALL on / of whoever the digest names: the default ACL grants it to anyone.
    assert taken.answers["wrong password, default root ACL"].status == 200
    # One snapshot per 300 ms: the default 300000 of zookeeper.admin.rateLimiterIntervalInMS is taken
    # as microseconds; a refused one says 429 with no reason.
    assert taken.burst.count(429) >= len(taken.burst) - 1
    assert taken.answers["super, a second later"].status == 200
    # zookeeper-prometheus-metrics 3.9.4 (tools/zookeeper-jars: 3.9.5's is not served) works with 3.9.5.
    assert taken.znode_count is not None and taken.znode_count > ZNODES


def seed(claim: Path, snapshot: Answer, membership: str, owner: tuple[int, int]) -> None:
    """What a restore puts into an empty data claim, owned by the pods' user: the snapshot, under the
    name ZooKeeper takes its zxid from, and the membership to start with, recorded as start.sh records
    one (zoo.cfg's dynamicConfigFile): on a claim that holds data but records no membership, start.sh
    founds no ensemble and waits for a peer to join through."""
    dynamic = f"{DATA_DIR}/zoo.cfg.dynamic.restored"
    files = {
        f"version-2/snapshot.{int(snapshot.headers['last_zxid'], 16):x}": snapshot.body,
        Path(dynamic).name: membership.encode(),
        "zoo.cfg": f"dynamicConfigFile={dynamic}\n".encode(),
    }
    for name, content in files.items():
        (claim / name).parent.mkdir(parents=True, exist_ok=True)
        (claim / name).write_bytes(content)
    for path in [claim, *claim.rglob("*")]:
        os.chown(path, *owner)


def epochs(ensemble: Ensemble, i: int) -> tuple[int, int]:
    """Member i's currentEpoch and acceptedEpoch files (ZooKeeper writes them beside the snapshots)."""
    version_2 = ensemble.sim.pvc_path(DATA_CLAIM, i) / "version-2"
    return int((version_2 / "currentEpoch").read_text()), int((version_2 / "acceptedEpoch").read_text())


def assert_holds(ensemble: Ensemble, znodes: dict[str, bytes]) -> None:
    """Every member, read through itself after a sync, holds exactly these znodes under /orders."""
    for i in range(ensemble.spec.replicas):
        client = ensemble.connect([i])
        client.sync("/orders")
        children = client.get_children("/orders")
        assert sorted(f"/orders/{c}" for c in children) == sorted(znodes), f"member {i}"
        assert {path: client.get(path)[0] for path in znodes} == znodes, f"member {i}"


def test_a_new_ensemble_founded_on_the_snapshot_holds_every_znode(taken: Taken, tmp_path: Path) -> None:
    snapshot = taken.answers["super"]
    snapshot_epoch = int(snapshot.headers["last_zxid"], 16) >> 32
    spec = realserver_args()
    name = "restored"  # not the source's: the snapshot's /zookeeper/config names other hosts
    headless = f"{name}-headless.default.svc.{spec.cluster_domain}"
    membership = "\n".join(
        f"server.{i + 1}={name}-{i}.{headless}:{QUORUM_PORT}:{ELECTION_PORT}:participant;{CLIENT_PORT}"
        for i in range(spec.replicas)
    )
    for i in range(spec.replicas):
        seed(tmp_path / "pvc" / f"{DATA_CLAIM}-{name}-{i}", snapshot, membership, (spec.run_as_user, spec.run_as_group))
    with (
        PodNetwork() as network,
        run_ensemble(network, name, spec, tmp_path, server_version=zookeeper_maven.VERSION) as ensemble,
    ):
        sim = ensemble.sim
        sim.start_all()
        assert sorted(ensemble.wait_formed().values()) == ["follower", "follower", "leader"]
        config = ensemble.wait_voters([0, 1, 2])
        assert "no peer serves, so it starts with the membership it recorded" in sim.log(0)
        # ZooKeeper serves the seeded membership, also in /zookeeper/config (the snapshot's named the source).
        listed = [f"server.{i + 1}={name}-{i}.{headless}:" for i in range(3)]
        config_znode = ensemble.connect([0]).get("/zookeeper/config")[0].decode()
        for text in (four_letter_word(ensemble.ip(0), "conf"), config_znode):
            assert all(line in text for line in listed) and "zk-0" not in text, text
        # No member had an epoch file: each takes the snapshot zxid's epoch, and the leader the next one.
        assert f"currentEpoch not found! Creating with a reasonable default of {snapshot_epoch}." in sim.log(0)
        print("restored:", config, {i: epochs(ensemble, i) for i in range(3)})
        assert_holds(ensemble, taken.znodes)
        assert {epochs(ensemble, i) for i in range(3)} == {(snapshot_epoch + 1, snapshot_epoch + 1)}
        writer = ensemble.connect()
        writer.create("/orders/after-restore", b"new")
        stat = writer.exists("/orders/after-restore")
        assert stat is not None and stat.czxid >> 32 == snapshot_epoch + 1

        # The whole ensemble crashes and starts again: it keeps the snapshot's data and what came after.
        ensemble.close_clients()
        for i in range(3):
            sim.kill(i)
        sim.start_all()
        assert sorted(ensemble.wait_formed().values()) == ["follower", "follower", "leader"]
        ensemble.wait_voters([0, 1, 2])
        assert_holds(ensemble, {**taken.znodes, "/orders/after-restore": b"new"})


def test_the_maven_image_meets_the_zookeeper_contract(tmp_path: Path) -> None:
    """statefulkit.local/zookeeper-maven:3.9: the Debian ZooKeeper image's JRE, tools, user and layout,
    with the Maven jars and their wrappers where that image has Debian's server."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None or shutil.which("unshare") is None:
        pytest.skip("building and running images needs root, apt-get and unshare")
    image, archive, _ = build.build(build.ZOOKEEPER_MAVEN, import_into_nodes=False)
    assert image == "statefulkit.local/zookeeper-maven:3.9"
    rootfs = contract.unpack(archive, tmp_path)
    zookeeper = contract.CONTRACTS[build.ZOOKEEPER_MAVEN.contract]
    assert contract.check(zookeeper, rootfs) == []
    env = {"PATH": contract.image_path(rootfs)}
    version = sandbox.run(rootfs, ["zkServer.sh", "version"], user=zookeeper.user, env=env)
    assert version.stdout.startswith(f"Apache ZooKeeper, version {zookeeper_maven.VERSION} "), version
    assert not (rootfs / "usr/share/zookeeper/bin").exists()  # no Debian ZooKeeper underneath
    assert (rootfs / "usr/share/zookeeper/lib" / f"zookeeper-{zookeeper_maven.VERSION}.jar").is_file()
