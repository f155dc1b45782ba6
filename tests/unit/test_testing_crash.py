"""An error inside an `apply` fails the run with the program's own exception, and only the run.

The ensembles' StatefulSets bind a before-delete resource hook, so registering them starts the
SDK's callback server (a grpc.aio server) for the hook. An error raised in an `apply` the program
does not return used to end the run while that server was still starting; the SDK then stopped it
mid-start, and grpc crashed the interpreter (SIGSEGV, the whole pytest session gone). The first
test runs a user's test file in a pytest of its own, so that a crash fails it instead of killing
this session; the others run the same programs here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.sync_await import _ensure_event_loop

from statefulkit import RedisEnsemble, ZooKeeperEnsemble
from statefulkit.testing import MockRunner

USER_TESTS = """
import pulumi
import pulumi_kubernetes as k8s
from statefulkit import RedisEnsemble, ZooKeeperEnsemble


def test_zookeeper_apply_raises(pulumi_mocks):
    def program():
        zk = ZooKeeperEnsemble("zk", {"replicas": 3})
        zk.connect_string.apply(lambda hosts: int(hosts))  # not returned, not exported

    pulumi_mocks.run(program)


def test_redis_apply_raises(pulumi_mocks):
    def program():
        redis = RedisEnsemble("cache", {"password": pulumi.Output.secret("pw")})
        redis.master_name.apply(lambda name: int(name))

    pulumi_mocks.run(program)


def test_own_hook_registered_while_an_apply_raises(pulumi_mocks):
    def late(_):
        hook = pulumi.ResourceHook("mine", lambda args: None)
        hooks = pulumi.ResourceHookBinding(before_delete=[hook])
        k8s.core.v1.ConfigMap("late", data={"a": "b"}, opts=pulumi.ResourceOptions(hooks=hooks))
        return 1

    def program():
        pulumi.Output.from_input("x").apply(late)
        pulumi.Output.from_input("not a number").apply(int)

    pulumi_mocks.run(program)


def test_a_later_test_still_runs(pulumi_mocks):
    d = pulumi_mocks.run(lambda: ZooKeeperEnsemble("zk", {"replicas": 3}) and None)
    d.has_resource(kind="StatefulSet", k8s_name="zk", inputs={"spec": {"replicas": 3}})
"""


def test_a_users_session_reports_the_error_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "300"},  # the summary lines whole
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"pytest exited {result.returncode} (139 or -11: a crash):\n{output[-4000:]}"
    for test in ("test_zookeeper_apply_raises", "test_redis_apply_raises", "test_own_hook_registered_while_an_apply"):
        for mode in ("preview", "update"):
            assert (
                f"FAILED test_user.py::{test}" in output
                and f"[{mode}] - ValueError: invalid literal for int()" in output
            )
    assert "6 failed, 2 passed" in output, output[-4000:]


def ensemble_apply_raises() -> None:
    zk = ZooKeeperEnsemble("zk", {"replicas": 3})
    zk.connect_string.apply(int)  # not returned, not exported


def redis_apply_raises() -> None:
    redis = RedisEnsemble("cache", {"password": pulumi.Output.secret("pw")})
    redis.master_name.apply(int)


def own_hook_and_apply_raises() -> None:
    hook = pulumi.ResourceHook("mine", lambda args: None)
    hooks = pulumi.ResourceHookBinding(before_create=[hook], before_delete=[hook])
    k8s.core.v1.ConfigMap("c", data={"a": "b"}, opts=pulumi.ResourceOptions(hooks=hooks))
    pulumi.Output.from_input("not a number").apply(int)


def plain_resource_apply_raises() -> None:
    config_map = k8s.core.v1.ConfigMap("c", data={"a": "b"})
    config_map.data.apply(lambda data: int(data["a"]))


def apply_raises_while_a_resource_registers() -> None:
    k8s.core.v1.ConfigMap("c", data={"a": "b"})
    pulumi.Output.from_input("not a number").apply(int)  # fails before the ConfigMap is registered


@pytest.mark.parametrize(
    "program",
    [
        ensemble_apply_raises,
        redis_apply_raises,
        own_hook_and_apply_raises,
        plain_resource_apply_raises,
        apply_raises_while_a_resource_registers,
    ],
)
def test_a_failed_run_raises_the_users_error_and_leaves_nothing_running(
    pulumi_mocks: MockRunner, program: Callable[[], None]
) -> None:
    loop = _ensure_event_loop()
    before = asyncio.all_tasks(loop)
    with pytest.raises(ValueError, match=r"invalid literal for int\(\)"):
        pulumi_mocks.run(program)
    assert asyncio.all_tasks(loop) - before == set()  # no task of the failed run is left to run in a later one
    assert [s for s in _CallbackServicer._servicers if s._loop is loop] == []  # its hook server was stopped
    assert isinstance(pulumi_mocks.run_failing(program).error, ValueError)
    d = pulumi_mocks.run(lambda: ZooKeeperEnsemble("zk", {"replicas": 3}) and None)
    d.has_resource(kind="StatefulSet", k8s_name="zk", inputs={"spec": {"replicas": 3}})
