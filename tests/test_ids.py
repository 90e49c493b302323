"""Salesforce id validation and the 15 -> 18 character checksum."""

from __future__ import annotations

import pytest

from sobjects._ids import is_salesforce_id, to_18


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("001D000000IRFma", "001D000000IRFmaIAH"),
        ("00000000000000A", "00000000000000AAAQ"),
        ("ABCDEABCDEABCDE", "ABCDEABCDEABCDE555"),
        ("abcdeabcdeabcde", "abcdeabcdeabcdeAAA"),
        ("012000000000000", "012000000000000AAA"),
    ],
)
def test_to_18(id15: str, id18: str) -> None:
    assert to_18(id15) == id18
    assert to_18(id18) == id18
    assert is_salesforce_id(id15)
    assert is_salesforce_id(id18)


def test_to_18_uppercases_a_lowercase_checksum() -> None:
    assert to_18("001D000000IRFmaiah") == "001D000000IRFmaIAH"


@pytest.mark.parametrize(
    "value",
    [
        "001D000000IRFmaXXX",  # wrong checksum
        "001D000000IRFmaIAA",
        "001d000000IRFmaIAH",  # a case change in the first 15 breaks the checksum
        "001D000000IRFm",  # 14
        "001D000000IRFmaI",  # 16
        "001D000000IRFmaIAHX",  # 19
        "001D000000IRF-a",
        "001D000000IRFma\n",
        "001D000000IRFmaIAH\n",
        "",
    ],
)
def test_bad_ids_are_rejected(value: str) -> None:
    assert not is_salesforce_id(value)
    with pytest.raises(ValueError, match="not a Salesforce id"):
        to_18(value)
