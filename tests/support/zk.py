"""Helpers that run a rendered ZooKeeperEnsemble on podsim with Debian's ZooKeeper package (3.8),
or with ZooKeeper 3.9 from its Maven jars where a test needs what 3.8 lacks (run_ensemble's
server_version).

The pods run exactly the StatefulSet and ConfigMaps the component registers (rendered by the pure
renderer), with the password Secret rendered from a test password; only the image is replaced:
`zkServer.sh` and `zkCli.sh` on PATH are shims around the Debian package's scripts (installed by
tools/system-deps), or the wrappers of tools/images/zookeeper_maven.py, as the official image has
both on PATH.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

from statefulkit.args.zookeeper import CLIENT_PORT, SECURE_CLIENT_PORT, ZooKeeperArgs
from statefulkit.render.workload import WorkloadManifests
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support import writelog
from tests.support.podsim import PodNetwork, StatefulSetSim
from tests.support.polling import wait_until
from tools.images import zookeeper_maven
from tools.images.build import ZK_JARS

ROOT = Path(__file__).resolve().parents[2]
# Where Debian's `zookeeper` package puts its scripts and jars.
DEBIAN_BIN = Path("/usr/share/zookeeper/bin")
DEBIAN_ZKSERVER = DEBIAN_BIN / "zkServer.sh"
DEBIAN_ZKCLI = DEBIAN_BIN / "zkCli.sh"
DEBIAN_JARS = Path("/usr/share/java")
DEBIAN_CONF = Path("/etc/zookeeper/conf")
# Small, quick JVMs: five servers and the scripts' zkCli.sh runs share two cores in the tests.
_TEST_JVM_FLAGS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k"
# The super user's password of every test ensemble (what the component would generate).
TEST_PASSWORD = "test-super-password"  # noqa: S105 - a test-only password
# ZooKeeper's transient client errors: the write was not acknowledged (it may or may not have happened).
NOT_ACKED = (KazooException, KazooTimeoutError)


def debian_zookeeper_missing() -> str | None:
    """None when Debian's ZooKeeper package is usable, else why not (for pytest.skip)."""
    for script in (DEBIAN_ZKSERVER, DEBIAN_ZKCLI):
        if not script.is_file():
            return f"Debian's zookeeper package is not installed ({script} missing; run tools/system-deps)"
    missing = [jar for jar in ZK_JARS if not (DEBIAN_JARS / jar).is_file()]
    if missing:
        return f"Debian ZooKeeper jars missing: {missing}"
    if shutil.which("java") is None:
        return "no java on PATH"
    return None


def maven_zookeeper_missing() -> str | None:
    """None when ZooKeeper from its Maven jars can run here (tools/zookeeper-jars fetches them), else why not."""
    for program in ("java", "mvn"):
        if shutil.which(program) is None:
            return f"no {program} on PATH"
    return None


def metrics_provider_jars(directory: Path) -> list[Path]:
    """ZooKeeper's Prometheus provider (fetched by tools/zookeeper-metrics-jars, as the official image
    ships it), copied into `directory` for the pods' user to read."""
    fetched = subprocess.run(
        [str(ROOT / "tools/zookeeper-metrics-jars")], capture_output=True, text=True, check=True, timeout=600
    )
    provider = [Path(shutil.copy(jar, directory)) for jar in sorted(Path(fetched.stdout.strip()).glob("*.jar"))]
    for jar in provider:
        jar.chmod(0o644)
    return provider


def write_shims(directory: Path, server_version: str | None = None) -> dict[str, str]:
    """Executable `zkServer.sh` and `zkCli.sh` that run Debian's real scripts with console logging, or
    with `server_version` (zookeeper_maven.VERSION) the Maven jars' wrappers that its image has.

    Debian's zkEnv.sh hard-codes CLASSPATH, so the official image's class path (the Debian jars of the
    image tools/images/build makes, and the metrics provider) goes in through JVMFLAGS (`-cp` given
    last wins). Everything else (the config path argument, SERVER_JVMFLAGS with the heap and the
    super user's digest, zkCli.sh's arguments and standard input) is what the rendered scripts pass.
    """
    if server_version is not None:
        if server_version != zookeeper_maven.VERSION:
            raise ValueError(f"ZooKeeper {server_version}: the tests run Debian's 3.8 or {zookeeper_maven.VERSION}")
        wrappers = zookeeper_maven.install(
            Path("/"),
            conf=f"{directory}/conf",
            lib=f"{directory}/lib",
            bin_dir=str(directory),
            jvm_flags=_TEST_JVM_FLAGS,
        )
        return {name: str(path) for name, path in wrappers.items()}
    jars = [*(DEBIAN_JARS / jar for jar in ZK_JARS), *metrics_provider_jars(directory)]
    classpath = ":".join([str(DEBIAN_CONF), *map(str, jars)])
    shims = {}
    for name, target, level in (("zkServer.sh", DEBIAN_ZKSERVER, "INFO"), ("zkCli.sh", DEBIAN_ZKCLI, "WARN")):
        shim = directory / name
        shim.write_text(
            "#!/bin/sh\n"
            f"# Test stand-in for the official image's {name}: Debian's script, logging to the console.\n"
            "export JMXDISABLE=true\n"
            f'export JVMFLAGS="-cp {classpath} -Dzookeeper.root.logger={level},CONSOLE {_TEST_JVM_FLAGS} $JVMFLAGS"\n'
            f'exec {target} "$@"\n'
        )
        shim.chmod(0o755)
        shims[name] = str(shim)
    return shims


def tls_client_context(ca: Path) -> ssl.SSLContext:
    """Trusts `ca` only; no name check, since the tests reach the members by their pod IPs."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    return context


def four_letter_word(host: str, word: str, *, tls: ssl.SSLContext | None = None, timeout: float = 3.0) -> str:
    """Send a four-letter word to the client port (the TLS one with `tls`) and return the whole
    answer ('' when nothing answers)."""
    port = CLIENT_PORT if tls is None else SECURE_CLIENT_PORT
    chunks: list[bytes] = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock = raw if tls is None else tls.wrap_socket(raw)
            sock.sendall(word.encode())
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:  # ssl.SSLError included: a close without close_notify ends the answer
        pass
    return b"".join(chunks).decode(errors="replace")


def server_mode(host: str, tls: ssl.SSLContext | None = None) -> str | None:
    """`leader`, `follower`, `standalone`, ... from the srvr answer; None when not serving."""
    for line in four_letter_word(host, "srvr", tls=tls).splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


_SERVER_LINE = re.compile(r"^server\.(\d+)=([^:;]+):\d+:\d+:(participant|observer)")


def parse_voters(text: str) -> set[int]:
    """Server ids listed as voters (participants) in a configuration's server lines."""
    return {int(m[1]) for line in text.splitlines() if (m := _SERVER_LINE.match(line)) and m[3] == "participant"}


@dataclass(frozen=True)
class Membership:
    """A configuration as a server serves it (`conf`): its version and its voters."""

    version: int
    voters: frozenset[int]


def membership(host: str, tls: ssl.SSLContext | None = None) -> Membership | None:
    """The configuration the server at `host` has committed; None when it does not serve."""
    answer = four_letter_word(host, "conf", tls=tls)
    if "membership:" not in answer:
        return None
    text = answer.split("membership:", 1)[1]
    version = re.search(r"^version=([0-9a-f]+)", text, re.M)
    return Membership(int(version[1], 16) if version else 0, frozenset(parse_voters(text)))


def realserver_args(**overrides: Any) -> ZooKeeperArgs:
    """Production defaults (the metrics provider included), scaled down for a 2-core test machine."""
    values: dict[str, Any] = {
        "heap": "128Mi",
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "tick_time_ms": 1000,
        "init_limit": 10,
        "sync_limit": 4,
        "storage_size": "1Gi",
    }
    values.update(overrides)
    return ZooKeeperArgs.model_validate(values)


@dataclass
class Ensemble:
    """A rendered ensemble running on podsim."""

    name: str
    spec: ZooKeeperArgs
    manifests: WorkloadManifests
    sim: StatefulSetSim
    clients: list[KazooClient] = field(default_factory=list)
    # The CA of the members' certificate, when they serve clients over TLS: the test then talks to them
    # (kazoo, four-letter words) on the TLS port only.
    ca: Path | None = None

    @property
    def tls(self) -> ssl.SSLContext | None:
        return None if self.ca is None else tls_client_context(self.ca)

    def server_id(self, i: int) -> int:
        return i + 1 + self.spec.server_id_offset

    def mode(self, i: int) -> str | None:
        return server_mode(self.ip(i), self.tls)

    def membership(self, i: int) -> Membership | None:
        return membership(self.ip(i), self.tls)

    def connect(self, ordinals: list[int] | None = None, *, timeout: float = 15.0) -> KazooClient:
        """A started kazoo client on the given members; stopped before the pods go away."""
        tls: dict[str, Any] = {} if self.ca is None else {"use_ssl": True, "ca": str(self.ca), "verify_certs": True}
        client = KazooClient(
            hosts=self.hosts(ordinals), timeout=10.0, connection_retry={"max_tries": 3, "delay": 0.2}, **tls
        )
        self.clients.append(client)
        client.start(timeout=timeout)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()
        self.clients.clear()

    def ip(self, i: int) -> str:
        return self.sim.pod_ip(i)

    def hosts(self, ordinals: list[int] | None = None) -> str:
        """Kazoo hosts string over the given members' IPs (the test process resolves no pod DNS)."""
        chosen = range(self.spec.replicas) if ordinals is None else ordinals
        port = CLIENT_PORT if self.ca is None else SECURE_CLIENT_PORT
        return ",".join(f"{self.ip(i)}:{port}" for i in chosen)

    def modes(self) -> dict[int, str | None]:
        return {i: self.mode(i) for i in range(self.spec.replicas)}

    def wait_formed(self, ordinals: list[int] | None = None, timeout: float = 120.0) -> dict[int, str]:
        """Until every given member serves (leader or follower); returns ordinal -> mode."""
        chosen = list(range(self.spec.replicas)) if ordinals is None else ordinals

        def formed() -> dict[int, str] | None:
            modes = {i: self.mode(i) for i in chosen}
            if all(mode in ("leader", "follower", "standalone") for mode in modes.values()):
                return {i: str(mode) for i, mode in modes.items()}
            return None

        try:
            return wait_until(f"ensemble {self.name} members {chosen} serving", formed, timeout=timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.logs(chosen)}") from None

    def wait_voters(self, ordinals: list[int], timeout: float = 120.0) -> Membership:
        """Until every member in `ordinals` serves one configuration whose voters are exactly theirs."""
        want = frozenset(self.server_id(i) for i in ordinals)

        def agreed() -> Membership | None:
            seen = {self.membership(i) for i in ordinals}
            if len(seen) == 1 and (config := seen.pop()) is not None and config.voters == want:
                return config
            return None

        try:
            return wait_until(f"voters {sorted(want)} agreed by members {ordinals}", agreed, timeout=timeout)
        except TimeoutError as exc:
            seen = {i: self.membership(i) for i in ordinals}
            raise TimeoutError(f"{exc}; they serve {seen}\n{self.logs(ordinals)}") from None

    def config_history(self, i: int) -> list[Membership]:
        """Every configuration member i committed, oldest first: ZooKeeper writes each one it
        activates to `zoo.cfg.dynamic.<version>` on the data volume."""
        history = []
        for path in self.sim.pvc_path("data", i).glob("zoo.cfg.dynamic.*"):
            suffix = path.name.rsplit(".", 1)[1]
            if re.fullmatch(r"[0-9a-f]+", suffix):
                history.append(Membership(int(suffix, 16), frozenset(parse_voters(path.read_text()))))
        return sorted(history, key=lambda m: m.version)

    def scale(self, replicas: int) -> None:
        """What a changed replica count does: the bootstrap ConfigMap gets the new count (the pod
        template stays as it is), then the StatefulSet controller with podManagementPolicy Parallel
        starts every new ordinal at once, or stops every removed one at once, gracefully (preStop
        within the template's grace period)."""
        old = self.spec.replicas
        self.spec = self.spec.model_copy(update={"replicas": replicas})
        bootstrap = ZooKeeperRender(self.name, self.spec).config_maps()[0]
        self.sim.set_configmap(bootstrap["metadata"]["name"], bootstrap)
        if replicas < old:
            stops = [threading.Thread(target=self.sim.stop, args=(i, None)) for i in range(replicas, old)]
            for thread in stops:
                thread.start()
            for thread in stops:
                thread.join()
        self.sim.scale(replicas)

    def prestop_log(self, i: int) -> str:
        """What member i's preStop said the last time it stopped (kubelet keeps no hook output)."""
        path = self.sim.pvc_path("data", i) / "statefulkit-prestop.log"
        return path.read_text() if path.exists() else ""

    def log_tail(self, i: int, lines: int = 25) -> str:
        """The last lines of member i's log, without the servers' notes of every four-letter word."""
        kept = [line for line in self.sim.log(i).splitlines() if "NIOServerCnxn@" not in line]
        return "\n".join(kept[-lines:])

    def logs(self, ordinals: list[int] | None = None, lines: int = 25) -> str:
        chosen = range(self.spec.replicas) if ordinals is None else ordinals
        return "\n".join(f"--- {self.sim.pod_name(i)}:\n{self.log_tail(i, lines)}" for i in chosen)


@contextlib.contextmanager
def run_ensemble(
    network: PodNetwork,
    name: str,
    spec: ZooKeeperArgs,
    workdir: Path,
    *,
    namespace: str = "default",
    extra_secrets: dict[str, dict[str, str]] | None = None,
    ca: Path | None = None,
    server_version: str | None = None,
) -> Iterator[Ensemble]:
    """Render the ensemble with the pure renderer and run its pods on `network` (not started yet).
    `extra_secrets` are further Secrets by name (stringData), e.g. a TLS certificate whose CA is `ca`.
    `server_version`: Debian's ZooKeeper when None, else that release from Maven jars (write_shims)."""
    manifests = ZooKeeperRender(name, spec).manifests()
    assert manifests.config_map is not None
    render = ZooKeeperRender(name, spec)
    # podsim's shim wrappers exec the target as the pod's uid (1000): it must sit in a world-readable dir.
    shim_dir = Path(tempfile.mkdtemp(prefix="zkshim-"))
    try:
        shim_dir.chmod(0o755)
        sim = StatefulSetSim(
            network,
            manifests.stateful_set,
            {
                manifests.names.config_map: manifests.config_map,
                render.bootstrap_config_map_name(): render.config_maps()[0],
            },
            {render.secret_name(): render.secret(TEST_PASSWORD), **(extra_secrets or {})},
            workdir=workdir,
            namespace=namespace,
            cluster_domain=spec.cluster_domain,
            path_shims=write_shims(shim_dir, server_version),
        )
        with sim:
            ensemble = Ensemble(name=name, spec=spec, manifests=manifests, sim=sim, ca=ca)
            try:
                yield ensemble
            finally:
                ensemble.close_clients()
    finally:
        shutil.rmtree(shim_dir, ignore_errors=True)


# --------------------------------------------------------------------------- a writer under changes


class WriteLog(writelog.WriteLog):
    """What a ZooKeeperWriter saw (tests/support/writelog.py), checked against the ensemble."""

    def lost(self, ensemble: Ensemble, ordinals: list[int]) -> list[str]:
        """Acknowledged znodes that the ensemble (read through `ordinals`, after a sync) lacks."""
        client = ensemble.connect(ordinals)
        client.sync(ZooKeeperWriter.PARENT)
        present = set(client.get_children(ZooKeeperWriter.PARENT))
        return [key for key in self.keys() if key.rsplit("/", 1)[1] not in present]


class ZooKeeperWriter(writelog.ContinuousWriter[WriteLog]):
    """Creates one znode after another through a kazoo client, as an application would: a create
    that fails or times out is not acknowledged, and the next one goes on under a new name (a
    create that raced a lost connection may have happened; it just does not count)."""

    PARENT = "/statefulkit-writes"
    transient = (*NOT_ACKED, NodeExistsError)
    log_type = WriteLog

    def __init__(self, ensemble: Ensemble, ordinals: list[int]) -> None:
        super().__init__()
        # Quick reconnects: the gap a client sees is what the test measures.
        self.client = KazooClient(
            hosts=ensemble.hosts(ordinals),
            timeout=10.0,
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 0.5},
            command_retry={"max_tries": 0},
        )
        ensemble.clients.append(self.client)
        self.client.start(timeout=15)
        self.client.ensure_path(self.PARENT)

    def write(self, n: int) -> str:
        path = f"{self.PARENT}/w-{n:09d}"
        self.client.create_async(path, str(n).encode()).get(timeout=5)
        return path
