"""The ZooKeeper, Redis and restic images made from Debian's packages (tools/images/build).

Each image is built (from the cache when warm), its archive meets the image contract that the
components' scripts rely on (tools/images/contract.py), and its server runs from the image as the
components' default user: started by the rendered container command with the rendered ConfigMap
at /config, answering the rendered readiness and liveness probes, and its clients' words (restic:
the contract's own round trip on a local repository). A root filesystem lacking what the contract
asks for fails the check, naming it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from statefulkit.args.container import KeyRef
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.args.redis import RedisArgs
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.redis import RedisRender
from statefulkit.render.workload import WorkloadManifests, render_workload
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.zk import TEST_PASSWORD, realserver_args
from tools.images import build, contract, sandbox
from tools.node import oci

NAMESPACE = "images"


def _missing_tool() -> str | None:
    if os.geteuid() != 0:
        return "building and running images needs root (dpkg-deb ownership, namespaces, chroot)"
    for tool in ("apt-get", "dpkg-deb", "ldconfig", "unshare", "chroot", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` on PATH"
    return None


@pytest.fixture(scope="module")
def images() -> dict[str, tuple[str, Path, Path]]:
    """kind -> (image name, OCI archive, rootfs)."""
    if reason := _missing_tool():
        pytest.skip(reason)
    return {kind: build.build(recipe, import_into_nodes=False) for kind, recipe in build.RECIPES.items()}


@pytest.mark.parametrize(
    ("kind", "args"), [("zookeeper", ZooKeeperArgs()), ("redis", RedisArgs(existing_secret=KeyRef(name="s", key="k")))]
)
def test_contract_user_is_the_components_default(kind: str, args: EnsembleOptions) -> None:
    """The contract is checked as the user the pods run as by default, and the image's user is it."""
    assert contract.CONTRACTS[kind].user == (args.run_as_user, args.run_as_group)
    assert args.fs_group == args.run_as_group
    assert build.RECIPES[kind].user[1] == args.run_as_user


@pytest.mark.parametrize("kind", sorted(build.RECIPES))
def test_image_archive_meets_the_contract(kind: str, images: dict[str, tuple[str, Path, Path]], tmp_path: Path) -> None:
    image, archive, _ = images[kind]
    assert image.startswith(f"statefulkit.local/{kind}-debian:")
    rootfs = contract.unpack(archive, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    uid, gid = contract.CONTRACTS[kind].user
    assert config["User"] == f"{uid}:{gid}"
    assert contract.check(contract.CONTRACTS[kind], rootfs) == []
    # minbase-like: no documentation, no package manager, no desktop Java
    for absent in (
        "usr/share/doc",
        "usr/share/man",
        "usr/bin/dpkg",
        "usr/bin/apt-get",
        "usr/lib/jvm/default-java/lib/libawt_xawt.so",
    ):
        assert not (rootfs / absent).exists(), absent


def _copy(rootfs: Path, copy: Path) -> Path:
    """A copy of a cached rootfs to break: hard links (cheap; removing a file or changing a directory
    leaves the cached one intact), or a full copy where links cannot be made."""
    if subprocess.run(["cp", "-al", str(rootfs), str(copy)], check=False).returncode != 0:
        shutil.rmtree(copy, ignore_errors=True)
        subprocess.run(["cp", "-a", str(rootfs), str(copy)], check=True)
    return copy


def test_contract_names_what_an_image_lacks(images: dict[str, tuple[str, Path, Path]], tmp_path: Path) -> None:
    """A copy of the Redis rootfs without `od`, then without `sh`."""
    copy = _copy(images["redis"][2], tmp_path / "rootfs")
    (copy / "usr/bin/od").unlink()
    failures = contract.check(contract.REDIS, copy)
    assert len(failures) == 1, failures
    assert failures[0].startswith("`od` on PATH: missing (redis-common.sh"), failures
    (copy / "bin/sh").unlink()
    (failure,) = contract.check(contract.REDIS, copy)
    assert failure.startswith("sh: the pods run `sh /config/<script>.sh`, and it does not run as uid 999"), failure


def _unmet(failures: list[str]) -> list[str]:
    """The needs that the failures name."""
    return [f.split(": missing (")[0] for f in failures]


def _restic_need(prefix: str) -> str:
    return next(n.what for n in contract.RESTIC.needs if n.what.startswith(prefix))


def test_restic_contract_names_what_an_image_lacks(images: dict[str, tuple[str, Path, Path]], tmp_path: Path) -> None:
    """A copy of the restic rootfs without restic, then with it but with /tmp not writable by the
    scripts' user (as a build that forgot /tmp's mode would leave it)."""
    runs, round_trip, tmp = _restic_need("restic runs"), _restic_need("restic init"), _restic_need("/tmp")
    rootfs = images["restic"][2]
    copy = _copy(rootfs, tmp_path / "rootfs")
    (copy / "usr/bin/restic").unlink()
    failures = contract.check(contract.RESTIC, copy)
    assert _unmet(failures) == [runs, round_trip], failures
    assert all(f.endswith("restic: not found") for f in failures), failures
    shutil.copy2(rootfs / "usr/bin/restic", copy / "usr/bin/restic")
    (copy / "tmp").chmod(0o755)
    failures = contract.check(contract.RESTIC, copy)
    assert _unmet(failures) == [tmp, round_trip], failures
    assert failures[1].endswith("mkdir: cannot create directory '/tmp/contract-data': Permission denied"), failures


def test_restic_image_holds_the_tool_and_no_more(images: dict[str, tuple[str, Path, Path]]) -> None:
    """The CA bundle is made by the build, so its sources, update-ca-certificates and openssl (its
    c_rehash) stay out; the scripts use sh, not bash; the pods' uid has no passwd entry, as in a pod."""
    rootfs = images["restic"][2]
    assert build.RECIPES["restic"].user == (None, contract.RESTIC.user[0])
    assert ":65532:" not in (rootfs / "etc/passwd").read_text()
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    for absent in ("usr/share/ca-certificates", "usr/sbin/update-ca-certificates", "usr/bin/openssl", "bin/bash"):
        assert not (rootfs / absent).exists(), absent


def _container(manifests: WorkloadManifests, name: str | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = manifests.stateful_set["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if name is None or c["name"] == name)


def _probe(container: dict[str, Any], kind: str) -> str:
    return shlex.join(container[kind]["exec"]["command"])


def _pod_files(tmp_path: Path, manifests: WorkloadManifests, fs_group: int) -> dict[str, Path]:
    """The pod's mounts: the rendered ConfigMap at /config, an empty volume of the fsGroup at /data,
    an /etc/hosts naming the pod as the headless Service would."""
    assert manifests.config_map is not None
    config = tmp_path / "config"
    config.mkdir()
    for name, text in manifests.config_map["data"].items():
        (config / name).write_text(text)
        (config / name).chmod(0o555)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 0, fs_group)
    data.chmod(0o2770)
    pod = f"{manifests.names.stateful_set}-0"
    hosts = tmp_path / "hosts"
    fqdn = f"{pod}.{manifests.names.headless_service}.{NAMESPACE}.svc.cluster.local"
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {fqdn} {pod}\n")
    return {"/config": config, "/data": data, "/etc/hosts": hosts}


def _serve(
    rootfs: Path, kind: str, manifests: WorkloadManifests, tmp_path: Path, *, env: dict[str, str], driver: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `driver` in the image as the pod's container would run, with the pod's mounts."""
    user = contract.CONTRACTS[kind].user
    binds = _pod_files(tmp_path, manifests, user[1])
    done = sandbox.run(
        rootfs,
        [contract.CONTRACTS[kind].interpreter, "-c", driver],
        user=user,
        env=env,
        binds=binds,
        read_only=["/config"],
        hostname=f"{manifests.names.stateful_set}-0",
        timeout=240,
    )
    return done, binds["/data"]


def test_zookeeper_serves_from_its_image(images: dict[str, tuple[str, Path, Path]], tmp_path: Path) -> None:
    args = realserver_args(jvm_flags=["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
    manifests = ZooKeeperRender("zk", args).manifests()
    container = _container(manifests)
    env = {"POD_NAMESPACE": NAMESPACE, "BOOTSTRAP_REPLICAS": "1", "ZK_SUPER_PASSWORD": TEST_PASSWORD}
    assert {e["name"] for e in container["env"]} == set(env)
    driver = f"""
{shlex.join(container["command"])} >/tmp/server.log 2>&1 &
server=$!
until {_probe(container, "readinessProbe")}; do
  kill -0 $server && ((SECONDS < 150)) || {{ echo "never ready"; cat /tmp/server.log; exit 1; }}
  sleep 1
done
{_probe(container, "livenessProbe")}
exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && cat <&3
exec 3<>/dev/tcp/127.0.0.1/7000 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && grep -m1 '^znode_count' <&3
echo "uid $(id -u)"
grep -m1 -o 'INFO .*binding to port.*' /tmp/server.log
"""
    done, data = _serve(images["zookeeper"][2], "zookeeper", manifests, tmp_path, env=env, driver=driver)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "ready: Mode: leader" in out or "ready: Mode: standalone" in out, out
    assert "live: imok" in out, out
    assert "Zookeeper version: 3.8" in out, out
    assert "znode_count" in out, out  # the metrics provider runs
    assert "uid 1000" in out, out
    assert "binding to port" in out, out  # ZooKeeper logs to the container's output
    assert (data / "myid").read_text().strip() == "1"
    assert (data / "myid").stat().st_uid == 1000


def test_redis_serves_from_its_image(images: dict[str, tuple[str, Path, Path]], tmp_path: Path) -> None:
    args = RedisArgs(
        replicas=1,
        allow_small_sentinel_quorum=True,
        discovery_timeout_seconds=0,
        existing_secret=KeyRef(name="redis-auth", key="password"),
    )
    manifests = render_workload("redis", RedisRender("redis", args).workload_args())
    redis, sentinel = _container(manifests, "redis"), _container(manifests, "sentinel")
    env = {"POD_NAME": "redis-0", "POD_NAMESPACE": NAMESPACE, "CONFIG_DIR": "/config", "REDIS_PASSWORD": "pw"}
    assert {e["name"] for e in redis["env"]} == set(env)
    driver = f"""
{shlex.join(redis["command"])} >/tmp/redis.log 2>&1 &
server=$!
{shlex.join(sentinel["command"])} >/tmp/sentinel.log 2>&1 &
end=$(($(date +%s) + 60))
until {_probe(redis, "readinessProbe")} && {_probe(sentinel, "readinessProbe")}; do
  kill -0 $server $! && [ "$(date +%s)" -lt "$end" ] ||
    {{ echo "never ready"; cat /tmp/redis.log /tmp/sentinel.log; exit 1; }}
  sleep 1
done
export REDISCLI_AUTH=pw
redis-cli -p 6379 PING
redis-cli -p 6379 SET k v >/dev/null && redis-cli -p 6379 GET k
redis-cli -p 26379 SENTINEL get-master-addr-by-name mymaster | head -n 1
echo "uid $(id -u)"
"""
    done, data = _serve(images["redis"][2], "redis", manifests, tmp_path, env=env, driver=driver)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    lines = out.split()
    assert "PONG" in lines, out
    assert "v" in lines, out
    assert f"redis-0.redis-headless.{NAMESPACE}.svc.cluster.local" in lines, out
    assert "uid 999" in out, out
    assert (data / "conf/redis.conf").stat().st_uid == 999


def test_unpack_reads_the_archive_layout(tmp_path: Path) -> None:
    """contract.unpack on a hand-made one-layer archive: the layer's files and the config's PATH."""
    layer_dir = tmp_path / "layer"
    (layer_dir / "bin").mkdir(parents=True)
    (layer_dir / "bin/x").write_text("x")
    archive = oci.build_archive(layer_dir, "statefulkit.local/t:1", {"Env": ["PATH=/opt/bin:/bin"]}, tmp_path / "t.tar")
    assert tarfile.is_tarfile(archive)
    out = tmp_path / "out"
    out.mkdir()
    rootfs = contract.unpack(archive, out)
    assert (rootfs / "bin/x").read_text() == "x"
    assert contract.image_path(rootfs) == "/opt/bin:/bin"
