"""What the toolchain is made of: each tool's module, version, binaries and build quirks, as data.

The pins come from versions.env (KEY=VALUE, `#` comments, no shell expansion); `--set KEY=VALUE`
overrides one for a run. Standard library only: the builder runs before any virtualenv exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSIONS_FILE = Path(__file__).resolve().parent / "versions.env"

PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
# The info file of a downloaded module (`go mod download -json`): Version, Time, Origin.Hash.
ModuleInfo = Mapping[str, Any]


@dataclass(frozen=True)
class Tool:
    """One tool: binaries built from the main packages of one Go module at one version."""

    name: str
    module: str
    version: str
    binaries: dict[str, str]  # binary name -> main package import path
    # A replace to a directory of the tool's own repository (../sdk, ./staging/src/k8s.io/api)
    # becomes that module at this version...
    local_replace_version: str
    # ...or, for the modules named here, at these (when the one of the same commit is not served).
    replace_versions: dict[str, str] = field(default_factory=dict)
    # Go variables set at link time (-X), e.g. the version a binary reports. In a value, {commit}
    # and {date} stand for the module's commit hash and time (`go mod download -json` info).
    version_variables: dict[str, str] = field(default_factory=dict)
    # Commands that must print the expected text for a build (or a cached one) to count.
    checks: list[tuple[list[str], str]] = field(default_factory=list)
    # The version the binary calls itself, when the module version is a pseudo-version.
    release: str | None = None
    # Build from a writable copy of the module after `go generate <package>` (files the module
    # zip does not carry), with these extra environment variables.
    generate_in_copy: str | None = None
    generate_env: dict[str, str] = field(default_factory=dict)

    def ldflags(self, info: ModuleInfo) -> list[str]:
        origin = info.get("Origin") or {}
        facts = {"commit": origin.get("Hash", ""), "date": info.get("Time", "")}
        return [f"-X {name}={value.format(**facts)}" for name, value in self.version_variables.items()]


def read_versions(overrides: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in VERSIONS_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SystemExit(f"versions.env: not KEY=VALUE: {raw!r}")
        pins[key.strip()] = value.strip().strip('"').strip("'")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in pins:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(pins)}")
        pins[key] = value
    return pins


def _kube_version_variables(version: str) -> dict[str, str]:
    """The variables Kubernetes' hack/lib/version.sh sets for a release build."""
    match = re.match(r"v(\d+)\.(\d+)\.", version)
    if not match:
        raise SystemExit(f"KUBERNETES_VERSION {version!r} is not vMAJOR.MINOR.PATCH")
    values = {
        "gitVersion": version,
        "gitMajor": match.group(1),
        "gitMinor": match.group(2),
        "gitTreeState": "clean",
        "gitCommit": "{commit}",
        "buildDate": "{date}",
    }
    return {
        f"{package}.{key}": value
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
        for key, value in values.items()
    }


def catalog(pins: Mapping[str, str]) -> dict[str, Tool]:
    """Every tool, in build order."""
    pulumi, kube, etcd = pins["PULUMI_VERSION"], pins["KUBERNETES_VERSION"], pins["ETCD_VERSION"]
    provider, provider_release = pins["PULUMI_KUBERNETES_VERSION"], pins["PULUMI_KUBERNETES_RELEASE"]
    tools = [
        Tool(
            name="pulumi",
            module="github.com/pulumi/pulumi/pkg/v3",
            version=pulumi,
            binaries={"pulumi": "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"},
            local_replace_version=pulumi,  # ../sdk: sdk/v3 of the same release
            version_variables={"github.com/pulumi/pulumi/sdk/v3/go/common/version.Version": pulumi},
            checks=[(["pulumi", "version"], pulumi)],
        ),
        Tool(
            name="pulumi-resource-kubernetes",
            module=PROVIDER_MODULE,
            version=provider,  # the pseudo-version of the release's commit (no tag is served)
            release=provider_release,
            binaries={"pulumi-resource-kubernetes": f"{PROVIDER_MODULE}/cmd/pulumi-resource-kubernetes"},
            local_replace_version=provider,
            # ../sdk at that commit is not served: a served release that builds with the provider's pins.
            replace_versions={"github.com/pulumi/pulumi-kubernetes/sdk/v4": pins["PULUMI_KUBERNETES_SDK_VERSION"]},
            # schema-embed.json is generated and not in the module zip; the generator stamps VERSION in.
            generate_in_copy="cmd/pulumi-resource-kubernetes",
            generate_env={"VERSION": provider_release},
            version_variables={f"{PROVIDER_MODULE}/pkg/version.Version": provider_release},
        ),
        Tool(
            name="kubernetes",
            module="k8s.io/kubernetes",
            version=kube,
            binaries={
                "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
                "kubectl": "k8s.io/kubernetes/cmd/kubectl",
            },
            # ./staging/src/k8s.io/<x>: k8s.io/<x> at the staging release (v1.X.Y -> v0.X.Y)
            local_replace_version=pins["KUBERNETES_STAGING_VERSION"],
            version_variables=_kube_version_variables(kube),
            checks=[
                (["kube-apiserver", "--version"], f"Kubernetes {kube}"),
                (["kube-controller-manager", "--version"], f"Kubernetes {kube}"),
                (["kube-scheduler", "--version"], f"Kubernetes {kube}"),
                (["kubectl", "version", "--client"], f"Client Version: {kube}"),
            ],
        ),
        Tool(
            # The node agent of the real nodes (tools/node): the same module and version as the
            # control plane, a tool of its own so adding it leaves that build's stamp as it is.
            name="kubelet",
            module="k8s.io/kubernetes",
            version=kube,
            binaries={"kubelet": "k8s.io/kubernetes/cmd/kubelet"},
            local_replace_version=pins["KUBERNETES_STAGING_VERSION"],
            version_variables=_kube_version_variables(kube),
            checks=[(["kubelet", "--version"], f"Kubernetes {kube}")],
        ),
        Tool(
            name="etcd",
            module="go.etcd.io/etcd/server/v3",  # the server module is etcd's main package
            version=etcd,
            binaries={"etcd": "go.etcd.io/etcd/server/v3"},
            local_replace_version=etcd,  # ../api, ../client/..., ../pkg: the same release
            version_variables={"go.etcd.io/etcd/api/v3/version.GitSHA": "{commit:.12}"},
            checks=[(["etcd", "--version"], f"etcd Version: {etcd.lstrip('v')}")],
        ),
        Tool(
            name="kwok",
            module="sigs.k8s.io/kwok",
            version=pins["KWOK_VERSION"],
            binaries={"kwok": "sigs.k8s.io/kwok/cmd/kwok", "kwokctl": "sigs.k8s.io/kwok/cmd/kwokctl"},
            local_replace_version=pins["KWOK_VERSION"],
            # The default Kubernetes version of `kwokctl create cluster`: the one built here.
            version_variables={"sigs.k8s.io/kwok/pkg/consts.KubeVersion": kube.lstrip("v")},
            checks=[(["kwokctl", "--version"], pins["KWOK_VERSION"].lstrip("v"))],
        ),
        Tool(
            # Cluster DNS for the real nodes' pods (its kubernetes plugin serves the cluster domain).
            name="coredns",
            module="github.com/coredns/coredns",
            version=pins["COREDNS_VERSION"],
            binaries={"coredns": "github.com/coredns/coredns"},
            local_replace_version=pins["COREDNS_VERSION"],
            version_variables={"github.com/coredns/coredns/coremain.GitCommit": "{commit}"},
            checks=[(["coredns", "-version"], f"CoreDNS-{pins['COREDNS_VERSION'].lstrip('v')}")],
        ),
        Tool(
            # A real S3 API over a directory: the backups' object store in the tests.
            name="versitygw",
            module="github.com/versity/versitygw",
            version=pins["VERSITYGW_VERSION"],
            binaries={"versitygw": "github.com/versity/versitygw/cmd/versitygw"},
            local_replace_version=pins["VERSITYGW_VERSION"],
            version_variables={"main.Version": pins["VERSITYGW_VERSION"]},
            checks=[(["versitygw", "--version"], pins["VERSITYGW_VERSION"])],
        ),
    ]
    return {tool.name: tool for tool in tools}
