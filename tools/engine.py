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
import runpy
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pulumi.automation._stack as automation_stack
import yaml
from pulumi.automation._server import LanguageServer
from pulumi.errors import RunError
from pulumi.runtime.proto import language_pb2

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
    """The SDK's in-process language runtime, told to bail after a `RunError`.

    A `pulumi.RunError` is a message for the user, already logged by the runtime when it reaches
    the server. The language host (pulumi-language-python-exec) then exits with "bail", so the
    engine prints nothing more; the SDK's inline server instead also returns the text as the
    program's error, which the engine prints a second time as "an unhandled error occurred".
    """

    def __init__(self, program: Callable[[], None]) -> None:
        self.reported = False

        def run() -> None:
            try:
                program()
            except RunError:
                self.reported = True
                raise

        super().__init__(run)

    def Run(self, request: Any, context: Any) -> language_pb2.RunResponse:  # noqa: N802 (gRPC name)
        self.reported = False
        response: language_pb2.RunResponse = super().Run(request, context)  # type: ignore[no-untyped-call]
        if self.reported:
            response.bail = True
        return response


automation_stack.LanguageServer = _ReportingLanguageServer  # type: ignore[attr-defined, assignment]


def program_of(main: Path) -> Callable[[], None]:
    """The Pulumi program in `main` (a project's `__main__.py`), as an inline program: the file
    runs as `__main__` with its directory first on sys.path, as the language host runs it."""

    def program() -> None:
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

    def stack(self, project_dir: Path, stack: str, program: Path | None = None) -> auto.Stack:
        """Create or select `stack` of the project in `project_dir`; its program is `program`
        (default: the project's `__main__.py`)."""
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
            program=program_of(program or project_dir / "__main__.py"),
            opts=options,
        )


def project_settings(project_dir: Path) -> dict[str, Any]:
    """The project's Pulumi.yaml."""
    data: dict[str, Any] = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return data


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


def recover_interrupted(stack: auto.Stack, out: Print) -> None:
    """An engine that was killed mid-run leaves its in-flight operations pending in the state, and
    every later run refuses to start. A refresh reads the real objects back and drops the pending
    creates; the next `up` then creates what is missing and adopts what was already created
    (the provider's create is a server-side apply, so an object that exists is updated, not doubled)."""
    pending = (stack.export_stack().deployment or {}).get("pending_operations") or []
    if not pending:
        return
    ops = ", ".join(f"{p.get('type')} {str(p['resource'].get('urn', '')).rsplit('::', 1)[-1]}" for p in pending)
    out(f"[engine] the previous run was interrupted ({ops}): refreshing the state from the cluster")
    _run("refresh", stack.refresh, out, clear_pending_creates=True)


def up(stack: auto.Stack, out: Print) -> auto.UpResult:
    recover_interrupted(stack, out)
    result: auto.UpResult = _run("up", stack.up, out)
    counts = {str(kind): n for kind, n in (result.summary.resource_changes or {}).items()}
    if set(counts) <= {"same"}:
        out(f"[engine] no changes: {counts.get('same', 0)} resources unchanged")
    return result


def preview(stack: auto.Stack, out: Print) -> auto.PreviewResult:
    result: auto.PreviewResult = _run("preview", stack.preview, out)
    return result


def destroy(stack: auto.Stack, out: Print) -> auto.DestroyResult:
    recover_interrupted(stack, out)
    result: auto.DestroyResult = _run("destroy", stack.destroy, out)
    return result
