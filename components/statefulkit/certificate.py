"""Registers the cert-manager Certificate an ensemble asks for (TlsArgs.issuer_ref)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.args.redis import RedisArgs
from statefulkit.args.tls import certificate_secret
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.tls import CERTIFICATE_API, render_certificate
from statefulkit.render.workload import ensemble_metadata


def register_certificate(
    name: str, app_name: str, args: ZooKeeperArgs | RedisArgs, services: list[str], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource | None:
    """Certificate `<name>-tls` when `args.tls` names an issuer, else None. cert-manager writes its
    Secret; the pods mount it by name and start once it exists (kubelet retries the mount), so
    the StatefulSet need only be registered after the Certificate."""
    tls = args.tls
    if tls is None or tls.issuer_ref is None:
        return None
    return k8s.apiextensions.CustomResource(
        f"{name}-tls",
        api_version=CERTIFICATE_API[0],
        kind=CERTIFICATE_API[1],
        metadata=ensemble_metadata(app_name, name, certificate_secret(name), args),
        # The names it certifies hold the namespace, which may still be an Output.
        spec=pulumi.Output.from_input(args.namespace).apply(
            lambda ns: render_certificate(name, tls, ns, services, args.cluster_domain)
        ),
        opts=opts,
    )
