"""``sf.query``: paging, batch size, queryAll, child subqueries (salesforce-rest.md section 2)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.client import DecodedPage
from sobjects.errors import ConfigurationError, InvalidFieldError, ResponseError

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


def rec(n: int, **extra: Any) -> dict[str, Any]:
    rid = f"003D00000{n:06d}"
    return {
        "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{rid}"},
        "Id": rid,
        "LastName": f"Doe{n}",
        **extra,
    }


async def test_follows_next_records_url(sf: Salesforce, router: respx.Router) -> None:
    first = router.get(f"{V}/query").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 5,
                "done": False,
                "nextRecordsUrl": f"{V}/query/01gD0000002HU6KIAW-2",
                "records": [rec(1), rec(2)],
            },
        )
    )
    second = router.get(f"{V}/query/01gD0000002HU6KIAW-2").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 5,
                "done": False,
                "nextRecordsUrl": f"{V}/query/01gD0000002HU6KIAW-4",
                "records": [rec(3), rec(4)],
            },
        )
    )
    third = router.get(f"{V}/query/01gD0000002HU6KIAW-4").mock(
        return_value=httpx.Response(200, json={"totalSize": 5, "done": True, "records": [rec(5)]})
    )
    result = sf.query("SELECT Id, LastName FROM Contact", batch_size=200)
    assert result.total_size is None
    names = [r["LastName"] async for r in result]
    assert names == [f"Doe{i}" for i in range(1, 6)]
    assert result.total_size == 5
    assert first.calls.last.request.url.params["q"] == "SELECT Id, LastName FROM Contact"
    for route in (first, second, third):
        assert route.calls.last.request.headers["Sforce-Query-Options"] == "batchSize=200"


async def test_pages_are_fetched_lazily(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/query").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 4,
                "done": False,
                "nextRecordsUrl": f"{V}/query/01gX-2",
                "records": [rec(1), rec(2)],
            },
        )
    )
    nxt = router.get(f"{V}/query/01gX-2").mock(
        return_value=httpx.Response(200, json={"totalSize": 4, "done": True, "records": [rec(3)]})
    )
    async for record in sf.query("SELECT Id FROM Contact"):
        assert record["LastName"] == "Doe1"
        break
    assert not nxt.called
    pages = [len(page) async for page in sf.query("SELECT Id FROM Contact").pages()]
    assert pages == [2, 1]


async def test_query_all_and_empty_result(sf: Salesforce, router: respx.Router) -> None:
    route = router.get(f"{V}/queryAll").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    result = sf.query("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert await result.all() == []
    assert result.total_size == 0
    assert route.called


async def test_count_query_reports_total_size(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 42, "done": True, "records": []})
    )
    assert await sf.query("SELECT COUNT() FROM Contact").count() == 42


async def test_child_subquery_null_and_paged(sf: Salesforce, router: respx.Router) -> None:
    account_with_many = {
        "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/001A"},
        "Name": "GenePoint",
        "Contacts": {
            "totalSize": 3,
            "done": False,
            "nextRecordsUrl": f"{V}/query/01gCHILD-2",
            "records": [rec(1), rec(2)],
        },
    }
    account_without = {
        "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/001B"},
        "Name": "Cisco",
        "Contacts": None,
    }
    router.get(f"{V}/query").mock(
        return_value=httpx.Response(
            200,
            json={"totalSize": 2, "done": True, "records": [account_with_many, account_without]},
        )
    )
    child_page = router.get(f"{V}/query/01gCHILD-2").mock(
        return_value=httpx.Response(200, json={"totalSize": 3, "done": True, "records": [rec(3)]})
    )
    records = await sf.query("SELECT Name, (SELECT LastName FROM Contacts) FROM Account").all()
    contacts = records[0]["Contacts"]
    assert [c["LastName"] for c in contacts["records"]] == ["Doe1", "Doe2", "Doe3"]
    assert contacts["done"] is True
    assert "nextRecordsUrl" not in contacts
    assert records[1]["Contacts"] is None
    assert child_page.call_count == 1


async def test_query_errors(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/query").mock(
        return_value=httpx.Response(
            400,
            json=[
                {
                    "message": "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\n"
                    "No such column 'Foo' on entity 'Account'.",
                    "errorCode": "INVALID_FIELD",
                }
            ],
        )
    )
    with pytest.raises(InvalidFieldError, match="No such column 'Foo'"):
        await sf.query("SELECT Foo FROM Account").all()


@pytest.mark.parametrize("batch_size", [0, 199, 2001, 1.5])
async def test_batch_size_is_validated(sf: Salesforce, batch_size: Any) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        sf.query("SELECT Id FROM Contact", batch_size=batch_size)


async def test_empty_soql_is_refused(sf: Salesforce) -> None:
    with pytest.raises(ConfigurationError):
        sf.query("  ")


async def test_a_failed_page_is_fetched_again_not_skipped(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get(f"{V}/query").mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.Response(
                200,
                json={
                    "totalSize": 2,
                    "done": False,
                    "nextRecordsUrl": f"{V}/query/01gY-1",
                    "records": [rec(1)],
                },
            ),
        ]
    )
    router.get(f"{V}/query/01gY-1").mock(
        side_effect=[
            httpx.Response(400, json=[{"errorCode": "INVALID_QUERY_LOCATOR", "message": "x"}]),
            httpx.Response(200, json={"totalSize": 2, "done": True, "records": [rec(2)]}),
        ]
    )
    from sobjects import RetryPolicy

    sf.retry = RetryPolicy(rules=())
    pages = sf.query("SELECT Id FROM Contact").pages()
    with pytest.raises(Exception, match="503"):
        await pages.__anext__()
    assert [r["LastName"] for r in await pages.__anext__()] == ["Doe1"]
    with pytest.raises(Exception, match="INVALID_QUERY_LOCATOR"):
        await pages.__anext__()
    assert [r["LastName"] for r in await pages.__anext__()] == ["Doe2"]
    with pytest.raises(StopAsyncIteration):
        await pages.__anext__()


async def test_a_query_too_long_for_a_url_is_refused_before_sending(
    sf: Salesforce, router: respx.Router
) -> None:
    ids = ",".join(f"'003D00000{n:06d}AAA'" for n in range(1000))
    with pytest.raises(ConfigurationError, match="16384-byte limit"):
        await sf.query(f"SELECT Id FROM Contact WHERE Id IN ({ids})").all()
    assert not router.calls


# -- decoded pages ------------------------------------------------------------------------------


async def test_decoded_pages_hand_each_body_to_the_decoder(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get(f"{V}/query").mock(
        return_value=httpx.Response(
            200,
            json={
                "totalSize": 3,
                "done": False,
                "nextRecordsUrl": f"{V}/query/01gD0000002HU6KIAW-2",
                "records": [rec(1), rec(2)],
            },
        )
    )
    router.get(f"{V}/query/01gD0000002HU6KIAW-2").mock(
        return_value=httpx.Response(200, json={"totalSize": 3, "done": True, "records": [rec(3)]})
    )
    bodies: list[bytes] = []

    def decode(body: bytes) -> DecodedPage[str]:
        bodies.append(body)
        page = json.loads(body)
        names = [r["LastName"] for r in page["records"]]
        return DecodedPage(names, page["totalSize"], page.get("nextRecordsUrl"), page["done"])

    result = sf.query("SELECT Id, LastName FROM Contact")
    pages = [names async for names in result.decoded_pages(decode)]
    assert pages == [["Doe1", "Doe2"], ["Doe3"]]
    assert len(bodies) == 2 and all(isinstance(b, bytes) for b in bodies)
    assert result.total_size == 3


async def test_a_page_that_is_not_a_query_result_raises_a_response_error(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get(f"{V}/query").mock(return_value=httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(ResponseError, match="not a query result"):
        await sf.query("SELECT Id FROM Contact").all()
