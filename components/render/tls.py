"""The cert-manager Certificate an ensemble asks for when TlsArgs.issuer_ref is set."""

from __future__ import annotations

from components.args.tls import TlsArgs, certificate_secret
from components.render.pod import Manifest

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
