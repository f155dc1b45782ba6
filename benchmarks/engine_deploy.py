"""`pulumi up` through the real engine on the local cluster: what the main job costs.

    python -m benchmarks.engine_deploy [--rounds 3] [--sizes 1,5,20,40]

In one run, on the local kwok cluster (tools/cluster/up), with a throwaway file backend:
1. `make up` of the dev stack (create), a second `make up` (no changes), `make down`: wall time of
   the command, as a user sees it.
2. One 3-member ZooKeeperEnsemble brought to all-Ready by `up` (tools/engine.py, in this process)
   versus `kubectl apply --server-side` of exactly the rendered objects plus `kubectl wait` for
   the Ready replicas; median of --rounds, and the ratio.
3. Where a no-op `up` of the dev stack spends its time (CLI calls, program run inside the engine).
4. Growth: K one-replica StatefulWorkloads with a client Service in one stack: create, no-op `up`,
   destroy, and for destroy what each delete waited for (seconds per kind, as the engine reports
   them) and how many deletes were in flight at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from statefulkit import ZooKeeperArgs
from statefulkit.render.workload import kubernetes_objects
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.engine_project import EngineRun, Project
from tests.support.local_cluster import LocalCluster
from tools import engine

PROJECTS = Path(__file__).resolve().parent / "projects"
PASSPHRASE = "statefulkit-bench"  # noqa: S105 - a throwaway backend's passphrase


def zookeeper_args(namespace: str) -> ZooKeeperArgs:
    """The ensemble both sides deploy (sized for the local cluster's 1Gi volumes)."""
    return ZooKeeperArgs(
        namespace=namespace,
        replicas=3,
        storage_size="1Gi",
        heap="128Mi",
        resources={"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
    )


def timed(action: Callable[[], Any]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


@contextmanager
def namespace(cluster: LocalCluster, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=true", "--timeout=180s", check=False)


# 1 ------------------------------------------------------------------------------------------


def make_dev_stack(cluster: LocalCluster, backend: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env |= {"KUBECONFIG": cluster.kubeconfig, "PULUMI_BACKEND_URL": f"file://{backend}"}

    def make(target: str) -> None:
        run = subprocess.run(["make", target], cwd=engine.ROOT, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"make {target} failed:\n{run.stdout}\n{run.stderr}")

    print("1. make up / make up (no changes) / make down of the dev stack, wall seconds")
    create, noop, down = timed(lambda: make("up")), timed(lambda: make("up")), timed(lambda: make("down"))
    print(f"   create {create:.1f}   no-op {noop:.1f}   destroy {down:.1f}")


# 2 ------------------------------------------------------------------------------------------


def zookeeper_engine_vs_kubectl(cluster: LocalCluster, runner: engine.Engine, scratch: Path, rounds: int) -> None:
    engine_times, kubectl_times = [], []
    for round_ in range(rounds):
        with namespace(cluster, "bench-zk") as ns:
            project = Project.copy(PROJECTS / "zookeeper", scratch / f"zk{round_}", runner, "bench", {})
            with project.editing() as config:
                config["bench-zookeeper:namespace"] = ns
            stack = project.stack(quiet)
            engine_times.append(timed(partial(engine.up, stack, quiet)))  # returns once all are Ready
            engine.destroy(stack, quiet)
        with namespace(cluster, "bench-zk") as ns:
            body = json.dumps({"apiVersion": "v1", "kind": "List", "items": kubectl_objects(ns)})

            def apply_and_wait(body: str = body, ns: str = ns) -> None:
                cluster.kubectl("apply", "--server-side", "--field-manager=bench", "-f", "-", input=body)
                cluster.kubectl(
                    "wait", "statefulset/zk", "-n", ns, "--for=jsonpath={.status.readyReplicas}=3", "--timeout=180s"
                )

            kubectl_times.append(timed(apply_and_wait))
    up, kubectl = statistics.median(engine_times), statistics.median(kubectl_times)
    print(f"2. a 3-member ZooKeeperEnsemble to all-Ready, median of {rounds}, seconds")
    print(f"   engine up {up:.2f}   kubectl apply --server-side + wait {kubectl:.2f}   ratio {up / kubectl:.2f}x")
    sides = (("engine", engine_times), ("kubectl", kubectl_times))
    each = "; ".join(f"{side} " + ", ".join(f"{t:.2f}" for t in times) for side, times in sides)
    print(f"   ({each})")


def kubectl_objects(ns: str) -> list[dict[str, Any]]:
    return kubernetes_objects(ZooKeeperRender("zk", zookeeper_args(ns)).manifests())


def quiet(_line: str) -> None:
    pass


# 3 ------------------------------------------------------------------------------------------


def noop_profile(cluster: LocalCluster, runner: engine.Engine, scratch: Path) -> None:
    """Where a no-op `up` of the dev stack goes: each CLI call the Automation API makes, and the
    program's own run inside the engine (imports, validation, registration)."""
    config = yaml_config(engine.ROOT / "stacks" / "Pulumi.dev.yaml")
    config["statefulkit:namespace"] = f"bench-dev-{uuid.uuid4().hex[:6]}"
    project = Project.copy(engine.ROOT, scratch / "dev", runner, "dev", config)
    project.set_secret("statefulkit:redis_password", uuid.uuid4().hex)
    stack = project.stack(quiet)
    engine.up(stack, quiet)
    calls: list[tuple[str, float]] = []
    command = stack.workspace.pulumi_command
    original = command.run

    def run(args: list[str], *rest: Any, **kw: Any) -> Any:
        started = time.monotonic()
        try:
            return original(args, *rest, **kw)
        finally:
            calls.append((" ".join(a for a in args[:2] if not a.startswith("-")), time.monotonic() - started))

    program_seconds: list[float] = []
    program = stack.workspace.program
    assert program is not None

    def timed_program() -> None:
        program_seconds.append(timed(program))

    command.run = run  # type: ignore[method-assign]
    stack.workspace.program = timed_program
    total = timed(lambda: engine.up(stack, quiet))
    print("3. a no-op up of the dev stack, seconds")
    print(f"   total {total:.2f}: " + ", ".join(f"pulumi {name} {secs:.2f}" for name, secs in calls))
    print(f"   of the `up` call: the program (imports, validation, registration) {sum(program_seconds):.2f}")
    engine.destroy(stack, quiet)
    cluster.kubectl("delete", "namespace", config["statefulkit:namespace"], "--wait=false", check=False)


def yaml_config(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())["config"]
    return {k: v for k, v in loaded.items() if not k.endswith("password")}


# 4 ------------------------------------------------------------------------------------------

STEP = re.compile(r"^ [-+~] +(?P<type>\S+) (?P<name>\S+) (?P<what>deleting|deleted) \((?P<secs>[\d.]+)s\)")


def delete_profile(printed: EngineRun, stamps: list[float]) -> tuple[dict[str, float], int]:
    """Mean seconds per delete by kind (as the engine reports each step), and the most deletes
    in flight at once (from when each line arrived)."""
    per_kind: dict[str, list[float]] = defaultdict(list)
    started: dict[str, float] = {}
    events: list[tuple[float, int]] = []
    for line, at in zip(printed.lines, stamps, strict=True):
        step = STEP.match(line)
        if not step or not step["type"].startswith("kubernetes:"):
            continue
        key = f"{step['type']} {step['name']}"
        if step["what"] == "deleting" and key not in started:
            started[key] = at
            events.append((at, 1))
        elif step["what"] == "deleted":
            per_kind[step["type"].rsplit(":", 1)[-1]].append(float(step["secs"]))
            events.append((at, -1))
    in_flight = peak = 0
    for _, delta in sorted(events):
        in_flight += delta
        peak = max(peak, in_flight)
    return {kind: statistics.mean(secs) for kind, secs in sorted(per_kind.items())}, peak


def growth(cluster: LocalCluster, runner: engine.Engine, scratch: Path, sizes: list[int]) -> None:
    print("4. K one-replica StatefulWorkloads (+ client Service) in one stack, seconds")
    print(f"   {'K':>3} {'create':>7} {'no-op':>6} {'destroy':>8}   per workload   destroy: mean s per delete; peak")
    for k in sizes:
        with namespace(cluster, f"bench-k{k}") as ns:
            project = Project.copy(PROJECTS / "workloads", scratch / f"k{k}", runner, "bench", {})
            with project.editing() as config:
                config |= {"bench-workloads:namespace": ns, "bench-workloads:count": k}
            stack = project.stack(quiet)
            create = timed(partial(engine.up, stack, quiet))
            noop = timed(partial(engine.up, stack, quiet))
            printed, stamps = EngineRun(), list[float]()

            def record(line: str, printed: EngineRun = printed, stamps: list[float] = stamps) -> None:
                stamps.append(time.monotonic())
                printed.lines.append(line.rstrip("\n"))

            destroy = timed(partial(engine.destroy, stack, record))
        kinds, peak = delete_profile(printed, stamps)
        detail = ", ".join(f"{kind} {secs:.2f}" for kind, secs in kinds.items())
        per = f"{create / k:.2f}/{destroy / k:.2f}"
        print(f"   {k:>3} {create:>7.1f} {noop:>6.1f} {destroy:>8.1f}   {per:>12}   {detail}; {peak}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1,5,20,40")
    parser.add_argument("--only", default="1,2,3,4", help="which parts to run")
    args = parser.parse_args()
    cluster = LocalCluster.up()
    with tempfile.TemporaryDirectory(prefix="statefulkit-bench-") as tmp:
        scratch = Path(tmp)
        backend = scratch / "state"
        backend.mkdir()
        runner = engine.Engine.local(
            backend_url=f"file://{backend}", kubeconfig=cluster.kubeconfig, passphrase=PASSPHRASE
        )
        parts = args.only.split(",")
        if "1" in parts:
            (scratch / "make-state").mkdir()
            make_dev_stack(cluster, scratch / "make-state")
        if "2" in parts:
            zookeeper_engine_vs_kubectl(cluster, runner, scratch, args.rounds)
        if "3" in parts:
            noop_profile(cluster, runner, scratch)
        if "4" in parts:
            growth(cluster, runner, scratch, [int(k) for k in args.sizes.split(",")])


if __name__ == "__main__":
    main()
