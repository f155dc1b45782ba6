"""The local kwok cluster (tools/cluster/up) driven with its real kubectl, for e2e tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    kubeconfig: str
    kubectl_path: str

    @classmethod
    def up(cls) -> Cluster:
        """Start (or reuse) the local cluster; builds the Kubernetes toolchain on first use."""
        kubeconfig = subprocess.run(
            [str(ROOT / "tools/cluster/up")], check=True, stdout=subprocess.PIPE, text=True
        ).stdout.split()[-1]
        env_file = subprocess.run(
            [str(ROOT / "tools/toolchain/build"), "--env-file"], check=True, stdout=subprocess.PIPE, text=True
        ).stdout.strip()
        kube_bin = next(
            line.split("=", 1)[1].strip("'\"")
            for line in Path(env_file).read_text().splitlines()
            if line.startswith("export STATEFULKIT_KUBE_BIN=")
        )
        return cls(kubeconfig=kubeconfig, kubectl_path=os.path.join(kube_bin, "kubectl"))

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl_path, "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def get(self, kind: str, name: str = "", namespace: str | None = None, selector: str | None = None) -> Any:
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        if selector:
            args += ["-l", selector]
        return json.loads(self.kubectl(*args).stdout)

    def apply(self, objects: list[dict[str, Any]], *, dry_run: bool = False) -> subprocess.CompletedProcess[str]:
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        args = ["apply", "--server-side", "--field-manager=statefulkit-e2e", "-f", "-"]
        if dry_run:
            args.append("--dry-run=server")
        return self.kubectl(*args, input=body, check=False)

    def wait_until(self, what: str, condition: Any, timeout: float = 120.0, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    @contextmanager
    def namespace(self, prefix: str, labels: dict[str, str] | None = None) -> Iterator[str]:
        """A fresh namespace, deleted (with its PVCs) afterwards."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        applied = self.apply([manifest])
        assert applied.returncode == 0, applied.stderr
        try:
            yield name
        finally:
            self.kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False)
