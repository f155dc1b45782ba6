"""Pod volumes: configMap and secret files, persistent claims, their mounts and ownership."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.podsim.common import PodConfigError, _as_dict, _as_list
from tests.support.podsim.host import _claim_mountpoint
from tests.support.podsim.identity import _PodIdentity


@dataclass
class _Volume:
    path: Path
    read_only: bool  # configMap and secret volumes are always read-only in kubelet
    writable_kind: bool  # subPaths may be created in it


class _Volumes(_PodIdentity):
    # -- volumes

    def _volume_owner(self) -> tuple[int | None, int | None]:
        if not self.honour_run_as_user:
            return None, None
        psc = _as_dict(self._pod_spec.get("securityContext"))
        uid = psc.get("runAsUser")
        if uid is None:
            first = next(iter(self._containers.values()))
            uid = _as_dict(first.get("securityContext")).get("runAsUser")
        fs_group = psc.get("fsGroup")
        return (int(uid) if uid is not None else None), (int(fs_group) if fs_group is not None else None)

    @staticmethod
    def _project(
        dest: Path,
        data: Mapping[str, bytes],
        items: list[Any] | None,
        default_mode: int,
        fs_group: int | None,
        *,
        optional: bool,
        what: str,
    ) -> None:
        """Write configMap/secret keys as files, like kubelet's atomic writer (minus the ..data symlinks)."""
        dest.mkdir(parents=True, exist_ok=True)
        dest.chmod(0o755)
        entries = (
            [(str(it["key"]), str(it.get("path", it["key"])), it.get("mode")) for it in items]
            if items is not None
            else [(k, k, None) for k in data]
        )
        for key, rel, mode in entries:
            if key not in data:
                if optional:
                    continue
                raise PodConfigError(f"{what} has no key {key!r}")
            relpath = Path(rel)
            if relpath.is_absolute() or ".." in relpath.parts:
                raise PodConfigError(f"{what}: item path {rel!r} must be relative without '..'")
            target = dest / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[key])
            file_mode = int(mode) if mode is not None else default_mode
            if fs_group is not None:
                os.chown(target, -1, fs_group)
                file_mode |= 0o440  # kubelet's read-only fsGroup mask
            target.chmod(file_mode)

    @staticmethod
    def _apply_fs_group(path: Path, gid: int) -> None:
        """What kubelet does for fsGroup on writable volumes: chgrp -R, g+rw, setgid dirs."""
        for root, dirs, files in os.walk(path):
            os.chown(root, -1, gid)
            os.chmod(root, os.stat(root).st_mode | 0o2770)  # noqa: S103 - kubelet's fsGroup mask
            for name in files:
                p = os.path.join(root, name)
                if not os.path.islink(p):
                    os.chown(p, -1, gid)
                    os.chmod(p, os.stat(p).st_mode | 0o660)
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]

    def _project_source(
        self, d: Path, kind: str, src: Mapping[str, Any], *, mode: int, fs_group: int | None, what: str
    ) -> None:
        """One configMap/secret source (a volume of its own, or part of a projected volume)."""
        ref = str(src.get("secretName") or src.get("name")) if kind == "secret" else str(src.get("name"))
        data = (self._configmaps if kind == "configMap" else self._secrets).get(ref)
        if data is None and not src.get("optional"):
            raise PodConfigError(f"{what}: {kind} {ref!r} not found")
        items = _as_list(src["items"]) if "items" in src else None
        optional = bool(src.get("optional"))
        self._project(d, data or {}, items, mode, fs_group, optional=optional, what=f"{what} ({kind} {ref!r})")

    def _make_volume(self, i: int, v: Mapping[str, Any], d: Path, fs_group: int | None) -> _Volume:
        what = f"{self.pod_name(i)}: volume {v['name']!r}"
        if "configMap" in v or "secret" in v:
            kind = "configMap" if "configMap" in v else "secret"
            src = _as_dict(v[kind])
            self._project_source(d, kind, src, mode=int(src.get("defaultMode", 0o644)), fs_group=fs_group, what=what)
            return _Volume(d, read_only=True, writable_kind=False)
        if "emptyDir" in v:  # medium: Memory is a plain dir too
            d.mkdir()
            d.chmod(0o777)  # what kubelet gives an emptyDir
            return _Volume(d, read_only=False, writable_kind=True)
        raise PodConfigError(f"{what} has an unsupported type {[k for k in v if k != 'name']}")

    def _prepare_volumes(self, i: int) -> dict[str, _Volume]:
        root = self.workdir / "pods" / self.pod_name(i) / "volumes"
        shutil.rmtree(root, ignore_errors=True)  # configMap copies and emptyDirs are per pod start
        root.mkdir(parents=True)
        uid, fs_group = self._volume_owner()
        volumes = {
            str(v["name"]): self._make_volume(i, v, root / str(v["name"]), fs_group)
            for v in _as_list(self._pod_spec.get("volumes"))
        }
        for template in self._claim_templates:
            # The StatefulSet controller replaces a same-named pod volume with the claim.
            path = self.pvc_path(template, i)
            path.mkdir(parents=True, exist_ok=True)
            volumes[template] = _Volume(path, read_only=False, writable_kind=True)
        for vol in volumes.values():
            if vol.writable_kind and vol.path.is_relative_to(self.workdir):
                if fs_group is not None:
                    self._apply_fs_group(vol.path, fs_group)
                if uid is not None:
                    os.chown(vol.path, uid, -1)  # lenient: lets runAsUser write even without fsGroup
        return volumes

    def _plan_mounts(self, pod: str, c: Mapping[str, Any], volumes: Mapping[str, _Volume]) -> list[dict[str, Any]]:
        mounts: list[dict[str, Any]] = []
        # Parents before children, like kubelet, so /data/log can sit on top of /data.
        for vm in sorted(_as_list(c.get("volumeMounts")), key=lambda m: len(Path(str(m["mountPath"])).parts)):
            vol = volumes.get(str(vm["name"]))
            if vol is None:
                raise PodConfigError(f"{pod}: container {c['name']!r} mounts unknown volume {vm['name']!r}")
            src = vol.path
            sub = str(vm.get("subPath") or "")
            if sub:
                subpath = Path(sub)
                if subpath.is_absolute() or ".." in subpath.parts:
                    raise PodConfigError(f"{pod}: subPath {sub!r} must be relative without '..'")
                src = src / subpath
                if not src.exists():
                    if not vol.writable_kind:
                        raise PodConfigError(f"{pod}: subPath {sub!r} does not exist in volume {vm['name']!r}")
                    src.mkdir(parents=True)
            dst = Path(str(vm["mountPath"]))
            if not dst.is_absolute():
                raise PodConfigError(f"{pod}: mountPath {dst} must be absolute")
            _claim_mountpoint(dst, is_file=src.is_file(), owner=self.id)
            mounts.append({"src": str(src), "dst": str(dst), "ro": bool(vm.get("readOnly")) or vol.read_only})
        return mounts
