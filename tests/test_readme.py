"""The README's testing example is a test: it runs here, in both modes, as a user's pytest would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from statefulkit.testing import MockRunner

README = Path(__file__).resolve().parent.parent / "README.md"
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
