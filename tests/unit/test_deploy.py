"""tools/deploy.py and tools/engine.py decisions that need no engine: passphrases, unset secrets,
the toolchain's env file, whether a lock's process still runs; and what the Makefile's targets run.

Both modules import the Automation API: each test imports them itself, so that collecting the unit
tests does not (tests/unit/test_layout.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_dev_stack_uses_its_documented_passphrase_and_a_user_passphrase_wins() -> None:
    from tools import deploy

    assert deploy.passphrase_for("dev", {}) == "statefulkit-dev"
    assert deploy.passphrase_for("dev", {"PULUMI_CONFIG_PASSPHRASE": "mine"}) is None
    assert deploy.passphrase_for("prod", {"PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/p"}) is None
    assert deploy.passphrase_for("prod", {"PULUMI_CONFIG_PASSPHRASE": ""}) is None  # an empty one is a choice


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_other_stacks_need_the_users_passphrase_before_anything_runs(stack: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")} | {"KUBECONFIG": "/nonexistent"}
    run = subprocess.run(
        [sys.executable, "-m", "tools.deploy", "up", "--stack", stack],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    # Its one word is the error: nothing was built or started (each would have said so first).
    (error,) = run.stderr.splitlines()
    assert error.startswith(f"[deploy] error: stack {stack}: set PULUMI_CONFIG_PASSPHRASE"), run.stderr
    assert run.stdout == ""


def test_toolchain_exports_are_read_as_the_shell_would() -> None:
    from tools import engine

    text = "\n".join(
        [
            "# comment",
            "export PULUMI_HOME=/cache/pulumi-home",
            "export STATEFULKIT_PULUMI_BIN='/cache/with space/bin'",
            'case ":$PATH:" in *) ;; esac',
            "export PULUMI_SKIP_UPDATE_CHECK=true",
        ]
    )
    assert engine.parse_exports(text) == {
        "PULUMI_HOME": "/cache/pulumi-home",
        "STATEFULKIT_PULUMI_BIN": "/cache/with space/bin",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def test_a_lock_is_stale_only_when_its_process_is_gone() -> None:
    from tools import engine

    assert engine._alive(os.getpid())
    child = subprocess.Popen(["sleep", "30"])
    assert engine._alive(child.pid)
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # until it has died, without reaping it
    assert not engine._alive(child.pid), "a killed, unreaped child (zombie) counts as gone"
    child.wait()
    assert not engine._alive(child.pid)


def test_only_torn_attribute_files_are_removed(tmp_path: Path) -> None:
    from tools import engine

    stacks = tmp_path / "stacks" / "statefulkit"
    stacks.mkdir(parents=True)
    (stacks / "dev.json.attrs").write_text('{"user.cache_control":"","user.content_type":"application/json"}\n')
    (stacks / "dev.json.bak.attrs").write_text("")  # killed between create and write
    (stacks / "prod.json.attrs").write_text('{"user.content_ty')  # killed mid-write
    assert sorted(p.name for p in engine.torn_attributes(tmp_path)) == ["dev.json.bak.attrs", "prod.json.attrs"]


def _lock(root: Path, name: str, pid: int, hostname: str) -> None:
    lock = root / "locks" / "organization" / "statefulkit" / "dev" / f"{name}.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(
        json.dumps({"pid": pid, "username": "u", "hostname": hostname, "timestamp": "2026-01-01T00:00:00Z"})
    )


def test_a_lock_is_removed_only_when_every_owner_is_gone(tmp_path: Path) -> None:
    from tools import engine

    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    _lock(tmp_path, "a", gone.pid, here)
    assert [p.name for p in engine.stale_locks(tmp_path, "statefulkit", "dev")] == ["a.json"]
    assert engine.stale_locks(tmp_path, "statefulkit", "prod") == []
    _lock(tmp_path, "b", os.getpid(), here)  # a run still going: nothing is stale
    assert engine.stale_locks(tmp_path, "statefulkit", "dev") == []
    (tmp_path / "locks" / "organization" / "statefulkit" / "dev" / "b.json").unlink()
    _lock(tmp_path, "c", gone.pid, "another-host")  # its process cannot be checked from here
    assert engine.stale_locks(tmp_path, "statefulkit", "dev") == []


def make_dry_run(target: str, *variables: str, environ: dict[str, str] | None = None) -> list[str]:
    """The commands `make -n <target> [VAR=value ...]` would run, with the venv taken as installed
    (and none of the variables of a `make` this test may run under, such as `make unit ARGS=...`)."""
    inherited = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ARGS"}
    run = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", target, *variables],
        cwd=ROOT,
        env={k: v for k, v in (os.environ if environ is None else environ).items() if k not in inherited},
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout.splitlines()


def test_make_up_installs_the_system_packages_before_it_deploys_as_make_test_does() -> None:
    """A fresh machine: `make up` on the local cluster needs the Debian packages of its real node
    (containerd, runc, the CNI plugins), so it runs the same step `make test` runs, first."""
    local = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    up = make_dry_run("up", environ=local)
    assert "tools/system-deps" in up, up
    assert up.index("tools/system-deps") < next(i for i, c in enumerate(up) if "tools.deploy up" in c), up
    assert "tools/system-deps" in make_dry_run("test", environ=local)
    # A cluster of the user's own needs none of the packages.
    assert "tools/system-deps" not in make_dry_run("up", environ={**local, "KUBECONFIG": "/home/me/.kube/config"})


def test_make_unit_runs_the_unit_folders_or_what_args_names() -> None:
    """`make unit` runs pytest on the unit folders, which tools/dependency-bounds runs too; a path in
    ARGS replaces them, other arguments go along. `make test` prints the slowest tests."""
    from tools.dependency_bounds import UNIT

    def pytest_line(*make_args: str) -> list[str]:
        (line,) = [c for c in make_dry_run(*make_args) if " -m pytest" in c]
        return line.split(" -m pytest", 1)[1].split()

    assert pytest_line("unit") == list(UNIT) == ["tests/unit", "examples/composition"]
    assert pytest_line("unit", "ARGS=-k name -x") == [*UNIT, "-k", "name", "-x"]
    one = "tests/unit/test_deploy.py::test_make_unit_runs_the_unit_folders_or_what_args_names"
    assert pytest_line("unit", f"ARGS={one}") == [one]
    assert "--durations=25" in pytest_line("test")


def test_make_backup_runs_the_stacks_backups_now() -> None:
    """`make backup STACK=prod` asks tools/deploy for a backup of every block of that stack that backs up."""
    from tools.backup_now import backups_of

    (line,) = [c for c in make_dry_run("backup", "STACK=prod") if "tools.deploy" in c]
    assert line.endswith("-m tools.deploy backup --stack prod"), line
    outputs = {
        "namespace": "data",
        "redis_backup_cron_job": "redis-backup",
        "redis_backup_repository": "s3:https://s3.example.net/b/p",
        "zookeeper_headless_service": "zookeeper-headless",
    }
    assert backups_of(outputs) == {"redis": "redis-backup"}
