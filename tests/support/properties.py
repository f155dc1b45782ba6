"""What the hypothesis property tests share: strategies of mostly valid input."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def mostly(
    valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any], valid_per_invalid: int = 9
) -> st.SearchStrategy[Any]:
    """Mostly valid values (`valid_per_invalid` to one), so that accepted specs are common enough to check."""
    return st.sampled_from([True] * valid_per_invalid + [False]).flatmap(lambda ok: valid if ok else invalid)
