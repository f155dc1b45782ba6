"""Real pods on the local cluster's real nodes (tools/node/up): containers really run under
containerd/runc as a non-root user in a restricted namespace, on CNI addresses of the cluster's
own bridge, probed by the kubelet, writing to `local` volumes through fsGroup, reaching each other
by their headless Service names (CoreDNS), with `kubectl exec` and `kubectl logs`. And kwok no
longer fakes what runs there: a pod whose image the node lacks stays un-Ready.
"""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster_pods import is_ready
from tests.support.local_cluster import REAL_NODE_PLACEMENT, LocalCluster, oci_image
from tests.support.polling import wait_until

IMAGE = "statefulkit.local/busybox:e2e"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
UID = 1000


@pytest.fixture(scope="module")
def cluster(
    local_cluster: LocalCluster, real_nodes: list[str], tmp_path_factory: pytest.TempPathFactory
) -> LocalCluster:
    """The local cluster with its real nodes and a busybox image (Debian's static busybox) on them."""
    assert real_nodes, "tools/node/up registered no real node"
    busybox = shutil.which("busybox")
    assert busybox, "busybox-static missing (tools/system-deps)"
    rootfs = tmp_path_factory.mktemp("busybox-rootfs")
    (rootfs / "bin").mkdir()
    shutil.copy2(busybox, rootfs / "bin/busybox")
    for applet in ("sh", "id", "hostname", "nslookup", "httpd", "wget", "sleep", "cat", "ls", "stat"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "tmp").mkdir(mode=0o1777)
    oci_image(Path(rootfs), IMAGE, "--user", str(UID))
    return local_cluster


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    with cluster.namespace("real", labels=RESTRICTED) as ns:
        yield ns


def web(namespace: str, replicas: int) -> list[dict[str, Any]]:
    """A headless Service and a StatefulSet whose pods serve their volume over HTTP on 8080: each
    writes its own name there first, as uid 1000 through the volume's fsGroup."""
    labels = {"app": "web"}
    start = 'echo "$(hostname) as $(id -u):$(id -g)" > /data/whoami && echo started && exec httpd -f -p 8080 -h /data'
    pod_spec = {
        **REAL_NODE_PLACEMENT,
        "terminationGracePeriodSeconds": 1,  # httpd as PID 1 ignores SIGTERM
        "securityContext": {
            "runAsUser": UID,
            "runAsGroup": UID,
            "runAsNonRoot": True,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # one pod a node where there are several
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": labels},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
        "containers": [
            {
                "name": "web",
                "image": IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", start],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "http", "port": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "serviceName": "web",
                "replicas": replicas,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "local-pv",
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    ]


def test_real_pods_run_reach_each_other_by_name_and_write_their_volumes(
    cluster: LocalCluster, real_nodes: list[str], namespace: str
) -> None:
    replicas = 2
    started = time.monotonic()
    applied = cluster.apply(web(namespace, replicas))
    assert applied.returncode == 0, applied.stderr

    def all_ready() -> list[dict[str, Any]] | None:
        pods = cluster.pods(namespace, "app=web")
        return pods if len(pods) == replicas and all(map(is_ready, pods)) else None

    pods = wait_until("the web pods Ready on real nodes", all_ready, timeout=120)
    print(f"{replicas} real pods Ready {time.monotonic() - started:.1f}s after apply")
    names = [p["metadata"]["name"] for p in pods]
    for pod in pods:
        assert pod["spec"]["nodeName"] in real_nodes
        # a CNI address of the cluster's bridge (10.<k>.<node>.x), not kwok's made-up one
        address = ipaddress.ip_address(pod["status"]["podIP"])
        assert address in ipaddress.ip_network("10.240.0.0/12"), address
        container = pod["status"]["containerStatuses"][0]
        assert container["containerID"].startswith("containerd://"), container
        assert container["state"]["running"]

    def sh(pod: str, script: str) -> str:
        done = cluster.kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", script, check=False)
        assert done.returncode == 0, f"{pod}: {script}: {done.stdout}{done.stderr}"
        return done.stdout

    fqdn = "{}.web.%s.svc.cluster.local" % namespace  # noqa: UP031 - a template of the pod name
    for name in names:
        # the process really runs as the pod's user, and its volume is writable through fsGroup
        assert sh(name, "id -u; id -G").split() == [str(UID), str(UID)]
        assert sh(name, "cat /data/whoami").strip() == f"{name} as {UID}:{UID}"
        assert sh(name, "stat -c %g /data").strip() == str(UID)
        assert cluster.kubectl("logs", "-n", namespace, name).stdout.strip() == "started"
        # every member resolves every other's stable name and reads its volume over the pod network
        for other in names:
            resolved = sh(name, f"nslookup {fqdn.format(other)}")
            other_ip = next(p["status"]["podIP"] for p in pods if p["metadata"]["name"] == other)
            assert f"Address: {other_ip}" in resolved, resolved
            served = sh(name, f"wget -q -O - http://{fqdn.format(other)}:8080/whoami")
            assert served.strip() == f"{other} as {UID}:{UID}"
    # nothing outside the cluster domain is looked up anywhere
    outside = cluster.kubectl("exec", "-n", namespace, names[0], "--", "nslookup", "example.com", check=False)
    assert outside.returncode != 0 and "can't find example.com" in outside.stdout, outside.stdout


def test_kwok_does_not_fake_a_real_nodes_pod(cluster: LocalCluster, namespace: str) -> None:
    """An image the node lacks: the kubelet reports ErrImageNeverPull, and no kwok stage marks the pod Ready."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "missing-image", "namespace": namespace},
        "spec": {
            **REAL_NODE_PLACEMENT,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "statefulkit.local/absent:1",
                    "imagePullPolicy": "Never",
                    "securityContext": {
                        "runAsUser": UID,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    assert cluster.apply([pod]).returncode == 0

    def waiting_reason() -> str | None:
        status = cluster.get("pod", "missing-image", namespace)["status"]
        states = [c["state"] for c in status.get("containerStatuses") or []]
        reason = next((s["waiting"]["reason"] for s in states if "waiting" in s), None)
        return None if reason == "ContainerCreating" else reason

    assert wait_until("the kubelet's verdict on the image", waiting_reason, timeout=60) == "ErrImageNeverPull"
    time.sleep(3)  # kwok's pod-ready stage acts within a second or so, when it manages the node
    assert not is_ready(cluster.get("pod", "missing-image", namespace))
