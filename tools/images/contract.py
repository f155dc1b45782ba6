"""What the components' scripts assume about a ZooKeeper, Redis or restic image, and a check of an image.

    tools/images/check zookeeper|redis|restic IMAGE   (IMAGE: an OCI image archive or a root filesystem)

The pods run `<interpreter> /config/<script>.sh` as the components' default user; the scripts find
every program through PATH and know no path inside the image (README.md beside this file says how
the official and the Debian images meet that). Each Need is checked by running its test with the
image's own interpreter, as that user, in a sandbox of the image (tools/images/sandbox.py); a failed
check names what is missing and which script needs it. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tools.images import sandbox


@dataclass(frozen=True)
class Need:
    what: str  # what the image provides
    used_by: str  # which scripts rely on it, for what
    test: str  # a shell command in the image's interpreter; exit status 0 = provided


@dataclass(frozen=True)
class Contract:
    kind: str
    interpreter: str  # the pods' command is `<interpreter> /config/<script>.sh`
    user: tuple[int, int]  # the components' default runAsUser / runAsGroup (and fsGroup)
    needs: tuple[Need, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # what the pods set beyond the image's PATH


def on_path(used_by: str, *commands: str) -> list[Need]:
    return [Need(f"`{c}` on PATH", used_by, f"command -v {c}") for c in commands]


TMP = Need("/tmp writable by the user", "the JVM's perf data and temporary files", ": >/tmp/.c && rm /tmp/.c")  # noqa: S108
ZOOKEEPER = Contract(
    kind="zookeeper",
    interpreter="bash",
    user=(1000, 1000),
    needs=(
        *on_path("zookeeper-start.sh: the member's process (exec zkServer.sh start-foreground)", "zkServer.sh"),
        *on_path("zookeeper-common.sh admin(): reconfig as the super user, password on stdin", "zkCli.sh"),
        *on_path("zookeeper-common.sh four(): a four-letter word to a peer (timeout ... bash -c)", "timeout", "bash"),
        *on_path(
            "zookeeper-start.sh, -prestop.sh, -common.sh: membership files, the super user's digest",
            *("cat", "grep", "sed", "tail", "paste", "mv", "rm", "sleep", "touch", "tee", "sha1sum", "base64"),
        ),
        Need(
            "bash with /dev/tcp",
            "zookeeper-probe.sh ask(), zookeeper-common.sh four(): four-letter words without nc or curl",
            "! (exec 3<>/dev/tcp/127.0.0.1/9) 2>&1 | grep -q 'No such file'",
        ),
        Need(
            "bash process substitution (/dev/fd)",
            "zookeeper-start.sh: `done < <(sed ...)` over the recorded membership",
            'read -r line < <(echo ok) && [ "$line" = ok ]',
        ),
        # Runs, so on PATH too (one need, not two failures for one missing program).
        Need(
            "openssl runs",
            "zookeeper-common.sh, -probe.sh: four-letter words over TLS (openssl s_client)",
            "openssl version",
        ),
        Need(
            "zkServer.sh runs ZooKeeper's Java (java and the class path)",
            "zookeeper-start.sh; SERVER_JVMFLAGS carries the heap and the super user's digest",
            "zkServer.sh version 2>&1 | grep -q 'Apache ZooKeeper, version'",
        ),
        Need(
            "zkCli.sh runs ZooKeeper's Java client",
            "zookeeper-common.sh admin(), with ZK_CLIENT_HEAP and CLIENT_JVMFLAGS (TLS)",
            "ZK_CLIENT_HEAP=64 zkCli.sh -help 2>&1 | grep -q 'Welcome to ZooKeeper'",
        ),
        TMP,
    ),
)
REDIS = Contract(
    kind="redis",
    interpreter="sh",
    user=(999, 999),
    needs=(
        *on_path("redis-common.sh cli(): every probe, vote and handoff (timeout 3 redis-cli)", "redis-cli", "timeout"),
        *on_path(
            "redis-common.sh, -start.sh, -prestop.sh, -probe.sh, sentinel-start.sh: votes, conf rendering",
            *("awk", "cat", "date", "head", "od", "sed", "sleep", "sort", "tr", "uniq", "mkdir", "mv"),
        ),
        Need(
            "redis-server runs",
            "redis-start.sh, sentinel-start.sh: exec redis-server <conf> [--sentinel]",
            "redis-server --version",
        ),
        Need("redis-cli speaks TLS (--tls)", "redis-common.sh cli() with TLS", "redis-cli --tls --version"),
    ),
)
# restic's round trip on a local repository: every step the backup CronJob and the restore init
# containers take, with no network (the S3 endpoint's TLS needs only the CA bundle, checked apart).
RESTIC_ROUND_TRIP = """set -e
export RESTIC_REPOSITORY=/tmp/contract-repo RESTIC_PASSWORD=contract
mkdir /tmp/contract-data
echo kept >/tmp/contract-data/file
restic init -q
restic backup -q /tmp/contract-data
restic snapshots --json | grep -qF '"paths":["/tmp/contract-data"]'
restic restore -q latest --target /tmp/contract-restore
[ "$(cat /tmp/contract-restore/tmp/contract-data/file)" = kept ]
[ -d /tmp/restic-cache ]"""
RESTIC = Contract(
    kind="restic",
    interpreter="sh",
    user=(65532, 65532),
    # the official image's HOME (/root) is not the user's; restic's cache must land somewhere writable
    env={"HOME": "/tmp", "RESTIC_CACHE_DIR": "/tmp/restic-cache"},  # noqa: S108
    needs=(
        *on_path(
            "the backup and restore scripts: timestamps, markers, the snapshots' JSON",
            *("date", "cat", "mkdir", "mv", "rm", "ls", "cp", "sleep", "wc", "tr", "head", "tail", "id", "env"),
            *("grep", "sed"),
        ),
        Need(
            "/tmp writable by any uid and sticky (mode 1777)",  # noqa: S108
            "HOME and RESTIC_CACHE_DIR under /tmp: restic's cache, whatever the pod's runAsUser",
            "[ -k /tmp ] && : >/tmp/.c && rm /tmp/.c",
        ),
        Need(
            "CA bundle /etc/ssl/certs/ca-certificates.crt (PEM, Mozilla's roots)",
            "restic against an https S3 endpoint: Go's TLS reads this file",
            "[ \"$(grep -c -e '-----BEGIN CERTIFICATE-----' /etc/ssl/certs/ca-certificates.crt)\" -gt 100 ]",
        ),
        # Runs, so on PATH too (one need, not two failures for one missing program).
        Need("restic runs (restic version)", "the backup and restore scripts: every restic command", "restic version"),
        Need(
            "restic init, backup, snapshots --json, restore latest on a local repository",
            "the backup CronJob (init once, backup, snapshots) and the restore init containers (restore)",
            RESTIC_ROUND_TRIP,
        ),
    ),
)
CONTRACTS = {c.kind: c for c in (ZOOKEEPER, REDIS, RESTIC)}


def image_path(rootfs: Path) -> str:
    """PATH of the image config stored beside an unpacked archive (the default for a bare rootfs)."""
    env = json.loads((rootfs.parent / "config.json").read_text()) if (rootfs.parent / "config.json").is_file() else {}
    for entry in env.get("Env") or []:
        if entry.startswith("PATH="):
            return str(entry.removeprefix("PATH="))
    return sandbox.DEFAULT_PATH


def unpack(archive: Path, into: Path) -> Path:
    """The root filesystem of a one-manifest OCI image archive (one you trust), its layers applied in
    order under `into`/rootfs, its config's `config` as `into`/config.json."""
    rootfs = into / "rootfs"
    rootfs.mkdir()
    with tarfile.open(archive) as outer:

        def blob(digest: str) -> IO[bytes]:
            member = outer.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))
            assert member is not None, digest
            return member

        index = json.load(outer.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = json.load(blob(index["manifests"][0]["digest"]))
        (into / "config.json").write_text(json.dumps(json.load(blob(manifest["config"]["digest"]))["config"]))
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=blob(layer["digest"]), mode="r|*") as tar:
                # an archive the caller trusts: setuid bits and /tmp's mode must stay as they are
                tar.extractall(rootfs, numeric_owner=True, filter="fully_trusted")  # noqa: S202
    return rootfs


def check(contract: Contract, rootfs: Path) -> list[str]:
    """The contract's failures on `rootfs`: one message per Need not met (none: the image fits)."""
    env = {"PATH": image_path(rootfs), **contract.env}
    shell = sandbox.run(rootfs, [contract.interpreter, "-c", "true"], user=contract.user, env=env)
    if shell.returncode != 0:
        return [
            f"{contract.interpreter}: the pods run `{contract.interpreter} /config/<script>.sh`, and it does not "
            f"run as uid {contract.user[0]}: {shell.stderr.strip()}"
        ]
    failures = []
    for need in contract.needs:
        done = sandbox.run(rootfs, [contract.interpreter, "-c", need.test], user=contract.user, env=env)
        if done.returncode != 0:
            detail = (done.stdout + done.stderr).strip()[-300:]
            failures.append(f"{need.what}: missing ({need.used_by}){': ' + detail if detail else ''}")
    return failures


def main(argv: list[str] | None = None) -> int:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(prog="tools/images/check", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(CONTRACTS))
    parser.add_argument("image", type=Path, help="an OCI image archive or a root filesystem directory")
    args = parser.parse_args(argv)
    contract = CONTRACTS[args.kind]
    with tempfile.TemporaryDirectory(prefix="image-check-") as tmp:
        rootfs = args.image if args.image.is_dir() else unpack(args.image, Path(tmp))
        failures = check(contract, rootfs)
    for failure in failures:
        print(f"{args.image}: {failure}", file=sys.stderr)
    print(f"{args.kind} contract: {len(contract.needs) - len(failures)} of {len(contract.needs)} met", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
