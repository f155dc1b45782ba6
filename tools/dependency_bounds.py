"""The unit tests and mypy at both ends of pyproject.toml's dependency ranges.

    tools/dependency-bounds [lowest|highest ...]

Why: CI's own venv holds the exact pins of requirements.txt, but a user's `pip install statefulkit`
gets whatever the ranges admit, and `statefulkit.testing` leans on SDK internals. So for each bound
a venv of its own (.venv-lowest, .venv-highest) gets every direct runtime dependency at the version
its `>=` names (`lowest`; transitive ones are left to the resolver) or at the newest the ranges
admit (`highest`), plus requirements-dev.txt's tools at their pins; then the unit tests and mypy run
in it. statefulkit is installed editable, as in .venv: what varies here is the dependencies (the
wheel itself is tests/packaging/test_packaging.py's), and a source change needs no reinstall. A venv is
reused while pip resolves the same versions for it (its stamp); otherwise it is made anew.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOUNDS = ("lowest", "highest")
PIP = ("-m", "pip", "--disable-pip-version-check")
UNIT = ("tests/unit", "examples/composition")  # `make unit`'s selection (the Makefile's UNIT_TESTS)


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(bound: str) -> list[str]:
    """pyproject.toml's ranges, with each one also held at its lower bound for `lowest`."""
    dependencies: list[str] = pyproject()["project"]["dependencies"]
    if bound == "highest":
        return dependencies
    held = []
    for spec in dependencies:
        name, lower = re.match(r"[\w.-]+", spec), re.search(r">=\s*([^,;\s]+)", spec)
        if not (name and lower):
            sys.exit(f"dependency-bounds: {spec!r} in pyproject.toml has no `>=` lower bound")
        held.append(f"{name[0]}=={lower[1]}")
    return dependencies + held


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def prepare(bound: str) -> tuple[Path, set[str]]:
    """The bound's venv, installed unless its stamp names what pip resolves now; the names of the
    runtime dependencies (direct and transitive) in it."""
    venv = ROOT / f".venv-{bound}"
    python = venv / "bin" / "python"
    # A fresh venv gets the newest pip: 23.2 (Python 3.11's) takes 28 s to resolve this, 26.3 takes 8 s.
    new_venv: list[str | Path] = [sys.executable, "-m", "venv", "--clear", "--upgrade-deps", venv]
    made = not python.exists()
    if made:
        subprocess.run(new_venv, check=True)
    wanted = [*requirements(bound), "-r", str(ROOT / "requirements-dev.txt")]
    report = subprocess.run(
        [python, *PIP, "install", "--quiet", "--dry-run", "--ignore-installed", "--report", "-", *wanted],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    metadata = {normalized(i["metadata"]["name"]): i["metadata"] for i in json.loads(report)["install"]}
    pins = "".join(sorted(f"{m['name']}=={m['version']}\n" for m in metadata.values()))
    config = pyproject()  # what the editable install is made from (not ruff's or mypy's settings)
    made_from = json.dumps([config["build-system"], config["project"], config["tool"]["setuptools"]], sort_keys=True)
    stamp = hashlib.sha256((pins + made_from).encode()).hexdigest()
    if (venv / ".stamp").exists() and (venv / ".stamp").read_text() == stamp:
        print(f"dependency-bounds: {bound}: {venv.name} is up to date")
    else:
        before = set((venv / "pins.txt").read_text().splitlines()) if (venv / "pins.txt").exists() else set()
        changed = f" ({', '.join(sorted(set(pins.splitlines()) - before))} new)" if before else ""
        print(f"dependency-bounds: {bound}: installing into a new {venv.name}{changed}", flush=True)
        if not made:  # what an earlier install left is not what a user gets
            subprocess.run(new_venv, check=True)
        (venv / "pins.txt").write_text(pins)
        subprocess.run([python, *PIP, "install", "--quiet", "-c", venv / "pins.txt", "-e", ROOT, *wanted], check=True)
        (venv / ".stamp").write_text(stamp)
    # The runtime closure: the direct dependencies and what they require (extras aside).
    runtime, todo = set(), [normalized(re.split(r"[^\w.-]", d)[0]) for d in requirements("highest")]
    while todo:
        name = todo.pop()
        if name in metadata and name not in runtime:
            runtime.add(name)
            requires = metadata[name].get("requires_dist") or []
            todo += [normalized(re.split(r"[^\w.-]", r)[0]) for r in requires if "extra ==" not in r]
    return venv, runtime


def check(bound: str) -> bool:
    venv, runtime = prepare(bound)
    freeze = subprocess.run([venv / "bin" / "python", *PIP, "freeze"], check=True, stdout=subprocess.PIPE, text=True)
    tested = [line for line in freeze.stdout.splitlines() if normalized(line.split("==")[0]) in runtime]
    print(f"dependency-bounds: {bound}: {' '.join(tested)}", flush=True)
    mypy: list[str | Path] = [venv / "bin" / "mypy", "--cache-dir", venv / ".mypy_cache"]
    steps: list[list[str | Path]] = [
        [venv / "bin" / "python", "-m", "pytest", "-q", *UNIT],
        mypy,
        [*mypy, "--strict", "examples/composition/__main__.py"],
    ]
    failed = [step for step in steps if subprocess.run(step, cwd=ROOT, check=False).returncode != 0]
    for step in failed:
        print(f"dependency-bounds: {bound}: FAILED: {' '.join(map(str, step))}")
    return not failed


def main() -> int:
    bounds = sys.argv[1:] or list(BOUNDS)
    if not set(bounds) <= set(BOUNDS):
        sys.exit(f"usage: tools/dependency-bounds [{'|'.join(BOUNDS)} ...]")
    results = {bound: check(bound) for bound in bounds}
    print("dependency-bounds:", ", ".join(f"{b} {'passed' if ok else 'FAILED'}" for b, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
