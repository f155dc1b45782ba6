"""A real S3 API for the backup tests: versitygw (the toolchain builds it) over a temp directory.

`object_store(address)` starts one gateway listening on `address` (the pods reach the host at
their network's `.1`, the real nodes at the cluster bridge's), with one bucket, and stops it
afterwards. `ObjectStore.restic()` runs the host's restic against a repository in it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.polling import wait_until
from tests.support.toolchain import toolchain_bin

BUCKET = "backups"


@dataclass
class ObjectStore:
    endpoint: str  # http://host:port
    access_key_id: str
    secret_access_key: str
    root: Path  # the gateway's directory: buckets are its folders
    process: subprocess.Popen[bytes]

    def keys(self, password: str) -> dict[str, str]:
        """A repository Secret's data (stringData): the repository's password and the store's keys."""
        return {
            "RESTIC_PASSWORD": password,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def url(self, path: str) -> str:
        return f"s3:{self.endpoint}/{BUCKET}/{path}"

    def restic(self, path: str, password: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The host's restic against the repository at `path` (not checked: the caller reads the result)."""
        env = {
            **os.environ,
            **self.keys(password),
            "RESTIC_REPOSITORY": self.url(path),
            "RESTIC_CACHE_DIR": str(self.root.parent / "restic-cache"),
        }
        return subprocess.run(["restic", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def stop(self) -> None:
        """The store goes down (and stays down until `start`): an unreachable store."""
        self.process.terminate()
        self.process.wait(10)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def object_store(workdir: Path, host: str = "127.0.0.1", port: int | None = None) -> Iterator[ObjectStore]:
    """A versitygw gateway on host:port (a free port by default), a bucket `backups`, fresh keys."""
    gateway = toolchain_bin("versitygw") / "versitygw"
    root = workdir / "s3"
    (root / BUCKET).mkdir(parents=True)
    port = port or _free_port(host)
    access, secret = f"test-{secrets.token_hex(4)}", secrets.token_hex(16)
    log = (workdir / "versitygw.log").open("wb")
    process = subprocess.Popen(
        [str(gateway), "--access", access, "--secret", secret, "--port", f"{host}:{port}", "posix", str(root)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    store = ObjectStore(f"http://{host}:{port}", access, secret, root, process)
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"versitygw exited: {(workdir / 'versitygw.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
                return True
            return False

        wait_until("versitygw to listen", answers, timeout=30)
        yield store
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
        log.close()
