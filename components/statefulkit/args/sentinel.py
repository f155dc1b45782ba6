"""Sentinel's failure detection and failover settings (`RedisArgs.sentinel`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from statefulkit.args.common import StrictModel, at_least


class SentinelSettings(StrictModel):
    """Sentinel's failure detection and failover. Timings in milliseconds, as sentinel.conf takes them."""

    model_config = ConfigDict(hide_input_in_errors=True)

    quorum: int | None = Field(
        None,
        description="Sentinels that must agree the master is down. Default None: a majority of the pods (N//2+1).",
    )
    down_after_milliseconds: Annotated[int, at_least("sentinel.down_after_milliseconds", 100)] = Field(
        10_000, description="Unreachable this long = subjectively down. Default 10000 (10 s); at least 100."
    )
    failover_timeout_milliseconds: Annotated[int, at_least("sentinel.failover_timeout_milliseconds", 1000)] = Field(
        60_000, description="Failover retry and reconfiguration timeout. Default 60000 (60 s); at least 1000."
    )
    parallel_syncs: Annotated[int, at_least("sentinel.parallel_syncs", 1)] = Field(
        1, description="Replicas re-pointed to a new master at once. Default 1 (the others keep serving reads)."
    )

    @property
    def down_after_seconds(self) -> int:
        """down_after_milliseconds rounded up to whole seconds, as the shell scripts count."""
        return -(-self.down_after_milliseconds // 1000)

    @property
    def failover_timeout_seconds(self) -> int:
        """failover_timeout_milliseconds rounded up to whole seconds."""
        return -(-self.failover_timeout_milliseconds // 1000)

    @model_validator(mode="after")
    def _quorum_positive(self) -> SentinelSettings:
        if self.quorum is not None and self.quorum < 1:
            raise ValueError(f"sentinel.quorum={self.quorum}: a quorum must be at least 1")
        return self
