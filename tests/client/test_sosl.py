"""``escape_sosl``: every SOSL reserved character gets a backslash, nothing else changes.

The reserved characters are the ones the SOQL and SOSL Reference lists for the
"FIND {SearchQuery}" clause (where a backslash escapes them):
``? & | ! { } [ ] ( ) ^ ~ * : \\ " ' + -``.
"""

from __future__ import annotations

import pytest

from sobjects import escape_sosl
from sobjects.errors import ConfigurationError


def test_every_reserved_character_is_escaped() -> None:
    reserved = "?&|!{}[]()^~*:\\\"'+-"
    assert escape_sosl(reserved) == "".join("\\" + c for c in reserved)


def test_other_text_is_unchanged() -> None:
    assert escape_sosl("Acme Corp 42 é @ . , _ % #") == "Acme Corp 42 é @ . , _ % #"
    assert escape_sosl("O'Brien-Smith") == "O\\'Brien\\-Smith"


def test_non_strings_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        escape_sosl(42)  # type: ignore[arg-type]
