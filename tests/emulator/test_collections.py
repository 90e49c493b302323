"""sObject Collections on the local org (salesforce-rest.md §6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sobjects._ids import is_salesforce_id
from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
COLLECTIONS = f"{V}/composite/sobjects"
MISSING = "001000000000000AAA"
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    return org


def account(name: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, "Name": name, **fields}


def contact(last_name: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, "LastName": last_name, **fields}


def names(org: LocalOrg, sobject: str = "Account") -> list[str]:
    field = "Name" if sobject == "Account" else "LastName"
    return sorted(str(r[field]) for r in org.store.records(sobject))


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    return dict(body[0])


async def create_all(http: httpx.AsyncClient, records: list[dict[str, Any]]) -> list[str]:
    response = await http.post(COLLECTIONS, json={"records": records})
    assert response.status_code == 200, response.text
    results = response.json()
    assert all(r["success"] for r in results), results
    return [str(r["id"]) for r in results]


# -- create ----------------------------------------------------------------------------------


async def test_create_mixed_types_aligned_to_input(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.post(
        COLLECTIONS,
        json={"records": [account("A1"), contact("C1"), account("A2"), contact("C2")]},
    )
    assert response.status_code == 200
    results = response.json()
    assert [r["id"][:3] for r in results] == ["001", "003", "001", "003"]
    for result in results:
        assert result == {"id": result["id"], "success": True, "errors": []}
        assert is_salesforce_id(result["id"])
    assert names(org) == ["A1", "A2"]
    assert names(org, "Contact") == ["C1", "C2"]
    created = org.store.get(results[2]["id"])
    assert created is not None
    assert created["Name"] == "A2"


async def test_create_partial_success_by_default(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.post(
        COLLECTIONS,
        json={
            "allOrNone": False,
            "records": [
                account("Good"),
                contact("", FirstName="No last name"),
                {"Name": "No attributes"},
                {"attributes": {"type": "Nope__c"}, "Name": "x"},
                account("Has id", Id=MISSING),
                account("Also good"),
            ],
        },
    )
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, False, False, False, False, True]
    # Per-record errors use statusCode, never errorCode, and list fields.
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    for failed in results[1:5]:
        assert "id" not in failed or failed["id"] is None
        for error in failed["errors"]:
            assert set(error) == {"statusCode", "message", "fields"}
    assert results[2]["errors"][0]["statusCode"] == "INVALID_TYPE"
    assert results[3]["errors"][0]["statusCode"] == "INVALID_TYPE"
    assert results[4]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert names(org) == ["Also good", "Good"]
    assert names(org, "Contact") == []


async def test_create_all_or_none_rolls_back(http: httpx.AsyncClient, org: LocalOrg) -> None:
    """Salesforce, "Create Records Using sObject Collections" (REST API Developer Guide,
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
    resources_composite_sobjects_collections_create.htm), response with ``allOrNone``: the
    record that failed and the one rolled back are both ``{"success": false, "errors":
    [...]}`` with no ``id`` (a rolled-back record was never created), the rolled-back one's
    error being ``{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record
    rolled back because not all records were valid and the request was using AllOrNone
    header", "fields": []}``."""
    response = await http.post(
        COLLECTIONS,
        json={
            "allOrNone": True,
            "records": [account("First"), account("Bad", Bogus__c=1), contact("Last")],
        },
    )
    assert response.status_code == 200
    first, bad, last = response.json()
    assert bad["success"] is False
    assert bad["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert "id" not in bad
    for good in (first, last):
        assert good == {"success": False, "errors": [ROLLED_BACK]}
    assert names(org) == []
    assert names(org, "Contact") == []


async def test_create_all_or_none_success_commits(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.post(
        COLLECTIONS, json={"allOrNone": True, "records": [account("X"), contact("Y")]}
    )
    assert [r["success"] for r in response.json()] == [True, True]
    assert names(org) == ["X"]
    assert names(org, "Contact") == ["Y"]


async def test_create_all_or_none_unique_violation_inside_the_request(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    response = await http.post(
        COLLECTIONS,
        json={
            "allOrNone": True,
            "records": [account("One", Ext_Id__c="SAME"), account("Two", Ext_Id__c="SAME")],
        },
    )
    first, second = response.json()
    assert first == {"success": False, "errors": [ROLLED_BACK]}
    assert second["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert names(org) == []


# -- update ----------------------------------------------------------------------------------


async def test_update_needs_id_and_reports_per_record(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id, contact_id = await create_all(http, [account("A"), contact("C")])
    response = await http.patch(
        COLLECTIONS,
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": account_id, "Name": "A2"},
                {"attributes": {"type": "Contact"}, "Name": "no id"},
                {"attributes": {"type": "Contact"}, "Id": contact_id[:15], "Title": "CEO"},
                {"attributes": {"type": "Account"}, "Id": MISSING, "Name": "ghost"},
            ]
        },
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"id": account_id, "success": True, "errors": []}
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["fields"] == ["Id"]
    assert results[2] == {"id": contact_id, "success": True, "errors": []}  # 15 in, 18 out
    assert results[3]["success"] is False
    record = org.store.get(contact_id)
    assert record is not None
    assert record["Title"] == "CEO"
    assert names(org) == ["A2"]


async def test_update_all_or_none_keeps_old_values(http: httpx.AsyncClient, org: LocalOrg) -> None:
    first, second = await create_all(http, [account("First"), account("Second")])
    response = await http.patch(
        COLLECTIONS,
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Id": first, "Name": "Changed"},
                {"attributes": {"type": "Account"}, "Id": second, "Name": "x" * 300},
            ],
        },
    )
    changed, too_long = response.json()
    assert changed == {"id": first, "success": False, "errors": [ROLLED_BACK]}
    assert too_long["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert names(org) == ["First", "Second"]


# -- upsert ----------------------------------------------------------------------------------


async def test_upsert_by_external_id(http: httpx.AsyncClient, org: LocalOrg) -> None:
    existing = (await create_all(http, [account("Old", Ext_Id__c="E-1")]))[0]
    response = await http.patch(
        f"{COLLECTIONS}/Account/Ext_Id__c",
        json={
            "allOrNone": False,
            "records": [
                account("New", Ext_Id__c="E-2"),
                account("Updated", Ext_Id__c="e-1"),
                account("No key"),
            ],
        },
    )
    assert response.status_code == 200
    created, updated, keyless = response.json()
    assert created == {"id": created["id"], "success": True, "errors": [], "created": True}
    assert updated == {"id": existing, "success": True, "errors": [], "created": False}
    assert keyless["success"] is False
    assert keyless["errors"][0]["statusCode"]
    assert names(org) == ["New", "Updated"]


async def test_upsert_all_or_none(http: httpx.AsyncClient, org: LocalOrg) -> None:
    """Salesforce, "Upsert Records Using sObject Collections" (REST API Developer Guide,
    .../resources_composite_sobjects_collections_upsert.htm): "This method returns a list of
    UpsertResult objects", whose ``created`` is a boolean ("true if the record was created,
    false if the record was updated"), so every item has it, failed or rolled back (false:
    nothing was created). The rolled-back insert has no ``id`` (its record never existed);
    the rolled-back update keeps the id of the record it would have changed."""
    existing = (await create_all(http, [account("Old", Ext_Id__c="E-8")]))[0]
    response = await http.patch(
        f"{COLLECTIONS}/Account/Ext_Id__c",
        json={
            "allOrNone": True,
            "records": [
                account("New", Ext_Id__c="E-9"),
                account("Changed", Ext_Id__c="E-8"),
                account("Bad", Ext_Id__c="E-10", X=1),
            ],
        },
    )
    inserted, updated, bad = response.json()
    assert inserted == {"success": False, "errors": [ROLLED_BACK], "created": False}
    assert updated == {"id": existing, "success": False, "errors": [ROLLED_BACK], "created": False}
    assert bad["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert (bad["success"], bad["created"], "id" in bad) == (False, False, False)
    assert names(org) == ["Old"]


async def test_upsert_results_carry_created_when_they_fail(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """Without allOrNone too: UpsertResult's ``created`` is on every item (see above)."""
    response = await http.patch(
        f"{COLLECTIONS}/Account/Ext_Id__c",
        json={"records": [account("New", Ext_Id__c="E-11"), account("No key")]},
    )
    created, keyless = response.json()
    assert created == {"id": created["id"], "success": True, "errors": [], "created": True}
    assert keyless["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert (keyless["success"], keyless["created"]) == (False, False)


@pytest.mark.parametrize("value", [{"a": 1}, ["E-1"], True])
async def test_upsert_refuses_a_non_scalar_external_id(
    http: httpx.AsyncClient, org: LocalOrg, value: Any
) -> None:
    response = await http.patch(
        f"{COLLECTIONS}/Account/Ext_Id__c",
        json={"records": [account("Fine", Ext_Id__c="E-1"), account("Odd", Ext_Id__c=value)]},
    )
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"
    assert names(org) == []  # the body is refused whole


async def test_upsert_unknown_external_id_field(http: httpx.AsyncClient) -> None:
    response = await http.patch(f"{COLLECTIONS}/Account/Name", json={"records": [account("x")]})
    assert response.status_code == 404
    assert only_error(response)["errorCode"] == "NOT_FOUND"


# -- delete ----------------------------------------------------------------------------------


async def test_delete_mixed_types(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account_id, contact_id = await create_all(http, [account("A"), contact("C")])
    response = await http.delete(
        COLLECTIONS, params={"ids": f"{account_id},{contact_id[:15]},{MISSING},garbage"}
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"id": account_id, "success": True, "errors": []}
    assert results[1] == {"id": contact_id, "success": True, "errors": []}
    assert [r["success"] for r in results[2:]] == [False, False]
    assert all(r["errors"][0]["statusCode"] for r in results[2:])
    assert names(org) == []
    assert names(org, "Contact") == []
    again = (await http.delete(COLLECTIONS, params={"ids": account_id})).json()
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


async def test_delete_all_or_none(http: httpx.AsyncClient, org: LocalOrg) -> None:
    """Salesforce, "Delete Records Using sObject Collections", response with ``allOrNone``:
    the rolled-back record keeps its id (``{"id": "001RM000003oLruYAE", "success": false,
    "errors": [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", ..., "fields": []}]}``),
    the failing one carries its own error."""
    account_id, contact_id = await create_all(http, [account("A"), contact("C")])
    response = await http.delete(
        COLLECTIONS, params={"ids": f"{account_id},{MISSING},{contact_id}", "allOrNone": "true"}
    )
    first, missing, last = response.json()
    assert first == {"id": account_id, "success": False, "errors": [ROLLED_BACK]}
    assert last == {"id": contact_id, "success": False, "errors": [ROLLED_BACK]}
    assert missing["success"] is False
    assert missing["errors"][0]["statusCode"] != "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert names(org) == ["A"]
    assert names(org, "Contact") == ["C"]
    assert (await http.get(f"{V}/sobjects/Account/{account_id}")).status_code == 200


# -- retrieve --------------------------------------------------------------------------------


async def test_retrieve_get_and_post(http: httpx.AsyncClient) -> None:
    first, second = await create_all(http, [account("First"), account("Second")])
    (contact_id,) = await create_all(http, [contact("C")])
    ids = [second, MISSING, first[:15], contact_id]
    response = await http.get(
        f"{COLLECTIONS}/Account", params={"ids": ",".join(ids), "fields": "Name,Industry"}
    )
    assert response.status_code == 200
    records = response.json()
    assert records == [
        {
            "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{second}"},
            "Name": "Second",
            "Industry": None,
            "Id": second,
        },
        None,  # unknown id
        {
            "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{first}"},
            "Name": "First",
            "Industry": None,
            "Id": first,
        },
        None,  # an id of another type
    ]
    posted = await http.post(
        f"{COLLECTIONS}/Account", json={"ids": ids, "fields": ["Name", "Industry"]}
    )
    assert posted.status_code == 200
    assert posted.json() == records


async def test_retrieve_needs_fields(http: httpx.AsyncClient) -> None:
    without = await http.get(f"{COLLECTIONS}/Account", params={"ids": MISSING})
    assert without.status_code == 400
    assert isinstance(without.json(), list)
    posted = await http.post(f"{COLLECTIONS}/Account", json={"ids": [MISSING]})
    assert posted.status_code == 400


async def test_retrieve_unknown_field_fails_whole_request(http: httpx.AsyncClient) -> None:
    (account_id,) = await create_all(http, [account("A")])
    response = await http.get(
        f"{COLLECTIONS}/Account", params={"ids": account_id, "fields": "Name,Bogus__c"}
    )
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "INVALID_FIELD"
    posted = await http.post(
        f"{COLLECTIONS}/Account", json={"ids": [account_id], "fields": ["Nope"]}
    )
    assert posted.status_code == 400
    assert only_error(posted)["errorCode"] == "INVALID_FIELD"


async def test_retrieve_deleted_record_is_null(http: httpx.AsyncClient) -> None:
    (account_id,) = await create_all(http, [account("A")])
    await http.delete(f"{V}/sobjects/Account/{account_id}")
    response = await http.get(
        f"{COLLECTIONS}/Account", params={"ids": account_id, "fields": "Name"}
    )
    assert response.json() == [None]


# -- limits and metering ---------------------------------------------------------------------


async def test_more_than_200_records_is_refused(http: httpx.AsyncClient, org: LocalOrg) -> None:
    refused = await http.post(COLLECTIONS, json={"records": [account(f"A{i}") for i in range(201)]})
    assert refused.status_code == 400
    assert isinstance(refused.json(), list)
    assert refused.json()[0]["errorCode"]
    assert names(org) == []
    accepted = await http.post(
        COLLECTIONS, json={"records": [account(f"A{i}") for i in range(200)]}
    )
    assert accepted.status_code == 200
    assert len(accepted.json()) == 200
    assert len(names(org)) == 200
    ids = ",".join([MISSING] * 201)
    assert (await http.delete(COLLECTIONS, params={"ids": ids})).status_code == 400
    retrieve = await http.get(f"{COLLECTIONS}/Account", params={"ids": ids, "fields": "Name"})
    assert retrieve.status_code == 400
    upsert = await http.patch(
        f"{COLLECTIONS}/Account/Ext_Id__c",
        json={"records": [account(f"A{i}", Ext_Id__c=f"E{i}") for i in range(201)]},
    )
    assert upsert.status_code == 400


@pytest.mark.parametrize(
    "body",
    [None, [], {"records": "nope"}, {"allOrNone": True}],
)
async def test_malformed_body_is_refused(http: httpx.AsyncClient, body: Any) -> None:
    response = await http.post(COLLECTIONS, json=body)
    assert response.status_code == 400
    assert isinstance(response.json(), list)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", COLLECTIONS), ("PATCH", COLLECTIONS), ("PATCH", f"{COLLECTIONS}/Account/Ext_Id__c")],
)
@pytest.mark.parametrize("odd", [1, "x", None, ["y"], True, 1.5])
async def test_a_record_that_is_not_an_object_fails_the_whole_request(
    http: httpx.AsyncClient, org: LocalOrg, method: str, path: str, odd: Any
) -> None:
    fine = account("Fine", Ext_Id__c="E-1")
    response = await http.request(method, path, json={"records": [fine, odd]})
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert "Cannot deserialize instance of SObject" in error["message"]
    assert names(org) == []  # refused before any record is written


@pytest.mark.parametrize(
    "body",
    [{"ids": "001", "fields": ["Name"]}, {"ids": [1], "fields": ["Name"]}, {"fields": [1]}],
)
async def test_retrieve_by_post_needs_arrays_of_strings(
    http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await http.post(f"{COLLECTIONS}/Account", json=body)
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


async def test_one_api_call_per_request(http: httpx.AsyncClient, org: LocalOrg) -> None:
    ids = await create_all(http, [account(f"A{i}") for i in range(5)])
    assert org.api_usage == 1
    await http.patch(
        COLLECTIONS,
        json={"records": [{"attributes": {"type": "Account"}, "Id": i, "Phone": "1"} for i in ids]},
    )
    assert org.api_usage == 2
    await http.get(f"{COLLECTIONS}/Account", params={"ids": ",".join(ids), "fields": "Name"})
    assert org.api_usage == 3
    response = await http.delete(COLLECTIONS, params={"ids": ",".join(ids)})
    assert org.api_usage == 4
    assert response.headers["Sforce-Limit-Info"] == f"api-usage=4/{org.daily_api_limit}"
