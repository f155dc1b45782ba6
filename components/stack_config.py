"""Stack config -> typed models, with errors that name the config key.

A Pulumi program reads structured stack config (maps under `<project>:<key>`); this turns one such
value into a spec model and, when it is invalid, into a `pulumi.RunError` listing every problem as
`<project>:<key>.<field>: <value>: <rule>`, so the user sees which line of the stack file to fix.
The rules themselves stay in the models (components/spec); this only maps where they point.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
from pydantic import TypeAdapter, ValidationError


def from_config(key: str, schema: Any, value: Any, set_by_program: dict[str, tuple[Any, str]] | None = None) -> Any:
    """Validate the config value at `key` into `schema`.

    `set_by_program` maps model fields the program fills in (not allowed in the block) to
    (value, why it is not a config key); a clashing value is never echoed, it may be a password.
    """
    problems = []
    if set_by_program:
        if not isinstance(value, dict):
            problems.append(f"{key}: {value!r}: must be a map of {schema.__name__} keys")
        else:
            problems += [
                f"{key}.{k}: not allowed in this block; {why}" for k, (_, why) in set_by_program.items() if k in value
            ]
            value = {**value, **{k: v for k, (v, _) in set_by_program.items()}}
    try:
        if not problems:
            return TypeAdapter(schema).validate_python(value)
    except ValidationError as error:
        problems += [_describe(key, value, e) for e in error.errors()]
    raise pulumi.RunError("invalid stack config:\n  " + "\n  ".join(problems))


def _describe(key: str, value: Any, e: Any) -> str:
    rule, loc, node, path = str(e["msg"]).removeprefix("Value error, "), e["loc"], value, ""
    for part in loc:  # follow the config; pydantic's union tags are not in it
        if isinstance(node, dict) and (part in node or e["type"] == "missing"):
            node, path = node.get(part), f"{path}.{part}"
        elif isinstance(node, list) and isinstance(part, int):
            node, path = node[part], f"{path}[{part}]"
    if not loc and (field := re.match(r"[a-z_][a-z0-9_.]*(?==)", rule)):  # cross-field: `replicas=4 is even ...`
        path = f".{field[0]}"
    got = "" if e["type"] == "missing" or (not loc and e["type"] == "value_error") else f"{e['input']!r}: "
    rule = "unknown key (not a field of this block)" if e["type"] == "extra_forbidden" else rule
    return f"{key}{path}: {got}{rule}"
