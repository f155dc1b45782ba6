"""ZooKeeperEnsemble proven with real ZooKeeper servers.

Each test renders the ensemble with the pure renderer (the exact StatefulSet and ConfigMaps the
component registers, and its password Secret) and runs its pods with podsim: one network, UTS and
mount namespace per pod, hostname `<sts>-<i>`, /etc/hosts resolving every member's FQDN, PVC dirs
that outlive restarts, preStop hooks on a graceful stop. The rendered scripts run unchanged; only
`zkServer.sh` and `zkCli.sh` come from Debian's package through shims (see tests/support/zk.py).
Clients are kazoo, connecting to the pod IPs.

A graceful stop (`sim.stop`) runs the preStop hook, so the member leaves the voting ensemble; a
crash (`sim.kill`) leaves it listed, as a lost node would.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoAuthError
from kazoo.handlers.threading import KazooTimeoutError

from statefulkit.args.zookeeper import CLIENT_PORT, ELECTION_PORT, METRICS_PORT, QUORUM_PORT
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.certs import KeyPair, make_ca, make_leaf, tls_secret
from tests.support.metrics import sample, scrape
from tests.support.podsim import PodNetwork, PodNotRunningError, netns_unavailable_reason
from tests.support.polling import wait_until
from tests.support.zk import (
    TEST_PASSWORD,
    Ensemble,
    Membership,
    ZooKeeperWriter,
    debian_zookeeper_missing,
    four_letter_word,
    parse_voters,
    realserver_args,
    run_ensemble,
)

_UNAVAILABLE = netns_unavailable_reason() or debian_zookeeper_missing()
pytestmark = [
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
    return next(i for i in ordinals if ensemble.mode(i) == "leader")


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

        # Identity derived from the hostname; the membership, by the headless Service names, is the
        # dynamic file ZooKeeper itself keeps on the PVC (it numbered the founding configuration).
        config = ensemble.wait_voters([0, 1, 2])
        assert config.voters == {1, 2, 3} and config.version > 0
        for i in range(3):
            data = sim.pvc_path("data", i)
            assert (data / "myid").read_text() == f"{i + 1}\n"
            written = (data / "zoo.cfg").read_text().splitlines()
            assert "reconfigEnabled=true" in written and "standaloneEnabled=false" in written
            dynamic = Path(next(line for line in written if line.startswith("dynamicConfigFile=")).split("=", 1)[1])
            assert dynamic.name == f"zoo.cfg.dynamic.{config.version:x}"
            servers = sorted(line for line in (data / dynamic.name).read_text().splitlines())
            assert servers == [
                f"server.{j + 1}=zk-{j}.zk-headless.team-a.svc.cluster.local:2888:3888:participant;0.0.0.0:2181"
                for j in range(3)
            ]
            assert f"zk-{i} is server {i + 1}; founding a new ensemble of 3 member(s) in namespace team-a" in sim.log(i)

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

        # Reconfiguration needs the super user (no skipACL): refused to anyone else, allowed to it.
        with pytest.raises(NoAuthError):
            writer.reconfig(joining=None, leaving="3", new_members=None)
        admin = KazooClient(hosts=ensemble.hosts([0]), auth_data=[("digest", f"super:{TEST_PASSWORD}")])
        ensemble.clients.append(admin)
        admin.start(timeout=15)
        data, _ = admin.reconfig(joining=None, leaving=None, new_members=None)  # a no-op change
        assert parse_voters(data.decode()) == {1, 2, 3}


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

        config = ensemble.wait_voters([0, 1, 2])
        # Lose the leader (a crash: no preStop, it stays listed): the other two elect a new one
        # and keep accepting writes.
        first = leader_of(ensemble, [0, 1, 2])
        sim.kill(first)
        rest = [i for i in range(3) if i != first]
        new_modes = ensemble.wait_formed(rest, timeout=60)
        assert sorted(new_modes.values()) == ["follower", "leader"]
        survivors = ensemble.connect(rest)
        survivors.create("/orders/one-down", b"2 of 3", makepath=True)
        written["/orders/one-down"] = b"2 of 3"

        # Lose a second member: no quorum, so no writes, and the survivor reports itself unready.
        second, last = rest
        sim.kill(second)
        wait_until(f"zk-{last} unready without a quorum", lambda: not sim.probe(last, "readiness"), timeout=60)
        assert sim.probe(last, "liveness")  # still alive: liveness must not kill a member that waits for peers
        assert ensemble.mode(last) is None
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
        # Crashed members were never removed: they rejoined under the same configuration.
        assert ensemble.wait_voters([0, 1, 2]) == config
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
        sim.start_all()
        modes = ensemble.wait_formed(timeout=120)
        assert sorted(modes.values()) == ["follower"] * 4 + ["leader"]
        sim.wait_ready(timeout=60)
        assert [(sim.pvc_path("data", i) / "myid").read_text() for i in range(5)] == [f"{11 + i}\n" for i in range(5)]

        client = ensemble.connect()
        client.create("/five/before", b"5 of 5", makepath=True)
        # Transactions land on the separate log volume, snapshots on the data volume.
        assert all(any(sim.pvc_path("datalog", i).glob("version-2/log.*")) for i in range(5))
        assert not any(any(sim.pvc_path("data", i).glob("version-2/log.*")) for i in range(5))
        assert all(any(sim.pvc_path("data", i).glob("version-2/snapshot.*")) for i in range(5))

        down = [leader_of(ensemble, list(range(5))), next(i for i in range(5) if modes[i] == "follower")]
        for i in down:
            sim.kill(i)  # failures, not graceful stops: both stay listed and the other three are a quorum of five
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


# --------------------------------------------------------------------------- membership changes under writes

# A stall of writes longer than this would mean a member left or joined the hard way (a leader lost
# without handing over is noticed only after syncLimit ticks, 4 s here, then an election).
MAX_WRITE_GAP = 5.0


def one_at_a_time(history: list[Membership]) -> bool:
    """Each configuration differs from the one before by exactly one voter."""
    return all(len(a.voters ^ b.voters) == 1 for a, b in itertools.pairwise(history))


class Changes:
    """Applies membership changes to a running ensemble under a continuous writer, and measures each."""

    def __init__(self, ensemble: Ensemble, writer: ZooKeeperWriter) -> None:
        self.ensemble = ensemble
        self.writer = writer
        self.gaps: dict[str, float] = {}

    def apply(self, what: str, change: Callable[[], None], voters: list[int], *, witness: int = 0) -> list[Membership]:
        """Run `change`, wait until exactly the ordinals `voters` vote and every running pod is Ready
        (what the StatefulSet controller waits for), and return the configurations the member
        `witness` (one that stays up throughout) committed meanwhile, the last one included."""
        before = self.ensemble.membership(witness)
        assert before is not None, f"zk-{witness} does not serve before {what}"
        started = time.monotonic()
        change()
        after = self.ensemble.wait_voters(voters)
        self.ensemble.sim.wait_ready(timeout=90)
        ended = time.monotonic()
        gap = self.writer.log.longest_gap(started, ended)
        self.gaps[what] = gap
        history = [m for m in self.ensemble.config_history(witness) if before.version <= m.version <= after.version]
        steps = " -> ".join(str(len(m.voters)) for m in history)
        print(f"{what}: {ended - started:.1f}s, longest write gap {gap:.2f}s, voters by configuration {steps}")
        assert history[0] == before and history[-1] == after, history
        assert one_at_a_time(history), history
        return history


def test_membership_follows_the_pods_without_losing_a_write(network: PodNetwork, tmp_path: Path) -> None:
    """3 -> 5 -> 3 members as the StatefulSet scales them (Parallel: new ordinals start at once,
    removed ones stop at once, gracefully), a rolling restart of every member, and one member
    replaced with an empty volume; a client creates znodes all along. Membership changes one voter
    at a time, every acknowledged write survives, and writes never stall for long."""
    spec = realserver_args()
    with run_ensemble(network, "zk", spec, tmp_path) as ensemble:
        sim = ensemble.sim
        sim.start_all()
        ensemble.wait_voters([0, 1, 2])
        sim.wait_ready(timeout=60)
        with ZooKeeperWriter(ensemble, [0, 1, 2]) as writer:
            changes = Changes(ensemble, writer)
            # Scale-up: both new members sync as non-voting followers and add themselves, one by one.
            grown = changes.apply("scale 3 -> 5", lambda: ensemble.scale(5), [0, 1, 2, 3, 4])
            assert [len(m.voters) for m in grown] == [3, 4, 5]
            assert all("reconfig -add server." in sim.log(i) for i in (3, 4))

            # Scale-down: the removed members' preStop hooks remove them, racing each other.
            shrunk = changes.apply("scale 5 -> 3", lambda: ensemble.scale(3), [0, 1, 2])
            assert [len(m.voters) for m in shrunk] == [5, 4, 3]
            for i, server in ((3, 4), (4, 5)):
                assert f"removed server {server}" in ensemble.prestop_log(i)

            # A rolling restart, highest ordinal first: each member leaves, restarts, syncs and rejoins
            # before the next goes, so the ensemble shrinks to two voters and grows back each time.
            for i in (2, 1, 0):
                role = ensemble.mode(i)
                others = [j for j in range(3) if j != i]

                def restart(i: int = i, others: list[int] = others) -> None:
                    sim.stop(i, grace=None)
                    left = ensemble.wait_voters(others, timeout=10)  # it removed itself before stopping
                    assert left.voters == {j + 1 for j in others}
                    assert leader_of(ensemble, others) in others  # a leader among the others, at once
                    sim.start(i)

                rolled = changes.apply(f"restart zk-{i} ({role})", restart, [0, 1, 2], witness=others[0])
                assert [len(m.voters) for m in rolled] == [3, 2, 3]
                assert f"removed server {i + 1}" in ensemble.prestop_log(i)
                assert f"zk-{i} is server {i + 1}, not in configuration" in sim.log(i)

            # A member whose volume was lost (its node died with it): no preStop, so it is still
            # listed; it has itself removed through a peer before it joins, so it never votes
            # with an empty log.
            victim = leader_of(ensemble, [0, 1, 2])
            survivor = next(i for i in range(3) if i != victim)

            def replace() -> None:
                sim.kill(victim)
                shutil.rmtree(sim.pvc_path("data", victim))
                sim.start(victim)

            replaced = changes.apply(
                f"replace zk-{victim} (leader, empty volume)", replace, [0, 1, 2], witness=survivor
            )
            assert [len(m.voters) for m in replaced] == [3, 2, 3]
            assert victim + 1 not in replaced[1].voters
            log = sim.log(victim)
            assert f"server {victim + 1} is listed in the ensemble" in log
            since = log[log.index("the volume was lost") :]
            assert since.index(f"removed server {victim + 1} through") < since.index("joining the ensemble")
            time.sleep(1)  # writes after the last change, to see that writing goes on

        written = writer.log
        lost = written.lost(ensemble, [0, 1, 2])
        lost_on_replaced = written.lost(ensemble, [victim])
        print(
            f"{len(written.acked)} writes acknowledged ({written.errors} not), {len(lost)} lost; longest gap per "
            "change: " + ", ".join(f"{what} {gap:.2f}s" for what, gap in changes.gaps.items())
        )
        assert lost == [] and lost_on_replaced == [], (lost[:10], lost_on_replaced[:10])
        # The check can fail: a znode the ensemble no longer has is reported.
        first = written.keys()[0]
        ensemble.connect([0]).delete(first)
        assert written.lost(ensemble, [0, 1, 2]) == [first]
        assert len(written.acked) > 100
        assert max(changes.gaps.values()) < MAX_WRITE_GAP, changes.gaps


def test_every_member_serves_prometheus_metrics_of_its_own_server(network: PodNetwork, tmp_path: Path) -> None:
    """The rendered zoo.cfg's metricsProvider lines (with the provider's jar on the class path, as in
    the official image): each member's /metrics on port 7000 reports its own server, the znodes a
    client created included, and the JVM (exportJvmInfo)."""
    with run_ensemble(network, "zk", realserver_args(), tmp_path) as ensemble:
        ensemble.sim.start_all()
        ensemble.wait_voters([0, 1, 2])
        before = sample(scrape(ensemble.ip(0), METRICS_PORT), "znode_count")
        assert before is not None
        client = ensemble.connect([0, 1, 2])
        for i in range(20):
            client.create(f"/metrics-{i}", b"x")
        client.sync("/")

        def counted(i: int) -> str | None:
            text = scrape(ensemble.ip(i), METRICS_PORT)
            return text if sample(text, "znode_count") == before + 20 else None

        for i in range(3):
            text: str = wait_until(f"zk-{i} to count 20 more znodes", partial(counted, i), tolerate=(OSError,))
            assert sample(text, "quorum_size") == 3, i
            assert "jvm_info{" in text
        leaders = [i for i in range(3) if sample(scrape(ensemble.ip(i), METRICS_PORT), "learners") is not None]
        assert leaders == [leader_of(ensemble, [0, 1, 2])], leaders  # only the leader counts learners


def test_the_quorum_and_clients_speak_tls_and_a_wrong_ca_is_refused(network: PodNetwork, tmp_path: Path) -> None:
    """TLS from a Secret (as cert-manager's CA issuer writes it), first beside the plaintext port
    (plaintext_client_port, while clients move over), then, after a rolling update, TLS only: the
    members form their quorum over mutual-TLS links (sslQuorum), leave and rejoin the ensemble through
    their own scripts over TLS, serve kazoo on 2281, refuse plaintext and a client trusting another
    CA on 2281, and no longer listen on 2181 at all."""
    ca, other_ca = make_ca(tmp_path / "pki", "ensemble-ca"), make_ca(tmp_path / "pki", "other-ca")
    zone = "zk-headless.default.svc.cluster.local"
    server = make_leaf(tmp_path / "pki", ca, "zk", [f"*.{zone}", zone, "localhost"], ["127.0.0.1"])
    spec = realserver_args(tls={"secret_name": "zk-tls"}, plaintext_client_port=True)
    secrets = {"zk-tls": tls_secret(ca, server)}
    with run_ensemble(network, "zk", spec, tmp_path / "run", extra_secrets=secrets, ca=ca.cert) as ensemble:
        sim = ensemble.sim
        sim.start_all()
        ensemble.wait_voters([0, 1, 2])
        secure = ensemble.connect()
        secure.create("/over-tls", b"sealed")
        plain = KazooClient(hosts=",".join(f"{ensemble.ip(i)}:{CLIENT_PORT}" for i in range(3)), timeout=5.0)
        ensemble.clients.append(plain)
        plain.start(timeout=15)  # the migration state: 2181 still serves
        assert plain.get("/over-tls")[0] == b"sealed"
        plain.stop()

        # The rolling update to TLS only: zk-2 and zk-0 stop gracefully (they remove themselves and
        # join again with the new listing); zk-1 crashes, so it restarts still listed with 2181 and
        # changes its own listing.
        tls_only = spec.model_copy(update={"plaintext_client_port": False})
        config_map = ZooKeeperRender("zk", tls_only).manifests().config_map
        assert config_map is not None
        sim.set_configmap(ensemble.manifests.names.config_map, config_map)
        for i, crash in ((2, False), (1, True), (0, False)):
            if crash:
                sim.kill(i)
            else:
                sim.stop(i, grace=None)
            sim.start(i)
            ensemble.wait_voters([0, 1, 2])
            # The listener closes when the member's new listing (loopback only) commits.
            try:
                wait_until(f"zk-{i} to close {CLIENT_PORT}", partial(closed, ensemble.ip(i), CLIENT_PORT), timeout=60)
            except TimeoutError:
                listing = four_letter_word(ensemble.ip(i), "conf", tls=ensemble.tls)
                raise AssertionError(
                    f"zk-{i} still listens on {CLIENT_PORT}; it serves {listing}\n{ensemble.logs([i])}"
                ) from None
        assert "removed server 3" in ensemble.prestop_log(2) and "removed server 1" in ensemble.prestop_log(0)
        assert "listed with another client port; reconfig -add" in sim.log(1)
        sim.wait_ready(timeout=60)  # the probes ask over TLS

        assert secure.get("/over-tls")[0] == b"sealed"
        assert all(not listens(ensemble.ip(i), CLIENT_PORT) for i in range(3))
        # The quorum and election ports present the ensemble's certificate (verified against its CA),
        # and want one back whose name matches the caller's address: the members' certificate, shown
        # from the test host's address, is refused (mutual TLS with hostname verification).
        for port in (QUORUM_PORT, ELECTION_PORT):  # the quorum port listens on the leader only
            handshakes = [tls_handshake(ensemble.ip(i), port, ca.cert, server) for i in range(3)]
            verified = [h for h in handshakes if "Verification: OK" in h and "subject=CN = zk" in h]
            assert verified and all("alert certificate unknown" in h for h in verified), handshakes
        hosts = ensemble.hosts()
        wrong_ca = KazooClient(hosts=hosts, use_ssl=True, ca=str(other_ca.cert), verify_certs=True, timeout=5.0)
        plain_on_tls_port = KazooClient(hosts=hosts, timeout=5.0)
        for client in (wrong_ca, plain_on_tls_port):
            ensemble.clients.append(client)
            with pytest.raises(KazooTimeoutError):
                client.start(timeout=5)


def closed(host: str, port: int) -> bool:
    return not listens(host, port)


def listens(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except ConnectionRefusedError:
        return False
    return True


def tls_handshake(host: str, port: int, ca: Path, identity: KeyPair) -> str:
    """What `openssl s_client` reports for a TLS handshake with host:port, trusting `ca` and
    presenting `identity`."""
    command = ["openssl", "s_client", "-connect", f"{host}:{port}", "-CAfile", str(ca)]
    command += ["-cert", str(identity.cert), "-key", str(identity.key)]
    ran = subprocess.run(command, input="", capture_output=True, text=True, timeout=15, check=False)
    return ran.stdout + ran.stderr
