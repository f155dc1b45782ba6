"""The project's program run with a stack file as the engine hands it over, and edits of that file."""

from __future__ import annotations

from typing import Any

from tests.support.stack_config import REPO, StackRun, engine_config, run_stack, stack_values

PASSWORD = "St4ck-Pa55w0rd-N0t-Pl41n"  # noqa: S105 - test-only password
STACKS = ["dev", "staging", "prod"]


def run(preview: bool, stack: str, edit: Any = None, secrets: dict[str, str] | None = None) -> StackRun:
    """Run __main__.py with the stack's config file (optionally edited first, as a user would)."""
    values = stack_values(REPO, stack)
    if edit is not None:
        edit(values)
    config = engine_config(REPO, values, secrets={"redis_password": PASSWORD} if secrets is None else secrets)
    return run_stack(REPO, config, project="statefulkit", preview=preview)


def deployed(preview: bool, stack: str, edit: Any = None) -> StackRun:
    result = run(preview, stack, edit)
    assert result.error is None, result.error
    return result


def set_value(path: str, value: Any) -> Any:
    """An edit of the stack values: `statefulkit:zookeeper.replicas` -> value."""
    key, _, rest = path.partition(".")

    def edit(values: dict[str, Any]) -> None:
        if not rest:
            values[key] = value
            return
        node = values[key]
        *parents, leaf = rest.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value

    return edit


def both(*edits: Any) -> Any:
    def edit(values: dict[str, Any]) -> None:
        for one in edits:
            one(values)

    return edit


def drop(path: str) -> Any:
    key, _, leaf = path.partition(".")

    def edit(values: dict[str, Any]) -> None:
        del values[key][leaf]

    return edit


def without(*keys: str) -> Any:
    def edit(values: dict[str, Any]) -> None:
        for key in keys:
            values.pop(f"statefulkit:{key}", None)

    return edit
