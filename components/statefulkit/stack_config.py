"""Stack config -> typed models, with errors that name the config key.

A Pulumi program reads structured stack config (maps under `<project>:<key>`); `StackConfig`
turns each such value into a model and collects every problem of every key as
`<project>:<key>.<field>: <value>: <rule>`, so that one run reports the whole stack file and the
user sees which lines to fix. The rules themselves stay in the models (components/statefulkit/args); this
only maps where they point.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
from pydantic import TypeAdapter, ValidationError

from statefulkit.args.common import DnsLabel


class StackConfig:
    """Validates config values one key at a time; `check()` then raises one `pulumi.RunError`
    listing every problem found, before the program registers anything."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def validate(
        self, key: str, schema: Any, value: Any, set_by_program: dict[str, tuple[Any, str]] | None = None
    ) -> Any:
        """The config value at `key` validated into `schema`, or None (with its problems recorded).

        `set_by_program` maps model fields the program fills in (not allowed in the block) to
        (value, why it is not a config key); a clashing value is never echoed, it may be a password.
        """
        found = []
        if set_by_program:
            if not isinstance(value, dict):
                self.problems.append(f"{key}: {value!r}: must be a map of {schema.__name__} keys")
                return None
            found += [
                f"{key}.{k}: not allowed in this block; {why}" for k, (_, why) in set_by_program.items() if k in value
            ]
            value = {**value, **{k: v for k, (v, _) in set_by_program.items()}}
        adapter = TypeAdapter(schema)
        try:
            validated = adapter.validate_python(value) if not found else None
        except ValidationError as error:
            program_keys = set(set_by_program or ())
            found += [_describe(key, value, e, program_keys) for e in error.errors()]
            found += _cross_field_problems(key, adapter, value, error, program_keys)
            validated = None
        self.problems += found
        return validated

    def namespace(self, key: str, value: Any) -> Any:
        """The namespace at `key` (a DNS-1123 label), or None with the problem recorded."""
        return self.validate(key, DnsLabel, value)

    def problem(self, text: str) -> None:
        """Record a problem a schema cannot see (`<key>: <what is wrong, and the fix>`)."""
        self.problems.append(text)

    def check(self) -> None:
        if self.problems:
            raise pulumi.RunError("invalid stack config:\n  " + "\n  ".join(self.problems))


def _cross_field_problems(
    key: str, adapter: TypeAdapter[Any], value: Any, error: ValidationError, program_keys: set[str]
) -> list[str]:
    """Rules between fields (`replicas=4 is even`, a sidecar named like the ensemble's container)
    run only once every field is valid. Validate again without the failing keys, so those rules
    speak in the same run; a rule that names a left-out key would judge its default, not the
    user's value, and is not reported."""
    if not isinstance(value, dict):
        return []
    failing = {e["loc"][0] for e in error.errors() if e["loc"] and e["loc"][0] in value}
    if not failing:
        return []
    try:
        adapter.validate_python({k: v for k, v in value.items() if k not in failing})
    except ValidationError as second:
        return [
            _describe(key, value, e, program_keys)
            for e in second.errors()
            if not (e["loc"] and e["loc"][0] in failing)
            and not any(re.search(rf"\b{re.escape(str(k))}\b", str(e["msg"])) for k in failing)
        ]
    return []


def _describe(key: str, value: Any, e: Any, program_keys: set[str]) -> str:
    rule, loc, node, path = str(e["msg"]).removeprefix("Value error, "), e["loc"], value, ""
    for part in loc:  # follow the config; pydantic's union tags are not in it
        if isinstance(node, dict) and (part in node or e["type"] == "missing"):
            node, path = node.get(part), f"{path}.{part}"
        elif isinstance(node, list) and isinstance(part, int):
            node, path = node[part], f"{path}[{part}]"
        elif isinstance(node, list) and (named := _named(node, part)) is not None:  # `env.A` of a list of {name: A}
            node, path = node[named], f"{path}[{named}]"
    if not loc and (field := re.match(r"[a-z_][a-z0-9_.]*(?==)", rule)):  # cross-field: `replicas=4 is even ...`
        path = f".{field[0]}"
    said = e["type"] == "missing" or (not loc and e["type"] == "value_error") or rule.startswith(repr(e["input"]))
    got = "" if said else f"{e['input']!r}: "
    if e["type"] == "extra_forbidden":
        suggestion = (e.get("ctx") or {}).get("suggestion")
        # A field the program fills in is no better a key than the one written.
        meant = suggestion is not None and not (len(loc) == 1 and suggestion in program_keys)
        rule = "unknown key (not a field of this block)" + (f"; did you mean '{suggestion}'?" if meant else "")
    return f"{key}{path}: {got}{rule}"


def _named(items: list[Any], name: Any) -> int | None:
    """The index of the item of a list of maps whose `name` is `name`."""
    return next((i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == name), None)
