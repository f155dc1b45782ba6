"""What every part of podsim shares: the manifest type, the errors, object naming, manifest reading."""

from __future__ import annotations

import base64
import itertools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Manifest = Mapping[str, Any]
ProbeKind = Literal["readiness", "liveness", "startup"]

# Every kernel object and temp dir we create starts with "psim<pid>-<n>": link names are capped at
# 15 characters, and the pid lets a later run tell a leftover (dead pid) from a parallel run.
_NAME_PREFIX = "psim"
_OWNER_RE = re.compile(r"^psim(\d+)-[0-9a-z]+(?=$|-)")
_NETNS_DIR = Path("/run/netns")
_BRIDGE = "br0"
_UPLINK = "up0"
_FIRST_POD_HOST = 10  # .1 is the test process; pods get .10 upwards
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_PATH = os.environ.get("PATH") or _DEFAULT_PATH
# The helper runs with this minimal env and execs the container with the container's own env.
_HELPER_ENV = {"PATH": _HOST_PATH, "LC_ALL": "C.UTF-8"}
_counter = itertools.count(1)


class PodConfigError(RuntimeError):
    """The pod spec cannot be run as given (kubelet would report CreateContainerConfigError or similar)."""


class PodStartError(RuntimeError):
    """A pod's sandbox or one of its init containers failed (or timed out)."""


class PodNotRunningError(RuntimeError):
    """The pod (or the container asked for) is not running."""


def expand_k8s_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names are replaced, unknown ones kept, `$$` escapes `$`."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end == -1:
                    out.append(text[i:])
                    break
                name = text[i + 2 : end]
                out.append(env[name] if name and name in env else text[i : end + 1])
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _as_dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _configmap_data(obj: Manifest) -> dict[str, bytes]:
    """A ConfigMap manifest (data/binaryData) or a plain name->text mapping."""
    if obj.get("kind") == "ConfigMap" or "data" in obj or "binaryData" in obj:
        data = {str(k): str(v).encode() for k, v in _as_dict(obj.get("data")).items()}
        data.update({str(k): base64.b64decode(str(v)) for k, v in _as_dict(obj.get("binaryData")).items()})
        return data
    return {str(k): str(v).encode() for k, v in obj.items()}


def _secret_data(obj: Manifest) -> dict[str, bytes]:
    """A Secret manifest (stringData / base64 data) or a plain name->text mapping (stringData)."""
    is_manifest = obj.get("kind") == "Secret" or any(isinstance(obj.get(k), Mapping) for k in ("stringData", "data"))
    if is_manifest:
        data = {str(k): base64.b64decode(str(v)) for k, v in _as_dict(obj.get("data")).items()}
        data.update({str(k): str(v).encode() for k, v in _as_dict(obj.get("stringData")).items()})
        return data
    return {str(k): str(v).encode() for k, v in obj.items()}


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
