"""docs/SEMANTICS.md's generated tables equal what the code produces now (no drift)."""

import pathlib

from refquant import _semantics

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "SEMANTICS.md"


def test_semantics_doc_tables_are_current():
    text = DOC.read_text()
    assert _semantics.splice(text) == text, (
        "docs/SEMANTICS.md is stale: run `python -m refquant._semantics --write docs/SEMANTICS.md`"
    )


def test_semantics_doc_states_the_default_tie_rule():
    text = DOC.read_text()
    assert "| `half_even` | `divide` | -2 | -2 | 0 | 0 | 2 | 2 |" in text
