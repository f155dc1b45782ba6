"""Where a workload's pods may run: anti-affinity and tolerations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from statefulkit.args.common import (
    LabelKey,
    StrictModel,
)


class AntiAffinity(StrictModel):
    """Spread pods across topology domains; the term selects exactly the workload's own pods."""

    mode: Literal["preferred", "required", "none"] = Field("preferred", description="Default preferred.")
    topology_key: LabelKey = Field("kubernetes.io/hostname", description="Default kubernetes.io/hostname.")
    weight: int = Field(100, ge=1, le=100, description="Weight of the preferred term. Default 100.")


class Toleration(StrictModel):
    key: str | None = None
    operator: Literal["Exists", "Equal"] = Field("Equal", description="Default Equal.")
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(None, ge=0)
