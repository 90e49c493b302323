"""Composite Batch and Composite on the local org (salesforce-rest.md §4, §5)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
BATCH = f"{V}/composite/batch"
COMPOSITE = f"{V}/composite"
ROLLED_BACK = (
    "The transaction was rolled back since another operation in the same transaction failed."
)
MISSING = "001000000000000AAA"  # well-formed, never issued


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    return org


async def create(http: httpx.AsyncClient, sobject: str, data: dict[str, Any]) -> str:
    response = await http.post(f"{V}/sobjects/{sobject}", json=data)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def accounts(org: LocalOrg) -> list[dict[str, Any]]:
    return list(org.store.records("Account"))


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    return dict(body[0])


def has_run_query() -> bool:
    soql = pytest.importorskip("sobjects.emulator.soql")
    return hasattr(soql, "run_query")


# -- Composite Batch -----------------------------------------------------------------------------


async def test_batch_results_match_standalone_calls(http: httpx.AsyncClient) -> None:
    account_id = await create(http, "Account", {"Name": "Acme"})
    batch = {
        "batchRequests": [
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "New"}},
            {"method": "GET", "url": f"v62.0/sobjects/Account/{account_id}?fields=Name"},
            {
                "method": "PATCH",
                "url": f"v62.0/sobjects/Account/{account_id}",
                "richInput": {"Name": "Renamed"},
            },
            {"method": "PATCH", "url": "v62.0/sobjects/Account/Ext_Id__c/E-1", "richInput": {
                "Name": "Upserted"}},
            {"method": "PATCH", "url": "v62.0/sobjects/Account/Ext_Id__c/E-1", "richInput": {
                "Name": "Upserted again"}},
            {"method": "GET", "url": f"v62.0/sobjects/Account/{MISSING}"},
            {"method": "DELETE", "url": f"v62.0/sobjects/Account/{account_id}"},
        ]
    }  # fmt: skip
    response = await http.post(BATCH, json=batch)
    assert response.status_code == 200
    body = response.json()
    assert body["hasErrors"] is True
    results = body["results"]
    assert [r["statusCode"] for r in results] == [201, 200, 204, 201, 200, 404, 204]
    created = results[0]["result"]
    assert created == {"id": created["id"], "success": True, "errors": []}
    assert results[1]["result"] == {
        "attributes": {"type": "Account", "url": f"{V}/sobjects/Account/{account_id}"},
        "Name": "Acme",
        "Id": account_id,
    }
    assert results[2]["result"] is None
    upserted = results[3]["result"]
    assert upserted == {"id": upserted["id"], "success": True, "errors": [], "created": True}
    assert results[4]["result"] == {
        "id": upserted["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert results[5]["result"] == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]
    assert results[6]["result"] is None
    # Each one really happened, in order.
    assert (await http.get(f"{V}/sobjects/Account/{created['id']}")).status_code == 200
    renamed = await http.get(f"{V}/sobjects/Account/{account_id}")
    assert only_error(renamed)["errorCode"] == "ENTITY_IS_DELETED"
    upserted_record = (await http.get(f"{V}/sobjects/Account/{upserted['id']}")).json()
    assert upserted_record["Name"] == "Upserted again"


async def test_batch_without_errors(http: httpx.AsyncClient) -> None:
    batch = {"batchRequests": [{"method": "GET", "url": "v62.0/limits"}]}
    body = (await http.post(BATCH, json=batch)).json()
    assert body["hasErrors"] is False
    assert body["results"][0]["statusCode"] == 200
    assert "DailyApiRequests" in body["results"][0]["result"]


async def test_batch_of_25_runs_and_26_is_refused_whole(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    def creates(n: int) -> dict[str, Any]:
        return {
            "batchRequests": [
                {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": f"A{i}"}}
                for i in range(n)
            ]
        }

    refused = await http.post(BATCH, json=creates(26))
    assert refused.status_code == 400
    assert isinstance(refused.json(), list)
    assert refused.json()[0]["errorCode"]
    assert accounts(org) == []  # nothing executed
    assert org.api_usage == 1  # and not charged 26 calls
    accepted = await http.post(BATCH, json=creates(25))
    assert accepted.status_code == 200
    assert [r["statusCode"] for r in accepted.json()["results"]] == [201] * 25
    assert len(accounts(org)) == 25


async def test_batch_halt_on_error_skips_the_rest(http: httpx.AsyncClient, org: LocalOrg) -> None:
    batch = {
        "haltOnError": True,
        "batchRequests": [
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "First"}},
            {"method": "GET", "url": f"v62.0/sobjects/Account/{MISSING}"},
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "Never"}},
            {"method": "GET", "url": "v62.0/limits"},
        ],
    }
    body = (await http.post(BATCH, json=batch)).json()
    assert body["hasErrors"] is True
    results = body["results"]
    assert [r["statusCode"] for r in results] == [201, 404, 412, 412]
    for halted in results[2:]:
        assert [e["errorCode"] for e in halted["result"]] == ["BATCH_PROCESSING_HALTED"]
    # The halted create was not executed; the first one stays committed.
    assert [a["Name"] for a in accounts(org)] == ["First"]


async def test_batch_without_halt_runs_everything_in_order(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    batch = {
        "haltOnError": False,
        "batchRequests": [
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "One"}},
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Bogus__c": 1}},
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "Two"}},
        ],
    }
    body = (await http.post(BATCH, json=batch)).json()
    assert [r["statusCode"] for r in body["results"]] == [201, 400, 201]
    assert body["results"][1]["result"][0]["errorCode"] == "INVALID_FIELD"
    # A later failure does not undo an earlier create; ids follow the execution order.
    names = [a["Name"] for a in sorted(accounts(org), key=lambda a: a["Id"])]
    assert names == ["One", "Two"]


async def test_batch_subrequests_see_earlier_commits(http: httpx.AsyncClient) -> None:
    batch = {
        "batchRequests": [
            {"method": "PATCH", "url": "v62.0/sobjects/Account/Ext_Id__c/S-1", "richInput": {
                "Name": "Seq"}},
            {"method": "GET", "url": "v62.0/sobjects/Account/Ext_Id__c/S-1?fields=Name"},
            {"method": "DELETE", "url": "v62.0/sobjects/Account/Ext_Id__c/S-1"},
            {"method": "GET", "url": "v62.0/sobjects/Account/Ext_Id__c/S-1"},
        ]
    }  # fmt: skip
    results = (await http.post(BATCH, json=batch)).json()["results"]
    assert [r["statusCode"] for r in results] == [201, 200, 204, 404]
    assert results[1]["result"]["Name"] == "Seq"


async def test_batch_counts_one_call_per_subrequest(http: httpx.AsyncClient, org: LocalOrg) -> None:
    batch = {
        "batchRequests": [
            {"method": "GET", "url": "v62.0/limits"},
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "x"}},
            {"method": "GET", "url": f"v62.0/sobjects/Account/{MISSING}"},
            {"method": "GET", "url": "v62.0/limits"},
        ]
    }
    response = await http.post(BATCH, json=batch)
    assert org.api_usage == 4
    assert response.headers["Sforce-Limit-Info"] == f"api-usage=4/{org.daily_api_limit}"


@pytest.mark.parametrize(
    "sub",
    [
        {"url": "v62.0/limits"},  # no method
        {"method": "GET"},  # no url
        {"method": "FETCH", "url": "v62.0/limits"},  # not an HTTP method Salesforce takes
        {"method": "GET", "url": "limits"},  # no version
    ],
)
async def test_batch_envelope_errors_refuse_the_whole_batch(
    http: httpx.AsyncClient, org: LocalOrg, sub: dict[str, Any]
) -> None:
    batch = {
        "batchRequests": [
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "x"}},
            sub,
        ]
    }
    response = await http.post(BATCH, json=batch)
    assert response.status_code == 400, response.text
    assert isinstance(response.json(), list)
    assert accounts(org) == []  # nothing executed


INNER_BATCH = {
    "batchRequests": [
        {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": f"n{n}"}}
        for n in range(25)
    ]
}


@pytest.mark.parametrize(
    ("sub", "message"),
    [
        ({"method": "POST", "url": "v62.0/composite/batch", "richInput": INNER_BATCH}, "composite"),
        (
            {"method": "POST", "url": "v62.0/composite", "richInput": {"compositeRequest": []}},
            "composite",
        ),
        (
            {
                "method": "POST",
                "url": "v62.0/composite/sobjects",
                "richInput": {"records": [{"attributes": {"type": "Account"}, "Name": "x"}]},
            },
            "composite/sobjects",
        ),
        ({"method": "GET", "url": "v99.0/limits"}, "v99.0"),  # not a version the org serves
        ({"method": "GET", "url": "v63.0/limits"}, "v63.0"),  # above the batch's own v62.0
        ({"method": "GET", "url": "v33.0/limits"}, "v33.0"),  # Composite Batch starts at 34.0
        ({"method": "GET", "url": "v1.0/limits"}, "v1.0"),
    ],
)
async def test_batch_refuses_nesting_and_foreign_versions(
    http: httpx.AsyncClient, org: LocalOrg, sub: dict[str, Any], message: str
) -> None:
    batch = {
        "batchRequests": [
            {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "x"}},
            sub,
        ]
    }
    response = await http.post(BATCH, json=batch)
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "INVALID_BATCH_REQUEST"
    assert message in only_error(response)["message"]
    assert accounts(org) == []  # nothing executed
    assert org.api_usage == 1  # and only the refused request is metered


async def test_batch_subrequests_may_use_an_older_version(http: httpx.AsyncClient) -> None:
    batch = {"batchRequests": [{"method": "GET", "url": "v34.0/limits"}]}
    response = await http.post(BATCH, json=batch)
    assert [r["statusCode"] for r in response.json()["results"]] == [200]


async def test_batch_needs_post(http: httpx.AsyncClient) -> None:
    response = await http.get(BATCH)
    assert response.status_code == 405
    assert only_error(response)["errorCode"] == "METHOD_NOT_ALLOWED"


# -- Composite -----------------------------------------------------------------------------------


def sub(method: str, path: str, ref: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"method": method, "url": f"{V}/{path}", "referenceId": ref}
    if body is not None:
        item["body"] = body
    item.update(extra)
    return item


async def test_composite_references_in_body_and_url(http: httpx.AsyncClient, org: LocalOrg) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", "NewAccount", {
                "Name": "Acme", "NumberOfEmployees": 42}),
            sub("GET", "sobjects/Account/@{NewAccount.id}", "GetAccount"),
            sub("POST", "sobjects/Contact", "NewContact", {
                "LastName": "Doe",
                "AccountId": "@{NewAccount.id}",
                "Description": "works at @{GetAccount.Name} (@{GetAccount.NumberOfEmployees})",
            }),
            sub("POST", "sobjects/Opportunity", "NewDeal", {
                "Name": "Deal",
                "StageName": "Prospecting",
                "CloseDate": "2026-01-01",
                "AccountId": "@{GetAccount.Id}",
                "Amount": "@{GetAccount.NumberOfEmployees}",
            }),
            sub("PATCH", "sobjects/Contact/@{NewContact.id}", "Rename", {"Title": "CEO"}),
        ]
    }  # fmt: skip
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 200
    items = response.json()["compositeResponse"]
    # Response order matches the request; each item carries its referenceId.
    assert [i["referenceId"] for i in items] == [
        "NewAccount",
        "GetAccount",
        "NewContact",
        "NewDeal",
        "Rename",
    ]
    assert [i["httpStatusCode"] for i in items] == [201, 200, 201, 201, 204]
    account_id = items[0]["body"]["id"]
    assert items[0]["body"] == {"id": account_id, "success": True, "errors": []}
    assert items[0]["httpHeaders"] == {"Location": f"{V}/sobjects/Account/{account_id}"}
    assert items[1]["body"]["Id"] == account_id
    assert items[1]["httpHeaders"] == {}
    assert items[4]["body"] is None  # a 204 has a null body
    contact = org.store.get(items[2]["body"]["id"])
    assert contact is not None
    assert contact["AccountId"] == account_id
    assert contact["Description"] == "works at Acme (42)"
    assert contact["Title"] == "CEO"
    deal = org.store.get(items[3]["body"]["id"])
    assert deal is not None
    assert deal["AccountId"] == account_id
    assert deal["Amount"] == 42  # a whole-value reference keeps its type


async def test_composite_reference_keeps_booleans_and_numbers(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    contact_id = await create(http, "Contact", {"LastName": "Src", "DoNotCall": True})
    request = {
        "compositeRequest": [
            sub("GET", f"sobjects/Contact/{contact_id}", "Src"),
            sub(
                "POST",
                "sobjects/Contact",
                "Copy",
                {"LastName": "Copy", "DoNotCall": "@{Src.DoNotCall}"},
            ),
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [200, 201], items
    copy = org.store.get(items[1]["body"]["id"])
    assert copy is not None
    assert copy["DoNotCall"] is True


async def test_composite_references_are_case_sensitive(http: httpx.AsyncClient) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", "acc", {"Name": "Acme"}),
            # A create result exposes "id", not "Id".
            sub("GET", "sobjects/Account/@{acc.Id}", "get"),
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert items[0]["httpStatusCode"] == 201
    assert items[1]["httpStatusCode"] == 400
    assert items[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"


async def test_composite_query_reference(http: httpx.AsyncClient, org: LocalOrg) -> None:
    if not has_run_query():
        pytest.skip("the SOQL engine is not in yet")
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Contact", "NewContact", {"LastName": "Queried"}),
            sub(
                "GET",
                "query/?q=SELECT+Id,LastName+FROM+Contact+WHERE+LastName=%27Queried%27",
                "Found",
            ),
            sub("PATCH", "sobjects/Contact/@{Found.records[0].Id}", "Update", {"Title": "CEO"}),
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [201, 200, 204], items
    assert items[1]["body"]["totalSize"] == 1
    contact = org.store.get(items[0]["body"]["id"])
    assert contact is not None
    assert contact["Title"] == "CEO"


async def test_composite_all_or_none_rolls_everything_back(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    existing = await create(http, "Account", {"Name": "Before"})
    request = {
        "allOrNone": True,
        "compositeRequest": [
            sub("POST", "sobjects/Account", "First", {"Name": "Rolled back"}),
            sub("PATCH", f"sobjects/Account/{existing}", "Rename", {"Name": "After"}),
            sub("POST", "sobjects/Contact", "Bad", {"FirstName": "No last name"}),
            sub("POST", "sobjects/Account", "Later", {"Name": "Never run"}),
        ],
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 200
    items = response.json()["compositeResponse"]
    assert [i["referenceId"] for i in items] == ["First", "Rename", "Bad", "Later"]
    assert [i["httpStatusCode"] for i in items] == [400, 400, 400, 400]
    # The failing subrequest keeps its real error ...
    assert items[2]["body"] == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    # ... every other one reports the rollback.
    halted = [{"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK}]
    for index in (0, 1, 3):
        assert items[index]["body"] == halted
    # Nothing was kept: the account created first is gone, the rename undone.
    assert [a["Name"] for a in accounts(org)] == ["Before"]
    assert list(org.store.records("Contact")) == []
    assert (await http.get(f"{V}/sobjects/Account/{existing}")).json()["Name"] == "Before"


async def test_composite_all_or_none_rolled_back_create_answers_404(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "allOrNone": True,
        "compositeRequest": [
            sub("POST", "sobjects/Account", "First", {"Name": "Temp"}),
            sub("GET", "sobjects/Account/@{First.id}", "Seen"),
            # Fails, and its real error message shows the id the create got.
            sub("PATCH", "sobjects/Account/Ext_Id__c/X", "Fail", {"Ext_Id__c": "@{First.id}"}),
        ],
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [400, 400, 400]
    assert items[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert items[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    message = items[2]["body"][0]["message"]
    rolled_back_id = message[message.index("001") :][:18]
    gone = await http.get(f"{V}/sobjects/Account/{rolled_back_id}")
    assert gone.status_code == 404
    assert only_error(gone)["errorCode"] == "NOT_FOUND"
    assert org.store.get(rolled_back_id) is None
    assert accounts(org) == []
    # Its id is not handed out again.
    assert await create(http, "Account", {"Name": "Next"}) != rolled_back_id


async def test_composite_all_or_none_success_commits(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "allOrNone": True,
        "compositeRequest": [
            sub("POST", "sobjects/Account", "A", {"Name": "Kept"}),
            sub("POST", "sobjects/Contact", "C", {"LastName": "Kept", "AccountId": "@{A.id}"}),
        ],
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [201, 201]
    assert (await http.get(f"{V}/sobjects/Account/{items[0]['body']['id']}")).status_code == 200
    assert (await http.get(f"{V}/sobjects/Contact/{items[1]['body']['id']}")).status_code == 200


async def test_composite_without_all_or_none_commits_independently(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "allOrNone": False,
        "compositeRequest": [
            sub("POST", "sobjects/Account", "Good", {"Name": "Kept"}),
            sub("POST", "sobjects/Account", "Bad", {"Bogus__c": 1}),
            sub("POST", "sobjects/Contact", "Dependent", {
                "LastName": "x", "AccountId": "@{Bad.id}"}),
            sub("POST", "sobjects/Contact", "Independent", {
                "LastName": "y", "AccountId": "@{Good.id}"}),
        ],
    }  # fmt: skip
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [201, 400, 400, 201]
    assert items[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    dependent = items[2]["body"]
    assert len(dependent) == 1
    assert dependent[0]["errorCode"] == "PROCESSING_HALTED"
    assert dependent[0]["message"].startswith("Invalid reference specified.")
    assert "Bad.id" in dependent[0]["message"]
    assert [a["Name"] for a in accounts(org)] == ["Kept"]
    contacts = list(org.store.records("Contact"))
    assert [(c["LastName"], c["AccountId"]) for c in contacts] == [("y", items[0]["body"]["id"])]


async def test_composite_counts_one_call(http: httpx.AsyncClient, org: LocalOrg) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", f"a{i}", {"Name": f"A{i}"}) for i in range(10)
        ]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 200
    assert org.api_usage == 1
    assert response.headers["Sforce-Limit-Info"] == f"api-usage=1/{org.daily_api_limit}"


async def test_composite_limits(http: httpx.AsyncClient, org: LocalOrg) -> None:
    too_many = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", f"a{i}", {"Name": f"A{i}"}) for i in range(26)
        ]
    }
    response = await http.post(COMPOSITE, json=too_many)
    assert response.status_code == 400
    assert isinstance(response.json(), list)
    assert accounts(org) == []
    just_enough = {"compositeRequest": too_many["compositeRequest"][:25]}
    ok = await http.post(COMPOSITE, json=just_enough)
    assert [i["httpStatusCode"] for i in ok.json()["compositeResponse"]] == [201] * 25


@pytest.mark.parametrize(
    "path",
    [
        "query/?q=SELECT+Id+FROM+Account",
        "queryAll/?q=SELECT+Id+FROM+Account",
        "composite/sobjects/Account?ids=001000000000000AAA&fields=Name",
    ],
)
async def test_composite_at_most_five_query_or_collection_subrequests(
    http: httpx.AsyncClient, org: LocalOrg, path: str
) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", "first", {"Name": "Never"}),
            *[sub("GET", path, f"q{i}") for i in range(6)],
        ]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400
    assert isinstance(response.json(), list)
    assert accounts(org) == []  # refused before anything ran


async def test_composite_five_collection_subrequests_are_fine(http: httpx.AsyncClient) -> None:
    request = {
        "compositeRequest": [
            sub("GET", f"composite/sobjects/Account?ids={MISSING}&fields=Name", f"q{i}")
            for i in range(5)
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [200] * 5
    assert items[0]["body"] == [None]


@pytest.mark.parametrize("ref", ["refNewAccount[1]", "_ref", "ref-1", "", None, 7])
async def test_composite_illegal_reference_id(
    http: httpx.AsyncClient, org: LocalOrg, ref: Any
) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", "good", {"Name": "Never"}),
            {"method": "GET", "url": f"{V}/limits", "referenceId": ref},
        ]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400
    error = only_error(response)
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    if ref == "refNewAccount[1]":
        assert error["message"] == (
            "Provided referenceId ('refNewAccount[1]') must start with a letter or a number, "
            "and it can contain only letters, numbers and underscores ('_')."
        )
    assert accounts(org) == []


@pytest.mark.parametrize("header", ["Authorization", "accept", "Content-Type"])
async def test_composite_forbidden_subrequest_headers(
    http: httpx.AsyncClient, org: LocalOrg, header: str
) -> None:
    request = {
        "compositeRequest": [
            sub("POST", "sobjects/Account", "a", {"Name": "Never"}),
            sub("GET", "limits", "b", httpHeaders={header: "x"}),
        ]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400
    assert isinstance(response.json(), list)
    assert accounts(org) == []


async def test_composite_allowed_subrequest_header(http: httpx.AsyncClient) -> None:
    request = {
        "compositeRequest": [
            sub("GET", "limits", "b", httpHeaders={"Sforce-Auto-Assign": "FALSE"}),
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert items[0]["httpStatusCode"] == 200


@pytest.mark.parametrize(
    "bad",
    [
        {"url": f"{V}/limits", "referenceId": "x"},  # no method
        {"method": "GET", "referenceId": "x"},  # no url
        {"method": "get", "url": f"{V}/limits", "referenceId": "x"},  # methods are case-sensitive
        {"method": "GET", "url": "limits", "referenceId": "x"},  # not /services/data/vNN.N/
        {"method": "GET", "url": f"{V}/limits", "referenceId": "x", "httpHeaders": ["a"]},
    ],
)
async def test_composite_envelope_errors_refuse_the_whole_request(
    http: httpx.AsyncClient, org: LocalOrg, bad: dict[str, Any]
) -> None:
    request = {
        "compositeRequest": [sub("POST", "sobjects/Account", "first", {"Name": "Never"}), bad]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400, response.text
    assert isinstance(response.json(), list)
    assert accounts(org) == []


@pytest.mark.parametrize(
    "bad",
    [
        sub("POST", "composite", "x", {"compositeRequest": [sub("GET", "limits", "y")]}),
        sub("POST", "composite/batch", "x", {"batchRequests": []}),
        sub("POST", "composite/tree/Account", "x", {"records": []}),
        {"method": "GET", "url": "/services/data/v63.0/limits", "referenceId": "x"},
        {"method": "GET", "url": "/services/data/v20.0/limits", "referenceId": "x"},
    ],
)
async def test_composite_refuses_nesting_and_foreign_versions(
    http: httpx.AsyncClient, org: LocalOrg, bad: dict[str, Any]
) -> None:
    request = {
        "compositeRequest": [sub("POST", "sobjects/Account", "first", {"Name": "Never"}), bad]
    }
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "INVALID_API_INPUT"
    assert accounts(org) == []


async def test_composite_duplicate_reference_id(http: httpx.AsyncClient) -> None:
    request = {"compositeRequest": [sub("GET", "limits", "same"), sub("GET", "limits", "same")]}
    response = await http.post(COMPOSITE, json=request)
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


async def test_composite_embedded_collection_is_rolled_back(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "allOrNone": True,
        "compositeRequest": [
            sub(
                "POST",
                "composite/sobjects",
                "Many",
                {
                    "allOrNone": False,
                    "records": [
                        {"attributes": {"type": "Account"}, "Name": "In collection"},
                        {"attributes": {"type": "Contact"}, "LastName": "In collection"},
                    ],
                },
            ),
            sub("POST", "sobjects/Contact", "Bad", {"FirstName": "No last name"}),
        ],
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert items[1]["httpStatusCode"] == 400
    assert items[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    # Whatever the collection reported, the outer rollback undid it.
    assert accounts(org) == []
    assert list(org.store.records("Contact")) == []


async def test_composite_all_or_none_overrides_embedded_collection(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """Outer allOrNone true wins over the collection's own false: one bad record rolls back
    the whole composite request."""
    request = {
        "allOrNone": True,
        "compositeRequest": [
            sub("POST", "sobjects/Account", "First", {"Name": "Rolled back"}),
            sub(
                "POST",
                "composite/sobjects",
                "Many",
                {
                    "allOrNone": False,
                    "records": [
                        {"attributes": {"type": "Account"}, "Name": "Good"},
                        {"attributes": {"type": "Account"}, "Bogus__c": 1},
                    ],
                },
            ),
        ],
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert items[0]["httpStatusCode"] == 400
    assert items[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    results = items[1]["body"]
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert accounts(org) == []


async def test_composite_collection_keeps_its_own_flag_when_outer_is_false(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "allOrNone": False,
        "compositeRequest": [
            sub(
                "POST",
                "composite/sobjects",
                "Many",
                {
                    "allOrNone": False,
                    "records": [
                        {"attributes": {"type": "Account"}, "Name": "Good"},
                        {"attributes": {"type": "Account"}, "Bogus__c": 1},
                    ],
                },
            ),
        ],
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    assert items[0]["httpStatusCode"] == 200
    assert [r["success"] for r in items[0]["body"]] == [True, False]
    assert [a["Name"] for a in accounts(org)] == ["Good"]


async def test_composite_subrequest_headers_reach_the_resource(http: httpx.AsyncClient) -> None:
    if not has_run_query():
        pytest.skip("the SOQL engine is not in yet")
    for names in (range(200), range(200, 201)):
        created = await http.post(
            f"{V}/composite/sobjects",
            json={"records": [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in names]},
        )
        assert all(r["success"] for r in created.json())
    request = {
        "compositeRequest": [
            sub(
                "GET",
                "query/?q=SELECT+Id+FROM+Account",
                "paged",
                httpHeaders={"Sforce-Query-Options": "batchSize=200"},
            ),
        ]
    }
    items = (await http.post(COMPOSITE, json=request)).json()["compositeResponse"]
    page = items[0]["body"]
    assert items[0]["httpStatusCode"] == 200
    assert (page["totalSize"], len(page["records"]), page["done"]) == (201, 200, False)
    assert page["nextRecordsUrl"].startswith(f"{V}/query/01g")
