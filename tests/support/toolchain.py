"""Where the tests find the toolchain's binaries: built, or verified, now (tools/toolchain/build).

Asked of the builder itself rather than read from its env file: that file is shared by every
checkout on the machine, and an older release's build (the upgrade test runs one) rewrites it
without the tools it does not know.
"""

from __future__ import annotations

from pathlib import Path

from tools.engine import toolchain_env
from tools.toolchain.build import BIN_VARIABLES


def toolchain_bin(tool: str) -> Path:
    """The bin directory of `tool` (a name of tools/toolchain/catalog.py, e.g. "versitygw")."""
    return Path(toolchain_env((tool,))[BIN_VARIABLES[tool]])
