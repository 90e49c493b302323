"""The local org's parameterized search: ``GET/POST /services/data/vNN.N/parameterizedSearch``.

Shapes and parameters are Salesforce's, from the REST API Developer Guide, "Search with
Parameters in the URI" (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
api_rest/resources_search_parameterized_get.htm) and "Search with Parameters in the Request
Body" (.../resources_search_parameterized_post.htm): "Get search results using simple URI
parameters instead of using SOSL"; ``q`` is "A search string that is properly URL-encoded.
SOSL clauses aren't supported."; ``defaultLimit`` is "The maximum number of results to return
for each sobject (GET) or sobjects (POST) specified. The maximum defaultLimit is 2000. At
least one sobject must be specified. ... When an sobject limit is specified using
sobject.limit=value, such as Account.limit=10, this parameter is ignored for that object.";
global ``fields`` is "Array of one or more fields to return in the response for each sobjects
specified. ... The global fields parameter is overridden when sobjectsFilter[] fields are
specified. ... If unspecified, then the search results contain the IDs of records matching
all fields for the specified object." The guide's "Search for a String" example
(``parameterizedSearch/?q=Acme&sobject=Account&Account.fields=id,name&Account.limit=10``)
answers ``{"searchRecords": [{"attributes": {"type": "Account", "url": ...}, "Id": ...}]}``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
URL = f"{V}/parameterizedSearch"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    account, contact = org.schema.require("Account"), org.schema.require("Contact")
    org.store.insert(account, {"Name": "Acme Corp", "Phone": "555-0100", "Industry": "Energy"})
    org.store.insert(account, {"Name": "Acme Widgets", "Industry": "Retail"})
    org.store.insert(account, {"Name": "Acme Zeppelins", "Industry": "Energy"})
    org.store.insert(account, {"Name": "Globex", "Description": "A rival of acme"})
    org.store.insert(contact, {"LastName": "Coyote", "FirstName": "Wile", "Email": "wile@acme.com"})
    return org


def records(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["searchRecords"]
    return list(body["searchRecords"])


def names(found: list[dict[str, Any]]) -> list[str]:
    return [r.get("Name") or r.get("LastName") or r["Id"] for r in found]


async def error(response: httpx.Response, status: int = 400) -> tuple[str, str]:
    assert response.status_code == status, response.text
    [item] = response.json()
    assert set(item) == {"message", "errorCode"}
    return item["errorCode"], item["message"]


async def test_get_q_alone_is_a_global_search_returning_ids(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """``?q=Acme``: every searchable object, ``attributes`` and ``Id`` only, as SOSL's
    ``FIND {Acme}`` (the same words match: Globex's Description, Wile's Email)."""
    found = records(await http.get(URL, params={"q": "Acme"}))
    sosl = (await http.get(f"{V}/search", params={"q": "FIND {Acme}"})).json()["searchRecords"]
    assert found == sosl
    assert len(found) == 5
    for record in found:
        assert list(record) == ["attributes", "Id"]
        kind = record["attributes"]["type"]
        assert record["attributes"]["url"] == f"{V}/sobjects/{kind}/{record['Id']}"


async def test_get_the_guides_example(http: httpx.AsyncClient) -> None:
    """``q=Acme&sobject=Account&Account.fields=id,name&Account.limit=10``."""
    found = records(
        await http.get(
            URL,
            params={
                "q": "Acme",
                "sobject": "Account",
                "Account.fields": "id,name",
                "Account.limit": "10",
            },
        )
    )
    assert {r["attributes"]["type"] for r in found} == {"Account"}
    assert [list(r) for r in found] == [["attributes", "Id", "Name"]] * 4


async def test_get_repeated_sobject_where_limits_and_in(http: httpx.AsyncClient) -> None:
    params = [
        ("q", "acme"),
        ("in", "NAME"),
        ("sobject", "Account"),
        ("sobject", "Contact"),
        ("fields", "Id,Name"),
        ("Account.where", "Industry = 'Energy'"),
        ("Contact.fields", "LastName"),
        ("defaultLimit", "1"),
    ]
    found = records(await http.get(URL, params=params))
    # NAME fields only: Globex (Description) and Wile (Email) do not match; defaultLimit 1
    # keeps one Energy account; Contact's own fields replace the global ones.
    assert [r["attributes"]["type"] for r in found] == ["Account"]
    assert found[0]["Name"] in ("Acme Corp", "Acme Zeppelins")
    params[-1] = ("Account.limit", "5")  # the object's own limit wins over defaultLimit
    params.append(("defaultLimit", "1"))
    found = records(await http.get(URL, params=params))
    assert sorted(names(found)) == ["Acme Corp", "Acme Zeppelins"]
    params[1] = ("in", "EMAIL")
    found = records(await http.get(URL, params=params))
    assert (
        found
        == [
            {"attributes": found[0]["attributes"], "LastName": "Coyote"},
        ]
        and found[0]["attributes"]["type"] == "Contact"
    )


async def test_post_body_with_sobjects_filters(http: httpx.AsyncClient) -> None:
    """The POST form: ``{"q", "fields", "sobjects": [{"name", "fields", "where", "limit"}],
    "in", "overallLimit", "defaultLimit"}``; per-object fields override the global ones."""
    body = {
        "q": "acme",
        "fields": ["Id", "Name"],
        "sobjects": [
            {"name": "Account", "where": "Industry = 'Energy'", "limit": 5},
            {"name": "Contact", "fields": ["Id", "Email"]},
        ],
        "in": "ALL",
        "defaultLimit": "100",  # the docs type limits as strings; numbers are taken too
        "overallLimit": 3,
        "spellCorrection": False,
    }
    found = records(await http.post(URL, json=body))
    assert [r["attributes"]["type"] for r in found] == ["Account", "Account", "Contact"]
    assert sorted(r["Name"] for r in found[:2]) == ["Acme Corp", "Acme Zeppelins"]
    assert list(found[2]) == ["attributes", "Id", "Email"]
    body["overallLimit"] = 2
    assert len(records(await http.post(URL, json=body))) == 2


async def test_post_order_by_and_offset(http: httpx.AsyncClient) -> None:
    sobject = {
        "name": "Account",
        "fields": ["Name"],
        "where": "Name LIKE 'Acme%'",
        "orderBy": [{"field": "Name", "ascending": False, "nullsLast": True}],
    }
    found = records(await http.post(URL, json={"q": "acme", "sobjects": [sobject]}))
    assert names(found) == ["Acme Zeppelins", "Acme Widgets", "Acme Corp"]
    found = records(await http.post(URL, json={"q": "acme", "sobjects": [sobject], "offset": 1}))
    assert names(found) == ["Acme Widgets", "Acme Corp"]


async def test_search_words_operators_and_wildcards_as_sosl(http: httpx.AsyncClient) -> None:
    account = {"name": "Account", "fields": ["Name"]}
    body: dict[str, Any] = {"q": "acm* AND NOT widgets", "sobjects": [account]}
    found = sorted(names(records(await http.post(URL, json=body))))
    assert found == ["Acme Corp", "Acme Zeppelins", "Globex"]
    body["q"] = '"acme widgets"'
    assert names(records(await http.post(URL, json=body))) == ["Acme Widgets"]
    body["q"] = "AT&T {braces} need no escaping"  # no FIND {...} to break out of
    assert records(await http.post(URL, json=body)) == []


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({}, "MALFORMED_SEARCH", "search string"),
        ({"q": "  "}, "MALFORMED_SEARCH", "search string"),
        ({"q": "a"}, "MALFORMED_SEARCH", "longer than one character"),
        ({"q": "acme", "in": "BOGUS"}, "MALFORMED_SEARCH", "in must be"),
        ({"q": "acme", "fields": "Id,Name"}, "MALFORMED_SEARCH", "needs at least one sobject"),
        ({"q": "acme", "defaultLimit": "5"}, "MALFORMED_SEARCH", "needs at least one sobject"),
        ({"q": "acme", "overallLimit": "2001"}, "MALFORMED_SEARCH", "more than 2000"),
        ({"q": "acme", "overallLimit": "-1"}, "MALFORMED_SEARCH", "whole number"),
        ({"q": "acme", "sobject": "Nope__c"}, "INVALID_TYPE", "Nope__c"),
        ({"q": "acme", "sobject": "Account", "Account.fields": "Bogus"}, "INVALID_FIELD", "Bogus"),
        ({"q": "acme", "sobject": "Account", "Account.where": "Name = "}, "MALFORMED_SEARCH", ""),
        ({"q": "acme", "division": "global"}, "MALFORMED_SEARCH", "division"),
        ({"q": "acme", "offset": "1"}, "MALFORMED_SEARCH", "exactly one sobject"),
    ],
)
async def test_get_errors(
    http: httpx.AsyncClient, params: dict[str, str], code: str, words: str
) -> None:
    got_code, message = await error(await http.get(URL, params=params))
    assert (got_code, words in message) == (code, True)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (["q", "acme"], "JSON_PARSER_ERROR"),
        ({"q": 5}, "JSON_PARSER_ERROR"),
        ({"q": "acme", "sobjects": "Account"}, "JSON_PARSER_ERROR"),
        ({"q": "acme", "sobjects": [{"fields": ["Id"]}]}, "MALFORMED_SEARCH"),
        ({"q": "acme", "sobjects": [{"name": "Account", "fields": "Id"}]}, "JSON_PARSER_ERROR"),
        ({"q": "acme", "sobjects": [{"name": "Account", "where": 1}]}, "JSON_PARSER_ERROR"),
        ({"q": "acme", "sobjects": [{"name": "Account", "limit": True}]}, "MALFORMED_SEARCH"),
        ({"q": "acme", "sobjects": [{"name": "Account", "orderBy": [{}]}]}, "MALFORMED_SEARCH"),
        ({"q": "acme", "dataCategories": []}, "MALFORMED_SEARCH"),
    ],
)
async def test_post_errors(http: httpx.AsyncClient, body: Any, code: str) -> None:
    assert (await error(await http.post(URL, json=body)))[0] == code


async def test_other_methods_are_refused(http: httpx.AsyncClient) -> None:
    assert (await error(await http.delete(URL, params={"q": "acme"}), 405))[0] == (
        "METHOD_NOT_ALLOWED"
    )


async def test_listed_in_the_version_resources(http: httpx.AsyncClient) -> None:
    resources = (await http.get(f"{V}/")).json()
    assert resources["parameterizedSearch"] == f"{V}/parameterizedSearch"
