"""Run a program from a root filesystem roughly as a container runtime would, for checks and tests.

The program runs as a given uid/gid, chrooted into an overlay of the rootfs (its writes land in a
scratch layer, so a cached rootfs stays as built), with its own network (loopback only), mount,
UTS and PID namespaces, /proc of its own and the machine's /dev, the image's PATH, and the host
directories `binds` mounted where a pod would mount its volumes. Needs root, util-linux and iproute2.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def command(
    rootfs: Path,
    argv: Sequence[str],
    *,
    scratch: Path,
    user: tuple[int, int],
    env: Mapping[str, str] | None = None,
    binds: Mapping[str, Path] | None = None,
    read_only: Sequence[str] = (),
    hostname: str = "sandbox",
) -> list[str]:
    """The host command that runs `argv` in `rootfs`; `scratch` (an empty directory) holds its writes."""
    uid, gid = user
    variables = {"PATH": DEFAULT_PATH, "HOME": "/", **(env or {})}
    merged = scratch / "root"
    for part in ("upper", "work", "root"):
        (scratch / part).mkdir()
    q = shlex.quote
    steps = [
        "set -e",
        "ip link set lo up",
        f"echo {q(hostname)} >/proc/sys/kernel/hostname",
        f"mount -t overlay overlay -o lowerdir={q(str(rootfs))},upperdir={q(str(scratch / 'upper'))},"
        f"workdir={q(str(scratch / 'work'))} {q(str(merged))}",
        f"mkdir -p {q(str(merged / 'proc'))} {q(str(merged / 'dev'))}",
        f"mount -t proc proc {q(str(merged / 'proc'))}",
        f"mount --rbind /dev {q(str(merged / 'dev'))}",
    ]
    for target, source in (binds or {}).items():
        at = q(str(merged / target.lstrip("/")))
        steps.append(f"touch {at}" if source.is_file() else f"mkdir -p {at}")
        steps.append(f"mount --bind {q(str(source))} {at}")
        if target in read_only:
            steps.append(f"mount -o remount,bind,ro {at}")
    exports = " ".join(q(f"{k}={v}") for k, v in variables.items())
    steps.append(
        f"exec env -i {exports} chroot --userspec={uid}:{gid} --groups={gid} {q(str(merged))} " + " ".join(map(q, argv))
    )
    return [
        "unshare", "--net", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--propagation", "private",
        "sh", "-c", "\n".join(steps),
    ]  # fmt: skip


def run(
    rootfs: Path,
    argv: Sequence[str],
    *,
    user: tuple[int, int],
    env: Mapping[str, str] | None = None,
    binds: Mapping[str, Path] | None = None,
    read_only: Sequence[str] = (),
    hostname: str = "sandbox",
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in `rootfs` to its end, with its output (see `command`)."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as scratch:
        host = command(
            rootfs, argv, scratch=Path(scratch), user=user, env=env, binds=binds, read_only=read_only, hostname=hostname
        )
        return subprocess.run(host, capture_output=True, text=True, timeout=timeout, check=False)
