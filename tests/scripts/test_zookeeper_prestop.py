"""The preStop hook, run by bash in a fake pod against a fake four-letter-word server and a fake
zkCli.sh: it removes the member as the super user within its bound, and stops at once where it
cannot or need not."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

import pytest

from statefulkit.args.zookeeper import ZooKeeperArgs
from tests.support.zookeeper_fakes import NOT_SERVING, PASSWORD, FakePod, FourLetterServer, conf_answer


def prestop(
    pod: FakePod, server: FourLetterServer, outcomes: list[str], *, removal_seconds: int = 5
) -> tuple[subprocess.CompletedProcess[str], float]:
    """zk-1 (server 2) stops; the fake server answers for it on 127.0.0.1, zkCli.sh as `outcomes` say.
    `removal_seconds` is written into the rendered script, below the model's minimum, to keep this quick."""
    pod.install("zk", ZooKeeperArgs(), server.port)
    hook = pod.root / "config" / "prestop.sh"
    hook.write_text(
        re.sub(r"^REMOVAL_SECONDS=\d+$", f"REMOVAL_SECONDS={removal_seconds}", hook.read_text(), flags=re.M)
    )
    (pod.root / "zkcli-outcomes").write_text("".join(f"{o}\n" for o in outcomes))
    started = time.monotonic()
    result = pod.run("prestop.sh", "zk-1", timeout=removal_seconds + 20)
    return result, time.monotonic() - started


def listed_until_committed(pod: FakePod) -> Callable[[], str]:
    return lambda: conf_answer([1, 3] if (pod.root / "committed").exists() else [1, 2, 3])


def test_prestop_removes_the_member_as_the_super_user_retrying_a_busy_ensemble(
    pod: FakePod, four_letter_server: FourLetterServer
) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    result, took = prestop(pod, four_letter_server, ["busy", "ok"])
    assert result.returncode == 0, result.stderr
    calls = pod.zkcli_calls()
    assert len(calls) == 2
    for args, stdin in calls:
        # The password goes in on standard input, never on the command line.
        assert args == f"-server 127.0.0.1:{four_letter_server.port}"
        assert stdin == [f"addauth digest super:{PASSWORD}", "reconfig -remove 2"]
    assert took < 5
    account = (pod.data / "statefulkit-prestop.log").read_text()
    assert "ReconfigInProgress" in account
    assert "removed server 2: configuration 200000002" in account
    assert "server 2 does not vote in configuration 100000003; stopping" in account
    # Marked as leaving: a join attempt still under way stops, and cannot add it back.
    assert (pod.data / "statefulkit-leaving").exists()


def test_prestop_lets_a_join_attempt_end_first(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    # start.sh's join helper, still running: it removes its pid file when it ends.
    pid_file = pod.data / "statefulkit-joiner.pid"
    joiner = subprocess.Popen(["bash", "-c", f'sleep 1.5; rm -f "{pid_file}"'])
    try:
        pid_file.write_text(f"{joiner.pid}\n")
        result, took = prestop(pod, four_letter_server, ["ok"])
    finally:
        joiner.wait()
    assert result.returncode == 0, result.stderr
    assert took >= 1.4
    assert len(pod.zkcli_calls()) == 1


def test_prestop_stops_at_once_where_reconfig_is_disabled(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    """A member of an ensemble from before dynamic membership, during the upgrade's roll: it cannot
    leave, so it does not spend its whole bound trying."""
    four_letter_server.answers = {"conf": conf_answer([1, 2, 3])}
    result, took = prestop(pod, four_letter_server, ["disabled", "ok"])
    assert result.returncode == 0
    assert len(pod.zkcli_calls()) == 1 and took < 2
    assert "reconfiguration is disabled in this ensemble" in (pod.data / "statefulkit-prestop.log").read_text()


def test_prestop_keeps_the_last_voter(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": conf_answer([2])}
    result, _ = prestop(pod, four_letter_server, ["ok"])
    assert result.returncode == 0
    assert pod.zkcli_calls() == []
    assert "server 2 is the last voting member; it stays listed" in (pod.data / "statefulkit-prestop.log").read_text()


@pytest.mark.parametrize(
    "answers",
    [
        {"conf": conf_answer([1, 2, 3])},  # every removal fails
        {"conf": NOT_SERVING},  # no quorum: nothing to ask
    ],
    ids=["removal fails", "not serving"],
)
def test_prestop_gives_up_within_its_bound(
    pod: FakePod, four_letter_server: FourLetterServer, answers: dict[str, str]
) -> None:
    four_letter_server.answers = dict(answers)
    result, took = prestop(pod, four_letter_server, ["fail"] * 100, removal_seconds=2)
    assert result.returncode == 0
    assert 1 <= took < 4  # retried for its whole bound (bash counts whole seconds), and no longer
    assert "still listed after 2s; it stops listed and rejoins" in (pod.data / "statefulkit-prestop.log").read_text()
