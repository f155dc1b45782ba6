"""How long a rendered StatefulWorkload takes to come up on the local control plane, under
OrderedReady and Parallel pod management, when every member needs a while to start.

For each run a fresh namespace gets the objects StatefulWorkload registers for a workload of
--replicas members (1Gi claim each), applied with server-side apply; a pod watch started before
the apply times every member's first Ready. Then the workload is scaled to zero and its objects
are deleted (the "scale to zero before delete" practice), both timed.

The per-member start delay (--delay seconds from scheduling to Ready) comes from one of:
  kwok   the kwok pod-ready Stage waits for the pod annotation statefulkit.dev/kwok-ready-delay
         (a Go duration), which the benchmark sets through the workload's pod_annotations. Needs
         a cluster whose kwok config carries that delayed Stage (below); the benchmark detects
         it with a one-pod probe.
  gate   an emulation when the cluster has no such Stage: the pod template carries a scheduling
         gate, and the benchmark removes it from each pod --delay seconds after the pod appears,
         so the member is scheduled (and made Ready by kwok) that much later.
Both give every member the same start latency; OrderedReady should take about replicas x delay,
Parallel about one delay. --mechanism picks one explicitly (default auto: kwok when detected).

A cluster with the delayed Stage: tools/cluster/up must append, to the kwokctl configuration it
writes, the five default kwok v0.8.0 Stages (node-initialize, node-heartbeat-with-lease,
pod-ready, pod-complete, pod-delete; a config listing any Stage replaces all defaults) with
pod-ready extended by
    delay:
      durationMilliseconds: 0
      durationFrom:
        expressionFrom: '.metadata.annotations["statefulkit.dev/kwok-ready-delay"]'
kwok's Stage objects cannot be changed on the running cluster: kwokctl starts the kwok controller
without --enable-crds=Stage, so the API serves no Stage resource.

    python -m benchmarks.cluster_rollout [--replicas 5] [--delay 3] [--repeat 3]
                                         [--mechanism auto|kwok|gate] [--kubeconfig PATH]

Without --kubeconfig the local cluster is started or reused with tools/cluster/up (LocalCluster.up()),
which also recycles the PVs each run's claims leave Released; with it, that cluster is used as is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from statefulkit import StatefulWorkloadArgs
from statefulkit.render.workload import kubernetes_objects, render_workload
from tests.support.cluster_pods import is_ready
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tests.support.watch import Watch

DELAY_ANNOTATION = "statefulkit.dev/kwok-ready-delay"
GATE = "statefulkit.dev/start-delay"
NAME = "bench"
POLICIES = ("OrderedReady", "Parallel")
Obj = dict[str, Any]


@dataclass
class Run:
    policy: str
    apply_s: float  # wall time of `kubectl apply --server-side` of the render
    first_ready_s: float  # apply start -> member 0 Ready
    all_ready_s: float  # apply start -> every member Ready
    scale_to_zero_s: float  # apply of replicas=0 -> no pod left
    delete_s: float  # wall time of `kubectl delete --wait` of the rendered objects


def render(namespace: str, replicas: int, policy: str, delay: float, mechanism: str) -> list[Obj]:
    args: dict[str, Any] = {
        "namespace": namespace,
        "image": "registry.example/app:1.0",
        "replicas": replicas,
        "ports": {"client": 7000},
        "volume_claims": [{"name": "data", "size": "1Gi", "mount_path": "/data"}],
        "readiness_probe": {"tcp_port": "client"},
        "pod_management_policy": policy,
    }
    if mechanism == "kwok" and delay > 0:
        args["pod_annotations"] = {DELAY_ANNOTATION: f"{round(delay * 1000)}ms"}
    objects = kubernetes_objects(render_workload(NAME, StatefulWorkloadArgs.model_validate(args)))
    if mechanism == "gate" and delay > 0:
        for obj in objects:
            if obj["kind"] == "StatefulSet":
                obj["spec"]["template"]["spec"]["schedulingGates"] = [{"name": GATE}]
    return objects


class GateReleaser:
    """Removes the scheduling gate from each pod `delay` seconds after the watch first shows it."""

    def __init__(self, cluster: LocalCluster, namespace: str, watch: Watch, delay: float) -> None:
        self.cluster, self.namespace, self.watch, self.delay = cluster, namespace, watch, delay
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _release(self, pod: str) -> None:
        patch = '[{"op": "remove", "path": "/spec/schedulingGates"}]'
        self.cluster.kubectl("patch", "pod", pod, "-n", self.namespace, "--type=json", "-p", patch, check=False)

    def _run(self) -> None:
        seen: dict[str, tuple[str, float]] = {}
        released: set[str] = set()
        while not self._stop.is_set():
            for event in self.watch.events:
                gates = event.object["spec"].get("schedulingGates") or []
                if event.type != "DELETED" and event.uid not in seen and any(g["name"] == GATE for g in gates):
                    seen[event.uid] = (event.name, event.at)
            now = time.monotonic()
            for uid, (pod, at) in seen.items():
                if uid not in released and now >= at + self.delay:
                    released.add(uid)
                    worker = threading.Thread(target=self._release, args=(pod,), daemon=True)
                    worker.start()
                    self._workers.append(worker)
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for worker in self._workers:
            worker.join()


def kwok_delay_available(cluster: LocalCluster, delay: float = 2.0) -> bool:
    """Whether kwok honours DELAY_ANNOTATION: a bare pod annotated with `delay` must take that long."""
    with cluster.namespace("bench-probe") as ns:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": ns, "annotations": {DELAY_ANNOTATION: f"{delay}s"}},
            "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
        }
        start = time.monotonic()
        applied = cluster.apply([pod])
        if applied.returncode != 0:
            raise SystemExit(f"probe pod refused: {applied.stderr}")
        wait_until(
            "the probe pod Ready", lambda: is_ready(cluster.get("pod", "probe", namespace=ns)), timeout=60, interval=0.1
        )
        return time.monotonic() - start >= 0.75 * delay


def ready_times(watch: Watch, names: list[str]) -> dict[str, float] | None:
    """The monotonic time each pod was first seen Ready, once all of them were."""
    times: dict[str, float] = {}
    for event in watch.events:
        if event.name in names and event.ready and event.name not in times:
            times[event.name] = event.at
    return times if len(times) == len(names) else None


def one_run(cluster: LocalCluster, replicas: int, policy: str, delay: float, mechanism: str) -> Run:
    with cluster.namespace(f"bench-{policy.lower()}") as ns:
        objects = render(ns, replicas, policy, delay, mechanism)
        names = [f"{NAME}-{i}" for i in range(replicas)]
        with cluster.watch("pods", ns) as watch:
            releaser = GateReleaser(cluster, ns, watch, delay) if mechanism == "gate" else None
            try:
                time.sleep(0.5)  # let the watch establish before anything is created
                start = time.monotonic()
                applied = cluster.apply(objects)
                apply_s = time.monotonic() - start
                if applied.returncode != 0:
                    raise SystemExit(f"apply failed: {applied.stderr}")
                budget = 60 + 3 * replicas * max(delay, 1.0)
                times = watch.wait_for(f"{replicas} Ready members", lambda _: ready_times(watch, names), budget)
            finally:
                if releaser is not None:
                    releaser.stop()

        scaled = cluster.apply(render(ns, 0, policy, delay, mechanism))
        if scaled.returncode != 0:
            raise SystemExit(f"scale to zero failed: {scaled.stderr}")
        zero_start = time.monotonic()
        wait_until("no pod left", lambda: not cluster.pods(ns), timeout=120, interval=0.1)
        scale_to_zero_s = time.monotonic() - zero_start

        delete_start = time.monotonic()
        deleted = cluster.delete(objects)
        delete_s = time.monotonic() - delete_start
        if deleted.returncode != 0:
            raise SystemExit(f"delete failed: {deleted.stderr}")
        return Run(
            policy=policy,
            apply_s=apply_s,
            first_ready_s=times[names[0]] - start,
            all_ready_s=max(times.values()) - start,
            scale_to_zero_s=scale_to_zero_s,
            delete_s=delete_s,
        )


def quietly(start: Callable[[], LocalCluster]) -> LocalCluster:
    """Run start() with the stderr of its subprocesses (tools/cluster/up's progress) held back,
    and shown only if it fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 2)
        try:
            return start()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def available_pvs(cluster: LocalCluster) -> int:
    pvs = cluster.get("pv")["items"]
    return sum(1 for pv in pvs if pv["status"].get("phase") == "Available")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--delay", type=float, default=3.0, help="per-member start delay, seconds (default 3)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mechanism", choices=("auto", "kwok", "gate"), default="auto")
    parser.add_argument("--kubeconfig", help="use this running cluster as is (no tools/cluster/up)")
    opts = parser.parse_args()

    cluster = LocalCluster.existing(opts.kubeconfig) if opts.kubeconfig else quietly(LocalCluster.up)
    mechanism = opts.mechanism
    if opts.delay <= 0:
        mechanism = "none"
    elif mechanism == "auto":
        mechanism = "kwok" if kwok_delay_available(cluster) else "gate"
    how = {
        "kwok": f"kwok pod-ready Stage delay (pod annotation {DELAY_ANNOTATION})",
        "gate": "scheduling-gate emulation (this cluster's kwok has no delayed pod-ready Stage)",
        "none": "none",
    }[mechanism]
    print(f"cluster_rollout: {opts.replicas} members, 1Gi claim each; per-member start delay {opts.delay:g} s: {how}")
    columns = ("apply", 7), ("first Ready", 12), ("all Ready", 10), ("scale to 0", 11), ("delete", 7)
    print(f"{'run':>3}  {'policy':<12} " + " ".join(f"{title:>{width}}" for title, width in columns))

    runs: list[Run] = []
    for rep in range(1, opts.repeat + 1):
        for policy in POLICIES:
            if not opts.kubeconfig:
                quietly(LocalCluster.up)  # recycles the PVs earlier runs left Released
            if available_pvs(cluster) < opts.replicas:
                raise SystemExit(f"fewer than {opts.replicas} Available PVs left; recycle them (tools/cluster/up)")
            run = one_run(cluster, opts.replicas, policy, opts.delay, mechanism)
            runs.append(run)
            print(
                f"{rep:>3}  {policy:<12} {run.apply_s:>6.2f}s {run.first_ready_s:>11.2f}s {run.all_ready_s:>9.2f}s "
                f"{run.scale_to_zero_s:>10.2f}s {run.delete_s:>6.2f}s",
                flush=True,
            )

    print("median over runs:")
    medians: dict[str, float] = {}
    for policy in POLICIES:
        mine = [r for r in runs if r.policy == policy]
        medians[policy] = statistics.median(r.all_ready_s for r in mine)
        apply_s = statistics.median(r.apply_s for r in mine)
        print(
            f"  {policy:<12} all Ready {medians[policy]:6.2f}s   apply {apply_s:5.2f}s"
            f"   scale to 0 {statistics.median(r.scale_to_zero_s for r in mine):5.2f}s"
            f"   delete {statistics.median(r.delete_s for r in mine):5.2f}s"
        )
    if medians["Parallel"] > 0:
        print(f"  OrderedReady / Parallel time to all Ready: {medians['OrderedReady'] / medians['Parallel']:.2f}x")
    if opts.delay > 0:
        ordered_floor = opts.replicas * opts.delay
        print(f"  floors from the delay alone: OrderedReady {ordered_floor:.1f}s, Parallel {opts.delay:.1f}s")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{error.cmd[0]} failed: {error.stderr or error}") from error
