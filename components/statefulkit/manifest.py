"""From a rendered manifest (API field names) to the keyword arguments of a pulumi_kubernetes resource."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def manifest_kwargs(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys become snake_case constructor keywords; nested dicts keep their camelCase
    API keys, which pulumi_kubernetes accepts as they are."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in manifest.items()}
