"""Turn a root filesystem directory into an OCI image archive and import it into the real nodes.

No registry is reachable, so the real nodes' images are made here: one uncompressed layer (the
directory as it is, owners and modes kept), a config with the entrypoint/user/env, written as an
OCI image layout tar. The archive is kept in <cache>/images/ (tools/node/up imports every archive
there into a node's containerd when it starts) and imported at once into every containerd of a
running real node, in the `k8s.io` namespace where the kubelet's CRI looks for images.

    tools/node/oci-image ROOTFS NAME:TAG [--entrypoint /bin/prog --arg ...] [--cmd ...] [--user 1000]
                         [--env KEY=VALUE ...] [--workdir DIR] [--no-import]
    tools/node/oci-image --print-path NAME:TAG    where the archive of that image is kept

NAME must carry a domain (e.g. statefulkit.local/zookeeper:3.8): CRI resolves a bare name to a
public registry's, which would then not be the imported image. Pods use the same name with
`imagePullPolicy: Never` (or IfNotPresent). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from tools.toolchain.build import cache_root

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# name[:tag] with a domain first: "<host with a dot or a port, or localhost>/<path>"
NAME = re.compile(
    r"^(?P<repo>(?:[a-z0-9.-]+\.[a-z0-9-]+|localhost)(?::\d+)?(?:/[a-z0-9._/-]+)+)(?::(?P<tag>[\w.-]+))?$"
)


def images_dir() -> Path:
    return cache_root() / "images"


def node_sockets() -> list[Path]:
    """The containerd sockets of the running real nodes of every local cluster (tools/node/up)."""
    return sorted(p for p in (cache_root() / "nodes").glob("*/*/containerd/containerd.sock") if p.is_socket())


def split_name(image: str) -> tuple[str, str]:
    match = NAME.match(image)
    if not match:
        raise SystemExit(f"oci-image: {image!r} is not DOMAIN/PATH[:TAG] (e.g. statefulkit.local/zookeeper:3.8)")
    return match["repo"], match["tag"] or "latest"


def _digest_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _layer(rootfs: Path, out: Path) -> None:
    """The root filesystem as one tar layer: sorted, numeric owners, paths relative to /."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        # os.walk stores a symlinked directory as the link (it does not follow it)
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in [*sorted(dirnames), *sorted(filenames)]:
                path = Path(dirpath) / name
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
                if info is None:  # a socket: nothing an image carries
                    continue
                info.uname = info.gname = ""  # the uids/gids are what the image's users are
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)


def build_archive(rootfs: Path, image: str, config: dict[str, Any], out: Path) -> Path:
    """Write the OCI image layout tar of `rootfs` as `image` to `out`."""
    repo, tag = split_name(image)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        layer = Path(tmp) / "layer.tar"
        _layer(rootfs, layer)
        layer_digest = _digest_file(layer)
        image_config = {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created_by": "tools/node/oci-image"}],
        }
        config_blob = json.dumps(image_config, sort_keys=True).encode()
        manifest_blob = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": {"mediaType": CONFIG, "digest": _sha(config_blob), "size": len(config_blob)},
                "layers": [{"mediaType": LAYER, "digest": layer_digest, "size": layer.stat().st_size}],
            },
            sort_keys=True,
        ).encode()
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MANIFEST,
                    "digest": _sha(manifest_blob),
                    "size": len(manifest_blob),
                    # containerd names the imported image after the first; the second is the OCI tag
                    "annotations": {
                        "io.containerd.image.name": f"{repo}:{tag}",
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            ],
        }
        partial = out.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add_bytes(tar, "index.json", json.dumps(index).encode())
            for blob in (config_blob, manifest_blob):
                _add_bytes(tar, "blobs/sha256/" + _sha(blob).removeprefix("sha256:"), blob)
            tar.add(layer, arcname="blobs/sha256/" + layer_digest.removeprefix("sha256:"))
        partial.rename(out)
    return out


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def import_archive(archive: Path, socket: Path) -> None:
    """`ctr images import` into the k8s.io namespace of the containerd at `socket` (and unpack)."""
    ctr = shutil.which("ctr") or "ctr"
    command = [ctr, "--address", str(socket), "--namespace", "k8s.io", "images", "import", str(archive)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"oci-image: importing {archive.name} into {socket} failed: {done.stderr.strip()}")


def archive_path(image: str) -> Path:
    repo, tag = split_name(image)
    return images_dir() / (re.sub(r"[^A-Za-z0-9.-]", "_", f"{repo}_{tag}") + ".tar")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--print-path"] and len(argv) == 2:  # where the archive of an image is kept
        print(archive_path(argv[1]))
        return 0
    assert __doc__ is not None
    parser = argparse.ArgumentParser(
        prog="tools/node/oci-image",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rootfs", type=Path, help="the root filesystem directory")
    parser.add_argument("image", help="DOMAIN/PATH:TAG, e.g. statefulkit.local/redis:7")
    parser.add_argument("--entrypoint", help="the program the container runs")
    parser.add_argument("--arg", action="append", default=[], help="an argument of the entrypoint (repeat)")
    parser.add_argument("--cmd", action="append", default=[], help="a word of the default command (repeat)")
    parser.add_argument("--user", help="uid[:gid] the container runs as")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="(repeat)")
    parser.add_argument("--workdir", help="working directory")
    parser.add_argument("--no-import", action="store_true", help="only write the archive")
    args = parser.parse_args(argv)
    if not args.rootfs.is_dir():
        parser.error(f"{args.rootfs} is not a directory")
    config: dict[str, Any] = {"Env": [DEFAULT_PATH, *args.env]}
    if args.entrypoint:
        config["Entrypoint"] = [args.entrypoint, *args.arg]
    if args.cmd:
        config["Cmd"] = args.cmd
    if args.user:
        config["User"] = args.user
    if args.workdir:
        config["WorkingDir"] = args.workdir
    out = archive_path(args.image)
    out.parent.mkdir(parents=True, exist_ok=True)
    build_archive(args.rootfs, args.image, config, out)
    print(f"oci-image: {args.image} -> {out} ({out.stat().st_size // 1024} KiB)", file=sys.stderr)
    sockets = [] if args.no_import else node_sockets()
    for socket in sockets:
        import_archive(out, socket)
    print(f"oci-image: imported into {len(sockets)} running node(s)", file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
