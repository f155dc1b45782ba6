"""podsim: a tiny kubelet that runs a rendered StatefulSet's pods as real processes on this machine.

Tests hand it the plain Kubernetes dicts our components render (StatefulSet, ConfigMaps, Secrets)
and get pods that behave, where it matters for ZooKeeper/Redis, like pods on a cluster:

* **Network.** `PodNetwork` is one L2 segment: a bridge living in its own network namespace, a
  private /24 out of 10.233.0.0/16, and a single veth into the root namespace that gives the test
  process the address ``.1`` so clients (kazoo, redis-py) reach pods by IP. Each pod ordinal gets its
  own netns with an ``eth0`` on that bridge and a stable IP (kept across pod restarts).
* **Pod sandbox.** Per started pod one "pause" process (``sleep infinity``) holds the pod's net, UTS
  (hostname ``<sts>-<i>``) and mount namespace; in the latter ``/etc/hosts`` and ``/etc/resolv.conf``
  are bind-mounted from per-pod files. The machine's own files are never written.
* **Name resolution.** There is no DNS server: every pod's ``/etc/hosts`` holds what kubelet writes
  plus what cluster DNS would answer for the headless Service: every pod FQDN of every StatefulSet on
  the network (and the search-domain shortenings ``<pod>.<svc>.<ns>.svc``, ``<pod>.<svc>.<ns>``, and,
  within the same namespace, ``<pod>.<svc>``, because glibc applies search domains to DNS only, not to
  /etc/hosts). ``<svc>.<ns>.svc.<domain>`` maps to the IP of ordinal 0 (a real headless Service answers
  with all ready pods; /etc/hosts can only give one). Records exist for every ordinal < replicas
  whether or not that pod runs, i.e. like ``publishNotReadyAddresses: true``. ``resolv.conf`` points
  to 127.0.0.1 inside the pod (nothing listens), so unknown names fail fast instead of leaking out.
* **Containers.** Each container is its own process group, started by ``nsenter`` into the pause
  process's namespaces, then ``unshare --mount`` so each container has its *own* mount namespace
  (a child of the pod's, so it sees /etc/hosts) holding its volumeMounts, exactly as two containers
  of a real pod may mount different volumes on the same path. A small Python helper (run as root
  inside the namespaces) performs the bind mounts, ``chdir``s to ``workingDir``, drops to
  runAsUser/runAsGroup/fsGroup and ``exec``s ``command + args`` with the container's environment.
  ``initContainers`` run the same way (own mounts, env, user; the pod's volumes), one after another
  to completion on every pod start before any container starts; a non-zero exit or ``init_timeout``
  fails the start with PodStartError, and their logs are kept like the containers'.
* **Volumes.** configMap / secret → per-pod files (items, modes, fsGroup), read-only like kubelet's;
  emptyDir → fresh per pod start; volumeClaimTemplates →
  ``<workdir>/pvc/<template>-<sts>-<i>``, which outlives pod restarts and the sim, as a PVC does.
  A missing mountPath is created on the host (the pod shares the host filesystem) and removed again
  when no live sim on the machine needs it (a small registry in the temp dir, shared across processes).
* **Cleanup.** Every netns, link and temp dir is named ``psim<pid>-<n>...``; ``close()`` (also run by
  ``atexit``) kills every process left in a pod's netns, even ones that daemonised out of their
  process group, and a new ``PodNetwork`` first sweeps leftovers of runs whose pid is gone.

Environment: literal values, fieldRef (name, namespace, uid, IPs, node, service account),
secretKeyRef and configMapKeyRef. Probes: exec and tcpSocket. Lifecycle: exec preStop hooks; a graceful
stop stops every container at once, each after its own preStop, within the grace period (as the
kubelet does, so a hook cannot count on a sidecar that has none).

Not simulated (no test needs them; add one with the test that does): images (commands run from the
host filesystem, optionally through ``path_shims``), sidecar init containers (``restartPolicy:
Always``, refused), postStart hooks, envFrom, downwardAPI / projected / hostPath volumes, httpGet
probes, PID namespaces, resource limits, automatic container restarts (a crashed container stays
down until ``start``/``restart``; a failed init container is not retried), DNS for names outside the
network, probe timing fields other than ``timeoutSeconds``. Pod IPs are stable per ordinal (a real
pod gets a new IP on reschedule).

The package follows the simulation's layers: `common` (manifests, errors), `host` (commands,
namespaces, machine-wide state), `network`, then the StatefulSetSim built up from `identity`
(names, DNS, environment), `volumes`, `processes` (with `initcontainers`) and `probes`, in `statefulset`.
"""

from __future__ import annotations

from tests.support.podsim.common import (
    PodConfigError,
    PodNotRunningError,
    PodStartError,
    ProbeKind,
    expand_k8s_vars,
)
from tests.support.podsim.host import cleanup_leftovers, netns_unavailable_reason
from tests.support.podsim.network import PodNetwork
from tests.support.podsim.statefulset import StatefulSetSim

__all__ = [
    "PodConfigError",
    "PodNetwork",
    "PodNotRunningError",
    "PodStartError",
    "ProbeKind",
    "StatefulSetSim",
    "cleanup_leftovers",
    "expand_k8s_vars",
    "netns_unavailable_reason",
]
