"""A simulated StatefulSet's identity: pod names, DNS, environment (the base of the other parts)."""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.podsim.common import _HOST_PATH, PodConfigError, _as_dict, _as_list, expand_k8s_vars
from tests.support.podsim.network import PodNetwork, _DnsRecord


@dataclass
class _User:
    uid: int
    gid: int
    groups: list[int]

    def as_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "gid": self.gid, "groups": self.groups}


@dataclass
class _ContainerRun:
    name: str
    spec: dict[str, Any]
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    static_env: dict[str, str]  # literal `value`s only: what kubelet expands in probe commands
    user: _User | None
    cwd: str
    no_new_privs: bool

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class _PodRun:
    sandbox: subprocess.Popen[bytes]
    containers: dict[str, _ContainerRun] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # containers whose startupProbe has passed


class _PodIdentity:
    """Names, DNS and environment of the pods; the attributes StatefulSetSim.__init__ sets."""

    name: str
    service_name: str
    replicas: int
    network: PodNetwork
    namespace: str
    cluster_domain: str
    workdir: Path
    honour_run_as_user: bool
    node_name: str
    init_timeout: float
    id: str
    _template: dict[str, Any]
    _pod_spec: dict[str, Any]
    _containers: dict[str, dict[str, Any]]
    _claim_templates: list[str]
    _configmaps: dict[str, dict[str, bytes]]
    _secrets: dict[str, dict[str, bytes]]
    _base_env: dict[str, str]
    _runs: dict[int, _PodRun]
    _ips: dict[int, str]
    _uids: dict[int, str]
    _netns_created: set[int]
    _lock: threading.RLock
    _closed: bool
    _tmp: Path
    _shim_dir: Path

    # -- identity

    def _check_ordinal(self, i: int) -> None:
        if i not in self._ips:
            raise IndexError(f"{self.name} has ordinals 0..{self.replicas - 1}, not {i}")

    def pod_name(self, i: int) -> str:
        return f"{self.name}-{i}"

    def pod_fqdn(self, i: int) -> str:
        return f"{self.pod_name(i)}.{self.service_name}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def service_fqdn(self) -> str:
        return f"{self.service_name}.{self.namespace}.svc.{self.cluster_domain}"

    def pod_ip(self, i: int) -> str:
        self._check_ordinal(i)
        return self._ips[i]

    def netns(self, i: int) -> str:
        return f"{self.network.prefix}-{self.name}-{i}"

    @property
    def container_names(self) -> list[str]:
        return list(self._containers)

    @property
    def hosts(self) -> dict[str, str]:
        """Name -> IP exactly as this StatefulSet's pods resolve them (FQDNs and search-path forms)."""
        return self.network.hosts(self.namespace)

    def resolve(self, host: str) -> str:
        """IP for a name a server handed back (pod FQDN, short form, or already an IP)."""
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(host))
        try:
            return self.hosts[host.rstrip(".")]
        except KeyError:
            raise KeyError(f"{host!r} is not a name on the pod network") from None

    def pvc_path(self, template: str, i: int) -> Path:
        """Host dir backing PVC `<template>-<sts>-<i>` (persists across restarts and close())."""
        return self.workdir / "pvc" / f"{template}-{self.name}-{i}"

    def log_path(self, i: int, container: str | None = None) -> Path:
        return self.workdir / "logs" / self.pod_name(i) / f"{container or self.container_names[0]}.log"

    def log(self, i: int, container: str | None = None) -> str:
        """Everything the container (or init container) wrote to stdout/stderr, across restarts (like
        `kubectl logs`, appended)."""
        try:
            return self.log_path(i, container).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- DNS

    def _dns_records(self) -> list[_DnsRecord]:
        svc, ns, cd = self.service_name, self.namespace, self.cluster_domain
        records = [
            _DnsRecord(
                ip,
                ns,
                (f"{pod}.{svc}.{ns}.svc.{cd}", f"{pod}.{svc}.{ns}.svc", f"{pod}.{svc}.{ns}"),
                (f"{pod}.{svc}",),
            )
            for i, ip in sorted(self._ips.items())
            for pod in [self.pod_name(i)]
        ]
        if self._ips:
            first = self._ips[min(self._ips)]
            records.append(_DnsRecord(first, ns, (f"{svc}.{ns}.svc.{cd}", f"{svc}.{ns}.svc", f"{svc}.{ns}"), (svc,)))
        return records

    def _hosts_text(self, i: int) -> str:
        pod, fqdn, ip = self.pod_name(i), self.pod_fqdn(i), self._ips[i]
        svc, ns = self.service_name, self.namespace
        own = [fqdn, f"{pod}.{svc}.{ns}.svc", f"{pod}.{svc}.{ns}", f"{pod}.{svc}", pod]
        lines = [
            "# Kubernetes-managed hosts file (podsim): kubelet's entries, then what cluster DNS would answer.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet",
            "fe00::0\tip6-mcastprefix",
            "fe00::1\tip6-allnodes",
            "fe00::2\tip6-allrouters",
            f"{ip}\t{' '.join(own)}",
        ]
        lines += [f"{r.ip}\t{' '.join(r.names_for(ns))}" for r in self.network._records() if r.qualified[0] != fqdn]
        return "\n".join(lines) + "\n"

    def _hosts_file(self, i: int) -> Path:
        return self._tmp / "hosts" / self.pod_name(i)

    def _write_hosts_files(self) -> None:
        with self._lock:
            if self._closed:
                return
            for i in sorted(self._ips):
                path, text = self._hosts_file(i), self._hosts_text(i).encode()
                if path.exists() and path.read_bytes() == text:
                    continue  # running pods may be resolving right now: never blank the file needlessly
                # Rewrite the same inode (running pods see it through their bind mount): overwrite,
                # then cut, so a concurrent reader never sees an empty file.
                with path.open("r+b" if path.exists() else "wb") as fh:
                    fh.write(text)
                    fh.truncate()

    # -- pod environment

    def _field_ref(self, i: int, path: str) -> str:
        simple = {
            "metadata.name": self.pod_name(i),
            "metadata.namespace": self.namespace,
            "metadata.uid": self._uids.setdefault(i, str(uuid.uuid4())),
            "status.podIP": self._ips[i],
            "status.podIPs": self._ips[i],
            "status.hostIP": self.network.gateway,
            "status.hostIPs": self.network.gateway,
            "spec.nodeName": self.node_name,
            "spec.serviceAccountName": str(self._pod_spec.get("serviceAccountName") or "default"),
        }
        if path in simple:
            return simple[path]
        raise PodConfigError(f"{self.pod_name(i)}: unsupported fieldRef {path!r}")

    def _key_ref(self, kind: str, ref: Mapping[str, Any], pod: str) -> str | None:
        store = self._secrets if kind == "secret" else self._configmaps
        data = store.get(str(ref.get("name")))
        key = str(ref.get("key"))
        if data is None or key not in data:
            if ref.get("optional"):
                return None
            raise PodConfigError(f"{pod}: {kind} {ref.get('name')!r} has no key {key!r} (and the ref is not optional)")
        return data[key].decode()

    def _value_from(self, i: int, c: Mapping[str, Any], name: str, vf: Mapping[str, Any]) -> str | None:
        pod = self.pod_name(i)
        if "fieldRef" in vf:
            return self._field_ref(i, str(vf["fieldRef"]["fieldPath"]))
        if "secretKeyRef" in vf:
            return self._key_ref("secret", vf["secretKeyRef"], pod)
        if "configMapKeyRef" in vf:
            return self._key_ref("configMap", vf["configMapKeyRef"], pod)
        raise PodConfigError(f"{pod}: env {name!r} has an unsupported valueFrom {list(vf)}")

    def _container_env(self, i: int, c: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(full env, declared vars used for $(VAR) expansion, static literal-only vars for probes)."""
        pod = self.pod_name(i)
        declared: dict[str, str] = {}
        static: dict[str, str] = {}
        for e in _as_list(c.get("env")):
            name = str(e["name"])
            if "valueFrom" in e:
                value = self._value_from(i, c, name, _as_dict(e["valueFrom"]))
                if value is not None:
                    declared[name] = value
            else:
                declared[name] = expand_k8s_vars(str(e.get("value", "")), declared)
                static[name] = declared[name]
        home = self._tmp / "home" / pod
        env = {"PATH": f"{self._shim_dir}:{_HOST_PATH}", "HOSTNAME": pod, "HOME": str(home)}
        env.update(self._base_env)
        env.update(declared)
        if "PATH" in declared:  # an explicit PATH replaces the image's, but the shims stand in for the image
            env["PATH"] = f"{self._shim_dir}:{declared['PATH']}"
        return env, declared, static

    def _user(self, c: Mapping[str, Any]) -> _User | None:
        if not self.honour_run_as_user:
            return None
        psc = _as_dict(self._pod_spec.get("securityContext"))
        csc = _as_dict(c.get("securityContext"))

        def pick(key: str) -> Any:
            return csc.get(key, psc.get(key))

        uid, gid, non_root = pick("runAsUser"), pick("runAsGroup"), pick("runAsNonRoot")
        if non_root and not uid:
            # No image USER to fall back to; kubelet would refuse a root container here too.
            raise PodConfigError(f"container {c['name']!r}: runAsNonRoot is set but runAsUser is {uid!r}")
        if uid is None:
            return None
        groups = {int(g) for g in _as_list(psc.get("supplementalGroups"))}
        if psc.get("fsGroup") is not None:
            groups.add(int(psc["fsGroup"]))
        # Without runAsGroup the runtime uses the image's passwd entry, or gid 0 if there is none.
        return _User(int(uid), int(gid) if gid is not None else 0, sorted(groups))
