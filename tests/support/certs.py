"""Test certificates made with the openssl command: a CA, and leaf certificates it signs, as
cert-manager's CA issuer would (server and client usage, SANs for the pods' names)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path

    def pem(self) -> tuple[str, str]:
        return self.cert.read_text(), self.key.read_text()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(ca.key), "-out", str(ca.cert), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ca


def make_leaf(directory: Path, ca: KeyPair, name: str, dns: list[str], ips: list[str]) -> KeyPair:
    leaf = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    request = directory / f"{name}.csr"
    extensions = directory / f"{name}.ext"
    names = [f"DNS:{d}" for d in dns] + [f"IP:{ip}" for ip in ips]
    extensions.write_text(
        f"subjectAltName={','.join(names)}\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(leaf.key), "-out", str(request), "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-out", str(leaf.cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    return leaf


def tls_secret(ca: KeyPair, leaf: KeyPair) -> dict[str, str]:
    """stringData of a kubernetes.io/tls Secret with ca.crt, as cert-manager writes it."""
    cert, key = leaf.pem()
    return {"tls.crt": cert, "tls.key": key, "ca.crt": ca.cert.read_text()}
