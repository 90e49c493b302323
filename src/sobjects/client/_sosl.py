r"""The SOSL search resource (``GET .../search?q=FIND {...}``) and SOSL term escaping.

A SOSL statement, like SOQL, travels as one string, so user text must be escaped into the
``FIND {...}`` term: every SOSL reserved character (``? & | ! { } [ ] ( ) ^ ~ * : \ " ' + -``)
gets a backslash, otherwise ``*`` and ``?`` act as wildcards, ``"`` opens a phrase and ``}``
ends the term early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sobjects.errors import ConfigurationError

if TYPE_CHECKING:
    from sobjects.client._client import Salesforce

__all__ = ["escape_sosl", "search"]

SOSL_RESERVED: Final = frozenset("?&|!{}[]()^~*:\\\"'+-")


def escape_sosl(term: str) -> str:
    r"""Backslash-escape SOSL's reserved characters so ``term`` is searched for literally.

    Put the result inside the braces yourself (``{{`` and ``}}`` in an f-string):

    >>> print(f"FIND {{{escape_sosl('AT&T (east)')}}} IN NAME FIELDS")
    FIND {AT\&T \(east\)} IN NAME FIELDS
    """
    if not isinstance(term, str):
        raise ConfigurationError(f"a SOSL search term must be a str, got {type(term).__name__}")
    return "".join("\\" + c if c in SOSL_RESERVED else c for c in term)


async def search(client: Salesforce, sosl: str) -> list[dict[str, Any]]:
    """Run ``sosl`` and return its ``searchRecords`` (see ``Salesforce.search``)."""
    if not isinstance(sosl, str) or not sosl.strip():
        raise ConfigurationError("a SOSL statement must be a non-empty str")
    body = await client.request_json("GET", "search", params={"q": sosl})
    # Very old API versions answered with a bare list instead of {"searchRecords": [...]}.
    records = body.get("searchRecords", []) if isinstance(body, dict) else body
    return list(records or [])
