"""A Kubernetes CronJob schedule, checked as the CronJob controller parses it (five fields or a macro)."""

from __future__ import annotations

from collections.abc import Sequence

_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# name, lowest, highest, names (numbered from the lowest): the five fields of a CronJob schedule.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)


def _cron_value(text: str, low: int, high: int, names: Sequence[str]) -> int:
    if text.upper() in names:
        return low + list(names).index(text.upper())
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(
            f"{text!r} is not a number from {low} to {high}" + (f" or one of {', '.join(names)}" if names else "")
        )
    return int(text)


def _cron_field(text: str, low: int, high: int, names: Sequence[str]) -> None:
    for item in text.split(","):
        span, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"step {step!r} must be a positive number")
        if span in ("*", "?"):
            continue
        first, dash, last = span.partition("-")
        start = _cron_value(first, low, high, names)
        if dash and _cron_value(last, low, high, names) < start:
            raise ValueError(f"range {span!r} runs backwards")


def check_schedule(value: str) -> str:
    """A Kubernetes CronJob schedule: five fields (minute hour day-of-month month day-of-week), or a
    macro such as @daily. Time zones go in the CronJob's timeZone, not the schedule."""
    if value in _CRON_MACROS:
        return value
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"schedule={value!r} has {len(fields)} fields; a cron schedule has five (minute hour day-of-month month "
            f"day-of-week, e.g. '17 3 * * *') or is one of {', '.join(_CRON_MACROS)}"
        )
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        try:
            _cron_field(text, low, high, names)
        except ValueError as error:
            raise ValueError(f"schedule={value!r}: the {name} field {text!r}: {error}") from None
    return value
