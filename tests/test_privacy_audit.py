"""docs/privacy.md's measured part is written between its markers by scripts/privacy_tables.py
(the tables themselves are checked on a real evaluation in test_evaluation.py)."""

from pathlib import Path

import pytest

from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.privacy_audit import BEGIN, END, replace_tables

DOC = Path(__file__).resolve().parent.parent / "docs" / "privacy.md"


def test_only_the_part_between_the_markers_changes():
    text = f"prose\n{BEGIN}\nold tables\n{END}\nmore prose\n"
    assert replace_tables(text, "| new |\n") == f"prose\n{BEGIN}\n| new |\n{END}\nmore prose\n"


@pytest.mark.parametrize("text", ["no markers", f"{END}\n{BEGIN}", f"{BEGIN}{BEGIN}{END}"])
def test_a_document_without_its_markers_is_refused(text):
    with pytest.raises(InfoscrubError, match="markers"):
        replace_tables(text, "x")


def test_the_audit_document_has_its_markers_once():
    text = DOC.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    for attacker in ("The fixed attacker", "The adaptive attacker", "many photos of one person", "After sharing"):
        assert attacker in text
