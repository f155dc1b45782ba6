"""Run a rendered RedisEnsemble on podsim and talk to it with redis-py.

The manifests come from the pure renderer (exactly what RedisEnsemble registers); the password
Secret is rendered from the test password, as the component renders it from its secret Output.
RedisPodsOf talks to any pods that are addressed as podsim's are (`PodAddressing`): the real pods of
a cluster too (tests/support/cluster_pods.py `StatefulSetPods`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

import pulumi
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from statefulkit.args.redis import (
    EXPORTER_CONTAINER,
    REDIS_CONTAINER,
    REDIS_PORT,
    SENTINEL_CONTAINER,
    SENTINEL_PORT,
    RedisArgs,
)
from statefulkit.render.redis import RedisRender
from statefulkit.render.workload import WorkloadManifests, WorkloadNames
from tests.support import writelog
from tests.support.cluster_pods import StatefulSetPods
from tests.support.local_cluster import LocalCluster
from tests.support.podsim import PodNetwork, StatefulSetSim
from tests.support.polling import wait_until

# While polling Redis, a client that cannot connect (yet) means "not yet".
NOT_YET = (redis.RedisError, OSError)


class PodAddressing(Protocol):
    """What RedisPodsOf needs of the pods it talks to: StatefulSetSim, or a cluster's real pods."""

    def pod_name(self, i: int) -> str: ...
    def pod_fqdn(self, i: int) -> str: ...
    def pod_ip(self, i: int) -> str: ...
    def resolve(self, host: str) -> str: ...
    def is_running(self, i: int) -> bool: ...
    def log(self, i: int, container: str | None = None) -> str: ...
    def wait_ready(self, i: int | None = None, timeout: float = 60.0) -> None: ...


Pods = TypeVar("Pods", bound=PodAddressing)


@dataclass
class RedisPodsOf(Generic[Pods]):
    """A running ensemble: the pods (a sim, or a cluster's), the manifests and redis-py clients by
    ordinal or host."""

    name: str
    spec: RedisArgs
    password: str | None
    manifests: WorkloadManifests
    sim: Pods
    # redis-py's TLS settings (ssl=True, CA, client certificate) when the ensemble speaks TLS.
    tls: dict[str, Any] = field(default_factory=dict)

    # -- addressing

    def fqdn(self, i: int) -> str:
        return self.sim.pod_fqdn(i)

    def ordinal_of(self, host: str) -> int:
        """Ordinal of a pod named by the FQDN (or IP) a server handed back."""
        ip = self.sim.resolve(host)
        return next(i for i in range(self.spec.replicas) if self._ip(i) == ip)

    def _ip(self, i: int) -> str | None:
        """Pod i's IP; None while it has none (a real pod that is gone: its replacement has no IP yet)."""
        try:
            return self.sim.pod_ip(i)
        except OSError:
            return None

    def client(self, i: int, *, sentinel: bool = False, password: str | bool | None = True, **kw: Any) -> redis.Redis:
        pw = self.password if password is True else (None if password is False else password)
        return redis.Redis(
            host=self.sim.pod_ip(i),
            port=SENTINEL_PORT if sentinel else REDIS_PORT,
            password=pw,
            socket_timeout=3,
            socket_connect_timeout=2,
            decode_responses=True,
            # No client-side retries: an AuthenticationError is a ConnectionError that redis-py would
            # retry with backoff, and wait_until does the polling.
            retry=Retry(NoBackoff(), 0),
            **{**self.tls, **kw},
        )

    @contextlib.contextmanager
    def connect(self, i: int, **kw: Any) -> Iterator[redis.Redis]:
        client = self.client(i, **kw)
        try:
            yield client
        finally:
            client.close()

    # -- state

    def role(self, i: int) -> str | None:
        """'master' / 'slave' from ROLE, None if the node does not answer."""
        try:
            with self.connect(i) as c:
                reply = c.execute_command("ROLE")
        except (redis.RedisError, OSError):
            return None
        return str(reply[0])

    def sentinel_master(self, i: int) -> str | None:
        """The master host pod i's Sentinel reports, None if it does not answer."""
        try:
            with self.connect(i, sentinel=True) as c:
                reply = c.execute_command("SENTINEL", "get-master-addr-by-name", self.spec.master_name)
        except (redis.RedisError, OSError):
            return None
        return str(reply[0]) if reply else None

    def sentinel_state(self, i: int) -> dict[str, Any]:
        """SENTINEL MASTER <name> as pod i's Sentinel sees it (num-slaves, quorum, flags ...)."""
        with self.connect(i, sentinel=True) as c:
            state = c.sentinel_master(self.spec.master_name)
        assert isinstance(state, dict), state
        return state

    def current_master(self) -> int | None:
        """The ordinal of the master the Sentinels name (the first that answers), None if none does."""
        for i in range(self.spec.replicas):
            if self.sim.is_running(i):
                host = self.sentinel_master(i)
                if host:
                    return self.ordinal_of(host)
        return None

    def masters(self, ordinals: list[int] | None = None) -> list[int]:
        return [
            i for i in (ordinals if ordinals is not None else range(self.spec.replicas)) if self.role(i) == "master"
        ]

    def replication(self, i: int) -> dict[str, Any]:
        with self.connect(i) as c:
            info: dict[str, Any] = c.info("replication")
        return info

    def linked_replicas(self, i: int) -> int:
        """Replicas connected to master i and in `online` state."""
        info = self.replication(i)
        return sum(
            1 for k, v in info.items() if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        self.sim.wait_ready(timeout=timeout)

    def wait_replication(self, master: int, replicas: int, timeout: float = 60.0) -> None:
        wait_until(
            f"{replicas} online replica(s) of pod {master}",
            lambda: self.linked_replicas(master) >= replicas,
            timeout=timeout,
            interval=0.2,
            tolerate=NOT_YET,
        )

    def scale_to(self: RedisPods, replicas: int) -> RedisPods:
        """The ensemble with `replicas` pods, as the StatefulSet controller gets there: surplus pods
        stop highest first (gracefully), new ones start; the new config is in the ConfigMap for the
        next (re)start of each pod, which the caller does (rolling_restart)."""
        spec = self.spec.model_copy(update={"replicas": replicas})
        manifests, _ = render_for_sim(self.name, spec, self.password)
        assert manifests.config_map is not None
        self.sim.set_configmap(manifests.names.config_map, manifests.config_map)
        self.sim.scale(replicas, grace=None)
        return RedisPods(
            name=self.name, spec=spec, password=self.password, manifests=manifests, sim=self.sim, tls=self.tls
        )

    def logs(self) -> str:
        parts = []
        for i in range(self.spec.replicas):
            for c in (REDIS_CONTAINER, SENTINEL_CONTAINER):
                parts.append(f"--- {self.sim.pod_name(i)}/{c}\n{self.sim.log(i, c)[-3000:]}")
        return "\n".join(parts)


# The ensemble on podsim, as most tests run it.
RedisPods = RedisPodsOf[StatefulSetSim]


def render_for_sim(name: str, spec: RedisArgs, password: str | None) -> tuple[WorkloadManifests, dict[str, Any]]:
    """The manifests RedisEnsemble registers, plus the Secrets podsim needs, keyed by name."""
    render = RedisRender(name, spec)
    secrets: dict[str, Any] = {}
    if render.creates_secret():
        assert password is not None
        secrets[render.secret_name()] = render.secret(password)
    return render.manifests(), secrets


# What the exporter image runs (its ENTRYPOINT, which the sim does not have): Debian's build.
IMAGE_ENTRYPOINTS = {EXPORTER_CONTAINER: ["prometheus-redis-exporter"]}


def with_entrypoints(manifests: WorkloadManifests) -> WorkloadManifests:
    """The StatefulSet with a command for each container that relies on its image's ENTRYPOINT."""
    sts = copy.deepcopy(manifests.stateful_set)
    for container in sts["spec"]["template"]["spec"]["containers"]:
        if not container.get("command") and container["name"] in IMAGE_ENTRYPOINTS:
            container["command"] = IMAGE_ENTRYPOINTS[container["name"]]
    return dataclasses.replace(manifests, stateful_set=sts)


@contextlib.contextmanager
def redis_ensemble(
    network: PodNetwork,
    workdir: Path,
    name: str,
    spec: RedisArgs,
    password: str | None,
    *,
    extra_secrets: dict[str, dict[str, Any]] | None = None,
    client_tls: dict[str, Any] | None = None,
) -> Iterator[RedisPods]:
    """Start every pod at once (podManagementPolicy Parallel) and wait until all are Ready.
    `extra_secrets` are further Secrets by name (stringData), e.g. a TLS certificate."""
    manifests, secrets = render_for_sim(name, spec, password)
    secrets |= extra_secrets or {}
    manifests = with_entrypoints(manifests)
    assert manifests.config_map is not None
    namespace = spec.namespace if isinstance(spec.namespace, str) else "default"
    sim = StatefulSetSim(
        network,
        manifests.stateful_set,
        configmaps={manifests.names.config_map: manifests.config_map},
        secrets=secrets,
        workdir=workdir,
        namespace=namespace,
        cluster_domain=spec.cluster_domain,
    )
    pods = RedisPods(name=name, spec=spec, password=password, manifests=manifests, sim=sim, tls=client_tls or {})
    try:
        sim.start_all()
        pods.wait_ready()
        yield pods
    except BaseException:
        print(pods.logs())
        raise
    finally:
        sim.close()


class WriteLog(writelog.WriteLog):
    """What a ContinuousWriter saw (tests/support/writelog.py), checked against the final master."""

    def lost(self, pods: RedisPodsOf[Any]) -> list[str]:
        """Acknowledged keys the final master does not have."""
        master = pods.current_master()
        assert master is not None, "no master to check the writes against"
        keys = self.keys()
        with pods.connect(master) as client:
            values = client.mget(keys) if keys else []
        return [key for key, value in zip(keys, values, strict=True) if value is None]


class ContinuousWriter(writelog.ContinuousWriter[WriteLog]):
    """A client writing a new key every few milliseconds through whatever master the Sentinels
    name, as an application would: on any error it asks again and goes on with the next key."""

    transient = NOT_YET
    log_type = WriteLog

    def __init__(self, pods: RedisPodsOf[Any]) -> None:
        super().__init__()
        self.pods = pods
        self._client: redis.Redis | None = None

    def write(self, n: int) -> str:
        if self._client is None:
            master = self.pods.current_master()
            if master is None:
                raise redis.ConnectionError("no Sentinel names a master")
            self._client = self.pods.client(master)
        key = f"continuous:{n}"
        self._client.set(key, str(n))
        return key

    def reset(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None


@dataclass(frozen=True)
class SentinelEvent:
    """One event a Sentinel published (`+sdown`, `+odown`, `+switch-master` ...), stamped with the
    monotonic time the test read it."""

    at: float
    sentinel: int
    channel: str
    data: str


class SentinelEvents:
    """What every Sentinel publishes while the `with` block runs, read from the test host on each
    Sentinel's pub/sub (`PSUBSCRIBE *`). A Sentinel that goes away is subscribed again once it
    answers: a rolling restart loses only the restarting Sentinel's own events meanwhile, so a
    failover the others agree on (a quorum sees +sdown; the leader publishes +odown) is seen."""

    def __init__(self, pods: RedisPodsOf[Any]) -> None:
        self.pods = pods
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._events: list[SentinelEvent] = []
        self._subscribed: set[int] = set()
        self._threads = [
            threading.Thread(target=self._follow, args=(i,), daemon=True) for i in range(pods.spec.replicas)
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        wait_until("every Sentinel subscribed", lambda: len(self._subscribed) == len(self._threads), timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def of(self, channel: str) -> list[SentinelEvent]:
        with self._lock:
            return [e for e in self._events if e.channel == channel]

    def _follow(self, i: int) -> None:
        while not self._stop.is_set():
            try:
                with self.pods.connect(i, sentinel=True) as client:
                    pubsub = client.pubsub(ignore_subscribe_messages=True)
                    try:
                        pubsub.psubscribe("*")
                        self._subscribed.add(i)
                        while not self._stop.is_set():
                            message = pubsub.get_message(timeout=0.5)
                            if message:
                                event = SentinelEvent(time.monotonic(), i, message["channel"], message["data"])
                                with self._lock:
                                    self._events.append(event)
                    finally:
                        pubsub.close()
            except NOT_YET:
                time.sleep(0.2)


def real_redis_pods(
    cluster: LocalCluster, namespace: str, name: str, config: dict[str, Any], password: str
) -> RedisPodsOf[StatefulSetPods]:
    """redis-py clients, from the test host, of the real pods of the ensemble `name` that a stack
    deployed with `config` (its RedisArgs keys) and `password`."""
    spec = RedisArgs.model_validate({**config, "namespace": namespace, "password": pulumi.Output.secret("")})
    manifests, _ = render_for_sim(name, spec, password)
    real = StatefulSetPods(cluster, namespace, name, WorkloadNames.of(name).headless_service, spec.cluster_domain)
    return RedisPodsOf(name=name, spec=spec, password=password, manifests=manifests, sim=real)
