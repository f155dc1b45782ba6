"""Reading a Prometheus endpoint the way a scraper does: GET /metrics, then one sample by name."""

from __future__ import annotations

import re
import urllib.request


def scrape(host: str, port: int) -> str:
    """The text exposition of http://host:port/metrics."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of `name` carrying at least `labels`, None if there is none."""
    for line in metrics.splitlines():
        found = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if found and all(f'{k}="{v}"' in (found.group(1) or "") for k, v in labels.items()):
            return float(found.group(2))
    return None
