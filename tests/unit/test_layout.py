"""The test tree's own rules: every test carries the marker of its folder's kind, and collecting the
unit tests imports neither the engine runner (tools.engine) nor the image builder
(tools.images.build), which only the engine and cluster tests need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tools.engine", "tools.images.build")

# Collects in a process of its own, then writes each test's markers and the modules it imported.
COLLECT = """
import json, sys
import pytest

class Record:
    items = {}

    def pytest_collection_finish(self, session):
        Record.items = {item.nodeid: sorted({m.name for m in item.iter_markers()}) for item in session.items}

code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[2:]], plugins=[Record()])
with open(sys.argv[1], "w") as out:
    json.dump({"code": int(code), "items": Record.items, "modules": sorted(sys.modules)}, out)
"""


def collect(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "collected.json"
    run = subprocess.run(
        [sys.executable, "-c", COLLECT, str(out), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.exists(), run.stdout + run.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["code"] == 0, run.stdout + run.stderr
    return result


def test_collecting_the_unit_tests_imports_neither_the_engine_runner_nor_the_image_builder(tmp_path: Path) -> None:
    collected = collect(tmp_path, "tests/unit")
    assert len(collected["items"]) > 500 and all(n.startswith("tests/unit/") for n in collected["items"])
    assert "statefulkit.testing" in collected["modules"]  # what the unit tests do import is listed
    assert [m for m in HEAVY if m in collected["modules"]] == []


def test_every_test_carries_the_marker_of_its_folders_kind_and_no_other(tmp_path: Path) -> None:
    collected = collect(tmp_path)  # pytest's testpaths: tests/ and examples/composition
    kinds: dict[str, set[str]] = {}
    for nodeid, markers in collected["items"].items():
        folder = Path(nodeid.split("::")[0]).parts[:2]
        kinds.setdefault("/".join(folder), set()).update(set(markers) & set(KINDS))
        if folder[0] == "tests":
            assert set(markers) & set(KINDS) == {folder[1]}, (nodeid, markers)
    assert kinds == {f"tests/{kind}": {kind} for kind in KINDS} | {"examples/composition": set()}
