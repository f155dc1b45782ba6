"""Both ensembles register exactly what they did when tests/golden/rendered.json was recorded."""

import difflib

import pytest
from pydantic import BaseModel

from statefulkit import RedisArgs, ZooKeeperArgs
from tests.golden import corpus, dumps, expected, key, render

ENTRIES = corpus()


@pytest.mark.parametrize(("ensemble", "model"), [("zookeeper", ZooKeeperArgs), ("redis", RedisArgs)])
def test_the_corpus_sets_every_option_of_each_ensemble(ensemble: str, model: type[BaseModel]) -> None:
    used = {option for entry in ENTRIES if entry["ensemble"] == ensemble for option in entry["args"]}
    # An ensemble that cannot back up yet refuses backup and restore (test_backup_validation.py).
    refused = {"backup", "restore"} if getattr(model, "backup_layout", None) is None else set()
    assert set(model.model_fields) - used - refused == set(), "add a corpus entry that sets them, then record it"


def test_every_corpus_entry_is_recorded() -> None:
    assert set(expected()) == {key(i, entry) for i, entry in enumerate(ENTRIES)}


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=[key(i, e) for i, e in enumerate(ENTRIES)])
def test_the_ensemble_registers_what_it_did(index: int) -> None:
    entry = ENTRIES[index]
    want = dumps(expected()[key(index, entry)])
    got = dumps(render(entry))
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "recorded", "now", n=2))
        pytest.fail(f"{key(index, entry)} registers something else than recorded:\n{diff[:6000]}")
