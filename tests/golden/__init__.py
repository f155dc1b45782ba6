"""What both ensembles register, for the argument sets the unit tests use, fixed byte for byte.

`corpus.json` holds those argument sets (recorded from a run of the unit tests; a namespace or
password that was an Output there is a plain value here). `rendered.json` holds what each set
registered, as the engine would receive it: type, URN, options and inputs, secrets masked; a long
text (a script, a config file) is held once under its hash in `texts`. A change
that alters it would change a user's objects, and may roll their pods: it needs an upgrade note
in CHANGELOG.md, then `python -m tests.golden.write` records the new output deliberately.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pulumi

from statefulkit import ENSEMBLES
from statefulkit.testing import Resource, Secret, run

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.json"
RENDERED = HERE / "rendered.json"
MASKED = "<secret>"
LONG_TEXT = 300  # characters; shorter strings stay inline


def _masked(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASKED
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _record(resource: Resource) -> dict[str, Any]:
    return {
        "type": resource.type,
        "urn": resource.urn,
        "parent": resource.parent,
        "dependencies": sorted(resource.dependencies),
        "property_dependencies": {key: sorted(urns) for key, urns in sorted(resource.property_dependencies.items())},
        "replace_on_changes": sorted(resource.replace_on_changes),
        "delete_before_replace": resource.delete_before_replace,
        "ignore_changes": sorted(resource.ignore_changes),
        "additional_secret_outputs": sorted(resource.additional_secret_outputs),
        "hooks": resource.hooks,
        "inputs": _masked(resource.inputs),
    }


def render(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """What one corpus entry registers in an update, by URN (the order of registration is the
    event loop's, and means nothing to the engine)."""
    ensemble = ENSEMBLES[entry["ensemble"]]
    args = dict(entry["args"])
    if args.get("password") is not None:  # a Redis password must be a secret Output
        args["password"] = pulumi.Output.secret(args["password"])
    deployment = run(lambda: ensemble(entry["name"], args) and None, preview=False)
    return sorted((_record(resource) for resource in deployment.resources), key=lambda r: str(r["urn"]))


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True) + "\n"


def text_key(text: str) -> str:
    return "text:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def shared_texts(value: Any, texts: dict[str, str]) -> Any:
    """`value` with every long string replaced by its key in `texts`, where it is added."""
    if isinstance(value, str) and len(value) > LONG_TEXT:
        texts[text_key(value)] = value
        return text_key(value)
    if isinstance(value, dict):
        return {k: shared_texts(item, texts) for k, item in value.items()}
    if isinstance(value, list):
        return [shared_texts(item, texts) for item in value]
    return value


def inline_texts(value: Any, texts: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("text:"):
        return texts[value]
    if isinstance(value, dict):
        return {k: inline_texts(item, texts) for k, item in value.items()}
    if isinstance(value, list):
        return [inline_texts(item, texts) for item in value]
    return value


def corpus() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(CORPUS.read_text())
    return entries


def expected() -> dict[str, Any]:
    """Key -> what that corpus entry registered, long texts inlined again."""
    recorded = json.loads(RENDERED.read_text())
    rendered: dict[str, Any] = inline_texts(recorded["rendered"], recorded["texts"])
    return rendered


def record(rendered: dict[str, Any]) -> str:
    texts: dict[str, str] = {}
    shared = shared_texts(rendered, texts)
    return dumps({"rendered": shared, "texts": texts})


def key(index: int, entry: dict[str, Any]) -> str:
    return f"{index:03d}-{entry['ensemble']}-{entry['name']}"
