"""statefulkit.hooks: which provider's cluster each StatefulSet's hook acts on, and what a delete
means there (a replacement's growth, or a teardown whatever size the program declares).

The cluster is a fake with the calls statefulkit.kubeapi.ClusterClient makes; the real cluster side runs
in tests/engine/test_engine_providers.py and tests/engine/test_engine_day2.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from statefulkit import StatefulWorkload, hooks, kubeapi
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.delete_plan import IMMUTABLE_FIELDS, ClusterAccess, Growth
from statefulkit.render.workload import render_workload
from statefulkit.testing import MockRunner

URN = "urn:pulumi:test::project::statefulkit:index:StatefulWorkload$kubernetes:apps/v1:StatefulSet::zk"
EAST = ClusterAccess("east-kubeconfig", None, None, "provider east")
WEST = ClusterAccess("west-kubeconfig", None, None, "provider west")
STATE_UID = "uid-in-state"


def workload(name: str, size: str = "1Gi") -> dict[str, Any]:
    return {
        "image": "busybox:1.37",
        "replicas": 3,
        "volume_claims": [{"name": "data", "size": size, "mount_path": "/data"}],
    }


def spec_of(size: str) -> dict[str, Any]:
    args = StatefulWorkloadArgs.model_validate(workload("zk", size))
    rendered: dict[str, Any] = render_workload("zk", args).stateful_set["spec"]
    return rendered


# ---- which cluster: the provider the SDK resolved for each StatefulSet


class Region(pulumi.ComponentResource):
    """A user's component that hands its children a provider through `providers=`."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("tests:index:Region", name, None, opts)
        self.store = StatefulWorkload(f"{name}-store", workload(name), pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


def test_each_statefulset_is_declared_with_its_own_providers_cluster(pulumi_mocks: MockRunner) -> None:
    def program() -> dict[str, Any]:
        east = k8s.Provider("east", kubeconfig=pulumi.Output.secret("apiVersion: v1 # east"), context="east-admin")
        west = k8s.Provider("west", kubeconfig="/clusters/west/kubeconfig", cluster="west-cluster")
        explicit = StatefulWorkload("explicit", workload("explicit"), pulumi.ResourceOptions(provider=east))
        inherited = Region("inherited", pulumi.ResourceOptions(providers=[west]))
        default = StatefulWorkload("default", workload("default"))
        declared = hooks._program_run().declared
        return {
            "accesses": [asyncio.ensure_future(a.resolve()) for d in declared if (a := d.access())],
            "urns": [asyncio.ensure_future(d.urn()) for d in declared],
            "statefulsets": pulumi.Output.all(
                explicit.stateful_set.urn, inherited.store.stateful_set.urn, default.stateful_set.urn
            ),
            "providers": pulumi.Output.all(east.urn, west.urn),
        }

    d = pulumi_mocks.run(program)
    east_urn, west_urn = d.outputs["providers"]
    # The URN each hook will be called with is the one declared (computed before the engine answers).
    assert d.outputs["urns"] == d.outputs["statefulsets"]
    assert d.outputs["accesses"] == [
        ClusterAccess("apiVersion: v1 # east", "east-admin", None, f"provider {east_urn}"),
        ClusterAccess("/clusters/west/kubeconfig", None, "west-cluster", f"provider {west_urn}"),
        ClusterAccess(None, None, None, hooks.DEFAULT_PROVIDER),
    ]


def test_the_default_provider_is_read_from_the_stack_config(pulumi_mocks: MockRunner) -> None:
    def program() -> dict[str, Any]:
        StatefulWorkload("zk", workload("zk"))
        (declared,) = hooks._program_run().declared
        access = declared.access()
        return {"access": asyncio.ensure_future(access.resolve()) if access else None}

    config = {"kubernetes:kubeconfig": "/somewhere/kubeconfig", "kubernetes:context": "ops"}
    d = pulumi_mocks.run(program, config=config)
    assert d.outputs["access"] == ClusterAccess("/somewhere/kubeconfig", "ops", None, hooks.DEFAULT_PROVIDER)


def test_without_the_delete_hook_only_the_after_create_hook_is_bound(pulumi_mocks: MockRunner) -> None:
    def program() -> None:
        StatefulWorkload("on", workload("on"))
        StatefulWorkload("off", {**workload("off"), "delete_hook": False})

    d = pulumi_mocks.run(program)
    options = {r.name: r for r in d.select(kind="StatefulSet")}
    assert options["on"].hooks == {"before_delete": [hooks.BEFORE_DELETE]}
    assert options["off"].hooks == {"after_create": [hooks.AFTER_CREATE]}


# ---- what a delete means, on a fake cluster


class FakeCluster:
    def __init__(self, access: ClusterAccess, live: dict[str, Any] | None) -> None:
        self.access = access
        self.live = live
        self.calls: list[str] = []

    def statefulset(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"read {namespace}/{name}")
        return self.live

    def grow_claims(self, namespace: str, name: str, growth: Growth, *, dry_run: bool) -> None:
        self.calls.append(f"grow {growth.sizes} dry_run={dry_run}")

    def orphan_pods(self, namespace: str, name: str) -> None:
        self.calls.append("orphan")

    def drain(self, namespace: str, name: str, live: dict[str, Any]) -> None:
        self.calls.append("drain")


def live(size: str, uid: str = STATE_UID) -> dict[str, Any]:
    return {"metadata": {"uid": uid}, "spec": spec_of(size)}


@pytest.fixture
def clusters(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeCluster]:
    """Fake clusters by their provider's `source`; connecting to an unknown one fails as a real one does."""
    fakes: dict[str, FakeCluster] = {}

    def connect(cls: type, access: ClusterAccess) -> FakeCluster:
        if access.source not in fakes:
            raise kubeapi.ClusterUnreachableError(f"{access.source}: Invalid kube-config file. No configuration found.")
        return fakes[access.source]

    monkeypatch.setattr(kubeapi.ClusterClient, "connect", classmethod(connect))
    return fakes


def run_in_loop(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # A loop of its own, never made current: asyncio.run would leave the main thread without one,
    # and the Pulumi runtime of later tests asks for it.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(make())
    finally:
        loop.close()
        hooks._current.clear()


class Declared(hooks.Declared):
    """A declared StatefulSet as the hook sees it, without a program: its URN is URN."""

    def __init__(self, size: str, answered: asyncio.Future[bool], access: ClusterAccess | None) -> None:
        self.size, self.answered, self.settings = size, answered, access

    async def urn(self) -> str:
        return URN

    async def desired(self) -> dict[str, Any]:
        return {key: spec_of(self.size).get(key) for key in IMMUTABLE_FIELDS}

    def access(self) -> hooks.ProviderAccess | None:
        return hooks.ProviderAccess(self.settings.source, self.settings.kubeconfig) if self.settings else None


def delete(
    *, declared_size: str | None, access: ClusterAccess | None = EAST, replacing: bool = False, urn: str = URN
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The before-delete hook of the StatefulSet `URN` (declared with `declared_size`, or not declared)."""

    async def scenario() -> None:
        run = hooks.ProgramRun(pulumi.runtime.settings.SETTINGS.monitor)
        if declared_size is not None:
            answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            if not replacing:
                answered.set_result(True)
            run.declared.append(Declared(declared_size, answered, access))
        hooks._current[:] = [run]
        old = {"metadata": {"uid": STATE_UID}}
        args = pulumi.ResourceHookArgs(urn=urn, id="ns/zk", name="zk", type=hooks.STATEFULSET, old_outputs=old)
        await hooks._before_delete(args)

    return scenario


def test_a_replacement_that_only_grows_the_claims_grows_them_and_keeps_the_pods(clusters: dict[str, Any]) -> None:
    east = clusters["provider east"] = FakeCluster(EAST, live("1Gi"))
    run_in_loop(delete(declared_size="2Gi", replacing=True))
    assert east.calls == ["read ns/zk", "grow {'data': ('1Gi', '2Gi')} dry_run=False", "orphan"]


def test_a_destroy_drains_whatever_size_the_program_declares(clusters: dict[str, Any]) -> None:
    """`destroy --run-program` after a refused shrink: the program says 1Gi, the cluster has 2Gi."""
    east = clusters["provider east"] = FakeCluster(EAST, live("2Gi"))
    run_in_loop(delete(declared_size="1Gi", replacing=False))
    assert east.calls == ["read ns/zk", "drain"]


def test_a_replacement_that_shrinks_is_refused(clusters: dict[str, Any]) -> None:
    east = clusters["provider east"] = FakeCluster(EAST, live("2Gi"))
    with pytest.raises(ValueError, match=r"data: 2Gi -> 1Gi \(StatefulSet ns/zk\): a claim can only grow"):
        run_in_loop(delete(declared_size="1Gi", replacing=True))
    assert east.calls == ["read ns/zk"]


def test_the_hook_acts_only_on_its_own_providers_cluster(clusters: dict[str, Any]) -> None:
    west = clusters["provider west"] = FakeCluster(WEST, live("1Gi"))
    east = clusters["provider east"] = FakeCluster(EAST, live("1Gi"))
    run_in_loop(delete(declared_size="1Gi", access=WEST))
    assert west.calls == ["read ns/zk", "drain"] and east.calls == []


def test_an_unreachable_cluster_is_refused_naming_the_resource_and_the_provider(clusters: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError) as refused:
        run_in_loop(delete(declared_size="1Gi", access=WEST))
    message = str(refused.value)
    assert message.startswith(f"StatefulSet ns/zk ({URN}): statefulkit's hook cannot reach the cluster")
    assert "provider west: Invalid kube-config file" in message and "Nothing was changed" in message


def test_another_object_of_the_same_name_is_refused(clusters: dict[str, Any]) -> None:
    clusters["provider east"] = FakeCluster(EAST, live("1Gi", uid="someone-elses"))
    with pytest.raises(RuntimeError, match="has uid someone-elses, but Pulumi's state has uid-in-state"):
        run_in_loop(delete(declared_size="1Gi"))


def test_a_provider_that_does_not_say_how_it_connects_is_refused(clusters: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError) as refused:
        run_in_loop(delete(declared_size="1Gi", access=None))
    assert f"StatefulSet ns/zk ({URN}): its kubernetes provider was not created" in str(refused.value)
    assert "delete_hook=False" in str(refused.value)


def test_a_statefulset_gone_from_its_cluster_is_left_to_the_provider(clusters: dict[str, Any]) -> None:
    east = clusters["provider east"] = FakeCluster(EAST, None)
    run_in_loop(delete(declared_size="1Gi"))
    assert east.calls == ["read ns/zk"]


def test_a_workload_removed_from_the_program_is_drained_where_it_is(clusters: dict[str, Any]) -> None:
    """Not declared: the hook looks in the clusters the program knows (here the default one)."""
    default = ClusterAccess(None, None, None, hooks.DEFAULT_PROVIDER)
    here = clusters[hooks.DEFAULT_PROVIDER] = FakeCluster(default, live("1Gi"))
    run_in_loop(delete(declared_size=None))
    assert here.calls == ["read ns/zk", "drain"]


def test_a_removed_workload_found_in_no_known_cluster_is_refused(clusters: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError) as refused:
        run_in_loop(delete(declared_size=None))
    message = str(refused.value)
    assert f"StatefulSet ns/zk ({URN}) is no longer in the program" in message
    assert "pulumi refresh" in message and "Nothing was changed" in message


def test_hooks_of_parallel_deletes_run_at_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine deletes StatefulSets in parallel; the SDK awaits each hook on the program's one
    event loop. Each read here blocks until the other has started too, so hooks that blocked the
    loop (drained one StatefulSet at a time) would break the barrier instead."""
    both_started = threading.Barrier(2, timeout=10)
    looked_up: list[str] = []

    class Cluster(FakeCluster):
        def statefulset(self, namespace: str, name: str) -> None:
            both_started.wait()
            looked_up.append(f"{namespace}/{name}")  # then gone: nothing to drain

    monkeypatch.setattr(kubeapi.ClusterClient, "connect", classmethod(lambda cls, access: Cluster(access, None)))

    async def both() -> None:
        first, second = delete(declared_size="1Gi"), delete(declared_size="1Gi")
        await asyncio.gather(first(), second())

    run_in_loop(both)
    assert looked_up == ["ns/zk", "ns/zk"]


# ---- the client for a provider's kubeconfig


def kubeconfig(server: str, context: str = "admin") -> str:
    return f"""apiVersion: v1
kind: Config
current-context: {context}
clusters:
- {{name: one, cluster: {{server: "{server}"}}}}
- {{name: two, cluster: {{server: "https://two.example:6443"}}}}
contexts:
- {{name: {context}, context: {{cluster: one, user: admin}}}}
users:
- {{name: admin, user: {{token: t0ken}}}}
"""


@pytest.fixture
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield tmp_path


def test_a_kubeconfig_given_as_content_or_as_a_path_reaches_that_cluster(no_kubeconfig: Path) -> None:
    path = no_kubeconfig / "east"
    path.write_text(kubeconfig("https://east.example:6443"))
    for given in (kubeconfig("https://east.example:6443"), str(path)):
        api = kubeapi.api_client(ClusterAccess(given, None, None, "provider east"))
        assert api.configuration.host == "https://east.example:6443"


def test_the_providers_cluster_option_points_the_context_at_that_cluster(no_kubeconfig: Path) -> None:
    api = kubeapi.api_client(ClusterAccess(kubeconfig("https://one.example:6443"), None, "two", "provider p"))
    assert api.configuration.host == "https://two.example:6443"


def test_no_kubeconfig_falls_back_to_the_environment_as_the_provider_does(no_kubeconfig: Path) -> None:
    with pytest.raises(kubeapi.ClusterUnreachableError, match="the default kubernetes provider"):
        kubeapi.api_client(ClusterAccess(None, None, None, hooks.DEFAULT_PROVIDER))
    (no_kubeconfig / "nothing-here").write_text(kubeconfig("https://env.example:6443"))
    api = kubeapi.api_client(ClusterAccess(None, None, None, hooks.DEFAULT_PROVIDER))
    assert api.configuration.host == "https://env.example:6443"
