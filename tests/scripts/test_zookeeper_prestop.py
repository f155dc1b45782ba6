"""The preStop hook, run by bash in a fake pod against a fake four-letter-word server and a fake
zkCli.sh: it removes the member as the super user within its bound, and stops at once where it
cannot or need not."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

from statefulkit.args.zookeeper import ZooKeeperArgs
from tests.support.zookeeper_fakes import NOT_SERVING, PASSWORD, FakePod, FourLetterServer, conf_answer


def prestop(
    pod: FakePod, server: FourLetterServer, outcomes: list[str], *, removal_seconds: int = 5
) -> subprocess.CompletedProcess[str]:
    """zk-1 (server 2) stops; the fake server answers for it on 127.0.0.1, zkCli.sh as `outcomes` say.
    `removal_seconds` is written into the rendered script, below the model's minimum, to keep this
    quick; the hook must end by itself well within `removal_seconds + 20` (else TimeoutExpired)."""
    pod.install("zk", ZooKeeperArgs(), server.port)
    hook = pod.root / "config" / "prestop.sh"
    hook.write_text(
        re.sub(r"^REMOVAL_SECONDS=\d+$", f"REMOVAL_SECONDS={removal_seconds}", hook.read_text(), flags=re.M)
    )
    (pod.root / "zkcli-outcomes").write_text("".join(f"{o}\n" for o in outcomes))
    return pod.run("prestop.sh", "zk-1", timeout=removal_seconds + 20)


def listed_until_committed(pod: FakePod) -> Callable[[], str]:
    return lambda: conf_answer([1, 3] if (pod.root / "committed").exists() else [1, 2, 3])


def test_prestop_removes_the_member_as_the_super_user_retrying_a_busy_ensemble(
    pod: FakePod, four_letter_server: FourLetterServer
) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    result = prestop(pod, four_letter_server, ["busy", "ok"])
    assert result.returncode == 0, result.stderr
    calls = pod.zkcli_calls()
    assert len(calls) == 2
    for args, stdin in calls:
        # The password goes in on standard input, never on the command line.
        assert args == f"-server 127.0.0.1:{four_letter_server.port}"
        assert stdin == [f"addauth digest super:{PASSWORD}", "reconfig -remove 2"]
    account = (pod.data / "statefulkit-prestop.log").read_text()
    assert "ReconfigInProgress" in account
    assert "removed server 2: configuration 200000002" in account
    # It stopped once its removal was committed, not at its bound.
    assert "server 2 does not vote in configuration 100000003; stopping" in account
    assert "still listed" not in account
    # Marked as leaving: a join attempt still under way stops, and cannot add it back.
    assert (pod.data / "statefulkit-leaving").exists()


def test_prestop_lets_a_join_attempt_end_first(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": listed_until_committed(pod)}
    # start.sh's join helper, still running: it removes its pid file when it ends. This one runs on
    # for a second after the hook has started (marked the member as leaving), and notes whether
    # zkCli.sh ran meanwhile.
    pid_file, early = pod.data / "statefulkit-joiner.pid", pod.root / "zkcli-ran-during-the-join"
    joiner_script = (
        f'for _ in $(seq 300); do [ -e "{pod.data / "statefulkit-leaving"}" ] && break; sleep 0.1; done; sleep 1; '
        f'[ -e "{pod.root / "zkcli-calls"}" ] && touch "{early}"; rm -f "{pid_file}"'
    )
    joiner = subprocess.Popen(["bash", "-c", joiner_script])
    try:
        pid_file.write_text(f"{joiner.pid}\n")
        result = prestop(pod, four_letter_server, ["ok"])
    finally:
        joiner.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert not early.exists(), "zkCli.sh ran before the join attempt ended"
    assert len(pod.zkcli_calls()) == 1


def test_prestop_stops_at_once_where_reconfig_is_disabled(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    """A member of an ensemble from before dynamic membership, during the upgrade's roll: it cannot
    leave, so it does not spend its whole bound trying."""
    four_letter_server.answers = {"conf": conf_answer([1, 2, 3])}
    result = prestop(pod, four_letter_server, ["disabled", "ok"])
    assert result.returncode == 0
    assert len(pod.zkcli_calls()) == 1 and four_letter_server.asked.count("conf") == 1  # one try, no retry
    account = (pod.data / "statefulkit-prestop.log").read_text()
    assert "reconfiguration is disabled in this ensemble" in account
    assert "still listed" not in account


def test_prestop_keeps_the_last_voter(pod: FakePod, four_letter_server: FourLetterServer) -> None:
    four_letter_server.answers = {"conf": conf_answer([2])}
    result = prestop(pod, four_letter_server, ["ok"])
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
    result = prestop(pod, four_letter_server, ["fail"] * 100, removal_seconds=3)
    assert result.returncode == 0
    # It retried (bash counts whole seconds, so it had 2-3 s, each try half a second apart), then
    # stopped by its own bound, saying so.
    assert four_letter_server.asked.count("conf") >= 2, four_letter_server.asked
    assert "still listed after 3s; it stops listed and rejoins" in (pod.data / "statefulkit-prestop.log").read_text()
