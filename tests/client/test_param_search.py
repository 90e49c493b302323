"""``sf.parameterized_search``: Salesforce's search without SOSL, against the local org.

Salesforce, REST API Developer Guide, "Search with Parameters in the Request Body"
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
resources_search_parameterized_post.htm): ``POST /services/data/vXX.X/parameterizedSearch/``
with ``q`` ("A search string ... SOSL clauses aren't supported"), ``fields``, ``sobjects``
(each ``{"name", "fields", "where", "limit"}``), ``in``, ``defaultLimit`` and ``overallLimit``
("The maximum ... is 2000"), ``offset``, ``spellCorrection``; the answer's
``searchRecords`` is what the client returns.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from sobjects import Salesforce, SearchObject
from sobjects.emulator import LocalOrg
from sobjects.errors import ConfigurationError, InvalidFieldError, MalformedQueryError
from tests.conftest import DATA

pytestmark = pytest.mark.anyio


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    accounts, contacts = org.schema.require("Account"), org.schema.require("Contact")
    for name, industry in (("Acme Corp", "Energy"), ("Acme Widgets", "Retail"), ("Globex", None)):
        org.store.insert(accounts, {"Name": name, "Industry": industry})
    org.store.insert(contacts, {"LastName": "Coyote", "Email": "wile@acme.com"})
    return org


async def test_search_with_objects_fields_and_where(org: LocalOrg) -> None:
    async with org.client() as sf:
        found = await sf.parameterized_search(
            "acme",
            sobjects=[
                SearchObject("Account", where="Industry = 'Energy'"),
                SearchObject("Contact", fields=["Email"]),
            ],
            fields=["Id", "Name"],
        )
    assert [(r["attributes"]["type"], r.get("Name") or r.get("Email")) for r in found] == [
        ("Account", "Acme Corp"),
        ("Contact", "wile@acme.com"),
    ]
    assert "Id" not in found[1]  # the object's own fields replaced the global ones


async def test_names_groups_and_limits(org: LocalOrg) -> None:
    async with org.client() as sf:
        everywhere = await sf.parameterized_search("acme")
        assert {r["attributes"]["type"] for r in everywhere} == {"Account", "Contact"}
        assert all(list(r) == ["attributes", "Id"] for r in everywhere)
        by_name = await sf.parameterized_search(
            "acme", sobjects=["Account", "Contact"], in_="NAME", default_limit=1
        )
        assert [r["attributes"]["type"] for r in by_name] == ["Account"]
        assert len(await sf.parameterized_search("acme", overall_limit=2)) == 2
        page = await sf.parameterized_search(
            "acme", sobjects=[SearchObject("Account", fields=["Name"])], offset=1
        )
        assert len(page) == 1
        assert await sf.parameterized_search("nothing", spell_correction=False) == []


async def test_the_orgs_errors_are_raised_typed(org: LocalOrg) -> None:
    async with org.client() as sf:
        with pytest.raises(InvalidFieldError):
            await sf.parameterized_search("acme", sobjects=[SearchObject("Account", ["Bogus"])])
        with pytest.raises(MalformedQueryError):
            await sf.parameterized_search("a")


async def test_the_body_sent_is_salesforces(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{DATA}/parameterizedSearch").mock(
        return_value=httpx.Response(200, json={"searchRecords": []})
    )
    await sf.parameterized_search(
        "Acme*",
        sobjects=["Account", SearchObject("Contact", ["Id"], "Email != null", 5)],
        fields=["Id", "Name"],
        in_="NAME",
        default_limit=10,
        overall_limit=20,
        spell_correction=True,
    )
    assert json.loads(route.calls.last.request.content) == {
        "q": "Acme*",
        "in": "NAME",
        "fields": ["Id", "Name"],
        "sobjects": [
            {"name": "Account"},
            {"name": "Contact", "fields": ["Id"], "where": "Email != null", "limit": 5},
        ],
        "defaultLimit": 10,
        "overallLimit": 20,
        "spellCorrection": True,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"q": ""},
        {"q": 5},
        {"q": "acme", "in_": "EVERYWHERE"},
        {"q": "acme", "fields": ["Id"]},
        {"q": "acme", "fields": "Id", "sobjects": ["Account"]},
        {"q": "acme", "default_limit": 5},
        {"q": "acme", "overall_limit": 2001},
        {"q": "acme", "overall_limit": -1},
        {"q": "acme", "offset": 1},
        {"q": "acme", "sobjects": [SearchObject("Account", limit=True)]},  # type: ignore[arg-type]
        {"q": "acme", "sobjects": [42]},
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    sf: Salesforce, router: respx.Router, kwargs: dict[str, object]
) -> None:
    route = router.post(f"{DATA}/parameterizedSearch")
    with pytest.raises(ConfigurationError):
        await sf.parameterized_search(**kwargs)  # type: ignore[arg-type]
    assert not route.called
