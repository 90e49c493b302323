"""Salesforce record ids: validation and the 15 -> 18 character checksum (pure helpers).

The 18-character form appends three letters that encode the case of the first fifteen, so it
survives case-insensitive systems. Shared by the client, the ORM and the emulator.
"""

from __future__ import annotations

import re

__all__ = ["is_salesforce_id", "to_18"]

_ID_RE = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _checksum(id15: str) -> str:
    letters = []
    for start in (0, 5, 10):
        bits = 0
        for i, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << i
        letters.append(_CHECKSUM_ALPHABET[bits])
    return "".join(letters)


def is_salesforce_id(value: str) -> bool:
    """Whether ``value`` is a well-formed 15- or 18-character id (checksum checked for 18).

    >>> is_salesforce_id("001D000000IRFmaIAH"), is_salesforce_id("001D000000IRFmaXXX")
    (True, False)
    """
    if not _ID_RE.fullmatch(value):
        return False
    return len(value) == 15 or _checksum(value[:15]) == value[15:].upper()


def to_18(value: str) -> str:
    """The 18-character form of a 15- or 18-character id.

    >>> to_18("001D000000IRFma")
    '001D000000IRFmaIAH'

    Raises ``ValueError`` for anything that is not an id (an 18-character id with a wrong
    checksum included).
    """
    if not is_salesforce_id(value):
        raise ValueError(f"not a Salesforce id: {value!r}")
    if len(value) == 18:
        return value[:15] + value[15:].upper()
    return value + _checksum(value)
