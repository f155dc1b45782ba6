"""The README and the pages of docs/ are tested: every python example in them runs here, in both modes,
as a user's program or pytest would run it; the commands and paths they name exist; every relative link
resolves; and what they document of the ensembles' outputs is what the ensembles expose."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pulumi
import pytest

from statefulkit import RedisEnsemble, ZooKeeperEnsemble
from statefulkit.testing import MockRunner, run

# The repository's root, wherever in tests/ this file sits.
ROOT = next(parent for parent in Path(__file__).resolve().parents if (parent / "pyproject.toml").is_file())


def pages() -> list[Path]:
    """The README and every page of docs/: what a user reads."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# What a fenced block may be: `python` runs, `sh` is commands whose make targets and modules must exist,
# `text` is output or a listing. Any other tag (or none) fails, so no python example hides from the tests.
KINDS = ("python", "sh", "text")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # the line of the opening fence
    kind: str
    code: str
    number: int  # among the page's blocks of this kind, from 1

    def __str__(self) -> str:
        return f"{page_name(self.page)}:{self.line}"

    @property
    def id(self) -> str:
        return f"{page_name(self.page)}#{self.number}"

    def compiled(self) -> Any:
        """The code, compiled so that a traceback names the page and its line."""
        return compile("\n" * self.line + self.code, page_name(self.page), "exec")

    def defined_tests(self) -> list[str]:
        tree = ast.parse(self.code)
        return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@cache
def blocks_of(page: Path) -> tuple[Block, ...]:
    text = page.read_text()
    found: list[Block] = []
    for m in FENCE.finditer(text):
        kind = m.group(1).strip()
        number = 1 + sum(block.kind == kind for block in found)
        found.append(Block(page, text.count("\n", 0, m.start()) + 1, kind, m.group(2), number))
    return tuple(found)


def blocks(kind: str) -> list[Block]:
    return [block for page in pages() for block in blocks_of(page) if block.kind == kind]


@pytest.mark.parametrize("page", pages(), ids=page_name)
def test_every_fenced_block_says_what_it_is(page: Path) -> None:
    unknown = [f"{block} ```{block.kind}" for block in blocks_of(page) if block.kind not in KINDS]
    assert not unknown, f"fenced blocks the tests do not know (tag them one of {KINDS}; python ones run): {unknown}"
    # A fence the pattern above missed (indented, or left open) would be an example that nothing runs.
    assert page.read_text().count("```") == 2 * len(blocks_of(page)), f"{page_name(page)}: an unmatched ``` fence"


def test_the_docs_have_python_examples() -> None:
    assert blocks("python"), "no python example found in the README or docs/"
    assert all(block.kind == "python" for block in blocks("python"))


def config_read(code: str) -> tuple[dict[str, str], dict[str, str]]:
    """(config, secrets) an example's `pulumi.Config()` reads, with placeholder values: as the user
    would have set them (`pulumi config set [--secret] <key> ...`) before `pulumi up`."""
    plain = re.findall(r"\.require\(\s*[\"'](\w+)[\"']", code)
    secret = re.findall(r"\.require_secret\(\s*[\"'](\w+)[\"']", code)
    return {key: f"docs-{key}" for key in plain}, {key: f"docs-{key}" for key in secret}


def run_example(block: Block, mocks: MockRunner, compiled: Any = None) -> dict[str, Any]:
    """Run one python example: a program runs under mocks in a root stack, as `pulumi up` would run it;
    an example that defines `test_*` functions has each of them called as pytest would, with the
    `pulumi_mocks` fixture. Returns the example's namespace."""
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    code = block.compiled() if compiled is None else compiled
    tests = block.defined_tests()
    if tests:
        exec(code, namespace)  # noqa: S102 - the docs' own code
        for name in tests:
            test: Callable[[MockRunner], None] = namespace[name]
            test(mocks)
        return namespace
    config, secrets = config_read(block.code)
    deployment = mocks.run(lambda: exec(code, namespace), config=config, secrets=secrets)  # noqa: S102
    components = [r for r in deployment.resources if r.type.startswith("statefulkit:index:")]
    assert components, f"{block}: the example registers no statefulkit component"
    return namespace


@pytest.mark.parametrize("block", blocks("python"), ids=lambda block: block.id)
def test_the_python_example_runs(block: Block, pulumi_mocks: MockRunner) -> None:
    run_example(block, pulumi_mocks)


def zookeeper_test_example() -> Block:
    """The example that shows the testing module on a ZooKeeperEnsemble (its test is `test_zookeeper`)."""
    (block,) = [b for b in blocks("python") if "test_zookeeper" in b.defined_tests()]
    return block


def test_a_broken_testing_example_would_fail(pulumi_mocks: MockRunner) -> None:
    """The testing example's assertions bite: with another replica count the same code fails."""
    block = zookeeper_test_example()
    broken = block.code.replace('"replicas": 3}', '"replicas": 5}', 1)
    assert broken != block.code
    with pytest.raises(AssertionError, match=r"no StatefulSet named 'zk' matches the pattern"):
        run_example(block, pulumi_mocks, compile(broken, f"broken {block}", "exec"))


def test_a_wrong_option_in_an_example_would_fail(pulumi_mocks: MockRunner) -> None:
    """A program example with a misspelt option fails, naming the option."""
    (block,) = [b for b in blocks("python") if 'StatefulWorkload("kv"' in b.code]
    broken = block.code.replace("replicas=3", "replica=3", 1)
    assert broken != block.code
    with pytest.raises(Exception, match=r"did you mean 'replicas'"):
        run_example(block, pulumi_mocks, compile(broken, f"broken {block}", "exec"))


# Commands: every make target and `python -m` module the pages show (in sh blocks and inline code) exists.
CODE_SPAN = re.compile(r"`([^`]+)`")  # a span may run over a line break


def prose(page: Path) -> str:
    """The page without its fenced blocks."""
    return FENCE.sub("", page.read_text())


def code_spans(page: Path) -> list[str]:
    spans = [" ".join(span.split()) for span in CODE_SPAN.findall(prose(page))]
    return spans + [block.code for block in blocks_of(page) if block.kind == "sh"]


@cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("page", pages(), ids=page_name)
def test_the_commands_shown_exist(page: Path) -> None:
    spans = code_spans(page)
    targets = {t for span in spans for t in re.findall(r"(?:^|\n|&& )\s*make ([a-z][\w-]*)", span)}
    assert targets <= make_targets(), f"{page_name(page)}: no such make target: {sorted(targets - make_targets())}"
    modules = {m for span in spans for m in re.findall(r"python -m ([\w.]*\w)(?![\w.<])", span)}
    missing = [m for m in sorted(modules) if m not in {"venv", "pytest", "pip"} and find_spec(m) is None]
    assert not missing, f"{page_name(page)}: no such module: {missing}"


# Paths: a code span naming a file or folder of this repository (e.g. `tests/test_stacks.py`) names one
# that exists; `*` matches as a glob; spans with a placeholder (`<env>`) are left alone.
TOP_LEVEL = ("components", "tests", "tools", "examples", "benchmarks", "stacks", "docs")


@pytest.mark.parametrize("page", pages(), ids=page_name)
def test_the_paths_shown_exist(page: Path) -> None:
    paths = {
        span
        for span in CODE_SPAN.findall(prose(page))
        if span.startswith(tuple(f"{top}/" for top in TOP_LEVEL)) and not re.search(r"[<>\s]", span)
    }
    missing = sorted(p for p in paths if not any(ROOT.glob(p.rstrip("/"))))
    assert not missing, f"{page_name(page)} names paths that do not exist: {missing}"


# Links: every relative link resolves to a file, and an anchor to a heading of that file.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def links(page: Path) -> list[str]:
    """The targets of the page's links (none inside code)."""
    return LINK.findall(CODE_SPAN.sub("code", prose(page)))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(heading) for heading in re.findall(r"^#+ (.*)$", prose(page), re.M)}


@pytest.mark.parametrize("page", [*pages(), ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md"], ids=page_name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (fragment and fragment not in anchors(file)):
            broken.append(target)
    assert not broken, f"{page_name(page)}: links to nothing: {broken}"


def test_the_readme_links_every_docs_page() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for t in links(readme)}
    unlinked = [page_name(p) for p in pages()[1:] if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


# Outputs: what the docs say an ensemble exposes is what it exposes, and the examples read only that.
ENSEMBLES = {"ZooKeeperEnsemble": ZooKeeperEnsemble, "RedisEnsemble": RedisEnsemble}


def section(ensemble: str) -> str:
    """The section (any heading level) of the README or docs/ whose heading starts with `ensemble`."""
    found = []
    for page in pages():
        text = page.read_text()
        for m in re.finditer(rf"^(#+) {ensemble}\b.*$", text, re.M):
            end = re.compile(rf"^#{{1,{len(m.group(1))}}} ", re.M).search(text, m.end())
            found.append(text[m.start() : end.start() if end else len(text)])
    assert len(found) == 1, f"expected one section headed {ensemble} in the README and docs/, found {len(found)}"
    return found[0]


def documented_outputs(ensemble: str) -> set[str]:
    """The names in the `Outputs: ...` sentence of the section on `ensemble`."""
    found = re.findall(r"^Outputs: (.*?)\.(?:\s|$)", section(ensemble), re.M | re.S)
    assert len(found) == 1, f"expected one 'Outputs:' sentence in the {ensemble} section, found {len(found)}"
    return set(re.findall(r"`([a-z_]+)`(?!'s)", found[0]))  # `existing_secret`'s is an argument


def example_attributes() -> dict[str, set[str]]:
    """Ensemble class -> the attributes the python examples read of its instances."""
    used: dict[str, set[str]] = {}
    for block in blocks("python"):
        tree = ast.parse(block.code)
        instances = {
            target.id: node.value.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in ENSEMBLES
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in instances:
                used.setdefault(instances[node.value.id], set()).add(node.attr)
    return used


def test_the_examples_read_only_documented_outputs() -> None:
    used = example_attributes()
    assert set(used) == set(ENSEMBLES), f"the examples read outputs of {sorted(used)} only"
    for ensemble, attributes in used.items():
        undocumented = attributes - documented_outputs(ensemble)
        assert not undocumented, f"the examples read {ensemble}.{sorted(undocumented)}, not documented"


def test_the_documented_outputs_are_what_the_ensembles_expose() -> None:
    """Every documented output is there, and every public Output attribute (and the workload) is documented."""
    made: dict[str, pulumi.ComponentResource] = {}

    def program() -> None:
        made["ZooKeeperEnsemble"] = ZooKeeperEnsemble("zk", {"replicas": 3})
        repository = {
            "endpoint": "https://s3.example.net",
            "bucket": "backups",
            "path": "cache",
            "existing_secret": "s3-keys",
        }
        made["RedisEnsemble"] = RedisEnsemble(
            "cache", {"password": pulumi.Output.secret("pw"), "backup": {"repository": repository}}
        )

    run(program, preview=False)
    for ensemble, instance in made.items():
        exposed = {
            name
            for name, value in vars(instance).items()
            if not name.startswith("_") and name != "urn" and isinstance(value, pulumi.Output)
        }
        assert documented_outputs(ensemble) == exposed | {"workload"}, ensemble
