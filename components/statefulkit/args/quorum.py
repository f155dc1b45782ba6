"""Quorum rules, for any ensemble whose members vote (ZooKeeper; etcd or Kafka's KRaft would too).

A majority of the members must be up for the ensemble to serve. So an even member count adds no
fault tolerance, and neither a disruption budget nor a rolling update may take down more members
at once than the majority can spare. Mix `QuorumRules` into an ensemble's Args (before
EnsembleOptions) to get these rules and the budget that follows from them.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from statefulkit.args.common import scaled_count
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.rollout import DisruptionBudget, RollingUpdate


def quorum_size(replicas: int) -> int:
    """Members that must be up for the ensemble to serve: a strict majority."""
    return replicas // 2 + 1


def fault_tolerance(replicas: int) -> int:
    """Members that may fail while a quorum remains."""
    return replicas - quorum_size(replicas)


class QuorumRules(WorkloadOptions):
    """Odd member counts, and budgets and rollouts that keep a majority up."""

    allow_even_replicas: bool = Field(
        False,
        description="Accept an even member count (it adds no fault tolerance, only write latency). Default false.",
    )

    @model_validator(mode="after")
    def _quorum_rules(self) -> Self:
        self._check_even()
        self._check_disruption_budget()
        self._check_update_strategy()
        return self

    def _check_even(self) -> None:
        n = self.replicas
        if n % 2 == 0 and not self.allow_even_replicas:
            raise ValueError(
                f"replicas={n} is even: {n} members need {quorum_size(n)} for quorum and tolerate "
                f"{fault_tolerance(n)} failure(s), the same as {n - 1} members, so the even member adds no fault "
                f"tolerance (only write latency); use {n - 1} or {n + 1}, or set allow_even_replicas=True"
            )

    def _check_disruption_budget(self) -> None:
        budget = self.disruption_budget
        if not isinstance(budget, DisruptionBudget):
            return
        n, spare = self.replicas, fault_tolerance(self.replicas)
        if budget.max_unavailable is not None:
            field, value, evictable = "max_unavailable", budget.max_unavailable, scaled_count(budget.max_unavailable, n)
        else:
            assert budget.min_available is not None
            field, value = "min_available", budget.min_available
            evictable = n - scaled_count(budget.min_available, n)
        if evictable > spare:
            raise ValueError(
                f"disruption_budget.{field}={value!r} with replicas={n} lets evictions take down {evictable} "
                f"member(s) at once, but quorum needs {quorum_size(n)} of {n} up (at most {spare} may be down); "
                f"use max_unavailable={spare} or less"
                + ("" if spare else " (or None: a single member cannot be evicted without downtime)")
            )

    def _check_update_strategy(self) -> None:
        strategy = self.update_strategy
        if isinstance(strategy, RollingUpdate) and strategy.max_unavailable is not None:
            down = scaled_count(strategy.max_unavailable, self.replicas)
            if down > fault_tolerance(self.replicas) and self.replicas > 1:
                raise ValueError(
                    f"update_strategy.max_unavailable={strategy.max_unavailable!r} with replicas={self.replicas} "
                    f"restarts {down} members at once, which breaks quorum (at most "
                    f"{fault_tolerance(self.replicas)} may be down)"
                )

    def effective_disruption_budget(self) -> DisruptionBudget | None:
        """'auto' lets one member go at a time, unless the ensemble cannot lose any member and keep
        its quorum (1 or 2 members): then there is no PDB, as for any single replica, since a
        budget could only block every drain."""
        if self.disruption_budget == "auto":
            return DisruptionBudget(max_unavailable=1) if fault_tolerance(self.replicas) >= 1 else None
        return self.disruption_budget

    def workload_options(self) -> dict[str, Any]:
        # The workload's own 'auto' knows nothing of quorums: hand it the resolved budget.
        return {**super().workload_options(), "disruption_budget": self.effective_disruption_budget()}
