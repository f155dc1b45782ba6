"""The main job as a user runs it: `make up` / `make down`, the stack files as written, a bad stack
file, and an engine killed mid-run, all through the real engine on the local cluster."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.engine_project import TEST_PASSPHRASE, Project
from tests.support.local_cluster import LocalCluster
from tools import engine as engine_module
from tools.engine import ROOT, Engine

PASSWORD_KEY = "statefulkit:redis_password"  # noqa: S105 - a config key
DEV_NAMESPACE = "statefulkit-dev"
# What puts the dev stack's pods on the local cluster's real node, from the Debian-built images.
REAL_POD_KEYS = ("image", "image_pull_policy", "node_selector", "tolerations")


def stack_file(stack: str) -> dict[str, Any]:
    """The repo's stack file as written, config only."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return loaded


def small_stack(namespace: str, zookeeper: int = 1) -> dict[str, Any]:
    """The dev stack's sizes in another namespace, on the fake nodes (these tests are about the
    engine, not the pods): the official images, without the real nodes' placement."""
    config = stack_file("dev")
    del config[PASSWORD_KEY]
    config["statefulkit:namespace"] = namespace
    config["statefulkit:zookeeper"]["replicas"] = zookeeper
    for kind in ("zookeeper", "redis"):
        for key in REAL_POD_KEYS:
            del config[f"statefulkit:{kind}"][key]
    return config


# 8 ------------------------------------------------------------------------------------------


def test_make_up_then_make_down_deploys_and_removes_the_dev_stack(
    engine: Engine, local_cluster: LocalCluster, real_nodes: list[str], debian_images: dict[str, str], tmp_path: Path
) -> None:
    assert local_cluster.kubectl("get", "namespace", DEV_NAMESPACE, check=False).returncode != 0, (
        f"namespace {DEV_NAMESPACE} exists on this cluster: this test deploys and destroys the dev stack, "
        "run `make down` first"
    )
    # As a user runs it, on a given cluster, with the state in a directory of the test's own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env |= {"KUBECONFIG": local_cluster.kubeconfig, "PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    up = subprocess.run(["make", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    assert 'zookeeper_connect_string  : "zookeeper-0.zookeeper-headless.statefulkit-dev.svc' in up.stdout
    assert "+ 19 created" in up.stdout
    pods = local_cluster.pods(DEV_NAMESPACE)
    assert sorted(p["metadata"]["name"] for p in pods) == ["redis-0", "zookeeper-0"]
    # Running for real, on the real node, from the Debian-built images: the servers answer.
    assert {p["spec"]["nodeName"] for p in pods} <= set(real_nodes)
    assert {c["image"] for p in pods for c in p["spec"]["containers"]} == {
        debian_images["zookeeper"],
        debian_images["redis"],
    }
    ruok = "exec 3<>/dev/tcp/127.0.0.1/2181 && printf ruok >&3 && cat <&3"
    answer = local_cluster.kubectl(
        "exec", "-n", DEV_NAMESPACE, "zookeeper-0", "-c", "zookeeper", "--", "bash", "-c", ruok
    )
    assert answer.stdout == "imok"
    claims = local_cluster.get("pvc", namespace=DEV_NAMESPACE)["items"]
    volumes = sorted(c["spec"]["volumeName"] for c in claims)
    assert len(volumes) == 2

    again = subprocess.run(["make", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0 and "[engine] no changes: 19 resources unchanged" in again.stdout, again.stdout

    down = subprocess.run(["make", "down"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "- 19 deleted" in down.stdout
    # The dev stack does not retain its namespace, so its claims go with it; the volumes stay
    # (the class's reclaim policy is Retain), holding the data until an admin recycles them.
    assert local_cluster.kubectl("get", "namespace", DEV_NAMESPACE, check=False).returncode != 0
    left = {pv["metadata"]["name"]: pv["status"]["phase"] for pv in local_cluster.get("pv")["items"]}
    assert {left.get(v) for v in volumes} == {"Released"}, left
    status = subprocess.run(
        ["git", "status", "--porcelain", "stacks"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert status.stdout == "", f"make up changed a stack file: {status.stdout}"


# 7 ------------------------------------------------------------------------------------------


def test_a_bad_stack_file_fails_in_the_engine_naming_every_key_and_deploys_nothing(
    engine: Engine, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    namespace = f"sk-bad-{uuid.uuid4().hex[:6]}"
    config = small_stack(namespace)
    config["statefulkit:zookeeper"] |= {"replicas": 4, "storage_size": "1Gb"}
    config["statefulkit:redis"]["storage_size"] = "1Gb"
    project = Project.copy(ROOT, tmp_path, engine, "bad", config)
    project.set_secret(PASSWORD_KEY, "unused-" + uuid.uuid4().hex)
    printed = project.failing("up").text
    for problem in (
        "statefulkit:zookeeper.storage_size: '1Gb' is not a Kubernetes quantity",
        "statefulkit:zookeeper.replicas: replicas=4 is even",
        "statefulkit:redis.storage_size: '1Gb' is not a Kubernetes quantity",
    ):
        assert printed.count(problem) == 1, f"{problem!r} not printed exactly once:\n{printed}"
    assert "Traceback" not in printed and "unhandled error" not in printed, printed
    assert [r["type"] for r in project.resources() if r["type"] != "pulumi:pulumi:Stack"] == []
    assert local_cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0


def test_an_error_inside_an_apply_fails_make_up_with_the_users_exception(
    engine: Engine, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    """A user's bug in an apply on an ensemble's Output, which nothing awaits (it once crashed the
    test harness's interpreter): `make up`'s code path ends with the ValueError and its traceback,
    exit 1, no crash and no hang."""
    namespace = f"sk-bug-{uuid.uuid4().hex[:6]}"
    config = {"statefulkit-apply-error:namespace": namespace}
    project = Project.copy(ROOT / "tests/projects/apply_error", tmp_path, engine, "bug", config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env |= {k: engine.env[k] for k in ("KUBECONFIG", "PULUMI_BACKEND_URL")} | {
        "PULUMI_CONFIG_PASSPHRASE": TEST_PASSPHRASE
    }
    command = [sys.executable, "-m", "tools.deploy", "up", "--stack", "bug", "--project", str(project.directory)]
    local_cluster.kubectl("create", "namespace", namespace)
    try:
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        # The program cannot run (that is the bug), so the stack goes without it, as it came.
        with contextlib.suppress(engine_module.EngineError):
            project.destroy(run_program=False)
        local_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    printed = run.stdout + run.stderr
    assert run.returncode == 1, f"exit {run.returncode}:\n{printed}"
    assert "ValueError: invalid literal for int() with base 10: 'zk-0.zk-headless" in printed, printed
    assert "Traceback (most recent call last)" in printed, printed
    assert re.search(r'__main__.py", line \d+, in as_number', printed), printed  # the user's own line


# 11 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_staging_and_prod_stack_files_preview_cleanly_against_the_api_server(
    engine: Engine, tmp_path: Path, stack: str
) -> None:
    config = stack_file(stack)
    project = Project.copy(ROOT, tmp_path, engine, stack, config)
    project.set_secret(PASSWORD_KEY, "preview-" + uuid.uuid4().hex)
    result, printed = project.preview()
    assert "error" not in printed.text.lower(), printed.text
    creates = (result.change_summary or {}).get("create")  # type: ignore[call-overload]
    assert creates and creates >= 19, result.change_summary


def test_a_stack_file_without_a_redis_block_previews_through_the_engine_without_a_password(
    engine: Engine, tmp_path: Path
) -> None:
    """The blocks are optional in Pulumi.yaml too (default false): the engine takes a stack file
    without `statefulkit:redis` and without its password, and the program plans no Redis."""
    config = small_stack(f"sk-zk-only-{uuid.uuid4().hex[:6]}")
    del config["statefulkit:redis"]
    project = Project.copy(ROOT, tmp_path, engine, "zkonly", config)
    result, printed = project.preview()
    assert "error" not in printed.text.lower(), printed.text
    assert "statefulkit:index:ZooKeeperEnsemble" in printed.text, printed.text
    assert "RedisEnsemble" not in printed.text and "redis" not in printed.text.lower(), printed.text
    assert (result.change_summary or {}).get("create"), result.change_summary  # type: ignore[call-overload]


# 10 -----------------------------------------------------------------------------------------


def test_an_up_killed_midway_converges_on_the_next_run(
    engine: Engine, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    namespace = f"sk-killed-{uuid.uuid4().hex[:6]}"
    project = Project.copy(ROOT, tmp_path, engine, "killed", small_stack(namespace, zookeeper=3))
    project.set_secret(PASSWORD_KEY, "killed-" + uuid.uuid4().hex)
    env = {**os.environ, **engine.env, "PULUMI_CONFIG_PASSPHRASE": TEST_PASSPHRASE}
    deploy = [sys.executable, "-m", "tools.deploy", "up", "--project", str(project.directory), "--stack", "killed"]
    try:
        with subprocess.Popen(deploy, cwd=ROOT, env=env, start_new_session=True) as run:
            # The moment a StatefulSet exists, its create is in flight: the provider is waiting
            # for its pods. The whole process group goes (CLI, provider, program), as a lost machine.
            deadline = time.monotonic() + 120
            while not statefulsets(local_cluster, namespace):
                assert run.poll() is None, "up ended before a StatefulSet was created"
                assert time.monotonic() < deadline, "no StatefulSet within 120 s"
            os.killpg(run.pid, signal.SIGKILL)
        assert project.pending_operations(), "the kill came too late: nothing was in flight"
        # A kill can also land while the file backend rewrites a state file's attribute sidecar,
        # which it does in place (seen once here: every later command failed "failed to load
        # checkpoint: EOF"). Make that moment certain.
        sidecar = project.state_file.with_name(project.state_file.name + ".attrs")
        sidecar.write_text("")

        _, printed = project.up()
        assert f"removing {sidecar.name}, left torn by a killed run" in printed.text
        assert "removing 1 lock(s) left by a run that no longer exists" in printed.text
        assert "the previous run was interrupted" in printed.text
        for name, count in (("zookeeper", 3), ("redis", 1)):
            pods = local_cluster.pods(namespace, f"app.kubernetes.io/instance={name}")
            assert sorted(p["metadata"]["name"] for p in pods) == [f"{name}-{i}" for i in range(count)]
        assert len(statefulsets(local_cluster, namespace)) == 2
        claims = sorted(c["metadata"]["name"] for c in local_cluster.get("pvc", namespace=namespace)["items"])
        assert claims == ["data-redis-0", "data-zookeeper-0", "data-zookeeper-1", "data-zookeeper-2"]
        assert not project.pending_operations()
        again, _ = project.up()
        assert set(again) == {"same"}, again
    finally:
        project.remove(local_cluster)


def statefulsets(cluster: LocalCluster, namespace: str) -> list[str]:
    return cluster.kubectl("get", "statefulsets", "-n", namespace, "-o", "name").stdout.split()
