"""Self-tests of podsim's init containers: run in order, to completion, on every pod start, sharing
the pod's volumes with its containers; a failure or timeout stops the start with their output."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.realserver import test_podsim as podsim_tests
from tests.realserver.test_podsim import child_pids, is_gone, simple_statefulset
from tests.support.podsim import PodConfigError, PodNetwork, PodStartError, StatefulSetSim, netns_unavailable_reason

_UNAVAILABLE = netns_unavailable_reason()
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"podsim cannot run here: {_UNAVAILABLE}"),
]

# The self-tests' fixtures: a fresh pod network, a mount-path root podsim must create and remove,
# /etc/hosts left alone.
network = podsim_tests.network
base = podsim_tests.base
etc_hosts_untouched = podsim_tests.etc_hosts_untouched


def sh(name: str, script: str, *mounts: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """A container running `script` in the host's /bin/sh, with (volume, mountPath) mounts."""
    volume_mounts = [{"name": v, "mountPath": p} for v, p in mounts]
    return {"name": name, "command": ["/bin/sh", "-c", script], "volumeMounts": volume_mounts, **extra}


def pod_with_inits(name: str, inits: list[dict[str, Any]], main: dict[str, Any], **pod_spec: Any) -> dict[str, Any]:
    """One replica with an emptyDir `scratch` and a claim `data`."""
    sts = simple_statefulset(name, [main], initContainers=inits, volumes=[{"name": "scratch", "emptyDir": {}}])
    sts["spec"]["template"]["spec"].update(pod_spec)
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    return sts


def ready_when(path: str) -> dict[str, Any]:
    return {"exec": {"command": ["test", "-s", path]}, "timeoutSeconds": 5}


def cat(sim: StatefulSetSim, path: str) -> str:
    return sim.exec(0, ["cat", path], check=True).stdout


def test_an_init_container_prepares_the_emptydir_and_the_claim(network: PodNetwork, tmp_path: Path, base: str) -> None:
    # The init container mounts both volumes elsewhere than the main container: what they share is
    # the volume, not the path. It runs with its own env (fieldRef, secretKeyRef), workingDir and user.
    prepare = sh(
        "prepare",
        'echo "$POD_NAME $PASSWORD $(pwd) $(id -u)" > ../init-scratch/e && sim-sh -c "echo via a shim" > c',
        ("scratch", f"{base}/init-scratch"),
        ("data", f"{base}/init-data"),
        workingDir=f"{base}/init-data",
        env=[
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "password"}}},
        ],
    )
    main = sh(
        "main",
        "exec sleep 600",
        ("scratch", f"{base}/scratch"),
        ("data", f"{base}/data"),
        readinessProbe=ready_when(f"{base}/data/c"),
    )
    sts = pod_with_inits("prep", [prepare], main, securityContext={"runAsUser": 1000, "fsGroup": 2000})
    secrets = {"pw": {"password": "hunter2"}}
    with StatefulSetSim(network, sts, secrets=secrets, workdir=tmp_path / "w", path_shims={"sim-sh": "/bin/sh"}) as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        assert cat(sim, f"{base}/scratch/e") == f"prep-0 hunter2 {base}/init-data 1000\n"
        assert cat(sim, f"{base}/data/c") == "via a shim\n"
        made = (sim.pvc_path("data", 0) / "c").stat()
        assert (made.st_uid, made.st_gid) == (1000, 2000)
        assert sim.exec(0, ["test", "-e", f"{base}/init-data/c"]).returncode != 0  # not main's mount


def test_init_containers_run_one_after_another_before_the_containers(
    network: PodNetwork, tmp_path: Path, base: str
) -> None:
    order = f"{base}/scratch/order"
    first = sh("first", f"sleep 0.5; echo first >> {order}; echo first done", ("scratch", f"{base}/scratch"))
    second = sh("second", f"echo second >> {order}; echo second done >&2", ("scratch", f"{base}/scratch"))
    main = sh(
        "main",
        f"echo main >> {order}; exec sleep 600",
        ("scratch", f"{base}/scratch"),
        readinessProbe={"exec": {"command": ["grep", "-q", "main", order]}},
    )
    with StatefulSetSim(network, pod_with_inits("order", [first, second], main), workdir=tmp_path) as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        assert cat(sim, order) == "first\nsecond\nmain\n"
        assert (sim.log(0, "first"), sim.log(0, "second")) == ("first done\n", "second done\n")


def test_a_failing_init_container_stops_the_pod_start_with_its_output(
    network: PodNetwork, tmp_path: Path, base: str
) -> None:
    broken = sh("broken", "for n in $(seq 1 30); do echo line $n; done; echo oops >&2; exit 3")
    after = sh("after", f"touch {base}/data/after", ("data", f"{base}/data"))
    main = sh("main", f"touch {base}/data/main; exec sleep 600", ("data", f"{base}/data"))
    with StatefulSetSim(network, pod_with_inits("fail", [broken, after], main), workdir=tmp_path) as sim:
        with pytest.raises(PodStartError) as err:
            sim.start(0)
        message = str(err.value)
        for part in ("fail-0", "'broken'", "exited with 3", "line 30\noops"):
            assert part in message
        assert "its output:\nline 12\n" in message  # only the last 20 lines
        assert not sim.is_running(0)
        assert not list(sim.pvc_path("data", 0).iterdir())  # neither the next init nor main ran
        assert not sim.log_path(0, "main").exists()
        assert sim.log(0, "broken").endswith("line 30\noops\n")  # kept for reading afterwards
        assert not [p for p in child_pids() if not is_gone(p)]


def test_init_containers_run_again_on_every_pod_start(network: PodNetwork, tmp_path: Path, base: str) -> None:
    count = sh(
        "count",
        f"echo $(hostname) >> {base}/data/boots; echo x >> {base}/scratch/runs; echo counted",
        ("data", f"{base}/data"),
        ("scratch", f"{base}/scratch"),
    )
    main = sh(
        "main", "exec sleep 600", ("data", f"{base}/data"), ("scratch", f"{base}/scratch"),
        readinessProbe=ready_when(f"{base}/scratch/runs"),
    )  # fmt: skip
    with StatefulSetSim(network, pod_with_inits("again", [count], main), workdir=tmp_path) as sim:
        sim.start(0)
        sim.wait_ready(0, timeout=20)
        sim.restart(0, grace=1)
        sim.wait_ready(0, timeout=20)
        assert cat(sim, f"{base}/data/boots") == "again-0\nagain-0\n"  # the claim outlives the pod
        assert cat(sim, f"{base}/scratch/runs") == "x\n"  # a fresh emptyDir, written again
        assert sim.log(0, "count") == "counted\ncounted\n"


def test_an_init_container_that_runs_too_long_is_killed(network: PodNetwork, tmp_path: Path) -> None:
    slow = sh("slow", "echo waiting; exec sleep 600")
    sts = pod_with_inits("slow", [slow], sh("main", "exec sleep 600"))
    with StatefulSetSim(network, sts, workdir=tmp_path, init_timeout=1.5) as sim:
        began = time.monotonic()
        with pytest.raises(PodStartError, match=r"slow-0: init container 'slow' timed out after 1.5s(.|\n)*waiting"):
            sim.start(0)
        assert time.monotonic() - began < 10
        assert not sim.is_running(0)
        pids = subprocess.run(["ip", "netns", "pids", sim.netns(0)], capture_output=True, text=True, check=True)
        assert pids.stdout.split() == []
        assert not sim.log_path(0, "main").exists()


def test_a_sidecar_init_container_is_refused_at_once(network: PodNetwork, tmp_path: Path) -> None:
    sidecar = sh("side", "exec sleep 600", restartPolicy="Always")
    with StatefulSetSim(
        network, pod_with_inits("side", [sidecar], sh("main", "exec sleep 600")), workdir=tmp_path
    ) as sim:
        with pytest.raises(PodConfigError, match="side-0: sidecar init container 'side'"):
            sim.start(0)
        assert not sim.log_path(0, "side").exists()
