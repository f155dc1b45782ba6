"""Cost of StatefulWorkload versus the same objects written directly with pulumi_kubernetes.

Both programs run under Pulumi mocks in one process. For each K, K workloads (headless
Service, StatefulSet with a claim template, PDB) are registered; the component side also
validates, renders and registers its ComponentResource. Prints seconds, the ratio and the
per-workload cost, which should stay flat as K grows (linear total cost).

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

from components import StatefulWorkload

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
        name = f"w{i}"
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
        )
        PodDisruptionBudget(
            f"{name}-pdb", metadata=meta, spec={"selector": {"matchLabels": selector}, "maxUnavailable": 1}
        )


def timed(program: Callable[[int], None], k: int) -> float:
    pulumi.runtime.set_mocks(_Mocks(), project="bench", stack="bench", preview=False)

    @pulumi.runtime.test
    def body() -> None:
        program(k)

    gc.collect()
    start = time.perf_counter()
    body()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 500])
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and K; the fastest counts")
    options = parser.parse_args()
    timed(raw_program, 5)  # warm imports and the mock monitor
    timed(component_program, 5)
    print(f"{'K':>5} {'raw s':>9} {'component s':>12} {'ratio':>7} {'raw ms/K':>9} {'comp ms/K':>10}")
    for k in options.sizes:
        raw = min(timed(raw_program, k) for _ in range(options.repeat))
        comp = min(timed(component_program, k) for _ in range(options.repeat))
        ratio = comp / raw
        flag = "" if ratio <= TARGET_RATIO else f"  (above target {TARGET_RATIO})"
        print(f"{k:>5} {raw:>9.3f} {comp:>12.3f} {ratio:>7.3f} {1000 * raw / k:>9.2f} {1000 * comp / k:>10.2f}{flag}")


if __name__ == "__main__":
    main()
