"""The public API is what the docs show (README.md and docs/*.md): every class they name imports from the
top-level package (`statefulkit`, or `statefulkit.testing` for the harness), `__all__` lists exactly
what each exports, and every `from statefulkit... import` line in them resolves."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import statefulkit
import statefulkit.testing

# The repository's root, wherever in tests/ this file sits.
ROOT = next(parent for parent in Path(__file__).resolve().parents if (parent / "pyproject.toml").is_file())
# What a user reads: the README and every page of docs/.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = "\n".join(page.read_text() for page in PAGES)
# Modules whose classes are implementation, never a user's to name (the hooks' machinery, the
# renderers' intermediate types).
INTERNAL = ("statefulkit.hooks", "statefulkit.kubeapi", "statefulkit.render")


def defined_classes() -> dict[str, str]:
    """Public class name -> its module, for every class the package defines outside INTERNAL."""
    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(statefulkit.__path__, "statefulkit."):
        if info.name.startswith(INTERNAL):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == info.name and not name.startswith("_"):
                found[name] = info.name
    return found


def package_of(module: str) -> ModuleType:
    return statefulkit.testing if module.startswith("statefulkit.testing") else statefulkit


def test_every_class_the_docs_name_imports_from_the_package() -> None:
    words = set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", DOCS))
    documented = {name: module for name, module in defined_classes().items() if name in words}
    assert {"TlsArgs", "IssuerRef", "RedisExporter", "PodMonitorArgs", "NetworkPolicyArgs"} <= set(documented)
    missing = [
        f"{name} ({module})"
        for name, module in sorted(documented.items())
        if getattr(package_of(module), name, None) is None or name not in package_of(module).__all__
    ]
    assert not missing, f"documented in the README or docs/ but not exported from the package: {missing}"


@pytest.mark.parametrize("package", [statefulkit, statefulkit.testing], ids=lambda p: p.__name__)
def test_all_lists_exactly_what_the_package_exports(package: ModuleType) -> None:
    assert len(package.__all__) == len(set(package.__all__)), "a name is listed twice"
    absent = [name for name in package.__all__ if not hasattr(package, name)]
    assert not absent, f"{package.__name__}.__all__ names what it does not have: {absent}"
    exported = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("statefulkit")
    }
    unlisted = sorted(exported - set(package.__all__))
    assert not unlisted, f"{package.__name__} exports {unlisted} without listing them in __all__"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_import_of_statefulkit_in_the_docs_resolves(page: Path) -> None:
    text = page.read_text()
    statements = re.findall(r"^from (statefulkit[\w.]*) import \(?([\w, \n]+?)\)?$", text, flags=re.MULTILINE)
    if "```python" in text:
        assert statements, f"{page.name}: its python examples import nothing from statefulkit"
    for module, names in statements:
        imported = importlib.import_module(module)
        for name in re.findall(r"\w+", names):
            assert hasattr(imported, name), f"{page.name}: from {module} import {name}: no such name"
