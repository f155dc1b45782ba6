"""Self-tests of the podsim harness: real processes in real network namespaces.

The "container" is a small Python TCP server (shipped in a ConfigMap, like our start scripts) that
answers every connection with a JSON report of what it sees: hostname, env, argv, mounted files,
its PVC's boot log. Mount paths live under a per-test random directory, so the test can also prove
that podsim removes the mount points it had to create on the host.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.podsim import (
    PodConfigError,
    PodNetwork,
    PodNotRunningError,
    StatefulSetSim,
    cleanup_leftovers,
    expand_k8s_vars,
    netns_unavailable_reason,
)
from tests.support.podsim.host import _claim_mountpoint

_UNAVAILABLE = netns_unavailable_reason()
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"podsim cannot run here: {_UNAVAILABLE}"),
]

PORT = 7070
READY_CHECK = 'test -s ../scratch/marker && test "$(hostname)" = "$POD_NAME"'
CONNECT_7171 = "import socket; socket.create_connection(('127.0.0.1', 7171), timeout=1)"
SERVER = """\
import json, os, pathlib, socket, sys
base = pathlib.Path(os.environ["BASE"])
srv = socket.create_server(("0.0.0.0", int(os.environ["PORT"])))
with (base / "data" / "boots").open("a") as fh:
    fh.write(socket.gethostname() + "\\n")
with (base / "scratch" / "marker").open("a") as fh:
    fh.write("x")
names = ("POD_NAME", "POD_NAMESPACE", "POD_IP", "NODE_NAME", "PASSWORD", "GREETING", "ESCAPED",
         "UNKNOWN", "FROM_CM", "HOSTNAME")
info = {
    "hostname": socket.gethostname(),
    "fqdn": socket.getfqdn(),
    "argv": sys.argv[1:],
    "env": {k: os.environ.get(k) for k in names},
    "path": os.environ["PATH"],
    "cwd": os.getcwd(),
    "conf": (base / "conf" / "app.conf").read_text(),
    "single": (base / "single.conf").read_text(),
    "secret": (base / "secret" / "password").read_text(),
    "boots": (base / "data" / "boots").read_text().splitlines(),
    "scratch": (base / "scratch" / "marker").read_text(),
}
print("serving on", os.environ["PORT"], flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.sendall(json.dumps(info).encode())
"""
CONFIGMAPS: dict[str, dict[str, Any]] = {
    "app-cm": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-cm"},
        "data": {"server.py": SERVER, "app.conf": "answer = 42\n", "greeting": "hi from a configMap"},
    }
}
PASSWORD = "s3cr3t-pa55"  # noqa: S105 - a test fixture, not a credential
SECRETS: dict[str, dict[str, Any]] = {"app-secret": {"password": PASSWORD}}


def field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def web_statefulset(base: str, replicas: int = 2) -> dict[str, Any]:
    """A StatefulSet shaped like the ones our components render, running SERVER."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "serviceName": "web-hs",
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "command": ["sim-python"],
                            "args": [f"{base}/app/server.py", "--pod=$(POD_NAME)", "--ip=$(POD_IP)", "$$(POD_NAME)"],
                            "workingDir": f"{base}/data",
                            "ports": [{"name": "app", "containerPort": PORT}],
                            "env": [
                                field_env("POD_NAME", "metadata.name"),
                                field_env("POD_NAMESPACE", "metadata.namespace"),
                                field_env("POD_IP", "status.podIP"),
                                field_env("NODE_NAME", "spec.nodeName"),
                                {
                                    "name": "PASSWORD",
                                    "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}},
                                },
                                {
                                    "name": "FROM_CM",
                                    "valueFrom": {"configMapKeyRef": {"name": "app-cm", "key": "greeting"}},
                                },
                                {"name": "GREETING", "value": "hello $(POD_NAME) at $(POD_IP)"},
                                {"name": "ESCAPED", "value": "$$(POD_NAME)"},
                                {"name": "UNKNOWN", "value": "$(NOT_DEFINED)"},
                                {"name": "PORT", "value": str(PORT)},
                                {"name": "BASE", "value": base},
                            ],
                            "volumeMounts": [
                                {"name": "app", "mountPath": f"{base}/app"},
                                {"name": "conf", "mountPath": f"{base}/conf", "readOnly": True},
                                {"name": "conf", "mountPath": f"{base}/single.conf", "subPath": "app.conf"},
                                {"name": "secret", "mountPath": f"{base}/secret"},
                                {"name": "scratch", "mountPath": f"{base}/scratch"},
                                {"name": "data", "mountPath": f"{base}/data"},
                            ],
                            # The emptyDir marker is written after bind (and is fresh per start).
                            # `$(hostname)` is not an env var, so kubelet leaves it for the shell.
                            "readinessProbe": {
                                "exec": {"command": ["sh", "-c", READY_CHECK]},
                                "timeoutSeconds": 5,
                            },
                            "livenessProbe": {"tcpSocket": {"port": "app"}},
                        }
                    ],
                    "volumes": [
                        {
                            "name": "app",
                            "configMap": {"name": "app-cm", "items": [{"key": "server.py", "path": "server.py"}]},
                        },
                        {"name": "conf", "configMap": {"name": "app-cm", "defaultMode": 0o644}},
                        {"name": "secret", "secret": {"secretName": "app-secret", "defaultMode": 0o400}},
                        {"name": "scratch", "emptyDir": {}},
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def simple_statefulset(name: str, containers: list[dict[str, Any]], **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": f"{name}-hs",
            "replicas": 1,
            "template": {"spec": {"containers": containers, **pod_spec}},
        },
    }


def fetch(ip: str, port: int = PORT) -> dict[str, Any]:
    with socket.create_connection((ip, port), timeout=5) as conn:
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    result: dict[str, Any] = json.loads(b"".join(chunks))
    return result


def child_pids() -> list[int]:
    """Processes whose parent is this pytest process."""
    me, children = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                children.append(int(entry.name))
    return children


def is_gone(pid: int) -> bool:
    """Dead or a zombie (an orphan's zombie belongs to init, which may reap it later)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture(autouse=True)
def etc_hosts_untouched() -> Iterator[None]:
    before = Path("/etc/hosts").read_bytes(), os.stat("/etc/hosts").st_ino
    yield
    assert (Path("/etc/hosts").read_bytes(), os.stat("/etc/hosts").st_ino) == before


@pytest.fixture
def base() -> Iterator[str]:
    """A mount-path root that does not exist on the host yet; podsim must create and remove it."""
    path = Path("/opt") / f"psim-selftest-{uuid.uuid4().hex[:10]}"
    yield str(path)
    assert not path.exists(), f"mount point {path} left behind"


@pytest.fixture
def network() -> Iterator[PodNetwork]:
    with PodNetwork() as net:
        yield net
    assert not [ns for ns in _netns() if ns.startswith(net.prefix)]


@pytest.fixture
def web(network: PodNetwork, tmp_path: Path, base: str) -> Iterator[StatefulSetSim]:
    sim = StatefulSetSim(
        network,
        web_statefulset(base),
        CONFIGMAPS,
        SECRETS,
        workdir=tmp_path,
        path_shims={"sim-python": sys.executable},
    )
    with sim:
        sim.start_all()
        sim.wait_ready(timeout=30)
        yield sim


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_expand_k8s_vars_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand_k8s_vars("$(A)-$(B)", env) == "1-two"
    assert expand_k8s_vars("$$(A) $(C) $x $", env) == "$(A) $(C) $x $"
    assert expand_k8s_vars("$(A", env) == "$(A"


def test_each_pod_has_its_identity_env_and_files(web: StatefulSetSim, base: str) -> None:
    for i in range(2):
        pod, ip = f"web-{i}", web.pod_ip(i)
        info = fetch(ip)
        assert info["hostname"] == pod
        assert info["fqdn"] == f"{pod}.web-hs.default.svc.cluster.local" == web.pod_fqdn(i)
        assert info["env"] == {
            "POD_NAME": pod,
            "POD_NAMESPACE": "default",
            "POD_IP": ip,
            "NODE_NAME": "podsim-node",
            "PASSWORD": PASSWORD,
            "FROM_CM": "hi from a configMap",
            "GREETING": f"hello {pod} at {ip}",
            "ESCAPED": "$(POD_NAME)",
            "UNKNOWN": "$(NOT_DEFINED)",
            "HOSTNAME": pod,
        }
        assert info["argv"] == [f"--pod={pod}", f"--ip={ip}", "$(POD_NAME)"]
        assert info["cwd"] == f"{base}/data"
        assert info["conf"] == info["single"] == "answer = 42\n"
        assert info["secret"] == PASSWORD
        assert info["boots"] == [pod]
        assert info["path"].split(":")[0].endswith("shims")
    assert web.log(0).startswith("serving on 7070")
    assert web.log(1, "server").startswith("serving on 7070")


def test_pods_resolve_and_reach_each_other_on_the_same_port(web: StatefulSetSim) -> None:
    ip0, ip1 = web.pod_ip(0), web.pod_ip(1)
    assert ip0 != ip1
    code = (
        "import json, socket, sys\n"
        "names = sys.argv[1:]\n"
        "ips = [socket.gethostbyname(n) for n in names]\n"
        "peer = socket.create_connection((names[0], 7070), timeout=5).recv(65536)\n"
        "print(json.dumps({'ips': ips, 'peer': json.loads(peer)['hostname']}))\n"
    )
    for me, peer in ((0, 1), (1, 0)):
        names = [web.pod_fqdn(peer), f"web-{peer}.web-hs", "web-hs.default.svc.cluster.local"]
        result = web.exec(me, ["python3", "-c", code, *names], check=True)
        report = json.loads(result.stdout)
        assert report == {"ips": [web.pod_ip(peer), web.pod_ip(peer), ip0], "peer": f"web-{peer}"}
    assert web.hosts[web.pod_fqdn(1)] == ip1
    assert web.resolve("web-1.web-hs.default.svc.cluster.local.") == ip1
    assert web.resolve(ip0) == ip0
    with pytest.raises(KeyError):
        web.resolve("example.invalid")


def test_volumes_are_read_only_and_keep_their_modes(web: StatefulSetSim, base: str) -> None:
    write = web.exec(0, ["sh", "-c", f"echo no > {base}/conf/app.conf"])
    assert write.returncode != 0
    assert "Read-only" in write.stderr
    modes = web.exec(0, ["stat", "-c", "%a", f"{base}/secret/password", f"{base}/conf/app.conf"], check=True)
    assert modes.stdout.split() == ["400", "644"]
    assert web.exec(0, ["sh", "-c", f"touch {base}/data/ok {base}/scratch/ok"]).returncode == 0


def test_pvc_survives_restart_and_is_distinct_per_ordinal(web: StatefulSetSim) -> None:
    assert web.pvc_path("data", 0) != web.pvc_path("data", 1)
    web.stop(1, grace=5)
    assert not web.is_running(1)
    assert not web.probe(1, "liveness")
    web.start(1)
    web.wait_ready(1, timeout=30)
    restarted = fetch(web.pod_ip(1))
    assert restarted["boots"] == ["web-1", "web-1"]  # the PVC kept the first boot's line
    assert restarted["scratch"] == "x"  # the emptyDir did not
    assert fetch(web.pod_ip(0))["boots"] == ["web-0"]
    assert (web.pvc_path("data", 1) / "boots").read_text() == "web-1\nweb-1\n"
    web.restart(0, grace=5)
    web.wait_ready(0, timeout=30)
    assert fetch(web.pod_ip(0))["boots"] == ["web-0", "web-0"]


def test_exec_and_probes(web: StatefulSetSim) -> None:
    out = web.exec(1, ["sh", "-c", 'echo "$PASSWORD $(hostname) $(id -u) $PWD"'], check=True).stdout
    assert out.split() == [PASSWORD, "web-1", "0", web.exec(1, ["pwd"]).stdout.strip()]
    assert web.exec(1, ["sh", "-c", "exit 3"]).returncode == 3
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        web.exec(1, ["sh", "-c", "sleep 30; echo never"], timeout=1)
    assert waited.value.timeout == 1  # the exec's own timeout ended it (and killed what it ran)
    assert web.probe(1, "readiness")
    assert web.probe(1, "liveness")
    assert web.probe(1, "startup")  # none defined: passes while running
    web.kill(1)
    assert not web.is_running(1)
    assert not web.probe(1, "readiness")
    assert not web.probe(1, "liveness")
    with pytest.raises(PodNotRunningError):
        web.exec(1, ["true"])
    assert web.is_running(0)


def test_failing_probe_and_crashing_container(network: PodNetwork, tmp_path: Path) -> None:
    never_ready = simple_statefulset(
        "nope",
        [
            {
                "name": "c",
                "command": ["sleep", "600"],
                "readinessProbe": {"exec": {"command": ["sh", "-c", "exit 1"]}},
            }
        ],
    )
    crashes = simple_statefulset(
        "crash",
        [
            {
                "name": "c",
                "command": ["sh", "-c", "echo boom; sleep 0.5; exit 7"],
                "readinessProbe": {"exec": {"command": ["false"]}},
            }
        ],
    )
    with (
        StatefulSetSim(network, never_ready, workdir=tmp_path / "a") as sim_a,
        StatefulSetSim(network, crashes, workdir=tmp_path / "b") as sim_b,
    ):
        sim_a.start_all()
        assert not sim_a.probe(0)
        with pytest.raises(TimeoutError, match="nope-0"):
            sim_a.wait_ready(timeout=1.5)
        sim_b.start(0)
        with pytest.raises(PodNotRunningError, match=r"exited with 7(.|\n)*boom"):
            sim_b.wait_ready(timeout=10)


def test_missing_secret_is_a_config_error(network: PodNetwork, tmp_path: Path) -> None:
    sts = simple_statefulset(
        "cfg",
        [
            {
                "name": "c",
                "command": ["sleep", "600"],
                "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}],
            }
        ],
    )
    with StatefulSetSim(network, sts, workdir=tmp_path) as sim:
        with pytest.raises(PodConfigError, match="absent"):
            sim.start(0)
        assert not sim.is_running(0)
        assert not [p for p in child_pids() if not is_gone(p)]


def test_run_as_user_and_fs_group(network: PodNetwork, tmp_path: Path, base: str) -> None:
    container = {
        "name": "c",
        "command": ["sh", "-c", f"touch {base}/data/f && exec sleep 600"],
        "volumeMounts": [{"name": "data", "mountPath": f"{base}/data"}],
        "readinessProbe": {"exec": {"command": ["test", "-f", f"{base}/data/f"]}},
    }
    sts = simple_statefulset(
        "ids", [container], securityContext={"runAsUser": 1000, "runAsGroup": 1001, "fsGroup": 2000}
    )
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    with StatefulSetSim(network, sts, workdir=tmp_path / "user") as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        ids = sim.exec(0, ["sh", "-c", "id -u; id -g; id -G"], check=True).stdout.split("\n")
        assert ids[0] == "1000"
        assert ids[1] == "1001"
        assert "2000" in ids[2].split()
        made = (sim.pvc_path("data", 0) / "f").stat()
        assert (made.st_uid, made.st_gid) == (1000, 2000)  # setgid dir: files inherit the fsGroup

    root_sts = simple_statefulset("asroot", [dict(container, name="c")], securityContext={"runAsUser": 1000})
    root_sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    with StatefulSetSim(network, root_sts, workdir=tmp_path / "root", honour_run_as_user=False) as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        assert sim.exec(0, ["id", "-u"]).stdout.strip() == "0"

    non_root = simple_statefulset("nonroot", [{"name": "c", "command": ["sleep", "600"]}])
    non_root["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True}
    with StatefulSetSim(network, non_root, workdir=tmp_path / "nr") as sim, pytest.raises(PodConfigError):
        sim.start(0)


def test_containers_share_the_network_but_not_their_mounts(network: PodNetwork, tmp_path: Path, base: str) -> None:
    serve = (
        "import socket, sys\n"
        "s = socket.create_server(('127.0.0.1', 7171))\n"
        "print('up', flush=True)\n"
        "while True:\n"
        "    c, _ = s.accept(); c.sendall(open(sys.argv[1]).read().encode()); c.close()\n"
    )
    configmaps = {"one": {"data": {"f": "one"}}, "two": {"data": {"f": "two"}}}
    sts = simple_statefulset(
        "duo",
        [
            {
                "name": "first",
                "command": ["python3", "-c", serve, f"{base}/cfg/f"],
                "volumeMounts": [{"name": "one", "mountPath": f"{base}/cfg"}],
                "readinessProbe": {"exec": {"command": ["python3", "-c", CONNECT_7171]}},
            },
            {
                "name": "second",
                "command": ["sleep", "600"],
                "volumeMounts": [{"name": "two", "mountPath": f"{base}/cfg"}],
            },
        ],
        volumes=[{"name": "one", "configMap": {"name": "one"}}, {"name": "two", "configMap": {"name": "two"}}],
    )
    with StatefulSetSim(network, sts, configmaps, workdir=tmp_path) as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        assert sim.exec(0, ["cat", f"{base}/cfg/f"], "first").stdout == "one"
        assert sim.exec(0, ["cat", f"{base}/cfg/f"], "second").stdout == "two"
        code = "import socket; print(socket.create_connection(('127.0.0.1', 7171)).recv(99).decode())"
        assert sim.exec(0, ["python3", "-c", code], "second").stdout.strip() == "one"  # localhost is shared
        assert sim.log(0, "first") == "up\n"
        assert sim.log(0, "second") == ""


def test_scale_updates_dns_of_running_pods(network: PodNetwork, tmp_path: Path) -> None:
    sts = simple_statefulset("sc", [{"name": "c", "command": ["sleep", "600"]}])
    with StatefulSetSim(network, sts, workdir=tmp_path) as sim:
        sim.start_all()
        lookup = ["getent", "hosts", "sc-2.sc-hs.default.svc.cluster.local"]
        assert sim.exec(0, lookup).returncode != 0
        sim.scale(3)
        assert all(sim.is_running(i) for i in range(3))
        assert sim.exec(0, lookup, check=True).stdout.split()[0] == sim.pod_ip(2)
        netns_2 = sim.netns(2)
        sim.scale(1, grace=1)
        assert not sim.is_running(2)
        assert netns_2 not in _netns()
        assert sim.exec(0, lookup).returncode != 0
        with pytest.raises(IndexError):
            sim.pod_ip(2)


def test_close_kills_escaped_and_hung_processes_and_leaves_nothing(tmp_path: Path, base: str) -> None:
    # The container starts a grandchild in its own session (it escapes the process group) and
    # ignores SIGTERM itself, like a hung server.
    code = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "p = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "open(sys.argv[1], 'w').write(str(p.pid))\n"
        "time.sleep(1000)\n"
    )
    container = {
        "name": "c",
        "command": ["python3", "-c", code, f"{base}/data/pid"],
        "volumeMounts": [{"name": "data", "mountPath": f"{base}/data"}],
        "readinessProbe": {"exec": {"command": ["test", "-s", f"{base}/data/pid"]}},
    }
    sts = simple_statefulset("hang", [container])
    sts["spec"]["replicas"] = 2
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    net = PodNetwork()
    sim = StatefulSetSim(net, sts, workdir=tmp_path)
    sim.start_all()
    sim.wait_ready(timeout=20)
    escaped = [int((sim.pvc_path("data", i) / "pid").read_text()) for i in range(2)]
    assert not any(is_gone(p) for p in escaped)

    started = time.monotonic()
    sim.stop(0, grace=1)  # SIGTERM ignored: SIGKILL after the grace period (stop returns once it is gone)
    assert time.monotonic() - started >= 0.9  # the grace period was given
    assert is_gone(escaped[0])

    prefix, host_link, temp_dir = net.prefix, net.host_link, sim._tmp
    net.close()  # closes the sim too
    assert is_gone(escaped[1])
    assert not [ns for ns in _netns() if ns.startswith(prefix)]
    assert subprocess.run(["ip", "link", "show", host_link], capture_output=True, check=False).returncode != 0
    assert not temp_dir.exists()
    assert not [p for p in child_pids() if not is_gone(p)]
    assert (sim.pvc_path("data", 1) / "pid").exists()  # PVC contents outlive the pods
    net.close()  # idempotent


def test_leftovers_of_a_dead_run_are_swept(base: str) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    prefix, live_prefix = f"psim{dead.pid}-1", f"psim{os.getpid()}-zz"
    ns, live_ns = f"{prefix}-br", f"{live_prefix}-br"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "netns", "add", live_ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", prefix, "type", "veth", "peer", "name", "x0", "netns", ns], check=True)
        orphan = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "sleep", "600"])
        leftover_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-web-"))
        _claim_mountpoint(Path(base), is_file=False, owner=f"{prefix}-web")
        assert Path(base).is_dir()

        cleanup_leftovers()

        assert orphan.wait(timeout=10) == -signal.SIGKILL
        assert ns not in _netns()
        assert live_ns in _netns()  # a live run's namespace is not touched
        assert subprocess.run(["ip", "link", "show", prefix], capture_output=True, check=False).returncode != 0
        assert not leftover_dir.exists()
        assert not Path(base).exists()
    finally:
        for name in (ns, live_ns):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def test_a_graceful_stop_stops_the_containers_at_once_each_after_its_own_pre_stop(
    network: PodNetwork, tmp_path: Path
) -> None:
    """As the kubelet does: a container without a preStop gets SIGTERM while another container's
    preStop still runs (so a hook cannot count on its sidecars)."""
    marks = tmp_path / "marks"
    marks.mkdir(mode=0o777)
    on_term = f"trap 'date +%s.%N > {marks}/sidecar-terminated; exit 0' TERM; while true; do sleep 0.1; done"
    hook = f"sleep 2; date +%s.%N > {marks}/hook-done"
    sts = simple_statefulset(
        "stop",
        [
            {
                "name": "main",
                "command": ["sleep", "600"],
                "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", hook]}}},
            },
            {"name": "sidecar", "command": ["sh", "-c", on_term]},
        ],
    )
    with StatefulSetSim(network, sts, workdir=tmp_path / "run") as sim:
        sim.start(0)
        time.sleep(0.5)
        sim.stop(0, grace=10)
    terminated = float((marks / "sidecar-terminated").read_text())
    hook_done = float((marks / "hook-done").read_text())
    assert terminated < hook_done - 1, (terminated, hook_done)
