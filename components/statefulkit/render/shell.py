"""The ensembles' shell scripts: real files in components/statefulkit/render/scripts/, filled in here.

A script names the values it needs as `@@NAME@@` (in assignments at its top, so the rest reads,
and is checked by shellcheck, as plain shell); each value is inserted shell-quoted. A script
that asks for a value not given, or is given one it does not use, is a programming error.
"""

from __future__ import annotations

import re
import shlex
from importlib import resources

_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def render_script(name: str, **values: str | int) -> str:
    text = resources.files("statefulkit.render").joinpath("scripts", name).read_text()
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise ValueError(f"{name}: needs {sorted(wanted)}, given {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: shlex.quote(str(values[m[1]])), text)
