"""ZooKeeper, Redis and restic container images made from Debian's packages, for the real nodes.

    tools/images/build [zookeeper|redis|restic|zookeeper-maven ...] [--no-import]

Each image is a root filesystem of Debian's packages (this machine's apt sources and suite): apt
resolves the packages' dependency closure, `apt-get download` fetches it, `dpkg-deb -x` unpacks
each package. No maintainer script runs, so what they would do and the image needs is done here
(a user, the java link, ZooKeeper's config alternative, the CA bundle); packages that only serve
maintainer scripts or a desktop are left out (SKIPPED, Recipe.skipped). The rootfs is cached under
<cache>/images/rootfs/<kind>-<key>, the key hashing the resolved package versions and this file,
so a warm run only asks apt for the versions. tools/node/oci turns it into an OCI archive and
imports it into the running real nodes. Prints `<kind> <image> <archive> <rootfs>` per image.

The images are named for what they are (statefulkit.local/zookeeper-debian:3.8,
.../redis-debian:7.0, .../restic-debian:0.14: the backup CronJob's and the restore init containers'
tool); the components keep the official images as their defaults. What the components' scripts
need from each image is tools/images/contract.py. Built on request only (ON_REQUEST, not in the
default set): .../zookeeper-maven:3.9, the ZooKeeper image with ZooKeeper 3.9.5's Maven jars in place
of Debian's package (tools/images/zookeeper_maven.py), checked by the same contract.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.images import zookeeper_maven
from tools.node import oci
from tools.toolchain.build import cache_root

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "statefulkit.local"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Installed as if present, so apt does not pull them (their files are never needed here): the
# machinery of maintainer scripts, which never run, and ZooKeeper's dependencies beyond a server.
SKIPPED = (
    "adduser",
    "debconf",
    "dpkg",
    "init-system-helpers",
    "usrmerge",
    "default-jre",  # the desktop JRE (GTK, Mesa, LLVM); default-jre-headless runs the server
    "junit4",  # a test library that libzookeeper-java depends on
    "ca-certificates-java",  # Java's CA store, built by its postinst; ZooKeeper's TLS reads PEM files
)
# What the scripts run beyond the servers (tools/images/contract.py lists them).
BASE = ("base-files", "bash", "dash", "coreutils", "grep", "sed", "mawk", "libc-bin")
# Files of no use in a container.
PRUNED = (
    *("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian"),
    "usr/share/maven-repo",  # Maven's view of the jars, for builds
    "usr/lib/jvm/java-17-openjdk-amd64/lib/ct.sym",  # javac's API signatures
)


@dataclass(frozen=True)
class Recipe:
    kind: str
    packages: tuple[str, ...]
    tag_of: str  # the package whose upstream major.minor tags the image
    # name, uid (= gid): the official image's, the components' default; no name: no passwd entry,
    # as a pod's runAsUser has none
    user: tuple[str | None, int]
    config: dict[str, Any]  # the OCI config beyond User and Env PATH
    finish: Callable[[Path], None] = field(default=lambda _: None)
    skipped: tuple[str, ...] = ()  # SKIPPED for this image only (another one needs them)
    inputs: tuple[str, ...] = ()  # files of the repo (beyond this one) whose content the image holds
    contract: str = ""  # the kind of tools/images/contract.py that checks the image (default: kind)
    source: str = "debian"  # where the server comes from, in the image's name
    version: str = ""  # the server's upstream version when no package carries it: tags the image

    @property
    def name(self) -> str:
        return f"{REGISTRY}/{self.contract or self.kind}-{self.source}"


# ZooKeeper's Debian class path names no logging backend (log4j 1.2 via slf4j), nor the servlet API
# the metrics provider serves /metrics with, nor the Netty codecs and resolver that the TLS client
# port and zkCli.sh's TLS client use: the official image has them all on its class path.
ZK_JARS = (
    "zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar", "servlet-api.jar", "netty-codec.jar", "netty-resolver.jar",
)  # fmt: skip
ZK_LIB = "usr/share/zookeeper/lib"  # the Prometheus metrics provider (Maven Central)
ZK_WRAPPER = """#!/bin/sh
# {name} as the official image has it, on PATH: Debian's script with the official class path (the
# metrics provider, the servlet API and Netty's codecs), logging to the console, ZK_CLIENT_HEAP honoured.
export JMXDISABLE=true
export JVMFLAGS="-cp {classpath} -Dzookeeper.root.logger={level},CONSOLE $JVMFLAGS"
{extra}exec /usr/share/zookeeper/bin/{name} "$@"
"""


def _finish_zookeeper(rootfs: Path, *, maven: bool = False) -> None:
    # update-alternatives would make the java link: the JVM that the wrappers run.
    (rootfs / "usr/bin/java").symlink_to("/usr/lib/jvm/default-java/bin/java")
    if maven:  # the jars, logback.xml and the wrappers where the Debian image has its own
        zookeeper_maven.install(rootfs, conf="/etc/zookeeper/conf", lib=f"/{ZK_LIB}", bin_dir="/usr/local/bin")
    else:
        _finish_debian_zookeeper(rootfs)
    for volume in ("data", "datalog"):
        _own_dir(rootfs / volume, 1000)


def _finish_debian_zookeeper(rootfs: Path) -> None:
    # update-alternatives would make this link: the config dir whose log4j.properties is on the class path.
    (rootfs / "etc/zookeeper/conf").symlink_to("conf_example")
    lib = rootfs / ZK_LIB
    lib.mkdir(parents=True, exist_ok=True)
    for jar in sorted(_metrics_jars().glob("*.jar")):
        shutil.copyfile(jar, lib / jar.name)
        (lib / jar.name).chmod(0o644)
    classpath = ":".join(["/etc/zookeeper/conf", *(f"/usr/share/java/{j}" for j in ZK_JARS), f"/{ZK_LIB}/*"])
    client_heap = 'export CLIENT_JVMFLAGS="-Xmx${ZK_CLIENT_HEAP:-256}m $CLIENT_JVMFLAGS"\n'
    for name, level, extra in (("zkServer.sh", "INFO", ""), ("zkCli.sh", "WARN", client_heap)):
        wrapper = rootfs / "usr/local/bin" / name
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(ZK_WRAPPER.format(name=name, classpath=classpath, level=level, extra=extra))
        wrapper.chmod(0o755)


def _finish_redis(rootfs: Path) -> None:
    _own_dir(rootfs / "data", 999)


def _finish_restic(rootfs: Path) -> None:
    # update-ca-certificates (ca-certificates' postinst, by default trusting every certificate it
    # ships) would concatenate them into the bundle Go's TLS reads; then the sources, the script and
    # its configuration serve nothing.
    certs = sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt"))
    if not certs:
        raise SystemExit("images: ca-certificates unpacked no usr/share/ca-certificates/**/*.crt")
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text("".join(cert.read_text().rstrip("\n") + "\n" for cert in certs))
    bundle.chmod(0o644)
    for unused in ("usr/share/ca-certificates", "etc/ca-certificates"):
        shutil.rmtree(rootfs / unused)
    (rootfs / "usr/sbin/update-ca-certificates").unlink()


def _metrics_jars() -> Path:
    out = subprocess.run([str(ROOT / "tools/zookeeper-metrics-jars")], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"images: tools/zookeeper-metrics-jars failed: {out.stderr.strip()}")
    return Path(out.stdout.strip())


RECIPES = {
    r.kind: r
    for r in (
        Recipe(
            kind="zookeeper",
            packages=(*BASE, "zookeeper", "default-jre-headless", "openssl"),
            tag_of="zookeeper",
            user=("zookeeper", 1000),
            config={"Cmd": ["zkServer.sh", "start-foreground"], "WorkingDir": "/data"},
            finish=_finish_zookeeper,
            inputs=("tools/zookeeper-metrics-jars", "tools/zookeeper-jars"),
        ),
        Recipe(
            kind="redis",
            packages=(*BASE, "redis-server", "redis-sentinel", "redis-tools"),
            tag_of="redis-server",
            user=("redis", 999),
            config={"Cmd": ["redis-server"], "WorkingDir": "/data"},
            finish=_finish_redis,
        ),
        Recipe(
            kind="restic",
            packages=("base-files", "dash", "coreutils", "grep", "sed", "restic", "ca-certificates"),
            tag_of="restic",
            user=(None, 65532),  # the scripts' runAsUser: the official image runs as root
            config={"Entrypoint": ["restic"]},  # as the official image's
            finish=_finish_restic,
            skipped=("openssl",),  # update-ca-certificates' c_rehash: _finish_restic makes the bundle
        ),
    )
}


# The ZooKeeper image with the server of ZooKeeper's Maven jars in place of Debian's package.
ZOOKEEPER_MAVEN = dataclasses.replace(
    RECIPES["zookeeper"],
    kind="zookeeper-maven",
    packages=tuple(p for p in RECIPES["zookeeper"].packages if p != "zookeeper"),
    finish=functools.partial(_finish_zookeeper, maven=True),
    inputs=("tools/zookeeper-jars", "tools/images/zookeeper_maven.py"),
    contract="zookeeper",
    source="maven",
    version=zookeeper_maven.VERSION,
)
# Built when named: the default set is what the real nodes and tests/realserver/test_images.py use.
ON_REQUEST = {ZOOKEEPER_MAVEN.kind: ZOOKEEPER_MAVEN}
KNOWN = {**RECIPES, **ON_REQUEST}


def _own_dir(path: Path, uid: int) -> None:
    path.mkdir(mode=0o755, exist_ok=True)
    os.chown(path, uid, uid)


def _apt(*args: str, status: Path | None = None, cwd: Path | None = None) -> str:
    """apt-get on this machine's sources and lists; with `status`, as if only that were installed."""
    settings = ["Debug::NoLocking=1", "APT::Sandbox::User=root"]
    if status is not None:  # and no cache file of the host's, which would describe another status
        settings += [f"Dir::State::status={status}", "Dir::Cache::pkgcache=", "Dir::Cache::srcpkgcache="]
    options = [word for setting in settings for word in ("-o", setting)]
    out = subprocess.run(["apt-get", *options, *args], capture_output=True, text=True, cwd=cwd, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"apt-get {' '.join(args[:3])}...: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def resolve(recipe: Recipe) -> dict[str, str]:
    """package -> version: the closure apt installs for the recipe into an empty system."""
    with tempfile.TemporaryDirectory() as tmp:
        status = Path(tmp) / "status"
        status.write_text(
            "".join(
                f"Package: {p}\nStatus: install ok installed\nVersion: 99:0\nArchitecture: all\n"
                "Maintainer: none\nDescription: left out of the image\n\n"
                for p in (*SKIPPED, *recipe.skipped)
            )
        )
        plan = _apt("-s", "install", "--no-install-recommends", *recipe.packages, status=status)
    versions = dict(re.findall(r"^Inst (\S+) \((\S+) ", plan, re.M))
    missing = [p for p in recipe.packages if p not in versions]
    if missing:
        raise SystemExit(f"images: apt does not install {missing} (run apt-get update?)")
    return versions


def cache_key(recipe: Recipe, versions: dict[str, str]) -> str:
    sources = [Path(__file__).read_text(), *((ROOT / f).read_text() for f in recipe.inputs)]
    text = json.dumps([recipe.kind, sorted(versions.items()), *sources])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tag(version: str) -> str:
    """'5:7.0.15-1~deb12u10' -> '7.0'."""
    match = re.match(r"^(?:\d+:)?(\d+)\.(\d+)", version)
    if match is None:
        raise SystemExit(f"images: no major.minor in version {version!r}")
    return f"{match[1]}.{match[2]}"


def download(versions: dict[str, str], debs: Path) -> list[Path]:
    """The packages' .deb files in `debs` (fetched once: apt-get download skips the files it finds,
    and their names carry the versions)."""
    debs.mkdir(parents=True, exist_ok=True)
    wanted = [f"{p}={v}" for p, v in sorted(versions.items())]
    with tempfile.TemporaryDirectory() as empty:  # in `debs` it would list only the missing files
        names = re.findall(r"^'\S+' (\S+\.deb) ", _apt("download", "--print-uris", *wanted, cwd=Path(empty)), re.M)
    try:
        _apt("download", *wanted, cwd=debs)
    except RuntimeError:  # the lists name versions the mirror no longer has
        _apt("update")
        _apt("download", *wanted, cwd=debs)
    return [debs / name for name in names]


def build_rootfs(recipe: Recipe, debs: list[Path], rootfs: Path) -> None:
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(rootfs)], check=True)
    for pruned in PRUNED:
        shutil.rmtree(rootfs / pruned, ignore_errors=True)
    name, uid = recipe.user
    user = f"{name}:x:{uid}:{uid}:{name}:/data:/usr/sbin/nologin\n" if name else ""
    group = f"{name}:x:{uid}:\n" if name else ""
    (rootfs / "etc/passwd").write_text(
        f"root:x:0:0:root:/root:/bin/sh\n{user}nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (rootfs / "etc/group").write_text(f"root:x:0:\n{group}nogroup:x:65534:\n")
    if (rootfs / "usr/bin/mawk").exists():
        (rootfs / "usr/bin/awk").symlink_to("mawk")  # mawk's update-alternatives
    for mountpoint in ("proc", "sys", "dev", "tmp"):
        (rootfs / mountpoint).mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    recipe.finish(rootfs)
    subprocess.run(["ldconfig", "-r", str(rootfs)], check=True)


def build(recipe: Recipe, *, import_into_nodes: bool = True) -> tuple[str, Path, Path]:
    """(image, archive, rootfs) of the recipe, built or taken from the cache."""
    versions = resolve(recipe)
    key = cache_key(recipe, versions)
    image = f"{recipe.name}:{tag(recipe.version or versions[recipe.tag_of])}"
    store = oci.images_dir() / "rootfs"
    store.mkdir(parents=True, exist_ok=True)
    rootfs = store / f"{recipe.kind}-{key}"
    archive = oci.archive_path(image)
    # The stamp says which rootfs is complete and which archive was made of it.
    stamp = store / f"{recipe.kind}.built"
    with open(store / f".{recipe.kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another build of the same image waits, then finds it built
        built = stamp.read_text() if stamp.is_file() else ""
        if not built.startswith(key) or not rootfs.is_dir():
            debs = download(versions, cache_root() / "debs")
            # <kind>-<key> only: "zookeeper-*" would also take zookeeper-maven's
            key_glob = "[0-9a-f]" * len(key)
            for old in [*store.glob(f"{recipe.kind}-{key_glob}"), *store.glob(f".{recipe.kind}-{key_glob}.partial")]:
                shutil.rmtree(old)
            partial = store / f".{recipe.kind}-{key}.partial"
            partial.mkdir()
            build_rootfs(recipe, debs, partial)
            partial.rename(rootfs)
            stamp.write_text(key)
        if stamp.read_text() != f"{key} {archive}" or not archive.is_file():
            _, uid = recipe.user
            config = {"Env": [f"PATH={DEFAULT_PATH}"], "User": f"{uid}:{uid}", **recipe.config}
            oci.build_archive(rootfs, image, config, archive)
            stamp.write_text(f"{key} {archive}")
    if import_into_nodes:
        for socket in oci.node_sockets():
            oci.import_archive(archive, socket)
    return image, archive, rootfs


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(prog="tools/images/build", description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"{' | '.join(KNOWN)} (default: {', '.join(RECIPES)})")
    parser.add_argument("--no-import", action="store_true", help="do not import into the running real nodes")
    args = parser.parse_args(argv)
    unknown = set(args.kinds) - set(KNOWN)
    if unknown:
        parser.error(f"unknown image(s) {sorted(unknown)}; known: {list(KNOWN)}")
    for kind in args.kinds or RECIPES:
        image, archive, rootfs = build(KNOWN[kind], import_into_nodes=not args.no_import)
        print(kind, image, archive, rootfs, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
