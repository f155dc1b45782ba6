"""The real Pulumi engine, driven from this process: a project's program run inline.

`pulumi up` of a `runtime: python` project needs the Python language host, which cannot be built
on the project's machines. The Automation API does not: for an inline program the Pulumi SDK
serves the language runtime from this process and the CLI attaches to it (`--client`). The
project directory is still the workspace (its Pulumi.yaml, `stackConfigDir` and stack files), the
program is the project's own `__main__.py`, and the engine, the kubernetes provider and the state
are exactly those `pulumi up` would use.
"""

from __future__ import annotations

import json
import os
import runpy
import shlex
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pulumi.automation as auto
import pulumi.automation._stack as automation_stack
from pulumi.automation._server import LanguageServer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from tools.project import project_settings

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "tools" / "toolchain" / "build"
ENGINE_TOOLS = ("pulumi", "pulumi-resource-kubernetes")

Print = Callable[[str], None]


def parse_exports(text: str) -> dict[str, str]:
    """The `export KEY=VALUE` lines of a toolchain env file (tools/toolchain/build --print-env)."""
    exports = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = " ".join(shlex.split(value))
    return exports


def toolchain_env(tools: tuple[str, ...] = ENGINE_TOOLS) -> dict[str, str]:
    """Build (first time) or verify the tools, and return their environment."""
    built = subprocess.run(
        [str(BUILD), "--only", ",".join(tools), "--strict", "--print-env"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"tools/toolchain/build --only {','.join(tools)} failed (its log names the step)")
    return parse_exports(built.stdout)


class _ReportingLanguageServer(LanguageServer):
    """The SDK's in-process language runtime, made to report a program's failure once.

    The SDK's server logs every error of the program to the engine (a `pulumi.RunError` as its
    message, anything else with its traceback) and then also returns the text as the program's
    error, which the engine prints a second time as "an unhandled error occurred". The language
    host (pulumi-language-python-exec) instead logs once and tells the engine to bail.
    """

    def Run(self, request: Any, context: Any) -> language_pb2.RunResponse:  # noqa: N802 (gRPC name)
        response: language_pb2.RunResponse = super().Run(request, context)  # type: ignore[no-untyped-call]
        if response.error:  # already logged
            response.bail = True
        return response


automation_stack.LanguageServer = _ReportingLanguageServer  # type: ignore[attr-defined]


def program_of(main: Path, environment: Mapping[str, str]) -> Callable[[], None]:
    """The Pulumi program in `main` (a project's `__main__.py`), as an inline program: the file
    runs as `__main__` with its directory first on sys.path, as the language host runs it, and
    with `environment` in its process environment, as the CLI would hand it to the language host
    (the components' resource hooks reach the cluster through $KUBECONFIG, as the provider does)."""

    def program() -> None:
        os.environ.update(environment)
        directory = str(main.parent)
        if sys.path[0] != directory:
            sys.path.insert(0, directory)
        runpy.run_path(str(main), run_name="__main__")

    return program


@dataclass(frozen=True)
class Engine:
    """Where the engine runs: the toolchain's CLI and plugins, the state backend, the cluster."""

    env: Mapping[str, str]  # given to every CLI call (and so to the provider)

    @classmethod
    def local(cls, *, backend_url: str, kubeconfig: str, passphrase: str | None) -> Engine:
        tool_env = toolchain_env()
        env = {
            "PULUMI_HOME": tool_env["PULUMI_HOME"],
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "STATEFULKIT_PULUMI_BIN": tool_env["STATEFULKIT_PULUMI_BIN"],
            "PULUMI_BACKEND_URL": backend_url,
            "KUBECONFIG": kubeconfig,
        }
        if passphrase is not None:
            env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
        return cls(env)

    def stack(self, project_dir: Path, stack: str, out: Print = print) -> auto.Stack:
        """Create or select `stack` of the project in `project_dir`, whose program is its `__main__.py`.

        First, a file backend loses the attribute files a killed run left torn: the CLI could
        not even select a stack (see torn_attributes)."""
        root = _file_backend(self.env)
        for sidecar in torn_attributes(root) if root else []:
            out(f"[engine] removing {sidecar.name}, left torn by a killed run")
            sidecar.unlink()
        pulumi_root = Path(self.env["STATEFULKIT_PULUMI_BIN"]).parent  # PulumiCommand wants <root>/bin/pulumi
        options = auto.LocalWorkspaceOptions(
            work_dir=str(project_dir),
            pulumi_home=self.env["PULUMI_HOME"],
            env_vars=dict(self.env),
            pulumi_command=auto.PulumiCommand(root=str(pulumi_root)),
        )
        name = str(project_settings(project_dir)["name"])
        return auto.create_or_select_stack(
            stack_name=stack,
            project_name=name,
            program=program_of(project_dir / "__main__.py", {"KUBECONFIG": self.env["KUBECONFIG"]}),
            opts=options,
        )


def exported_state(stack: auto.Stack) -> dict[str, Any]:
    """`pulumi stack export`: the state as the backend stores it, secrets still encrypted (the
    SDK's own export_stack decrypts them)."""
    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    result = workspace.pulumi_command.run(
        ["stack", "export", "--stack", stack.name], workspace.work_dir, workspace.env_vars
    )
    state: dict[str, Any] = json.loads(result.stdout)
    return state


class EngineError(Exception):
    """The engine ended the operation with an error (its messages were already printed)."""


def _run(operation: str, call: Callable[..., Any], out: Print, **options: Any) -> Any:
    try:
        return call(on_output=out, on_error=out, color="never", **options)
    except auto.CommandError as error:
        raise EngineError(f"pulumi {operation} failed") from error


def _file_backend(env: Mapping[str, str]) -> Path | None:
    """The `.pulumi` directory of the state, when it is a file backend."""
    backend = env.get("PULUMI_BACKEND_URL", "")
    return Path(urlsplit(backend).path) / ".pulumi" if backend.startswith("file://") else None


def torn_attributes(root: Path) -> list[Path]:
    """Attribute sidecars (`<file>.attrs`) of a file backend that a killed run left empty or cut.

    The backend writes each state file atomically (a temporary file, then a rename) but its
    sidecar in place, so a kill can leave it torn, and every later command then fails with
    "failed to load checkpoint: EOF". A missing sidecar is read as "no attributes"."""
    torn = []
    for sidecar in root.rglob("*.attrs"):
        try:
            json.loads(sidecar.read_text())
        except ValueError:
            torn.append(sidecar)
    return torn


def stale_locks(root: Path, project: str, stack: str) -> list[Path]:
    """Lock files of a stack in a file backend, if every one was left by a process that is gone
    (it ran on this host and its pid is not alive). With a live lock, none: its run is going on."""
    stale = []
    for lock in (root / "locks").glob(f"*/{project}/{stack}/*.json"):
        owner = json.loads(lock.read_text())
        if owner.get("hostname") == socket.gethostname() and not _alive(int(owner.get("pid", 0))):
            stale.append(lock)
        else:
            return []
    return stale


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, killed but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def state_file(env: Mapping[str, str], project: str, stack: str) -> Path | None:
    """The stack's state file, when the state is in a file backend."""
    root = _file_backend(env)
    return root / "stacks" / project / f"{stack}.json" if root else None


def pending_operations(stack: auto.Stack) -> list[dict[str, Any]]:
    """The operations the stack's last run left in flight. A file backend's state file is read
    as it is (exporting it through the CLI costs 0.3 s on every run); others are exported."""
    path = state_file(stack.workspace.env_vars, stack.workspace.project_settings().name, stack.name)
    if path and path.exists():
        latest = json.loads(path.read_text())["checkpoint"].get("latest")
    else:
        latest = stack.export_stack().deployment
    return list((latest or {}).get("pending_operations") or [])


def recover_interrupted(stack: auto.Stack, out: Print) -> bool:
    """Make a stack whose last run was killed mid-way runnable again; True if creates were cut short.

    Such a run leaves the stack locked and its in-flight operations pending in the state, and
    every later run refuses to start. A lock whose process is gone is removed (`pulumi cancel`);
    a refresh then reads the real objects back and drops the pending creates. The objects those
    creates made exist without a state entry, owned by the dead run's server-side-apply field
    manager (random per resource, and kept only in the state), so the next `up` must take them over.
    """
    root = _file_backend(stack.workspace.env_vars)
    locks = stale_locks(root, stack.workspace.project_settings().name, stack.name) if root else []
    if locks:
        out(f"[engine] removing {len(locks)} lock(s) left by a run that no longer exists (pulumi cancel)")
        stack.cancel()
    pending = pending_operations(stack)
    if not pending:
        return False
    ops = ", ".join(f"{p.get('type')} {str(p['resource'].get('urn', '')).rsplit('::', 1)[-1]}" for p in pending)
    out(f"[engine] the previous run was interrupted ({ops}): refreshing the state from the cluster")
    _run("refresh", stack.refresh, out, clear_pending_creates=True)
    return any(p.get("type") == "creating" for p in pending)


def up(stack: auto.Stack, out: Print) -> dict[str, int]:
    """`pulumi up` of the stack's inline program, its output streamed to `out`; the changes it
    made by kind ("create", "update", "same", ...)."""
    env = {}
    if recover_interrupted(stack, out):
        # The provider's create applies to an existing object (an upsert); for this one run it may
        # take over the fields the interrupted run's manager holds (server-side apply with force).
        out("[engine] taking over the objects the interrupted run created (PULUMI_K8S_ENABLE_PATCH_FORCE=true)")
        env["PULUMI_K8S_ENABLE_PATCH_FORCE"] = "true"
    changes = _inline_up(stack, out, env)
    if set(changes) <= {"same"}:
        out(f"[engine] no changes: {changes.get('same', 0)} resources unchanged")
    return changes


def _inline_up(stack: auto.Stack, out: Print, env: Mapping[str, str]) -> dict[str, int]:
    """What `Stack.up` does for an inline program (serve the language runtime here, attach the
    CLI to it), without the `pulumi stack output` and `pulumi stack history` calls it makes after
    every run (0.6 s of a 1.6 s no-op): the changes come from the engine's own event log."""
    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace) and workspace.program is not None
    server = grpc.server(ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(_ReportingLanguageServer(workspace.program), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with tempfile.TemporaryDirectory(prefix="statefulkit-up-") as scratch:
        events = Path(scratch) / "events.jsonl"
        args = ["up", "--yes", "--skip-preview", "--color", "never", "--stack", stack.name]
        args += [f"--client=127.0.0.1:{port}", "--exec-kind", "inline", "--event-log", str(events)]
        try:
            # PULUMI_DEBUG_COMMANDS unhides --event-log (as Stack.up sets it).
            run_env = {"PULUMI_DEBUG_COMMANDS": "true", **workspace.env_vars, **env}
            workspace.pulumi_command.run(args, workspace.work_dir, run_env, out, out)
        except auto.CommandError as error:
            raise EngineError("pulumi up failed") from error
        finally:
            server.stop(0)
        summaries = [e["summaryEvent"] for e in map(json.loads, events.read_text().splitlines()) if "summaryEvent" in e]
    return {str(kind): int(n) for kind, n in (summaries[-1].get("resourceChanges") or {}).items()}


# How the API server refuses the provider's preview of a StatefulSet replacement: the provider
# dry-runs the replacement's create as an apply under the existing name (pulumi-kubernetes#3984).
STATEFULSET_REPLACEMENT_REFUSED = "updates to statefulset spec for fields other than"


def preview(stack: auto.Stack, out: Print) -> auto.PreviewResult:
    try:
        result: auto.PreviewResult = _run("preview", stack.preview, out)
    except EngineError as error:
        if STATEFULSET_REPLACEMENT_REFUSED in str(error.__cause__):
            out(
                "[engine] the kubernetes provider cannot preview the replacement of a StatefulSet (a larger "
                "storage size, or a new selector, serviceName, podManagementPolicy or claim template; "
                "pulumi/pulumi-kubernetes#3984). `make up` applies it without a preview: the before-delete "
                "hook grows the claims or drains the pods first, and refuses a smaller size before anything "
                "changes (as it did in this preview, had the size shrunk)"
            )
        raise
    return result


def destroy(stack: auto.Stack, out: Print, *, run_program: bool = True) -> auto.DestroyResult:
    """`pulumi destroy --run-program`: the StatefulSets' before-delete hooks live in the program
    (statefulkit.hooks). `run_program=False` is the plain `pulumi destroy`, which the engine refuses
    while any resource has a delete hook (workloads with delete_hook=False have none)."""
    recover_interrupted(stack, out)
    result: auto.DestroyResult = _run("destroy", stack.destroy, out, run_program=run_program)
    return result
