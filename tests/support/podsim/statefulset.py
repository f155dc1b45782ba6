"""StatefulSetSim: one rendered StatefulSet's pods, scaled and torn down like the controller does."""

from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from tests.support.podsim.common import Manifest, _as_dict, _as_list, _configmap_data, _secret_data
from tests.support.podsim.host import _destroy_netns, _release_mountpoints
from tests.support.podsim.identity import _PodRun
from tests.support.podsim.network import PodNetwork
from tests.support.podsim.probes import _Probes


class StatefulSetSim(_Probes):
    """Runs the pods of one rendered StatefulSet on a PodNetwork.

    `configmaps` maps a name to a ConfigMap manifest (or plain data mapping); `secrets` maps a name to
    its stringData (or a Secret manifest). `containers` picks which containers run (default: all, in
    manifest order; the first one is the default for `exec`/`log`). `path_shims` maps a command name
    to an executable on this host, reachable through PATH in every container (stands in for the image).
    `honour_run_as_user=False` runs everything as root (for host packages whose paths only root may
    write) and skips the runAsNonRoot check and volume ownership changes. `init_timeout` bounds each
    init container's run (seconds).
    """

    def __init__(
        self,
        network: PodNetwork,
        statefulset: Manifest,
        configmaps: Mapping[str, Manifest] | None = None,
        secrets: Mapping[str, Manifest] | None = None,
        *,
        workdir: Path,
        namespace: str = "default",
        cluster_domain: str = "cluster.local",
        path_shims: Mapping[str, str] | None = None,
        containers: Sequence[str] | None = None,
        honour_run_as_user: bool = True,
        base_env: Mapping[str, str] | None = None,
        node_name: str = "podsim-node",
        init_timeout: float = 120.0,
    ) -> None:
        sts = copy.deepcopy(dict(statefulset))
        if sts.get("kind", "StatefulSet") != "StatefulSet":
            raise ValueError(f"expected a StatefulSet manifest, got kind {sts.get('kind')!r}")
        meta, spec = _as_dict(sts.get("metadata")), _as_dict(sts.get("spec"))
        self.name = str(meta.get("name") or "")
        self.service_name = str(spec.get("serviceName") or "")
        if not self.name or not self.service_name:
            raise ValueError("the StatefulSet needs metadata.name and spec.serviceName (pod DNS depends on both)")
        replicas = spec.get("replicas", 1)
        self.replicas = int(replicas) if replicas is not None else 1
        self._template = _as_dict(spec.get("template"))
        self._pod_spec = _as_dict(self._template.get("spec"))
        all_containers = {str(c["name"]): dict(c) for c in _as_list(self._pod_spec.get("containers"))}
        if not all_containers:
            raise ValueError("spec.template.spec.containers is empty")
        chosen = list(containers) if containers is not None else list(all_containers)
        unknown = [c for c in chosen if c not in all_containers]
        if unknown or not chosen:
            raise ValueError(f"unknown containers {unknown}; the pod has {list(all_containers)}")
        self._containers = {c: all_containers[c] for c in chosen}
        self._claim_templates = [
            str(_as_dict(t.get("metadata")).get("name")) for t in _as_list(spec.get("volumeClaimTemplates"))
        ]

        self.network = network
        self.namespace = namespace
        self.cluster_domain = cluster_domain
        self.workdir = Path(workdir)
        self.honour_run_as_user = honour_run_as_user
        self.node_name = node_name
        self.init_timeout = init_timeout
        self._configmaps = {k: _configmap_data(v) for k, v in (configmaps or {}).items()}
        self._secrets = {k: _secret_data(v) for k, v in (secrets or {}).items()}
        self._base_env = dict(base_env or {})
        self.id = f"{network.prefix}-{self.name}"  # owner tag for mount points and temp dir
        self._runs: dict[int, _PodRun] = {}
        self._ips: dict[int, str] = {}
        self._uids: dict[int, str] = {}
        self._netns_created: set[int] = set()
        self._lock = threading.RLock()
        self._closed = False

        for cname, target in (path_shims or {}).items():
            if "/" in cname or not cname:
                raise ValueError(f"path_shims key must be a bare command name, got {cname!r}")
            if not os.access(target, os.X_OK):
                raise ValueError(f"path_shims[{cname!r}] = {target!r} is not an executable")

        # World-traversable temp dir (not under the test's 0700 tmp_path) so non-root containers can
        # reach the shims and their HOME.
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self._tmp.chmod(0o755)
        atexit.register(self.close)
        try:
            self._shim_dir = self._tmp / "shims"
            self._shim_dir.mkdir(mode=0o755)
            for cname, target in (path_shims or {}).items():
                # A wrapper, not a symlink: scripts like zkServer.sh locate their siblings via $0.
                shim = self._shim_dir / cname
                shim.write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
                shim.chmod(0o755)
            (self._tmp / "hosts").mkdir(mode=0o755)
            (self._tmp / "home").mkdir(mode=0o755)
            cd = self.cluster_domain
            (self._tmp / "resolv.conf").write_text(
                f"search {namespace}.svc.{cd} svc.{cd} {cd}\nnameserver 127.0.0.1\noptions ndots:5\n"
            )
            for i in range(self.replicas):
                self._ips[i] = network._allocate_ip()
            network._attach(self)
        except BaseException:
            self.close()
            raise

    def start_all(self) -> None:
        """Start every ordinal at once (podManagementPolicy Parallel, as both ensembles use)."""
        ordinals = sorted(self._ips)
        with ThreadPoolExecutor(max_workers=max(1, len(ordinals))) as pool:
            futures = [pool.submit(self.start, i) for i in ordinals]
        errors = [exc for f in futures if (exc := f.exception()) is not None]
        if errors:
            raise errors[0]

    # -- scaling and cleanup

    def set_configmap(self, name: str, configmap: Manifest) -> None:
        """A changed ConfigMap: pods see it from their next start (kubelet would update the mounted
        files in place; every script here reads its config at start)."""
        self._configmaps[name] = _configmap_data(configmap)

    def scale(self, replicas: int, *, start: bool = True, grace: float | None = 10.0) -> None:
        """Change replicas like the controller: new ordinals get IPs + DNS (and start, Parallel);
        removed ones stop highest first and lose netns, IP and DNS records; their PVCs stay."""
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        old = self.replicas
        if replicas > old:
            for j in range(old, replicas):
                self._ips[j] = self.network._allocate_ip()
            self.replicas = replicas
            self.network._refresh_hosts()
            if start:
                with ThreadPoolExecutor(max_workers=replicas - old) as pool:
                    futures = [pool.submit(self.start, j) for j in range(old, replicas)]
                for f in futures:
                    f.result()
        else:
            for j in reversed(range(replicas, old)):
                self.stop(j, grace)
                self._destroy_pod_network(j)
                self.network._release_ip(self._ips.pop(j))
            self.replicas = replicas
            self.network._refresh_hosts()

    def _destroy_pod_network(self, i: int) -> None:
        if i in self._netns_created:
            _destroy_netns(self.netns(i))
            self._netns_created.discard(i)
        self._hosts_file(i).unlink(missing_ok=True)

    def close(self) -> None:
        """SIGKILL every pod, delete their netns, unclaim mount points, remove temp files (idempotent).
        Logs and PVC dirs under `workdir` are kept for inspection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        errors: list[BaseException] = []
        for i in list(self._runs):
            try:
                self._teardown(i, grace=0)
            except Exception as exc:  # keep cleaning; report the first failure
                errors.append(exc)
        for i in list(self._netns_created):
            try:
                self._destroy_pod_network(i)
            except Exception as exc:
                errors.append(exc)
        for ip in self._ips.values():
            self.network._release_ip(ip)
        self.network._detach(self)
        _release_mountpoints(self.id)
        shutil.rmtree(self._tmp, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> StatefulSetSim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
