"""Cost of the shipped test harness (statefulkit.testing) over the plain Pulumi mock pattern.

Both sides register the same K StatefulWorkloads (default 100) in update mode, in one process:
  plain    `pulumi.runtime.set_mocks` with mocks that echo the inputs, and `@pulumi.runtime.test`;
  harness  `statefulkit.testing.run`: the recording monitor, the Kubernetes-like mocks, the root
           stack, secret marking and the checks that nothing went unresolved.
CPU seconds are the fastest of --repeat interleaved runs; peak memory (tracemalloc) is measured
in a separate run per side, since tracing slows the program down.

    python -m benchmarks.harness_vs_plain [--repeat N] [K]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pulumi

from benchmarks.render_vs_raw import component_program
from statefulkit.testing import run


class _EchoMocks(pulumi.runtime.Mocks):
    """The mocks most Pulumi tests write: every resource's outputs are its inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def plain(k: int) -> None:
    pulumi.runtime.set_mocks(_EchoMocks(), project="bench", stack="bench", preview=False)

    @pulumi.runtime.test
    def body() -> None:
        component_program(k)

    body()


def harness(k: int) -> None:
    deployment = run(lambda: component_program(k), preview=False)
    assert len(deployment.resources) == 5 * k  # the workload and its 4 objects each


def cpu_seconds(side: Callable[[int], None], k: int) -> float:
    gc.collect()
    start = time.process_time()
    side(k)
    return time.process_time() - start


def peak_mib(side: Callable[[int], None], k: int) -> float:
    gc.collect()
    tracemalloc.start()
    side(k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("k", nargs="?", type=int, default=100, help="StatefulWorkloads per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the fastest counts")
    options = parser.parse_args()
    sides = {"plain": plain, "harness": harness}
    for side in sides.values():
        side(5)  # warm imports, pydantic schemas and the mock monitor
    best: dict[str, float] = {}
    for _ in range(options.repeat):  # interleaved, so drift in machine load hits both sides
        for label, side in sides.items():
            best[label] = min(best.get(label, float("inf")), cpu_seconds(side, options.k))
    peak = {label: peak_mib(side, options.k) for label, side in sides.items()}
    print(f"{options.k} StatefulWorkloads, update mode; CPU s fastest of {options.repeat}, peak MiB (tracemalloc)")
    print(f"{'':>8} {'plain':>8} {'harness':>8} {'harness/plain':>14}")
    print(f"{'seconds':>8} {best['plain']:>8.3f} {best['harness']:>8.3f} {best['harness'] / best['plain']:>14.3f}")
    print(f"{'MiB':>8} {peak['plain']:>8.1f} {peak['harness']:>8.1f} {peak['harness'] / peak['plain']:>14.3f}")


if __name__ == "__main__":
    main()
