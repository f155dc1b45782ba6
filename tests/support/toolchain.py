"""Where the tests find the toolchain's binaries (tools/toolchain/build's env file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def toolchain_bin(variable: str) -> Path:
    """The bin directory the toolchain's env file exports as `variable` (e.g. STATEFULKIT_KUBE_BIN)."""
    env_file = subprocess.run(
        [str(ROOT / "tools/toolchain/build"), "--env-file"], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()
    prefix = f"export {variable}="
    for line in Path(env_file).read_text().splitlines():
        if line.startswith(prefix):
            return Path(line[len(prefix) :].strip("'\""))
    raise LookupError(f"{env_file} exports no {variable}: build the toolchain (make toolchain)")
