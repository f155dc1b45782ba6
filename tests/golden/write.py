"""Record what the corpus renders now (`python -m tests.golden.write`): only after a deliberate,
announced change of what the ensembles register (see tests/golden/__init__.py)."""

from tests.golden import RENDERED, corpus, key, record, render

if __name__ == "__main__":
    RENDERED.write_text(record({key(i, entry): render(entry) for i, entry in enumerate(corpus())}))
    print(f"wrote {RENDERED}")
