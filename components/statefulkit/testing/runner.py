"""Run a program under mocks, as `pulumi preview` or `pulumi up` would run it, and record it.

The program runs inside a root stack exactly as the Python language host runs one, so
`pulumi.export` lands in the stack's outputs. A run is never silent: an error raised by the program
or inside any `apply` fails it, so does an error the program logged, and so does an Output the
program returned (the ones a test asks for) that never resolved to a known value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import settings
from pulumi.runtime.sync_await import _sync_await

from statefulkit.testing.monitor import RecordingMonitor
from statefulkit.testing.provider import KubernetesMocks
from statefulkit.testing.recording import Deployment
from statefulkit.testing.values import Secret, contains_secret, from_struct

Mode = Literal["preview", "update"]
MODES: tuple[Mode, Mode] = ("preview", "update")
# A program registers resources; it may return a dict of the Outputs a test asks for (or a component).
Program = Callable[[], object]


class UnresolvedOutputError(AssertionError):
    """An Output the program returned never became known: an `apply` on it would never have run."""


class ProgramLoggedError(AssertionError):
    """The program logged an error (`pulumi.log.error`), which fails a real deployment."""


class ExpectedFailureError(AssertionError):
    """`run_failing` ran a program that completed."""


class _LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


def config_value(value: Any) -> str:
    """How the engine hands a config value to a program: structured values as JSON, scalars as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def program_at(directory: Path | str) -> Callable[[], None]:
    """A program that runs `<directory>/__main__.py` as the Python language host does."""
    path = Path(directory)
    if not (path / "__main__.py").is_file():
        raise FileNotFoundError(f"program_at: {path} has no __main__.py (a Pulumi Python program directory)")

    def main() -> None:
        runpy.run_path(str(path), run_name="__main__")

    return main


async def _resolve(value: Any) -> tuple[bool, Any]:
    """(known, value) of an Output or plain value, with secrets marked."""
    output = pulumi.Output.from_input(value)
    known, secret, resolved = await output.is_known(), await output.is_secret(), await output.future()
    if not known:
        return False, None
    return True, Secret(resolved) if secret and not contains_secret(resolved) else resolved


async def _settle() -> None:
    """Wait until every RPC and Output the program started has finished, failed or not.

    Left to itself, the SDK looks for outstanding RPCs before any task the program scheduled has
    started, so it finds none; it then waits for the Outputs, raises at the first failed one and
    stops the callback server that serves resource hooks (and transforms). A hook's registration
    may at that moment still be starting that server (a grpc.aio server), and grpc crashes the
    interpreter (SIGSEGV) when a server is stopped during its start. Settled first, the run ends
    with the program's own error and nothing left in flight, and no task of a failed run stays on
    the event loop to run during a later one.
    """
    while True:
        await asyncio.sleep(0)  # tasks just scheduled start, and add their RPCs and Outputs
        with settings.SETTINGS.lock:
            outputs = list(settings.SETTINGS.outputs)
        pending = [task for task in (*settings.SETTINGS.rpc_manager.rpcs, *outputs) if not task.done()]
        if not pending:
            return
        await asyncio.wait(pending)


def run(
    program: Program,
    *,
    preview: bool,
    mocks: pulumi.runtime.Mocks | None = None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    project: str = "project",
    stack: str = "test",
    check: bool = True,
) -> Deployment:
    """Run `program` under mocks (`KubernetesMocks` unless given) and return what it registered.

    `program` may return a dict of Outputs (or values): each must resolve, and lands in
    `Deployment.outputs`. `config` and `secrets` are the stack's config (keys without a namespace
    get the project's; `secrets` are marked secret, as `pulumi config set --secret` does).
    With `check=False` a program error is returned in `Deployment.error` instead of raised.
    """
    if not callable(program):
        raise TypeError(f"run: program must be a callable (a function that registers resources), got {program!r}")
    monitor = RecordingMonitor(mocks if mocks is not None else KubernetesMocks())
    log = _LogRecorder()
    logger = logging.Logger("statefulkit.testing.engine")
    logger.addHandler(log)
    values = {_full_key(project, k): config_value(v) for k, v in {**(config or {}), **(secrets or {})}.items()}
    pulumi.runtime.set_all_config(values, [_full_key(project, k) for k in secrets or {}])
    returned: dict[str, tuple[bool, Any]] = {}

    async def main() -> None:
        try:
            result = program()
            if result is None or isinstance(result, pulumi.Resource):
                return
            if not isinstance(result, Mapping):  # a lone Output would go unchecked: refuse it
                raise TypeError(
                    f"run: the program returned {type(result).__name__}; return a dict of the Outputs to resolve, "
                    "a resource, or None"
                )
            for key, value in result.items():
                returned[key] = await _resolve(value)
        finally:
            await _settle()

    error: BaseException | None = None
    try:
        # set_mocks would register (and at once close) a root stack of its own unless one exists;
        # the placeholder stops it, so the stack is the one run_in_stack creates, runs and closes.
        settings.ROOT.set(cast(Any, _NO_STACK_YET))
        sdk_mocks.set_mocks(
            monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=logger
        )
        settings.ROOT.set(None)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        try:
            _sync_await(pulumi.runtime.run_in_stack(main))
        except Exception as exc:
            if check:
                raise
            error = exc
    finally:
        settings.ROOT.set(None)
        pulumi.runtime.set_all_config({}, [])
    deployment = _deployment(monitor, log.records, preview=preview, returned=returned, error=error)
    if check:
        _check(deployment, returned)
    return deployment


_NO_STACK_YET = object()


def _deployment(
    monitor: RecordingMonitor,
    logs: list[tuple[str, str]],
    *,
    preview: bool,
    returned: dict[str, tuple[bool, Any]],
    error: BaseException | None,
) -> Deployment:
    stack_urns = [urn for urn in monitor.outputs_of if "::pulumi:pulumi:Stack::" in urn]
    exported = monitor.outputs_of[stack_urns[0]] if stack_urns else {}
    return Deployment(
        resources=monitor.registered,
        preview=preview,
        outputs={key: value for key, (known, value) in returned.items() if known},
        stack_outputs=from_struct(json_format.ParseDict(exported, struct_pb2.Struct())),
        stack_outputs_wire=exported,
        outputs_registered=list(monitor.outputs_of),
        logs=logs,
        error=error,
    )


def _check(deployment: Deployment, returned: dict[str, tuple[bool, Any]]) -> None:
    unresolved = sorted(key for key, (known, _) in returned.items() if not known)
    if unresolved:
        mode = "preview" if deployment.preview else "update"
        raise UnresolvedOutputError(
            f"outputs {unresolved} never resolved in {mode}: an apply on them would not have run "
            "(in a preview, a value only the provider knows after creating is unknown)"
        )
    errors = [message for severity, message in deployment.logs if severity == "error"]
    if errors:
        raise ProgramLoggedError(f"the program logged {len(errors)} error(s): {errors}")


def run_failing(program: Program, *, preview: bool, **options: Any) -> Deployment:
    """Run a program expected to raise; the error is in `.error`, what it registered first in `.resources`."""
    deployment = run(program, preview=preview, check=False, **options)
    if deployment.error is None:
        raise ExpectedFailureError("the program was expected to raise, but it completed")
    return deployment
