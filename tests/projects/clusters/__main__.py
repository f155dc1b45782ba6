"""Stands in for a stack that creates Kubernetes clusters: it exports each cluster's kubeconfig, as a
secret, for an application stack to read through a StackReference (tests/projects/regions)."""

from pathlib import Path

import pulumi

for name, path in pulumi.Config().require_object("kubeconfigs").items():
    pulumi.export(f"{name}_kubeconfig", pulumi.Output.secret(Path(path).read_text()))
