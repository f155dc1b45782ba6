"""The README's testing example is a test: it runs here, in both modes, as a user's pytest would.
It uses only what the README documents of the ensembles, and that is what they expose."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from statefulkit import RedisEnsemble, ZooKeeperEnsemble
from statefulkit.testing import MockRunner, run

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Testing your own program with mocks"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, f"expected one python block in the README's testing section, found {len(blocks)}"
    return str(blocks[0])


def test_the_readme_example_runs_and_checks_something(pulumi_mocks: MockRunner) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(readme_example(), f"{README}:testing", "exec"), namespace)  # noqa: S102 - the README's own code
    tests = [fn for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    assert tests, "the README's testing example defines no test"
    for test in tests:
        test(pulumi_mocks)


def test_a_broken_readme_example_would_fail(pulumi_mocks: MockRunner) -> None:
    """The example's assertions bite: with another replica count the same code fails."""
    broken = readme_example().replace('"replicas": 3}', '"replicas": 5}', 1)
    assert broken != readme_example()
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(broken, "broken-readme", "exec"), namespace)  # noqa: S102
    with pytest.raises(AssertionError, match=r"no StatefulSet named 'zk' matches the pattern"):
        namespace["test_zookeeper"](pulumi_mocks)


ENSEMBLES = {"ZooKeeperEnsemble": ZooKeeperEnsemble, "RedisEnsemble": RedisEnsemble}


def documented_outputs(ensemble: str) -> set[str]:
    """The names in the `Outputs: ...` sentence of the README's section on `ensemble`."""
    text = README.read_text()
    start = text.index(f"\n## {ensemble}")
    section = text[start : text.index("\n## ", start + 1)]
    found = re.findall(r"^Outputs: (.*?)\.(?:\s|$)", section, re.M | re.S)
    assert len(found) == 1, f"expected one 'Outputs:' sentence in the README's {ensemble} section, found {len(found)}"
    return set(re.findall(r"`([a-z_]+)`(?!'s)", found[0]))  # `existing_secret`'s is an argument


def example_attributes() -> dict[str, set[str]]:
    """Ensemble class -> the attributes the README's testing example reads of its instances."""
    tree = ast.parse(readme_example())
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
    used: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in instances:
            used.setdefault(instances[node.value.id], set()).add(node.attr)
    return used


def test_the_example_reads_only_documented_outputs() -> None:
    used = example_attributes()
    assert used, "the README's testing example reads no output of an ensemble"
    for ensemble, attributes in used.items():
        undocumented = attributes - documented_outputs(ensemble)
        assert not undocumented, f"the README's testing example reads {ensemble}.{sorted(undocumented)}, not documented"


def test_the_documented_outputs_are_what_the_ensembles_expose() -> None:
    """Every documented output is there, and every public Output attribute (and the workload) is documented."""
    made: dict[str, pulumi.ComponentResource] = {}

    def program() -> None:
        made["ZooKeeperEnsemble"] = ZooKeeperEnsemble("zk", {"replicas": 3})
        made["RedisEnsemble"] = RedisEnsemble("cache", {"password": pulumi.Output.secret("pw")})

    run(program, preview=False)
    for ensemble, instance in made.items():
        exposed = {
            name
            for name, value in vars(instance).items()
            if not name.startswith("_") and name != "urn" and isinstance(value, pulumi.Output)
        }
        assert documented_outputs(ensemble) == exposed | {"workload"}, ensemble
