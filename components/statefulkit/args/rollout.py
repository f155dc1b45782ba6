"""How a workload's pods are created, replaced and evicted: pod management, update strategy, budget."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from statefulkit.args.common import (
    IntOrPercent,
    StrictModel,
)


class PodManagementPolicy(StrEnum):
    """How the StatefulSet controller creates and removes pods when scaling (not when updating)."""

    ORDERED_READY = "OrderedReady"
    PARALLEL = "Parallel"


class RollingUpdate(StrictModel):
    """Replace pods from the highest ordinal down; only ordinals >= partition are updated."""

    type: Literal["RollingUpdate"] = "RollingUpdate"
    partition: int = Field(0, ge=0, description="Ordinals below this keep the old revision. Default 0.")
    max_unavailable: IntOrPercent | None = Field(
        None,
        description="Pods down at once in an update (MaxUnavailableStatefulSet feature). Default unset (1).",
    )

    @model_validator(mode="after")
    def _max_unavailable_positive(self) -> RollingUpdate:
        if self.max_unavailable in (0, "0%"):
            raise ValueError(
                f"max_unavailable={self.max_unavailable!r}: must be at least 1 (or a percentage above 0%), "
                "otherwise the rollout can never proceed"
            )
        return self


class OnDelete(StrictModel):
    """Update a pod only when someone deletes it."""

    type: Literal["OnDelete"] = "OnDelete"

    @model_validator(mode="before")
    @classmethod
    def _reject_rolling_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("max_unavailable", "partition"):
                if key in data:
                    raise ValueError(
                        f"{key}={data[key]!r} does not apply to OnDelete (pods change only when deleted); "
                        f"use RollingUpdate({key}=...)"
                    )
        return data


UpdateStrategy = Annotated[RollingUpdate | OnDelete, Field(discriminator="type")]


class DisruptionBudget(StrictModel):
    """PodDisruptionBudget bounds: exactly one of min_available / max_unavailable."""

    min_available: IntOrPercent | None = Field(None, description="Pods that must stay up. Default unset.")
    max_unavailable: IntOrPercent | None = Field(None, description="Pods that may be evicted at once. Default unset.")
    allow_blocking: bool = Field(
        False, description="Accept a budget that forbids every eviction (it blocks node drains). Default false."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DisruptionBudget:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError(
                f"min_available={self.min_available!r}, max_unavailable={self.max_unavailable!r}: "
                "set exactly one of them"
            )
        return self
