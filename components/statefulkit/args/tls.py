"""TLS for an ensemble: where its certificate comes from, and whether clients must present one.

The key never enters a ConfigMap or Pulumi's state: the pods mount a Kubernetes Secret holding
`tls.crt`, `tls.key` and `ca.crt`, which the user names or which cert-manager writes for a
Certificate the component creates (its issuer must fill `ca.crt`, as CA and Vault issuers do).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from statefulkit.args.common import DnsSubdomain, StrictModel
from statefulkit.args.pod import Part, own

TLS_DIR = "/tls"
TLS_VOLUME = "tls"
# Where a member that needs key and chain in one file (ZooKeeper's PEM key store) assembles it: a
# memory-backed emptyDir, so the key is never written to a disk.
TLS_KEYSTORE_VOLUME = "tls-keystore"
TLS_KEYSTORE_DIR = "/tls-keystore"
TLS_KEYSTORE = f"{TLS_KEYSTORE_DIR}/keystore.pem"


class IssuerRef(StrictModel):
    """The cert-manager issuer that signs the component's Certificate."""

    name: DnsSubdomain = Field(description="Issuer or ClusterIssuer name. Required.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field("Issuer", description="Default Issuer (same namespace).")
    group: str = Field("cert-manager.io", min_length=1, description="Default cert-manager.io.")


class TlsArgs(StrictModel):
    """TLS for an ensemble (what each ensemble does with it: RedisArgs.tls, ZooKeeperArgs.tls), from
    exactly one of secret_name (an existing Secret) and issuer_ref (a cert-manager Certificate
    `<name>-tls` is created)."""

    secret_name: DnsSubdomain | None = Field(
        None, description="Existing Secret with tls.crt, tls.key and ca.crt. Default None."
    )
    issuer_ref: IssuerRef | None = Field(None, description="Create a cert-manager Certificate signed by this.")
    client_certificates: bool = Field(
        False,
        description="Clients must present a certificate the CA signed (mutual TLS). Default false: the "
        "password authenticates clients, TLS encrypts and authenticates the servers.",
    )
    duration_hours: int = Field(2160, ge=1, description="Lifetime of a created certificate. Default 2160 (90 days).")

    @model_validator(mode="after")
    def _one_source(self) -> TlsArgs:
        if (self.secret_name is None) == (self.issuer_ref is None):
            given = "both" if self.secret_name is not None else "neither"
            raise ValueError(
                f"tls: {given} of secret_name and issuer_ref set; set exactly one (an existing Secret with "
                "tls.crt, tls.key and ca.crt, or a cert-manager issuer for a Certificate the component creates)"
            )
        return self

    def secret(self, name: str) -> str:
        """The Secret the pods mount."""
        return self.secret_name if self.secret_name is not None else certificate_secret(name)


def certificate_secret(name: str) -> str:
    return f"{name}-tls"


def own_tls_parts(*, keystore: bool = False) -> tuple[list[Part], list[Part]]:
    """The volumes an ensemble with tls adds to its pods, and their mount paths in its main
    container (components/statefulkit/render/tls.py renders them)."""
    volumes = [own(TLS_VOLUME, "the certificate Secret, with tls")]
    mounts = [own(TLS_DIR, f"where the certificate Secret {TLS_VOLUME!r} is mounted, with tls")]
    if keystore:
        volumes.append(own(TLS_KEYSTORE_VOLUME, "the memory-backed key store, with tls"))
        mounts.append(own(TLS_KEYSTORE_DIR, f"where the key store {TLS_KEYSTORE_VOLUME!r} is mounted, with tls"))
    return volumes, mounts
