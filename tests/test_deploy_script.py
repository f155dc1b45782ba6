"""tools/deploy (make up / make down) drives the pulumi CLI in the right order.

A recording stand-in for the CLI is put on PATH: this checks the script's own logic (cluster
choice, state backend, dev passphrase and password, stack selection), not a deployment.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_PULUMI = """#!/bin/sh
echo "$* | backend=$PULUMI_BACKEND_URL passphrase=${PULUMI_CONFIG_PASSPHRASE-unset}" >> "$CALLS"
case "$1 $2" in
  "config get") [ -f "$STATE/password-set" ] || exit 1 ;;
  "config set") touch "$STATE/password-set" ;;
esac
exit 0
"""


def run_deploy(
    tmp_path: Path, *args: str, password_set: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, body in {"pulumi": FAKE_PULUMI, "pulumi-language-python": "#!/bin/sh\nexit 0\n"}.items():
        (bin_dir / tool).write_text(body)
        (bin_dir / tool).chmod(0o755)
    if password_set:
        (tmp_path / "password-set").touch()
    calls = tmp_path / "calls"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")},
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "KUBECONFIG": str(tmp_path / "kubeconfig"),  # a user's cluster: the local one is not started
        "CALLS": str(calls),
        "STATE": str(tmp_path),
    }
    result = subprocess.run(
        [str(ROOT / "tools/deploy"), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_dev_up_sets_a_password_once_then_deploys(tmp_path: Path) -> None:
    result, calls = run_deploy(tmp_path, "up")
    assert result.returncode == 0, result.stderr
    commands = [c.split(" | ")[0] for c in calls]
    assert commands[0] == "stack select dev --create --non-interactive"
    assert commands[1] == "config get statefulkit:redis_password --stack dev"
    assert commands[2].startswith("config set --secret statefulkit:redis_password --stack dev ")
    assert len(commands[2].split()[-1]) >= 24  # a generated password, not an empty one
    assert commands[3] == "up --yes --non-interactive --stack dev"
    assert all(f"backend=file://{ROOT}/state" in c and "passphrase=statefulkit-dev" in c for c in calls)

    _, calls_again = run_deploy(tmp_path, "up")
    assert not any(c.startswith("config set") for c in calls_again[len(calls) :])


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_other_stacks_need_their_own_password_and_passphrase(tmp_path: Path, stack: str) -> None:
    result, calls = run_deploy(tmp_path, "up", "--stack", stack)
    assert result.returncode != 0
    assert f"pulumi config set --secret statefulkit:redis_password --stack {stack}" in result.stderr
    assert not any(c.startswith(("up ", "config set")) for c in calls)
    assert all("passphrase=unset" in c for c in calls)


def test_down_destroys_without_touching_config(tmp_path: Path) -> None:
    result, calls = run_deploy(tmp_path, "down", password_set=True)
    assert result.returncode == 0, result.stderr
    assert [c.split(" | ")[0] for c in calls] == [
        "stack select dev --create --non-interactive",
        "destroy --yes --non-interactive --stack dev",
    ]
