"""ZooKeeperEnsemble proven with real ZooKeeper servers.

Each test renders the ensemble with the pure renderer (the exact StatefulSet and ConfigMap the
component registers) and runs its pods with podsim: one network, UTS and mount namespace per pod,
hostname `<sts>-<i>`, /etc/hosts resolving every member's FQDN, PVC dirs that outlive restarts. The
rendered start script runs unchanged; only `zkServer.sh` comes from Debian's package through a shim
(see tests/support/zk.py). Clients are kazoo, connecting to the pod IPs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from components.render.zookeeper import server_lines
from tests.support.podsim import PodNetwork, PodNotRunningError, netns_unavailable_reason
from tests.support.polling import wait_until
from tests.support.zk import Ensemble, debian_zookeeper_missing, realserver_args, run_ensemble, server_mode

_UNAVAILABLE = netns_unavailable_reason() or debian_zookeeper_missing()
pytestmark = [
    pytest.mark.realserver,
    pytest.mark.timeout(300),
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"cannot run real ZooKeeper pods here: {_UNAVAILABLE}"),
]


@pytest.fixture
def network() -> Iterator[PodNetwork]:
    # One network per test: podsim hands the next sim the same pod IPs with new MACs, and the test
    # process's ARP cache would keep sending to the old ones for half a minute.
    with PodNetwork() as net:
        yield net


def leader_of(ensemble: Ensemble, ordinals: list[int]) -> int:
    return next(i for i in ordinals if server_mode(ensemble.ip(i)) == "leader")


def test_three_members_form_one_quorum(network: PodNetwork, tmp_path: Path) -> None:
    spec = realserver_args(namespace="team-a")
    with run_ensemble(network, "zk", spec, tmp_path, namespace="team-a") as ensemble:
        sim = ensemble.sim
        sim.start_all()
        modes = ensemble.wait_formed()
        assert sorted(modes.values()) == ["follower", "follower", "leader"]
        sim.wait_ready(timeout=60)  # the rendered startup + readiness probes, run inside each pod
        assert all(sim.probe(i, "readiness") and sim.probe(i, "liveness") for i in range(3))
        # Readiness answers with the member's role, from srvr.
        answers = [sim.exec(i, ["bash", "/config/probe.sh", "ready"]).stdout for i in range(3)]
        assert sorted(a.strip() for a in answers) == [
            "ready: Mode: follower",
            "ready: Mode: follower",
            "ready: Mode: leader",
        ]

        # Identity derived from the hostname; config from the headless Service names, written to the PVC.
        for i in range(3):
            data = sim.pvc_path("data", i)
            assert (data / "myid").read_text() == f"{i + 1}\n"
            written = (data / "zoo.cfg").read_text().splitlines()
            assert [line for line in written if line.startswith("server.")] == server_lines("zk", spec, "team-a")
            assert f"zk-{i} is server {i + 1} of 3 in namespace team-a" in sim.log(i)

        # A write through member 0 is read through member 2.
        writer = ensemble.connect([0])
        writer.create("/statefulkit/hello", b"from zk-0", makepath=True)
        reader = ensemble.connect([2])
        reader.sync("/statefulkit/hello")
        assert reader.get("/statefulkit/hello")[0] == b"from zk-0"
        # kazoo's own four-letter-word call agrees on the role of every member.
        roles = [ensemble.connect([i]).command(b"srvr") for i in range(3)]
        assert sorted(line for r in roles for line in r.splitlines() if line.startswith("Mode:")) == [
            "Mode: follower",
            "Mode: follower",
            "Mode: leader",
        ]
        # Only the whitelisted words are served.
        assert "not in the whitelist" in writer.command(b"stat")


def test_quorum_loss_and_recovery_keep_every_znode(network: PodNetwork, tmp_path: Path) -> None:
    spec = realserver_args()
    with run_ensemble(network, "zk", spec, tmp_path) as ensemble:
        sim = ensemble.sim
        sim.start_all()
        ensemble.wait_formed()
        client = ensemble.connect()
        written = {f"/orders/before-{n}": f"v{n}".encode() for n in range(20)}
        for path, value in written.items():
            client.create(path, value, makepath=True)

        # Lose the leader: the other two elect a new one and keep accepting writes.
        first = leader_of(ensemble, [0, 1, 2])
        sim.stop(first)
        rest = [i for i in range(3) if i != first]
        new_modes = ensemble.wait_formed(rest, timeout=60)
        assert sorted(new_modes.values()) == ["follower", "leader"]
        survivors = ensemble.connect(rest)
        survivors.create("/orders/one-down", b"2 of 3", makepath=True)
        written["/orders/one-down"] = b"2 of 3"

        # Lose a second member: no quorum, so no writes, and the survivor reports itself unready.
        second, last = rest
        sim.stop(second)
        wait_until(f"zk-{last} unready without a quorum", lambda: not sim.probe(last, "readiness"), timeout=60)
        assert sim.probe(last, "liveness")  # still alive: liveness must not kill a member that waits for peers
        assert server_mode(ensemble.ip(last)) is None
        assert "not ready" in sim.exec(last, ["bash", "/config/probe.sh", "ready"]).stdout
        with pytest.raises((KazooException, KazooTimeoutError)):
            lone = KazooClient(hosts=ensemble.hosts([last]), timeout=4.0, connection_retry={"max_tries": 0})
            ensemble.clients.append(lone)
            lone.start(timeout=5)
            lone.create("/orders/no-quorum", b"must fail", makepath=True)
        with pytest.raises((KazooException, KazooTimeoutError)):
            survivors.create_async("/orders/queued", b"no quorum", makepath=True).get(timeout=4)
        survivors.stop()  # a queued request could otherwise be sent once the quorum is back

        # Bring both back: same PVCs, same ids; the ensemble recovers with all the data.
        sim.start(first)
        sim.start(second)
        modes = ensemble.wait_formed(timeout=90)
        assert sorted(modes.values()) == ["follower", "follower", "leader"]
        sim.wait_ready(timeout=60)
        for i in (first, second):
            assert f"myid matches: zk-{i} is server {i + 1}" in sim.log(i)
        for i in range(3):
            member = ensemble.connect([i])
            member.sync("/orders")
            for path, value in written.items():
                assert member.get(path)[0] == value, (i, path)
            assert not member.exists("/orders/no-quorum")
        client = ensemble.connect()
        client.create("/orders/after", b"recovered")


def test_five_members_survive_two_stopped(network: PodNetwork, tmp_path: Path) -> None:
    # Also exercises a separate dataLogDir volume and a server id offset.
    spec = realserver_args(replicas=5, data_log_storage_size="1Gi", server_id_offset=10)
    with run_ensemble(network, "coord", spec, tmp_path) as ensemble:
        sim = ensemble.sim
        started = time.monotonic()
        sim.start_all()
        modes = ensemble.wait_formed(timeout=120)
        assert sorted(modes.values()) == ["follower"] * 4 + ["leader"]
        sim.wait_ready(timeout=60)
        formed_in = time.monotonic() - started
        assert formed_in < 120
        assert [(sim.pvc_path("data", i) / "myid").read_text() for i in range(5)] == [f"{11 + i}\n" for i in range(5)]

        client = ensemble.connect()
        client.create("/five/before", b"5 of 5", makepath=True)
        # Transactions land on the separate log volume, snapshots on the data volume.
        assert all(any(sim.pvc_path("datalog", i).glob("version-2/log.*")) for i in range(5))
        assert not any(any(sim.pvc_path("data", i).glob("version-2/log.*")) for i in range(5))
        assert all(any(sim.pvc_path("data", i).glob("version-2/snapshot.*")) for i in range(5))

        down = [leader_of(ensemble, list(range(5))), next(i for i in range(5) if modes[i] == "follower")]
        for i in down:
            sim.stop(i)
        rest = [i for i in range(5) if i not in down]
        assert sorted(ensemble.wait_formed(rest, timeout=60).values()) == ["follower", "follower", "leader"]
        assert all(sim.probe(i, "readiness") for i in rest)
        assert not any(sim.probe(i, "readiness") for i in down)

        writer = ensemble.connect([rest[0]])
        token = uuid.uuid4().hex.encode()
        writer.create("/five/after-two-down", token, makepath=True)
        reader = ensemble.connect([rest[-1]])
        reader.sync("/five")
        assert reader.get("/five/after-two-down")[0] == token
        assert reader.get("/five/before")[0] == b"5 of 5"


def test_member_with_another_members_myid_refuses_to_start(network: PodNetwork, tmp_path: Path) -> None:
    spec = realserver_args()
    with run_ensemble(network, "zk", spec, tmp_path) as ensemble:
        sim = ensemble.sim
        # zk-1's volume holds zk-2's identity (say, a claim restored from the wrong backup).
        data = sim.pvc_path("data", 1)
        data.mkdir(parents=True)
        (data / "myid").write_text("3\n")
        sim.start(1)
        with pytest.raises(PodNotRunningError, match="exited with 1"):
            sim.wait_ready(1, timeout=30)
        log = sim.log(1)
        assert "statefulkit-zookeeper: FATAL: refusing to start: /data/myid holds myid '3'" in log
        assert "but zk-1 (ordinal 1) is server 2" in log
        assert "Using config" not in log  # zkServer.sh never ran
        assert (data / "myid").read_text() == "3\n"
        assert not sim.is_running(1)
        assert not sim.probe(1, "readiness")
