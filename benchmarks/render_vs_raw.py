"""Cost of StatefulWorkload versus the same objects written directly with pulumi_kubernetes.

All programs run under Pulumi mocks in one process. For each K, K workloads (headless
Service, StatefulSet with a claim template, PDB) are registered:
  raw        the three objects written by hand, no validation;
  floor      the raw objects as children (parent=...) of one otherwise empty ComponentResource
             per workload: what any component costs, since the SDK registers the component
             itself like a resource and resolves each child's parent;
  component  StatefulWorkload: validation, rendering, the component and its outputs.
Times are the process's CPU seconds (fastest of --repeat runs), which other load on the
machine disturbs far less than wall time. The per-workload cost should stay flat as K grows.

    python -m benchmarks.render_vs_raw [--repeat N] [K ...]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import StatefulWorkload

TARGET_RATIO = 1.15
# The raw side passes API-shaped (camelCase) dicts, as the component does; the SDK's
# TypedDicts spell keys in snake_case, so the constructors are used untyped here.
Service: Any = k8s.core.v1.Service
StatefulSet: Any = k8s.apps.v1.StatefulSet
PodDisruptionBudget: Any = k8s.policy.v1.PodDisruptionBudget


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def component_program(k: int) -> None:
    for i in range(k):
        StatefulWorkload(
            f"w{i}",
            {
                "image": "app:1",
                "replicas": 3,
                "ports": {"client": 2181},
                "volume_claims": [{"name": "data", "size": "1Gi", "mount_path": "/data"}],
            },
        )


def raw_program(k: int) -> None:
    """What a user writes by hand: the same three objects per workload, no validation."""
    for i in range(k):
        raw_workload(f"w{i}")


def raw_workload(name: str, opts: pulumi.ResourceOptions | None = None) -> None:
    selector = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "server",
    }
    labels = {**selector, "app.kubernetes.io/managed-by": "pulumi"}
    meta = {"name": name, "namespace": "default", "labels": labels}
    Service(
        f"{name}-headless",
        metadata={**meta, "name": f"{name}-headless", "annotations": {"pulumi.com/skipAwait": "true"}},
        spec={
            "clusterIP": "None",
            "publishNotReadyAddresses": False,
            "selector": selector,
            "ports": [{"name": "client", "port": 2181, "targetPort": "client", "protocol": "TCP"}],
        },
        opts=opts,
    )
    StatefulSet(
        name,
        metadata=meta,
        spec={
            "serviceName": f"{name}-headless",
            "replicas": 3,
            "selector": {"matchLabels": selector},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "minReadySeconds": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "fsGroup": 1000,
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": selector},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": "main",
                            "image": "app:1",
                            "ports": [{"name": "client", "containerPort": 2181, "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "runAsNonRoot": True,
                                "readOnlyRootFilesystem": False,
                            },
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": selector},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
        opts=opts,
    )
    PodDisruptionBudget(
        f"{name}-pdb", metadata=meta, spec={"selector": {"matchLabels": selector}, "maxUnavailable": 1}, opts=opts
    )


def floor_program(k: int) -> None:
    for i in range(k):
        component = pulumi.ComponentResource("statefulkit:index:Empty", f"w{i}")
        raw_workload(f"w{i}", pulumi.ResourceOptions(parent=component))
        component.register_outputs({})


def timed(program: Callable[[int], None], k: int, collect: bool = True) -> float:
    pulumi.runtime.set_mocks(_Mocks(), project="bench", stack="bench", preview=False)

    @pulumi.runtime.test
    def body() -> None:
        program(k)

    gc.collect()
    if not collect:
        gc.disable()
    start = time.process_time()
    body()
    spent = time.process_time() - start
    gc.enable()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 500])
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and K; the fastest counts")
    parser.add_argument(
        "--without-gc",
        action="store_true",
        help="disable Python's cyclic collector while timing: shows the cost without the collector's"
        " passes over the SDK's growing object graph",
    )
    options = parser.parse_args()
    programs = {"raw": raw_program, "floor": floor_program, "component": component_program}
    for program in programs.values():
        timed(program, 5)  # warm imports, pydantic schemas and the mock monitor
    collector = "off" if options.without_gc else "on"
    print(f"CPU seconds, fastest of {options.repeat}, gc {collector}; target: component <= {TARGET_RATIO} x raw")
    print(f"{'K':>5} {'raw':>8} {'floor':>8} {'component':>10} {'comp/raw':>9} {'comp/floor':>11} {'ms/workload':>12}")
    for k in options.sizes:
        best: dict[str, float] = {}
        for _ in range(options.repeat):  # interleaved, so drift in machine load hits every side
            for label, program in programs.items():
                best[label] = min(best.get(label, float("inf")), timed(program, k, not options.without_gc))
        raw, floor, comp = best["raw"], best["floor"], best["component"]
        print(
            f"{k:>5} {raw:>8.3f} {floor:>8.3f} {comp:>10.3f} {comp / raw:>9.3f} {comp / floor:>11.3f}"
            f" {1000 * comp / k:>12.2f}"
        )


if __name__ == "__main__":
    main()
