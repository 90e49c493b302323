"""The local org's SOSL search resource: ``GET /services/data/vNN.N/search?q=FIND {...}``.

Shapes are Salesforce's, from the REST API Developer Guide, "Search for a String"
(https://developer.salesforce.com/docs/platform/api-rest/guide/dome-search.md): the body is
``{"searchRecords": [{"attributes": {"type": "Account", "url":
"/services/data/vNN.N/sobjects/Account/001..."}, "Id": "001..."}, ...]}``, and a ``FIND``
without ``RETURNING`` returns only ``attributes`` and ``Id`` for each match.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    account, contact = org.schema.require("Account"), org.schema.require("Contact")
    org.store.insert(account, {"Name": "Acme Corp", "Phone": "555-0100", "Industry": "Energy"})
    org.store.insert(account, {"Name": "Acme Widgets", "Industry": "Retail"})
    org.store.insert(account, {"Name": "Globex", "Description": "A rival of acme"})
    org.store.insert(contact, {"LastName": "Coyote", "FirstName": "Wile", "Email": "wile@acme.com"})
    return org


async def search(http: httpx.AsyncClient, sosl: str) -> list[dict[str, Any]]:
    response = await http.get(f"{V}/search", params={"q": sosl})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["searchRecords"]
    return list(body["searchRecords"])


async def error(http: httpx.AsyncClient, sosl: str | None) -> tuple[str, str]:
    params = {} if sosl is None else {"q": sosl}
    response = await http.get(f"{V}/search", params=params)
    assert response.status_code == 400, response.text
    [item] = response.json()
    assert set(item) == {"message", "errorCode"}
    return item["errorCode"], item["message"]


def names(records: list[dict[str, Any]]) -> list[str]:
    return [r.get("Name") or r.get("LastName") for r in records]


async def test_find_alone_returns_ids_of_every_searchable_object(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """The guide's example: ``FIND {Acme}`` answers ``attributes`` (type, url) and ``Id``."""
    records = await search(http, "FIND {Acme}")
    by_type = {r["attributes"]["type"] for r in records}
    assert by_type == {"Account", "Contact"}  # Globex's Description and Wile's Email match too
    assert len(records) == 4
    for record in records:
        assert list(record) == ["attributes", "Id"]
        kind = record["attributes"]["type"]
        assert record["attributes"]["url"] == f"{V}/sobjects/{kind}/{record['Id']}"


async def test_returning_fields_in_order_and_only_those(http: httpx.AsyncClient) -> None:
    records = await search(
        http, "FIND {acme} IN NAME FIELDS RETURNING Account(Name, Phone ORDER BY Name DESC)"
    )
    assert [list(r) for r in records] == [["attributes", "Name", "Phone"]] * 2
    assert names(records) == ["Acme Widgets", "Acme Corp"]


async def test_search_groups(http: httpx.AsyncClient) -> None:
    """NAME FIELDS looks only at the name field; EMAIL/PHONE FIELDS only at those types."""
    everywhere = await search(http, "FIND {acme} RETURNING Account(Name ORDER BY Name)")
    assert names(everywhere) == ["Acme Corp", "Acme Widgets", "Globex"]
    in_names = await search(http, "FIND {acme} IN NAME FIELDS RETURNING Account(Name), Contact")
    assert names(in_names) == ["Acme Corp", "Acme Widgets"]
    emails = await search(http, "FIND {acme} IN EMAIL FIELDS RETURNING Account, Contact(Email)")
    assert emails == [
        {
            "attributes": emails[0]["attributes"],
            "Email": "wile@acme.com",
        }
    ]
    assert emails[0]["attributes"]["type"] == "Contact"
    phones = await search(http, "FIND {555} IN PHONE FIELDS RETURNING Account(Name)")
    assert names(phones) == ["Acme Corp"]


async def test_words_wildcards_phrases_and_operators(http: httpx.AsyncClient) -> None:
    async def found(term: str) -> list[str]:
        return names(await search(http, f"FIND {{{term}}} RETURNING Account(Name ORDER BY Name)"))

    assert await found("ACME") == ["Acme Corp", "Acme Widgets", "Globex"]  # case-insensitive
    assert await found("acm") == []  # a whole word, not a substring
    assert await found("acm*") == ["Acme Corp", "Acme Widgets", "Globex"]
    assert await found("glob?x") == ["Globex"]
    assert await found("glob?") == []  # ? is exactly one character
    assert await found('"acme corp"') == ["Acme Corp"]
    assert await found('"corp acme"') == []
    assert await found("acme widgets") == ["Acme Widgets"]  # implicit AND
    assert await found("corp OR globex") == ["Acme Corp", "Globex"]
    assert await found("acme AND NOT (corp OR rival)") == ["Acme Widgets"]
    assert await found(r"acme\-corp") == ["Acme Corp"]  # escaped: punctuation between words


async def test_where_and_limits_run_through_soql(http: httpx.AsyncClient) -> None:
    records = await search(
        http,
        "FIND {acme} RETURNING Account(Name, Industry WHERE Industry != 'Retail' "
        "ORDER BY Name LIMIT 1)",
    )
    assert [(r["Name"], r["Industry"]) for r in records] == [("Acme Corp", "Energy")]
    # A statement-wide LIMIT caps all objects together, in RETURNING order.
    capped = await search(
        http, "FIND {acme} RETURNING Contact(LastName), Account(Name ORDER BY Name) LIMIT 2"
    )
    assert names(capped) == ["Coyote", "Acme Corp"]
    # A quoted WHERE value containing a clause keyword stays a value.
    quoted = await search(http, "FIND {acme} RETURNING Account(Name WHERE Name != 'LIMIT 1')")
    assert len(quoted) == 3


async def test_no_match_is_an_empty_list(http: httpx.AsyncClient) -> None:
    assert await search(http, "FIND {nothing} RETURNING Account(Name)") == []


async def test_errors_have_salesforce_codes(http: httpx.AsyncClient) -> None:
    """400 with ``[{"message", "errorCode"}]``: MALFORMED_SEARCH for syntax (a one-character
    term included), INVALID_TYPE / INVALID_FIELD for unknown objects and fields."""
    assert (await error(http, None))[0] == "MALFORMED_SEARCH"
    assert (await error(http, "SELECT Id FROM Account"))[0] == "MALFORMED_SEARCH"
    assert (await error(http, "FIND acme"))[0] == "MALFORMED_SEARCH"
    assert (await error(http, "FIND {acme"))[0] == "MALFORMED_SEARCH"
    code, message = await error(http, "FIND {a}")
    assert code == "MALFORMED_SEARCH" and "longer than one character" in message
    assert (await error(http, "FIND {acme} IN BODY FIELDS"))[0] == "MALFORMED_SEARCH"
    assert (await error(http, "FIND {acme} RETURNING Account(Name WHERE)"))[0] == (
        "MALFORMED_SEARCH"
    )
    assert (await error(http, "FIND {acme} RETURNING Account(Name WHERE Name =)"))[0] == (
        "MALFORMED_SEARCH"
    )
    assert (await error(http, "FIND {acme} RETURNING Account()"))[0] == "MALFORMED_SEARCH"
    assert (await error(http, "FIND {acme} RETURNING Account(WHERE Name = 'x')"))[0] == (
        "MALFORMED_SEARCH"
    )
    assert (await error(http, "FIND {acme} RETURNING Account(Name) garbage"))[0] == (
        "MALFORMED_SEARCH"
    )
    code, message = await error(http, "FIND {acme} RETURNING Nope__c")
    assert code == "INVALID_TYPE" and "Nope__c" in message
    code, message = await error(http, "FIND {nothing} RETURNING Account(Nope__c)")
    assert code == "INVALID_FIELD" and "Nope__c" in message and "SELECT" not in message


async def test_only_get(http: httpx.AsyncClient) -> None:
    response = await http.post(f"{V}/search", json={})
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


async def test_hostile_wildcards_do_not_stall_the_org(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """Wildcards use the SOQL LIKE matcher (no backtracking): a long word and many ``*``s
    answer at once (a backtracking regular expression would take far longer than the bound)."""
    org.store.insert(org.schema.require("Account"), {"Name": "x", "Description": "a" * 30_000})
    started = time.monotonic()
    found = await search(http, "FIND {" + "a*" * 20 + "b} RETURNING Account(Name)")
    assert found == []
    assert time.monotonic() - started < 5
