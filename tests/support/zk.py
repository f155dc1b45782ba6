"""Helpers that run a rendered ZooKeeperEnsemble on podsim with Debian's ZooKeeper package.

The pods run exactly the StatefulSet and ConfigMap the component registers (rendered by the pure
renderer); only the image is replaced: `zkServer.sh` on PATH is a shim around the Debian package's
script (installed by tools/system-deps), as the official image has it on PATH.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from components.args.zookeeper import CLIENT_PORT, ZooKeeperArgs
from components.render.workload import WorkloadManifests
from components.render.zookeeper import render_zookeeper
from tests.support.podsim import PodNetwork, StatefulSetSim
from tests.support.polling import wait_until

# Where Debian's `zookeeper` package puts its scripts and jars.
DEBIAN_ZKSERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")
DEBIAN_JARS = Path("/usr/share/java")
DEBIAN_CONF = Path("/etc/zookeeper/conf")
# Debian's zookeeper.jar names no logging backend in its Class-Path, so the server would log nothing;
# these put slf4j's log4j 1.2 binding next to it (the package's log4j.properties has a CONSOLE appender).
_LOG_JARS = ("slf4j-log4j12.jar", "log4j-1.2.jar")
# Small, quick JVMs: five of them share two cores in the tests.
_TEST_JVM_FLAGS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k"


def debian_zookeeper_missing() -> str | None:
    """None when Debian's ZooKeeper package is usable, else why not (for pytest.skip)."""
    if not DEBIAN_ZKSERVER.is_file():
        return f"Debian's zookeeper package is not installed ({DEBIAN_ZKSERVER} missing; run tools/system-deps)"
    missing = [jar for jar in ("zookeeper.jar", *_LOG_JARS) if not (DEBIAN_JARS / jar).is_file()]
    if missing:
        return f"Debian ZooKeeper jars missing: {missing}"
    if shutil.which("java") is None:
        return "no java on PATH"
    return None


def write_zkserver_shim(directory: Path) -> Path:
    """An executable `zkServer.sh` that runs Debian's real zkServer.sh with console logging.

    Debian's zkEnv.sh hard-codes CLASSPATH, so the logging jars go in through JVMFLAGS (`-cp` given
    last wins). Everything else (the config path argument, SERVER_JVMFLAGS with the heap) is what the
    rendered start.sh passes, untouched.
    """
    classpath = ":".join(
        [str(DEBIAN_CONF), str(DEBIAN_JARS / "zookeeper.jar"), *(str(DEBIAN_JARS / j) for j in _LOG_JARS)]
    )
    shim = directory / "zkServer.sh"
    shim.write_text(
        "#!/bin/sh\n"
        "# Test stand-in for the official image's zkServer.sh: Debian's script, logging to the console.\n"
        "export JMXDISABLE=true\n"
        f'export JVMFLAGS="-cp {classpath} -Dzookeeper.root.logger=INFO,CONSOLE {_TEST_JVM_FLAGS} $JVMFLAGS"\n'
        f'exec {DEBIAN_ZKSERVER} "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def four_letter_word(host: str, word: str, *, port: int = CLIENT_PORT, timeout: float = 3.0) -> str:
    """Send a four-letter word and return the whole answer ('' when nothing answers)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks: list[bytes] = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode(errors="replace")


def server_mode(host: str) -> str | None:
    """`leader`, `follower`, `standalone`, ... from the srvr answer; None when not serving."""
    for line in four_letter_word(host, "srvr").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def realserver_args(**overrides: Any) -> ZooKeeperArgs:
    """Production defaults, scaled down for a 2-core test machine.

    metrics=False only because Debian's package does not ship zookeeper-prometheus-metrics (the
    official image does): with the provider class missing, ZooKeeper 3.8 exits "Invalid config".
    """
    values: dict[str, Any] = {
        "heap": "128Mi",
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "tick_time_ms": 1000,
        "init_limit": 10,
        "sync_limit": 4,
        "storage_size": "1Gi",
        "metrics": False,
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

    def connect(self, ordinals: list[int] | None = None, *, timeout: float = 15.0) -> KazooClient:
        """A started kazoo client on the given members; stopped before the pods go away."""
        client = KazooClient(hosts=self.hosts(ordinals), timeout=10.0, connection_retry={"max_tries": 3, "delay": 0.2})
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
        return ",".join(f"{self.ip(i)}:{CLIENT_PORT}" for i in chosen)

    def modes(self) -> dict[int, str | None]:
        return {i: server_mode(self.ip(i)) for i in range(self.spec.replicas)}

    def wait_formed(self, ordinals: list[int] | None = None, timeout: float = 120.0) -> dict[int, str]:
        """Until every given member serves (leader or follower); returns ordinal -> mode."""
        chosen = list(range(self.spec.replicas)) if ordinals is None else ordinals

        def formed() -> dict[int, str] | None:
            modes = {i: server_mode(self.ip(i)) for i in chosen}
            if all(mode in ("leader", "follower", "standalone") for mode in modes.values()):
                return {i: str(mode) for i, mode in modes.items()}
            return None

        try:
            return wait_until(f"ensemble {self.name} members {chosen} serving", formed, timeout=timeout)
        except TimeoutError as exc:
            logs = "\n".join(f"--- {self.sim.pod_name(i)}:\n{self.log_tail(i)}" for i in chosen)
            raise TimeoutError(f"{exc}\n{logs}") from None

    def log_tail(self, i: int, lines: int = 25) -> str:
        return "\n".join(self.sim.log(i).splitlines()[-lines:])


@contextlib.contextmanager
def run_ensemble(
    network: PodNetwork, name: str, spec: ZooKeeperArgs, workdir: Path, *, namespace: str = "default"
) -> Iterator[Ensemble]:
    """Render the ensemble with the pure renderer and run its pods on `network` (not started yet)."""
    manifests = render_zookeeper(name, spec)
    assert manifests.config_map is not None
    # podsim's shim wrappers exec the target as the pod's uid (1000): it must sit in a world-readable dir.
    shim_dir = Path(tempfile.mkdtemp(prefix="zkshim-"))
    try:
        shim_dir.chmod(0o755)
        shim = write_zkserver_shim(shim_dir)
        sim = StatefulSetSim(
            network,
            manifests.stateful_set,
            {manifests.names.config_map: manifests.config_map},
            workdir=workdir,
            namespace=namespace,
            cluster_domain=spec.cluster_domain,
            path_shims={"zkServer.sh": str(shim)},
        )
        with sim:
            ensemble = Ensemble(name=name, spec=spec, manifests=manifests, sim=sim)
            try:
                yield ensemble
            finally:
                ensemble.close_clients()
    finally:
        shutil.rmtree(shim_dir, ignore_errors=True)
