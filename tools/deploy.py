"""`make up` / `make down`: the project's program through the real Pulumi engine.

    python -m tools.deploy up|down|preview|backup [--stack dev]

backup: a backup of every ensemble of the stack that backs up, now (tools/backup_now.py).

Cluster: $KUBECONFIG when set, else the local cluster (tools/cluster/up, started if needed) with
         a real node (STATEFULKIT_REAL_NODES, default 1; needs root) and the images the dev stack
         runs there (tools/images/build, from Debian's packages).
Engine:  the CLI and kubernetes provider built by tools/toolchain/build, the program run inline
         (tools/engine.py); a user with a normal Pulumi install runs `pulumi up --stack dev`.
State:   a file backend in the repo's ignored state/ directory, unless PULUMI_BACKEND_URL is set.
Secrets: the passphrase provider. The dev stack's passphrase is public (`statefulkit-dev`, its
         stack file carries an encrypted dev-only Redis password); staging and prod need yours in
         PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) and their own password.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools import backup_now, engine

DEV_STACK = "dev"
DEV_PASSPHRASE = "statefulkit-dev"  # noqa: S105 - the documented passphrase of the local dev stack


class DeployError(Exception):
    """A precondition the user must fix; the message says how."""


def passphrase_for(stack: str, environ: Mapping[str, str]) -> str | None:
    """The passphrase to give the engine, or None when the user's environment provides one."""
    if environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return None
    if stack == DEV_STACK:
        return DEV_PASSPHRASE
    raise DeployError(
        f"stack {stack}: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase "
        "of its secrets; only the dev stack has a documented one"
    )


def kubeconfig(environ: Mapping[str, str]) -> str:
    """The user's cluster ($KUBECONFIG), else the local one (started if needed), with its real
    node(s) and the Debian-built images on them."""
    if environ.get("KUBECONFIG"):
        return environ["KUBECONFIG"]
    print("[deploy] KUBECONFIG is not set: using the local cluster (tools/cluster/up)", file=sys.stderr)
    nodes = {"STATEFULKIT_REAL_NODES": environ.get("STATEFULKIT_REAL_NODES") or "1"}
    started = subprocess.run(
        [str(engine.ROOT / "tools/cluster/up")],
        stdout=subprocess.PIPE,
        text=True,
        env={**environ, **nodes},
        check=False,
    )
    if started.returncode != 0:
        raise DeployError("tools/cluster/up failed (its messages above say why)")
    if subprocess.run([str(engine.ROOT / "tools/images/build")], stdout=subprocess.DEVNULL, check=False).returncode:
        raise DeployError("tools/images/build failed (its messages above say why)")
    return started.stdout.split()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "preview", "backup"])
    parser.add_argument("--stack", default=DEV_STACK)
    parser.add_argument("--project", type=Path, default=engine.ROOT, help="project directory (default: this repo)")
    args = parser.parse_args(argv)

    def out(line: str) -> None:
        print(line, end="" if line.endswith("\n") else "\n", flush=True)

    try:
        passphrase = passphrase_for(args.stack, os.environ)
        backend = os.environ.get("PULUMI_BACKEND_URL") or f"file://{engine.ROOT / 'state'}"
        if backend.startswith("file://"):
            os.makedirs(backend.removeprefix("file://"), exist_ok=True)
        cluster = kubeconfig(os.environ)
        runner = engine.Engine.local(backend_url=backend, kubeconfig=cluster, passphrase=passphrase)
        stack = runner.stack(args.project, args.stack, out)
        if args.action == "backup":
            return _backup(stack, cluster, out)
        if args.action == "up":
            engine.up(stack, out)
        elif args.action == "preview":
            engine.preview(stack, out)
        else:
            engine.destroy(stack, out)  # with the program: its hooks drain each StatefulSet first
    except (DeployError, engine.EngineError) as error:
        print(f"[deploy] error: {error}", file=sys.stderr)
        return 1
    return 0


def _backup(stack: Any, cluster: str, out: engine.Print) -> int:
    outputs = {key: item.value for key, item in stack.outputs().items()}
    jobs = backup_now.backups_of(outputs)
    if not jobs:
        print(f"[backup] stack {stack.name} backs nothing up: no block has a backup", file=sys.stderr)
        return 1
    failed = 0
    for block, cron_job in jobs.items():
        try:
            snapshot = backup_now.run_now(cluster, str(outputs["namespace"]), cron_job, out)
            out(f"[backup] {block}: snapshot {snapshot} saved to {outputs.get(f'{block}_backup_repository')}")
        except backup_now.BackupError as error:
            print(f"[backup] {block}: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
