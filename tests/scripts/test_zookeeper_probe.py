"""The probe script, run by bash against a fake four-letter-word server: ready and live exactly on
the right answers."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

import pytest

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.zookeeper import render_probe_script
from tests.support.zookeeper_fakes import NOT_SERVING, FourLetterServer, conf_answer


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
    return port


def run_probe(port: int, mode: str) -> subprocess.CompletedProcess[str]:
    script = re.sub(r"^PORT=\d+$", f"PORT={port}", render_probe_script(ZooKeeperArgs()), flags=re.M)
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run(
        [bash, "-c", script, "probe.sh", mode], capture_output=True, text=True, timeout=15, check=False
    )


SRVR = "Zookeeper version: 3.9.4\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000000\nMode: {mode}\nNode count: 5\n"


@pytest.mark.parametrize(
    ("answer", "conf", "ready"),
    [
        (SRVR.format(mode="leader"), conf_answer([1, 2, 3]), True),
        (SRVR.format(mode="follower"), conf_answer([1, 2, 3]), True),
        (SRVR.format(mode="standalone"), conf_answer([2]), True),
        # The server's own id comes from conf (serverId), not from a fixed guess.
        (SRVR.format(mode="follower"), conf_answer([1, 3], server_id=3), True),
        (SRVR.format(mode="follower"), conf_answer([2, 3], server_id=1), False),
        # Synced but not (yet, or no longer) a voter: a joiner before its reconfig -add, a member
        # that removed itself before stopping.
        (SRVR.format(mode="follower"), conf_answer([1, 3]), False),
        (SRVR.format(mode="follower"), conf_answer([1, 3], observers=(2,)), False),
        (SRVR.format(mode="follower"), NOT_SERVING, False),
        (SRVR.format(mode="read-only"), conf_answer([1, 2, 3]), False),
        (SRVR.format(mode="observer"), conf_answer([1, 2, 3]), False),
        (NOT_SERVING, conf_answer([1, 2, 3]), False),
        ("srvr is not executed because it is not in the whitelist.\n", conf_answer([1, 2, 3]), False),
        ("", conf_answer([1, 2, 3]), False),
    ],
)
def test_readiness_means_serving_as_a_voter(
    four_letter_server: FourLetterServer, answer: str, conf: str, ready: bool
) -> None:
    four_letter_server.answers = {"srvr": answer, "conf": conf, "ruok": "imok"}
    result = run_probe(four_letter_server.port, "ready")
    assert (result.returncode == 0) is ready, result.stdout
    assert result.stdout.startswith("ready: Mode: " if ready else "not ready: "), result.stdout
    if not ready and conf.startswith("clientPort") and "Mode: follower" in answer:
        assert "does not vote in the ensemble's configuration" in result.stdout


@pytest.mark.parametrize(("answer", "live"), [("imok", True), ("", False), ("ruok is not executed", False)])
def test_liveness_is_ruok(four_letter_server: FourLetterServer, answer: str, live: bool) -> None:
    # A member in leader election answers srvr "not currently serving" but ruok "imok": it stays alive.
    four_letter_server.answers = {"ruok": answer, "srvr": NOT_SERVING}
    assert (run_probe(four_letter_server.port, "live").returncode == 0) is live
    assert run_probe(four_letter_server.port, "ready").returncode == 1


def test_probes_fail_fast_when_nothing_listens() -> None:
    port = closed_port()
    for mode in ("ready", "live"):
        result = run_probe(port, mode)
        assert result.returncode == 1
        assert "nothing answers" in result.stdout
    assert run_probe(port, "bogus").returncode == 2
