"""A StorageClass, registered with what its immutable fields need (for the program and the workload)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from statefulkit.args.claims import StorageClassArgs
from statefulkit.args.common import coerce
from statefulkit.manifest import manifest_kwargs
from statefulkit.render.pod import Manifest
from statefulkit.render.workload import render_storage_class

# Kubernetes rejects changes to these; a change replaces the class (its name is explicit, so the
# old one must go first). Existing claims keep the volumes they have.
STORAGECLASS_IMMUTABLE = ["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"]


def new_storage_class(
    resource_name: str,
    args: StorageClassArgs | Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.storage.v1.StorageClass:
    """Register the StorageClass `args` describes (named `args.name` in the cluster)."""
    manifest = render_storage_class(coerce(StorageClassArgs, args), dict(labels or {}))
    return register_storage_class(resource_name, manifest, opts)


def register_storage_class(
    resource_name: str, manifest: Manifest, opts: pulumi.ResourceOptions | None = None
) -> k8s.storage.v1.StorageClass:
    immutable = pulumi.ResourceOptions(replace_on_changes=STORAGECLASS_IMMUTABLE, delete_before_replace=True)
    return k8s.storage.v1.StorageClass(
        resource_name, **manifest_kwargs(manifest), opts=pulumi.ResourceOptions.merge(opts, immutable)
    )
