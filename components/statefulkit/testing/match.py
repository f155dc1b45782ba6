"""Object-like matching of recorded values, with messages that say where and how they differ.

A pattern is a plain value or a `Matcher`. Dicts match partially at every depth (extra keys in the
actual value are fine, as in AWS CDK's `Match.object_like`); lists match element by element and
must have the same length (use `Match.array_with` for "contains, in order"); anything else must be
equal. A `Secret(pattern)` matches only a secret whose value matches `pattern`.

A `Capture` keeps a value only when the whole match it took part in succeeds: a candidate that
matched the capture but not the rest of the pattern (another resource, another element of an
`array_with`, the inside of a `Match.not_`) leaves nothing behind.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

from statefulkit.testing.values import Secret

_ABSENT: Final = object()  # a dict key that is not there (distinct from a None value)


@dataclass(frozen=True)
class Mismatch:
    path: str  # like `spec.template.spec.containers[0].image`; "" for the value itself
    problem: str  # like `expected 5, got 3`

    def __str__(self) -> str:
        return f"at {self.path or '(root)'}: {self.problem}"


class MatchError(AssertionError):
    """A value did not match its pattern; `mismatches` says where."""

    def __init__(self, message: str, mismatches: Sequence[Mismatch] = ()) -> None:
        super().__init__(message)
        self.mismatches = list(mismatches)


def _show(value: Any) -> str:
    return "absent" if value is _ABSENT else repr(value)


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Matcher(ABC):
    """A pattern that decides for itself whether a value matches."""

    @abstractmethod
    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        """Where `actual` (possibly absent) differs; empty when it matches."""


# What the captures inside the match being decided have seen: (capture, value) in order. None when
# no match is being decided (a Capture used on its own keeps what it matches at once).
_seen: ContextVar[list[tuple[Capture, Any]] | None] = ContextVar("statefulkit_testing_captures", default=None)


@dataclass
class Attempt:
    """One match decided on its own: its mismatches, and what its captures saw (kept by `keep`)."""

    mismatches: list[Mismatch]
    captured: list[tuple[Capture, Any]] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.mismatches

    def keep(self) -> None:
        """Hand the captured values to the match around this one, or to the captures if none."""
        outer = _seen.get()
        if outer is not None:
            outer.extend(self.captured)
            return
        for capture, value in self.captured:
            capture.values.append(value)


@contextmanager
def _deciding() -> Iterator[list[tuple[Capture, Any]]]:
    captured: list[tuple[Capture, Any]] = []
    token = _seen.set(captured)
    try:
        yield captured
    finally:
        _seen.reset(token)


def attempt(actual: Any, pattern: Any, path: str = "") -> Attempt:
    """Match without keeping any capture yet: the caller keeps them (`keep()`) if it takes this match."""
    with _deciding() as captured:
        found = _mismatches(actual, pattern, path)
    return Attempt(found, captured)


def mismatches(actual: Any, pattern: Any, path: str = "") -> list[Mismatch]:
    """Every place where `actual` differs from `pattern` (empty when it matches).

    Inside a `Matcher` this is part of the match around it; called on its own, it keeps what the
    captures in `pattern` saw only when everything matched.
    """
    if _seen.get() is not None:
        return _mismatches(actual, pattern, path)
    tried = attempt(actual, pattern, path)
    if tried.matched:
        tried.keep()
    return tried.mismatches


def _mismatches(actual: Any, pattern: Any, path: str) -> list[Mismatch]:  # noqa: PLR0911 - one per pattern kind
    if isinstance(pattern, Matcher):
        return pattern.mismatches(actual, path)
    if actual is _ABSENT:
        return [Mismatch(path, f"expected {pattern!r}, got absent")]
    if isinstance(pattern, Secret):
        if not isinstance(actual, Secret):
            return [Mismatch(path, f"expected a secret, got a plain {type(actual).__name__} {actual!r}")]
        return mismatches(actual.value, pattern.value, path)
    if isinstance(actual, Secret):
        return [Mismatch(path, "expected a plain value, got a secret (match it with Secret(...))")]
    if isinstance(pattern, Mapping):
        return _object_mismatches(actual, pattern, path)
    if isinstance(pattern, list | tuple):
        return _array_mismatches(actual, pattern, path)
    if actual != pattern or isinstance(actual, bool) != isinstance(pattern, bool):  # True is not 1
        return [Mismatch(path, f"expected {pattern!r}, got {actual!r}")]
    return []


def _object_mismatches(actual: Any, pattern: Mapping[Any, Any], path: str) -> list[Mismatch]:
    if not isinstance(actual, Mapping):
        return [Mismatch(path, f"expected an object, got {actual!r}")]
    found: list[Mismatch] = []
    for key, sub in pattern.items():
        found += mismatches(actual.get(key, _ABSENT), sub, _child(path, key))
    return found


def _array_mismatches(actual: Any, pattern: Sequence[Any], path: str) -> list[Mismatch]:
    if not isinstance(actual, list | tuple):
        return [Mismatch(path, f"expected an array, got {actual!r}")]
    if len(actual) != len(pattern):
        return [Mismatch(path, f"expected an array of {len(pattern)}, got {len(actual)}: {list(actual)!r}")]
    return [m for i, (a, p) in enumerate(zip(actual, pattern, strict=True)) for m in mismatches(a, p, _child(path, i))]


def assert_match(actual: Any, pattern: Any, what: str = "value") -> None:
    """Raise `MatchError` listing every mismatch of `actual` against `pattern` (captures keep
    their values only when it matches)."""
    tried = attempt(actual, pattern)
    if not tried.matched:
        raise MatchError(f"{what} does not match:\n  " + "\n  ".join(map(str, tried.mismatches)), tried.mismatches)
    tried.keep()


class _AnyValue(Matcher):
    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if actual is _ABSENT or actual is None:
            return [Mismatch(path, f"expected any value, got {_show(actual)}")]
        return []


class _Absent(Matcher):
    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        return [] if actual is _ABSENT or actual is None else [Mismatch(path, f"expected absent, got {actual!r}")]


class _Exact(Matcher):
    """Equality all the way down: no extra keys anywhere."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        pattern = self.pattern
        if isinstance(pattern, Mapping) and isinstance(actual, Mapping):
            extra = [
                Mismatch(_child(path, k), f"unexpected key (value {actual[k]!r})") for k in actual if k not in pattern
            ]
            exact = {k: v if isinstance(v, Matcher) else _Exact(v) for k, v in pattern.items()}
            return _object_mismatches(actual, exact, path) + extra
        if isinstance(pattern, list | tuple) and isinstance(actual, list | tuple) and len(pattern) == len(actual):
            return _array_mismatches(actual, [p if isinstance(p, Matcher) else _Exact(p) for p in pattern], path)
        return mismatches(actual, pattern, path)


class _ObjectLike(Matcher):
    def __init__(self, pattern: Mapping[str, Any]) -> None:
        if not isinstance(pattern, Mapping):
            raise TypeError(f"Match.object_like takes a dict pattern, got {type(pattern).__name__} {pattern!r}")
        self.pattern = pattern

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        return mismatches(actual, self.pattern, path)


class _ArrayWith(Matcher):
    def __init__(self, items: Sequence[Any]) -> None:
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
            raise TypeError(f"Match.array_with takes a list of patterns, got {type(items).__name__} {items!r}")
        self.items = list(items)

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if not isinstance(actual, list | tuple):
            return [Mismatch(path, f"expected an array containing {self.items!r}, got {_show(actual)}")]
        start = 0
        for index, item in enumerate(self.items):  # in order: each item after the previous one's match
            # Only the element taken keeps what its captures saw, not the ones tried before it.
            tried = ((i, attempt(actual[i], item, _child(path, i))) for i in range(start, len(actual)))
            hit = next(((i, found) for i, found in tried if found.matched), None)
            if hit is None:
                return [Mismatch(path, f"no element matches array_with item [{index}] {item!r} in {list(actual)!r}")]
            hit[1].keep()
            start = hit[0] + 1
        return []


class _StringLikeRegex(Matcher):
    def __init__(self, pattern: str) -> None:
        try:
            self.regex = re.compile(pattern)
        except (re.error, TypeError) as error:
            raise ValueError(f"Match.string_like_regex: {pattern!r} is not a regular expression: {error}") from None

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        if not isinstance(actual, str):
            return [Mismatch(path, f"expected a string matching /{self.regex.pattern}/, got {_show(actual)}")]
        if self.regex.search(actual) is None:
            return [Mismatch(path, f"expected a string matching /{self.regex.pattern}/, got {actual!r}")]
        return []


class _Not(Matcher):
    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        # What a negated pattern captures is never kept: either it matched (so this fails) or it did not.
        if not attempt(actual, self.pattern, path).matched:
            return []
        return [Mismatch(path, f"expected anything but {self.pattern!r}, got {_show(actual)}")]


class Match:
    """The matchers; combine them freely inside plain dicts and lists."""

    @staticmethod
    def object_like(pattern: Mapping[str, Any]) -> Matcher:
        """The keys in `pattern` match (at every depth); the value may have more."""
        return _ObjectLike(pattern)

    @staticmethod
    def exact(pattern: Any) -> Matcher:
        """Equal, with no extra keys at any depth."""
        return _Exact(pattern)

    @staticmethod
    def any_value() -> Matcher:
        """Present and not None."""
        return _AnyValue()

    @staticmethod
    def absent() -> Matcher:
        """The key is missing (or None)."""
        return _Absent()

    @staticmethod
    def array_with(items: Sequence[Any]) -> Matcher:
        """A list containing elements matching `items`, in this order (others may sit between)."""
        return _ArrayWith(items)

    @staticmethod
    def string_like_regex(pattern: str) -> Matcher:
        """A string in which `pattern` is found (`re.search`)."""
        return _StringLikeRegex(pattern)

    @staticmethod
    def not_(pattern: Any) -> Matcher:
        """Anything that does not match `pattern`."""
        return _Not(pattern)


class Capture(Matcher):
    """Matches like `pattern` (any value by default) and keeps what it matched, in order.

    A value is kept only when the whole match succeeds: the resource `has_resource` returns, the
    value `assert_match` accepts, the element `array_with` takes; a failed match keeps nothing.
    `capture.value` is the only (or last) value; `capture.values` all of them (a capture inside
    `array_with` or a repeated query sees several).
    """

    def __init__(self, pattern: Any = None) -> None:
        self.pattern = Match.any_value() if pattern is None else pattern
        self.values: list[Any] = []

    def mismatches(self, actual: Any, path: str) -> list[Mismatch]:
        tried = attempt(actual, self.pattern, path)
        if tried.matched:
            tried.captured.append((self, actual))
            tried.keep()
        return tried.mismatches

    @property
    def value(self) -> Any:
        if not self.values:
            raise LookupError("the capture matched nothing: the pattern around it did not match, or was not used")
        return self.values[-1]
