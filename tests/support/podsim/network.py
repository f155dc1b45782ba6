"""The pod network: one L2 segment in its own namespace, IPs and the DNS records every pod sees."""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import random
import subprocess
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from tests.support.podsim.common import _BRIDGE, _FIRST_POD_HOST, _NAME_PREFIX, _UPLINK, _base36, _counter
from tests.support.podsim.host import _destroy_netns, _ip, _machine_lock, cleanup_leftovers, netns_unavailable_reason

if TYPE_CHECKING:  # the sims attach themselves to their network
    from tests.support.podsim.statefulset import StatefulSetSim


@dataclass(frozen=True)
class _DnsRecord:
    """One A record as cluster DNS would serve it, with the names a pod in `namespace` may use."""

    ip: str
    namespace: str
    qualified: tuple[str, ...]  # resolvable from any namespace
    local: tuple[str, ...]  # only via the search path of the same namespace

    def names_for(self, namespace: str) -> tuple[str, ...]:
        return self.qualified + (self.local if namespace == self.namespace else ())


class PodNetwork:
    """An isolated L2 pod network: bridge in its own netns + one veth giving this process `.1`."""

    def __init__(self, *, sweep_leftovers: bool = True) -> None:
        reason = netns_unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        if sweep_leftovers:
            cleanup_leftovers()
        self.prefix = f"{_NAME_PREFIX}{os.getpid()}-{_base36(next(_counter))}"
        if len(self.prefix) > 15:
            raise RuntimeError(f"link name {self.prefix!r} exceeds 15 characters")
        self.bridge_netns = f"{self.prefix}-br"
        self.host_link = self.prefix
        self._sims: list[StatefulSetSim] = []
        self._lock = threading.RLock()
        self._closed = False
        atexit.register(self.close)
        try:
            with _machine_lock():  # choose + claim the subnet atomically w.r.t. parallel runs
                self.subnet = self._pick_subnet()
                self.gateway = str(self.subnet.network_address + 1)
                self._build()
        except BaseException:
            self.close()
            raise
        self._free_ips = [str(self.subnet.network_address + h) for h in range(_FIRST_POD_HOST, 255)]

    @staticmethod
    def _pick_subnet() -> ipaddress.IPv4Network:
        used: list[ipaddress.IPv4Network] = []
        for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
            parts = line.split()
            if "inet" in parts:
                used.append(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).network)
        for line in _ip("-4", "route", "show").stdout.splitlines():
            with contextlib.suppress(ValueError, IndexError):
                net = ipaddress.IPv4Network(line.split()[0], strict=False)
                if net.prefixlen >= 16:  # a /8 or default route loses to our /24 anyway
                    used.append(net)
        free = [
            net
            for k in range(256)
            if not any((net := ipaddress.IPv4Network(f"10.233.{k}.0/24")).overlaps(u) for u in used)
        ]
        if not free:
            raise RuntimeError("no free 10.233.<k>.0/24 subnet")
        return random.choice(free)

    def _build(self) -> None:
        br = self.bridge_netns
        _ip("netns", "add", br)
        _ip("-n", br, "link", "set", "lo", "up")
        _ip("-n", br, "link", "add", _BRIDGE, "type", "bridge")
        _ip("-n", br, "link", "set", _BRIDGE, "up")
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", _UPLINK, "netns", br)
        _ip("-n", br, "link", "set", _UPLINK, "master", _BRIDGE, "up")
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")

    # -- IPs and DNS records shared by all sims on this network

    def _allocate_ip(self) -> str:
        with self._lock:
            if not self._free_ips:
                raise RuntimeError(f"pod network {self.subnet} is full")
            return self._free_ips.pop(0)

    def _release_ip(self, ip: str) -> None:
        # The next pod given this IP has a new MAC; a stale neighbour entry in the root namespace
        # would blackhole the test process's traffic to it for ~30 s.
        subprocess.run(["ip", "neigh", "flush", "to", ip, "dev", self.host_link], capture_output=True, check=False)
        with self._lock:
            if ip not in self._free_ips:
                self._free_ips.append(ip)
                self._free_ips.sort(key=lambda a: int(ipaddress.IPv4Address(a)))

    def _attach(self, sim: StatefulSetSim) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("pod network is closed")
            if any(s.name == sim.name for s in self._sims):
                raise ValueError(f"a StatefulSet named {sim.name!r} already runs on this network")
            self._sims.append(sim)
        self._refresh_hosts()

    def _detach(self, sim: StatefulSetSim) -> None:
        with self._lock:
            if sim in self._sims:
                self._sims.remove(sim)
        self._refresh_hosts()

    def _records(self) -> list[_DnsRecord]:
        with self._lock:
            return [r for s in self._sims for r in s._dns_records()]

    def _refresh_hosts(self) -> None:
        """Rewrite every pod's /etc/hosts (in place: the bind mounts keep pointing at the same inode)."""
        with self._lock:
            for sim in list(self._sims):
                sim._write_hosts_files()

    def hosts(self, namespace: str = "default") -> dict[str, str]:
        """Name -> IP as a pod in `namespace` would resolve it (every StatefulSet on this network)."""
        return {name: r.ip for r in self._records() for name in r.names_for(namespace)}

    def close(self) -> None:
        """Stop every sim on this network and remove the bridge netns and the root-namespace veth."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sims = list(self._sims)
        atexit.unregister(self.close)
        for sim in sims:
            sim.close()
        _ip("link", "del", self.host_link, check=False)
        _destroy_netns(self.bridge_netns)

    def __enter__(self) -> PodNetwork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
