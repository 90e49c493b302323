"""sObject Collections (salesforce-rest.md section 6)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.errors import (
    CollectionsRequestError,
    ConfigurationError,
    InvalidFieldError,
    RequiredFieldMissingError,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


def fake_id(n: int) -> str:
    from sobjects._ids import to_18

    return to_18(f"001D0000{n:07d}")


class FakeCollections:
    """Answers create/update/upsert like Salesforce: one result per record, in order."""

    def __init__(self, fail_when: str | None = None) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.fail_when = fail_when
        self.counter = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.payloads.append(payload)
        results: list[dict[str, Any]] = []
        bad = [self.fail_when and r.get("Name") == self.fail_when for r in payload["records"]]
        for is_bad in bad:
            self.counter += 1
            if is_bad:
                results.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                "message": "Name is not allowed",
                                "fields": ["Name"],
                            }
                        ],
                    }
                )
            elif payload["allOrNone"] and any(bad):
                results.append(
                    {
                        "id": fake_id(self.counter),
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                "message": "Record rolled back because not all records were valid",
                                "fields": [],
                            }
                        ],
                    }
                )
            else:
                item: dict[str, Any] = {"id": fake_id(self.counter), "success": True, "errors": []}
                if request.url.path.count("/") > 5:  # upsert: /composite/sobjects/X/Field
                    item["created"] = True
                results.append(item)
        return httpx.Response(200, json=results)


async def test_create_is_chunked_by_200_in_order(sf: Salesforce, router: respx.Router) -> None:
    fake = FakeCollections()
    router.post(f"{V}/composite/sobjects").mock(side_effect=fake)
    records = [{"Name": f"A{i}"} for i in range(450)]
    results = await sf.collections.create("Account", records)
    assert [len(p["records"]) for p in fake.payloads] == [200, 200, 50]
    assert len(results) == 450
    assert [r.id for r in results] == [fake_id(i) for i in range(1, 451)]
    assert fake.payloads[0]["records"][0] == {"attributes": {"type": "Account"}, "Name": "A0"}
    assert fake.payloads[2]["records"][-1]["Name"] == "A449"
    assert fake.payloads[0]["allOrNone"] is False


async def test_partial_failure_keeps_one_result_per_record(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite/sobjects").mock(side_effect=FakeCollections(fail_when="bad"))
    results = await sf.collections.create("Account", [{"Name": "ok"}, {"Name": "bad"}])
    assert results[0].success and results[0].id
    assert not results[1].success and results[1].id is None
    assert results[1].errors[0].code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    with pytest.raises(Exception, match="Name is not allowed"):
        results[1].raise_for_status()
    results[0].raise_for_status()


async def test_all_or_none_rollback(sf: Salesforce, router: respx.Router) -> None:
    fake = FakeCollections(fail_when="bad")
    router.post(f"{V}/composite/sobjects").mock(side_effect=fake)
    results = await sf.collections.create(
        "Account", [{"Name": "ok"}, {"Name": "bad"}], all_or_none=True
    )
    assert fake.payloads[0]["allOrNone"] is True
    assert not results[0].success
    assert results[0].id is not None  # rolled-back items keep their id
    assert results[0].errors[0].code == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


async def test_all_or_none_over_200_is_refused(sf: Salesforce, router: respx.Router) -> None:
    with pytest.raises(ConfigurationError, match="at most 200"):
        await sf.collections.create("Account", [{"Name": "x"}] * 201, all_or_none=True)
    assert not router.calls


async def test_update_needs_ids_and_upsert_needs_external_ids(
    sf: Salesforce, router: respx.Router
) -> None:
    with pytest.raises(ConfigurationError, match="no Id"):
        await sf.collections.update("Account", [{"Name": "x"}])
    with pytest.raises(ConfigurationError, match="must not carry an Id"):
        await sf.collections.create("Account", [{"Id": fake_id(1), "Name": "x"}])
    with pytest.raises(ConfigurationError, match="external id"):
        await sf.collections.upsert("Account", [{"Name": "x"}], external_id_field="Ext__c")
    with pytest.raises(ConfigurationError, match="is a Contact"):
        await sf.collections.create("Account", [{"attributes": {"type": "Contact"}}])
    assert not router.calls


async def test_update_and_upsert_wire_format(sf: Salesforce, router: respx.Router) -> None:
    fake = FakeCollections()
    router.patch(f"{V}/composite/sobjects").mock(side_effect=fake)
    router.patch(f"{V}/composite/sobjects/Account/Ext__c").mock(side_effect=fake)
    updated = await sf.collections.update("Account", [{"id": fake_id(1), "Name": "New"}])
    upserted = await sf.collections.upsert(
        "Account", [{"Ext__c": "E-1", "Name": "New"}], external_id_field="Ext__c"
    )
    assert fake.payloads[0]["records"] == [
        {"attributes": {"type": "Account"}, "Id": fake_id(1), "Name": "New"}
    ]
    assert fake.payloads[1]["records"] == [
        {"attributes": {"type": "Account"}, "Ext__c": "E-1", "Name": "New"}
    ]
    assert updated[0].success and updated[0].created is None
    assert upserted[0].created is True


async def test_delete_in_chunks(sf: Salesforce, router: respx.Router) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["ids"].split(",")
        return httpx.Response(200, json=[{"id": i, "success": True, "errors": []} for i in ids])

    route = router.delete(f"{V}/composite/sobjects").mock(side_effect=answer)
    ids = [fake_id(i) for i in range(250)]
    results = await sf.collections.delete(ids)
    assert [r.id for r in results] == ids
    assert route.call_count == 2
    assert route.calls[0].request.url.params["allOrNone"] == "false"


async def test_retrieve_keeps_nulls_in_order(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite/sobjects/Account").mock(
        return_value=httpx.Response(
            200, json=[{"attributes": {"type": "Account"}, "Id": fake_id(1), "Name": "A"}, None]
        )
    )
    records = await sf.collections.retrieve("Account", [fake_id(1), fake_id(2)], fields=["Name"])
    assert records[0] is not None and records[0]["Name"] == "A"
    assert records[1] is None
    assert json.loads(route.calls.last.request.content) == {
        "ids": [fake_id(1), fake_id(2)],
        "fields": ["Name"],
    }


async def test_whole_request_error_on_first_chunk_is_plain(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite/sobjects").mock(
        return_value=httpx.Response(
            400, json=[{"errorCode": "INVALID_FIELD", "message": "No such column 'Bogus'"}]
        )
    )
    with pytest.raises(InvalidFieldError):
        await sf.collections.create("Account", [{"Bogus": 1}])


async def test_later_chunk_failure_keeps_earlier_results(
    sf: Salesforce, router: respx.Router
) -> None:
    fake = FakeCollections()
    replies = iter(
        [
            None,
            httpx.Response(
                400,
                json=[{"errorCode": "REQUIRED_FIELD_MISSING", "message": "missing", "fields": []}],
            ),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        reply = next(replies)
        return fake(request) if reply is None else reply

    route = router.post(f"{V}/composite/sobjects").mock(side_effect=answer)
    with pytest.raises(CollectionsRequestError) as info:
        await sf.collections.create("Account", [{"Name": f"A{i}"} for i in range(500)])
    assert len(info.value.results) == 200
    assert isinstance(info.value.error, RequiredFieldMissingError)
    assert route.call_count == 2  # the third chunk was never sent
