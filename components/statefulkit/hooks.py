"""The StatefulSets' resource hooks: on which cluster they act, and when a delete is a replacement.

A hook gets the resource's URN, ID and old state, not its provider, so each StatefulWorkload
declares its StatefulSet here as the program builds it: its URN, the provider the SDK resolved
for it (an explicit `provider=`, `providers=` inherited from a parent, or the default provider)
and what the program wants of it. The hook acts on that provider's cluster, so a kubeconfig that
is an Output of another resource, or two clusters in one program, work as the provider does;
where it cannot know the cluster it refuses, naming the resource and the fix.

A delete is the engine's replacement of a declared StatefulSet only while the engine has not yet
answered the StatefulSet's registration (a delete-before-replace answers after the create). In
a destroy (`pulumi destroy --run-program`) every registration is answered before any delete, so
a destroy is always a teardown, whatever size the program declares (statefulkit.render.delete_plan).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi

from statefulkit.render.delete_plan import IMMUTABLE_FIELDS, ClusterAccess, Growth, plan_delete

if TYPE_CHECKING:
    from statefulkit.kubeapi import ClusterClient

BEFORE_DELETE = "statefulkit-statefulset-before-delete"
AFTER_CREATE = "statefulkit-statefulset-after-create"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DEFAULT_PROVIDER = (
    "the default kubernetes provider (kubernetes:kubeconfig and kubernetes:context of the stack config, "
    "else $KUBECONFIG)"
)
# The SDK awaits each hook on the program's one event loop, so a hook that blocks it (API calls,
# waiting for pods) would make the engine's parallel deletes drain one StatefulSet at a time:
# the hook's work runs in threads of its own, which mostly sleep between polls.
_threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="statefulkit-hook")


@dataclass(frozen=True)
class ProviderAccess:
    """A kubernetes provider's connection settings, as the program gave them (values or Outputs)."""

    source: pulumi.Input[str]  # names the provider in messages
    kubeconfig: pulumi.Input[str | None]
    context: pulumi.Input[str | None] = None
    cluster: pulumi.Input[str | None] = None

    async def resolve(self) -> ClusterAccess | None:
        """The settings, or None while the kubeconfig is unknown (a preview before its source
        exists). In a preview a setting the program left unset is unknown too: read as unset."""
        kubeconfig = pulumi.Output.from_input(self.kubeconfig)
        if not await kubeconfig.is_known():
            return None
        context, cluster = [await _known(pulumi.Output.from_input(v)) for v in (self.context, self.cluster)]
        source = await _known(pulumi.Output.from_input(self.source))
        return ClusterAccess(await kubeconfig.future() or None, context or None, cluster or None, str(source))


class Declared:
    """A StatefulSet the program declares, and what the program wants of it. What a hook needs of
    it (its URN, its provider's settings, the declared immutable fields) is worked out only when a
    hook runs: most programs never delete a StatefulSet, and each Output made here would cost every
    workload of every run."""

    def __init__(self, statefulset: pulumi.CustomResource, *, name: str, parent: pulumi.Resource, spec: dict[str, Any]):
        self.statefulset, self.name, self.parent, self.spec = statefulset, name, parent, spec
        # Done once the engine answered its registration (a delete-before-replace answers after the create).
        self.answered: asyncio.Future[bool] = asyncio.ensure_future(statefulset.id.is_known())

    async def urn(self) -> str:
        return str(await pulumi.create_urn(self.name, STATEFULSET, parent=self.parent).future())

    async def desired(self) -> dict[str, Any]:
        """The declared spec's immutable fields, Outputs in them resolved."""
        resolved = await pulumi.Output.from_input({key: self.spec.get(key) for key in IMMUTABLE_FIELDS}).future()
        return dict(resolved or {})

    def access(self) -> ProviderAccess | None:
        """Its provider's settings (the one the SDK resolved for it); None: they are not known here."""
        return access_of(self.statefulset._provider)


@dataclass
class ProgramRun:
    """What one run of the program declared (an inline program may run many times in a process)."""

    monitor: object
    declared: list[Declared] = field(default_factory=list)
    hooks: dict[str, pulumi.ResourceHook] = field(default_factory=dict)


_current: list[ProgramRun] = []


def _program_run() -> ProgramRun:
    monitor = pulumi.runtime.settings.SETTINGS.monitor
    if not _current or _current[0].monitor is not monitor:
        _current[:] = [ProgramRun(monitor)]
    return _current[0]


def binding(*, delete_hook: bool) -> pulumi.ResourceHookBinding:
    """The hooks of a workload's StatefulSet: the before-delete hook, or (without it) the
    after-create hook that grows the claims a replacement finds."""
    run = _program_run()
    if delete_hook:
        if BEFORE_DELETE not in run.hooks:  # hooks are looked up by name: one per program run
            options = pulumi.ResourceHookOptions(on_dry_run=True)
            run.hooks[BEFORE_DELETE] = _registered(pulumi.ResourceHook(BEFORE_DELETE, _before_delete, options))
        return pulumi.ResourceHookBinding(before_delete=[run.hooks[BEFORE_DELETE]])
    if AFTER_CREATE not in run.hooks:
        run.hooks[AFTER_CREATE] = _registered(pulumi.ResourceHook(AFTER_CREATE, _after_create))
    return pulumi.ResourceHookBinding(after_create=[run.hooks[AFTER_CREATE]])


def _registered(hook: pulumi.ResourceHook) -> pulumi.ResourceHook:
    """Count the hook's registration among the program's outstanding RPCs from the start.

    The SDK's registration becomes an RPC only once its task runs, and starts the callback server
    on the way. When a program's apply fails before that, the SDK finds no outstanding RPC, raises
    the error and stops the callback server while the registration is still starting it, and grpc
    kills the interpreter (SIGSEGV) instead of reporting the user's error. Counted at once, the
    registration finishes before the SDK stops anything."""
    pulumi.runtime.settings.SETTINGS.rpc_manager.rpcs.append(hook._registered)
    return hook


def declare(statefulset: pulumi.CustomResource, *, name: str, parent: pulumi.Resource, spec: dict[str, Any]) -> None:
    """Record the StatefulSet `name` (a child of `parent`) and the spec the program declares for it."""
    _program_run().declared.append(Declared(statefulset, name=name, parent=parent, spec=spec))


def access_of(provider: pulumi.ProviderResource | None) -> ProviderAccess | None:
    """How `provider` (None: the default provider) reaches its cluster, as the provider was given it."""
    if provider is None:
        settings = pulumi.Config("kubernetes")
        return ProviderAccess(DEFAULT_PROVIDER, *(settings.get(key) for key in ("kubeconfig", "context", "cluster")))
    # A kubernetes Provider's inputs come back as its outputs (the engine keeps a provider's
    # configuration as its state), as Outputs on the instance; one made otherwise has none.
    given = provider.__dict__
    if "kubeconfig" not in given:
        return None
    source = provider.urn.apply(lambda urn: f"provider {urn}")
    return ProviderAccess(source, *(given.get(key) for key in ("kubeconfig", "context", "cluster")))


async def _declared(urn: str) -> Declared | None:
    for declared in list(_program_run().declared):
        if await declared.urn() == urn:
            return declared
    return None


async def _known(output: pulumi.Output[Any]) -> Any:
    """The value of `output`, or None while it is unknown (in a preview)."""
    return await output.future() if await output.is_known() else None


async def _in_thread(work: Callable[[], None]) -> None:
    # copy_context: the thread sees this program run's settings (dry run, stack config).
    await asyncio.get_running_loop().run_in_executor(_threads, contextvars.copy_context().run, work)


async def _before_delete(args: pulumi.ResourceHookArgs) -> None:
    where = f"StatefulSet {args.id} ({args.urn})"
    dry_run = pulumi.runtime.is_dry_run()
    declared = await _declared(args.urn)
    if declared is None:  # removed from the program: find the cluster that holds it
        known = [d.access() for d in _program_run().declared] + [access_of(None)]
        candidates = [a for a in dict.fromkeys([await p.resolve() for p in known if p is not None]) if a is not None]
        await _in_thread(functools.partial(_teardown_undeclared, args, where, candidates, dry_run))
        return
    settings = declared.access()
    access = await settings.resolve() if settings is not None else None
    if access is None:
        if settings is None:
            raise RuntimeError(
                f"{where}: its kubernetes provider was not created by this program's kubernetes.Provider "
                "(its kubeconfig is not known here), so statefulkit cannot reach its cluster to drain the pods "
                "or grow the claims. Create the provider with kubernetes.Provider(...) in this program, or set "
                "delete_hook=False on the workload (then the provider deletes it without draining). "
                "Nothing was changed."
            )
        pulumi.log.warn(f"{where}: its provider's kubeconfig is not known in this preview; the update checks it")
        return
    replacing = not declared.answered.done()
    desired = await declared.desired() if replacing else None
    await _in_thread(functools.partial(_grow_or_drain, args, where, access, desired, dry_run))


def _connect(access: ClusterAccess, where: str) -> ClusterClient:
    from statefulkit.kubeapi import ClusterClient, ClusterUnreachableError  # noqa: PLC0415 - the client only when a hook runs

    try:
        return ClusterClient.connect(access)
    except ClusterUnreachableError as error:
        raise RuntimeError(
            f"{where}: statefulkit's hook cannot reach the cluster of its provider ({error}). The hook acts on "
            "the cluster of the StatefulSet's own provider; make that provider's kubeconfig reachable from "
            "where `pulumi` runs. Nothing was changed."
        ) from error


def _live(cluster: ClusterClient, args: pulumi.ResourceHookArgs, where: str) -> dict[str, Any] | None:
    """The StatefulSet in `cluster`, None when it is gone; refuses one that is not the state's."""
    namespace, _, name = args.id.partition("/")
    live = cluster.statefulset(namespace, name)
    state_uid = ((args.old_outputs or {}).get("metadata") or {}).get("uid")
    if live is not None and state_uid and live["metadata"]["uid"] != state_uid:
        raise RuntimeError(
            f"{where} in the cluster of {cluster.access.source} has uid {live['metadata']['uid']}, but Pulumi's "
            f"state has {state_uid}: it is another object of the same name. Nothing was changed."
        )
    return live


def _grow_or_drain(
    args: pulumi.ResourceHookArgs, where: str, access: ClusterAccess, desired: dict[str, Any] | None, dry_run: bool
) -> None:
    cluster = _connect(access, where)
    live = _live(cluster, args, where)
    if live is None:
        pulumi.log.info(f"{where} is already gone from the cluster of {access.source}: nothing to drain")
        return
    namespace, _, name = args.id.partition("/")
    growth: Growth | None = plan_delete(live["spec"], desired, f"StatefulSet {namespace}/{name}")
    if growth is not None:
        cluster.grow_claims(namespace, name, growth, dry_run=dry_run)
        if not dry_run:
            cluster.orphan_pods(namespace, name)
    elif not dry_run:
        cluster.drain(namespace, name, live)


def _teardown_undeclared(
    args: pulumi.ResourceHookArgs, where: str, candidates: list[ClusterAccess], dry_run: bool
) -> None:
    """A StatefulSet no longer in the program: drain it in the one cluster that holds this object."""
    from statefulkit.kubeapi import ClusterUnreachableError  # noqa: PLC0415 - the client only when a hook runs

    if dry_run:
        return
    tried: list[str] = []
    for access in candidates:
        try:
            cluster = _connect(access, where)
            live = _live(cluster, args, where)
        except (RuntimeError, ClusterUnreachableError) as error:
            tried.append(f"{access.source}: {error}")
            continue
        if live is not None:
            namespace, _, name = args.id.partition("/")
            cluster.drain(namespace, name, live)
            return
        tried.append(f"{access.source}: not there")
    raise RuntimeError(
        f"{where} is no longer in the program, and statefulkit cannot tell which cluster holds it (tried: "
        f"{'; '.join(tried)}). Keep its workload in the program, with its provider, until the delete has "
        "run; or, if it no longer exists, `pulumi refresh` drops it from the state. Nothing was changed."
    )


async def _after_create(args: pulumi.ResourceHookArgs) -> None:
    """Without the delete hook a larger size replaces the StatefulSet: grow the claims it found."""
    declared = await _declared(args.urn)
    settings = declared.access() if declared is not None else None
    access = await settings.resolve() if settings is not None else None
    if declared is None or access is None:
        return  # created by another program's run, or a provider statefulkit cannot reach: nothing to grow
    await _in_thread(functools.partial(_grow_found_claims, args, access, await declared.desired()))


def _grow_found_claims(args: pulumi.ResourceHookArgs, access: ClusterAccess, desired: dict[str, Any]) -> None:
    where = f"StatefulSet {args.id} ({args.urn})"
    namespace, _, name = args.id.partition("/")
    cluster = _connect(access, where)
    templates = desired.get("volumeClaimTemplates") or []
    sizes = {t["metadata"]["name"]: ("(its claims)", t["spec"]["resources"]["requests"]["storage"]) for t in templates}
    plan, refused = cluster.claims_to_grow(namespace, name, Growth(sizes))
    cluster.request_sizes(namespace, plan)
    if refused:
        pulumi.log.warn(f"{where}: {refused}; those claims keep their size")
