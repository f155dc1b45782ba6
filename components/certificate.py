"""Registers the cert-manager Certificate an ensemble asks for (TlsArgs.issuer_ref)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.args.tls import TlsArgs, certificate_secret
from components.render.tls import CERTIFICATE_API, render_certificate


def register_certificate(
    name: str,
    tls: TlsArgs | None,
    *,
    namespace: Any,
    services: list[str],
    cluster_domain: str,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource | None:
    """Certificate `<name>-tls` when `tls` names an issuer, else None. cert-manager writes its
    Secret; the pods mount it by name and start once it exists (kubelet retries the mount), so
    the StatefulSet need only be registered after the Certificate."""
    if tls is None or tls.issuer_ref is None:
        return None
    return k8s.apiextensions.CustomResource(
        f"{name}-tls",
        api_version=CERTIFICATE_API[0],
        kind=CERTIFICATE_API[1],
        metadata={"name": certificate_secret(name), "namespace": namespace, "labels": dict(labels)},
        spec=pulumi.Output.from_input(namespace).apply(
            lambda ns: render_certificate(name, tls, ns, services, cluster_domain)
        ),
        opts=opts,
    )
