"""``sf.sobject`` against the wire shapes of salesforce-rest.md section 1."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.errors import (
    ConfigurationError,
    EntityIsDeletedError,
    InvalidFieldError,
    MultipleRecordsError,
    NotFoundError,
    RequiredFieldMissingError,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
ACC = "001D000000IRFmaIAH"


async def test_create_returns_id_and_sends_json(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/sobjects/Contact").mock(
        return_value=httpx.Response(
            201, json={"id": "003D000000QV9n2IAD", "success": True, "errors": []}
        )
    )
    new_id = await sf.sobject.create(
        "Contact", {"LastName": "Doe", "Email": None}, headers={"Sforce-Auto-Assign": "FALSE"}
    )
    assert new_id == "003D000000QV9n2IAD"
    request = route.calls.last.request
    assert json.loads(request.content) == {"LastName": "Doe", "Email": None}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Sforce-Auto-Assign"] == "FALSE"


async def test_create_required_field_missing(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/sobjects/Contact").mock(
        return_value=httpx.Response(
            400,
            json=[
                {
                    "message": "Required fields are missing: [LastName]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["LastName"],
                }
            ],
        )
    )
    with pytest.raises(RequiredFieldMissingError) as info:
        await sf.sobject.create("Contact", {"FirstName": "Jon"})
    assert info.value.errors[0].fields == ("LastName",)
    assert info.value.status_code == 400


async def test_bad_names_and_ids_fail_before_http(sf: Salesforce, router: respx.Router) -> None:
    with pytest.raises(ConfigurationError, match="sObject API name"):
        await sf.sobject.create("Con tact", {"LastName": "x"})
    with pytest.raises(ConfigurationError, match="record id"):
        await sf.sobject.get("Contact", "not-an-id")
    with pytest.raises(ConfigurationError, match="record id"):
        await sf.sobject.update("Contact", "001D000000IRFmaXXX", {"LastName": "x"})
    with pytest.raises(ConfigurationError, match="must not contain Id"):
        await sf.sobject.create("Contact", {"Id": ACC, "LastName": "x"})
    with pytest.raises(ConfigurationError, match="field API name"):
        await sf.sobject.get("Contact", ACC, fields=["Name; DROP"])
    assert not router.calls


async def test_get_with_fields_and_by_external_id(sf: Salesforce, router: respx.Router) -> None:
    record = {
        "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{ACC}"},
        "Name": "Acme",
        "Id": ACC,
    }
    by_id = router.get(f"{V}/sobjects/Account/{ACC}").mock(
        return_value=httpx.Response(200, json=record)
    )
    by_ext = router.get(f"{V}/sobjects/Account/Ext_Id__c/A%2F100%20x").mock(
        return_value=httpx.Response(200, json=record)
    )
    assert await sf.sobject.get("Account", ACC, fields=["Name"]) == record
    assert by_id.calls.last.request.url.params["fields"] == "Name"
    got = await sf.sobject.get("Account", "A/100 x", external_id_field="Ext_Id__c")
    assert got["Name"] == "Acme"
    assert by_ext.called


async def test_get_not_found_and_deleted(sf: Salesforce, router: respx.Router) -> None:
    router.get(f"{V}/sobjects/Account/{ACC}").mock(
        side_effect=[
            httpx.Response(
                404,
                json=[
                    {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
                ],
            ),
            httpx.Response(
                404, json=[{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]
            ),
        ]
    )
    with pytest.raises(NotFoundError) as info:
        await sf.sobject.get("Account", ACC)
    assert not isinstance(info.value, EntityIsDeletedError)
    with pytest.raises(EntityIsDeletedError):
        await sf.sobject.get("Account", ACC)


async def test_update_sends_patch_with_nulls(sf: Salesforce, router: respx.Router) -> None:
    route = router.patch(f"{V}/sobjects/Account/{ACC}").mock(return_value=httpx.Response(204))
    assert await sf.sobject.update("Account", ACC, {"Name": "New", "Phone": None}) is None
    assert json.loads(route.calls.last.request.content) == {"Name": "New", "Phone": None}


async def test_update_unknown_field(sf: Salesforce, router: respx.Router) -> None:
    router.patch(f"{V}/sobjects/Account/{ACC}").mock(
        return_value=httpx.Response(
            400,
            json=[
                {
                    "message": "No such column 'foo' on sobject of type Account",
                    "errorCode": "INVALID_FIELD",
                }
            ],
        )
    )
    with pytest.raises(InvalidFieldError, match="No such column 'foo'"):
        await sf.sobject.update("Account", ACC, {"foo": 1})


async def test_delete_by_id_and_external_id(sf: Salesforce, router: respx.Router) -> None:
    a = router.delete(f"{V}/sobjects/Account/{ACC}").mock(return_value=httpx.Response(204))
    b = router.delete(f"{V}/sobjects/Account/Ext_Id__c/A-1").mock(return_value=httpx.Response(204))
    await sf.sobject.delete("Account", ACC)
    await sf.sobject.delete("Account", "A-1", external_id_field="Ext_Id__c")
    assert a.called and b.called


@pytest.mark.parametrize(
    ("status", "body", "expected_id", "created"),
    [
        (201, {"id": ACC, "success": True, "errors": [], "created": True}, ACC, True),
        (200, {"id": ACC, "success": True, "errors": [], "created": False}, ACC, False),
        (204, None, None, False),
    ],
)
async def test_upsert_statuses(
    sf: Salesforce,
    router: respx.Router,
    status: int,
    body: object,
    expected_id: str | None,
    created: bool,
) -> None:
    route = router.patch(f"{V}/sobjects/Account/Ext_Id__c/A-1").mock(
        return_value=httpx.Response(status, json=body)
        if body is not None
        else httpx.Response(status)
    )
    result = await sf.sobject.upsert(
        "Account", {"Ext_Id__c": "A-1", "Name": "Acme"}, external_id_field="Ext_Id__c"
    )
    assert (result.id, result.created) == (expected_id, created)
    # The external id travels in the URL, never twice.
    assert json.loads(route.calls.last.request.content) == {"Name": "Acme"}


async def test_upsert_multiple_matches(sf: Salesforce, router: respx.Router) -> None:
    urls = [f"{V}/sobjects/Account/001D000000IRFmaIAH", f"{V}/sobjects/Account/001D000000IRFmbIAH"]
    router.patch(f"{V}/sobjects/Account/Ext_Id__c/dup").mock(
        return_value=httpx.Response(300, json=urls)
    )
    with pytest.raises(MultipleRecordsError) as info:
        await sf.sobject.upsert("Account", {"Ext_Id__c": "dup"}, external_id_field="Ext_Id__c")
    assert info.value.urls == urls
    assert info.value.ids == ["001D000000IRFmaIAH", "001D000000IRFmbIAH"]


async def test_upsert_bad_external_id_field(sf: Salesforce, router: respx.Router) -> None:
    router.patch(f"{V}/sobjects/Account/Namez/x").mock(
        return_value=httpx.Response(
            404,
            json=[
                {
                    "errorCode": "NOT_FOUND",
                    "message": "Provided external ID field does not exist or is not "
                    "accessible: Namez",
                }
            ],
        )
    )
    with pytest.raises(NotFoundError, match="Namez"):
        await sf.sobject.upsert("Account", {"Namez": "x"}, external_id_field="Namez")


async def test_upsert_input_errors(sf: Salesforce, router: respx.Router) -> None:
    with pytest.raises(ConfigurationError, match="no value for its external id"):
        await sf.sobject.upsert("Account", {"Name": "x"}, external_id_field="Ext_Id__c")
    with pytest.raises(ConfigurationError, match="non-empty"):
        await sf.sobject.upsert("Account", {"Ext_Id__c": " "}, external_id_field="Ext_Id__c")
    with pytest.raises(ConfigurationError, match="must not contain Id"):
        await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "1", "Id": ACC}, external_id_field="Ext_Id__c"
        )
    assert not router.calls


async def test_a_replayed_delete_that_finds_the_record_deleted_succeeds(
    sf: Salesforce, router: respx.Router
) -> None:
    deleted = [{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]
    route = router.delete(f"{V}/sobjects/Account/{ACC}").mock(
        side_effect=[httpx.ReadError("connection lost"), httpx.Response(404, json=deleted)]
    )
    await sf.sobject.delete("Account", ACC)
    assert route.call_count == 2
    # Without a replay, a deleted record is the caller's error to see.
    router.delete(f"{V}/sobjects/Account/{ACC}").mock(
        return_value=httpx.Response(404, json=deleted)
    )
    with pytest.raises(EntityIsDeletedError):
        await sf.sobject.delete("Account", ACC)
