"""The cert-manager Certificate an ensemble asks for when TlsArgs.issuer_ref is set."""

from __future__ import annotations

from typing import Any

from statefulkit.args.extensions import ExtraVolume, VolumeMount
from statefulkit.args.tls import TLS_DIR, TLS_KEYSTORE, TLS_KEYSTORE_VOLUME, TLS_VOLUME, TlsArgs, certificate_secret
from statefulkit.render.pod import Manifest

CERTIFICATE_API = ("cert-manager.io/v1", "Certificate")


def render_certificate(name: str, tls: TlsArgs, namespace: str, services: list[str], cluster_domain: str) -> Manifest:
    """spec of Certificate `<name>-tls`: one key pair for every member (the wildcard over the headless
    Service `services[0]`), each Service's names, and localhost (sidecars and scripts in the pod)."""
    assert tls.issuer_ref is not None
    headless, *others = services
    zone = f"{namespace}.svc.{cluster_domain}"
    dns = [f"*.{headless}.{zone}", f"{headless}.{zone}"]
    for service in others:
        dns += [f"{service}.{zone}", f"{service}.{namespace}.svc", f"{service}.{namespace}", service]
    return {
        "secretName": certificate_secret(name),
        "issuerRef": tls.issuer_ref.model_dump(),
        "dnsNames": [*dns, "localhost"],
        "ipAddresses": ["127.0.0.1"],
        "duration": f"{tls.duration_hours}h",
        # Members present it to each other as clients too (replication, Sentinel, quorum links).
        "usages": ["server auth", "client auth", "digital signature", "key encipherment"],
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }


def with_tls(options: dict[str, Any], name: str, tls: TlsArgs | None, *, keystore: bool = False) -> dict[str, Any]:
    """Workload options (`workload_options()`) plus, with `tls`, the certificate Secret
    (group-readable: the pods run with their fsGroup) mounted in the main container, and with
    `keystore` the memory-backed directory a start script assembles a key store in."""
    if tls is None:
        return options
    volumes = [ExtraVolume(name=TLS_VOLUME, secret=tls.secret(name), default_mode=0o440)]
    if keystore:
        volumes.append(ExtraVolume(name=TLS_KEYSTORE_VOLUME, empty_dir=True, memory=True))
    return {
        **options,
        "extra_volumes": [*options["extra_volumes"], *volumes],
        "extra_volume_mounts": [*options["extra_volume_mounts"], *tls_mounts(keystore=keystore)],
    }


def tls_mounts(*, keystore: bool = False) -> list[VolumeMount]:
    mounts = [VolumeMount(name=TLS_VOLUME, mount_path=TLS_DIR, read_only=True)]
    if keystore:
        mounts.append(VolumeMount(name=TLS_KEYSTORE_VOLUME, mount_path=TLS_KEYSTORE.rsplit("/", 1)[0]))
    return mounts
