"""What the hypothesis property tests share: strategies of mostly valid input, and the count of
what their examples came to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import event
from hypothesis import strategies as st


def mostly(
    valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any], valid_per_invalid: int = 9
) -> st.SearchStrategy[Any]:
    """Mostly valid values (`valid_per_invalid` to one), so that accepted specs are common enough to check."""
    return st.sampled_from([True] * valid_per_invalid + [False]).flatmap(lambda ok: valid if ok else invalid)


class Outcomes(Counter[str]):
    """What a property test's examples came to, counted (and reported as hypothesis events), so that
    the test can assert after its run that enough of them were accepted: a test that returns on a
    rejection would otherwise pass for a model that rejected everything."""

    def __call__(self, outcome: str) -> None:
        event(outcome)
        self[outcome] += 1

    def share(self, outcome: str) -> float:
        return self[outcome] / max(1, self.total())
