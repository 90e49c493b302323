"""sf.composite.tree(): sObject Tree against the local org and on the wire (§7)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    CompositeLimitError,
    ConfigurationError,
    FieldValidationError,
    NotFoundError,
    RequiredFieldMissingError,
    ResponseError,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


@pytest.fixture
async def local(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as sf:
        yield sf


def record(ref: str, sobject: str | None = None, **fields: Any) -> dict[str, Any]:
    attributes = {"referenceId": ref} if sobject is None else {"type": sobject, "referenceId": ref}
    return {"attributes": attributes, **fields}


def contacts(*children: dict[str, Any]) -> dict[str, Any]:
    return {"records": list(children)}


async def test_a_tree_returns_the_ids_by_reference(local: Salesforce, org: LocalOrg) -> None:
    usage = org.api_usage
    ids = await local.composite.tree(
        "Account",
        [
            record(
                "acme", Name="Acme", Contacts=contacts(record("doe", "Contact", LastName="Doe"))
            ),
            record("globex", "Account", Name="Globex"),
        ],
    )
    assert org.api_usage == usage + 1
    assert list(ids) == ["acme", "globex", "doe"]  # in the order they were created
    assert org.store.get(ids["doe"])["AccountId"] == ids["acme"]
    assert org.store.get(ids["globex"])["Name"] == "Globex"


async def test_a_failed_tree_raises_with_every_record_error(
    local: Salesforce, org: LocalOrg
) -> None:
    trees = [
        record("acme", Name="Acme", Contacts=contacts(record("doe", "Contact", FirstName="J"))),
    ]
    with pytest.raises(RequiredFieldMissingError) as caught:
        await local.composite.tree("Account", trees)
    [error] = caught.value.errors
    assert error.fields == ("LastName",)
    assert error.extra == {"referenceId": "doe"}
    assert caught.value.status_code == 400
    assert list(org.store.records("Account")) == []  # all or nothing
    bad_email = [record("x", Name="X", Contacts=contacts(record("y", "Contact", LastName="Y",
                                                                  Email="123")))]  # fmt: skip
    with pytest.raises(FieldValidationError, match="INVALID_EMAIL_ADDRESS"):
        await local.composite.tree("Account", bad_email)
    with pytest.raises(NotFoundError):
        await local.composite.tree("Nope__c", [record("r", Name="R")])


async def test_tree_checks_before_sending(local: Salesforce, org: LocalOrg) -> None:
    usage = org.api_usage
    many = [record(f"r{n}", Name=str(n)) for n in range(201)]
    with pytest.raises(CompositeLimitError, match="200"):
        await local.composite.tree("Account", many)
    deep = record("l6", "Account", Name="6")
    for level in range(5, 0, -1):
        deep = record(f"l{level}", "Account", Name=str(level), ChildAccounts=contacts(deep))
    with pytest.raises(CompositeLimitError, match="5 levels"):
        await local.composite.tree("Account", [deep])
    six_types = record(
        "a",
        Name="A",
        Contacts=contacts(record("c", "Contact", LastName="C")),
        Opportunities=contacts(record("o", "Opportunity", Name="O")),
        Cases=contacts(record("k", "Case")),
        Tasks=contacts(record("t", "Task")),
        Others=contacts(record("l", "Lead")),
    )
    with pytest.raises(CompositeLimitError, match="5 types"):
        await local.composite.tree("Account", [six_types])
    refused: list[list[Any]] = [
        [],
        [record("bad ref", Name="A")],
        [{"Name": "no attributes"}],
        [record("a", Name="A"), record("a", Name="B")],
        [record("c", "Contact", LastName="C")],  # a root of another type
        [record("a", Name="A", Contacts=contacts({"attributes": {"referenceId": "c"}}))],
        ["not a record"],
    ]
    for records in refused:
        with pytest.raises(ConfigurationError):
            await local.composite.tree("Account", records)
    with pytest.raises(ConfigurationError):
        await local.composite.tree("Account", {"records": []})  # type: ignore[arg-type]
    assert org.api_usage == usage  # nothing was sent


async def test_a_200_record_tree(local: Salesforce, org: LocalOrg) -> None:
    ids = await local.composite.tree("Account", [record(f"r{n}", Name=str(n)) for n in range(200)])
    assert len(ids) == 200 and len(list(org.store.records("Account"))) == 200


# -- on the wire ---------------------------------------------------------------------------------


async def test_the_tree_on_the_wire(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite/tree/Account").mock(
        return_value=httpx.Response(
            201,
            json={
                "hasErrors": False,
                "results": [
                    {"referenceId": "ref1", "id": "001D000000K0fXOIAZ"},
                    {"referenceId": "ref2", "id": "003D000000QV9n2IAD"},
                ],
            },
        )
    )
    ids = await sf.composite.tree(
        "Account",
        [record("ref1", Name="Acme", Contacts=contacts(record("ref2", "Contact", LastName="S")))],
    )
    assert ids == {"ref1": "001D000000K0fXOIAZ", "ref2": "003D000000QV9n2IAD"}
    assert json.loads(route.calls.last.request.content) == {
        "records": [
            {
                "attributes": {"referenceId": "ref1", "type": "Account"},
                "Name": "Acme",
                "Contacts": {
                    "records": [
                        {"attributes": {"type": "Contact", "referenceId": "ref2"}, "LastName": "S"}
                    ]
                },
            }
        ]
    }


async def test_every_per_record_error_is_kept(sf: Salesforce, router: respx.Router) -> None:
    duplicate = {"statusCode": "INVALID_INPUT", "message": "Duplicate ReferenceId provided in "
                 "the request.", "fields": []}  # fmt: skip
    router.post(f"{V}/composite/tree/Account").mock(
        return_value=httpx.Response(
            400,
            json={
                "hasErrors": True,
                "results": [
                    {"referenceId": "ref1", "errors": [duplicate]},
                    {"referenceId": "ref1", "errors": [duplicate]},
                ],
            },
        )
    )
    with pytest.raises(ResponseError) as caught:
        await sf.composite.tree("Account", [record("ref1", Name="A")])
    assert [(e.code, e.extra["referenceId"]) for e in caught.value.errors] == [
        ("INVALID_INPUT", "ref1"),
        ("INVALID_INPUT", "ref1"),
    ]


async def test_an_unexpected_answer_is_an_error(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/composite/tree/Account").mock(
        return_value=httpx.Response(201, json={"hasErrors": False, "results": [{"id": "x"}]})
    )
    with pytest.raises(ResponseError, match="UNEXPECTED_RESPONSE"):
        await sf.composite.tree("Account", [record("ref1", Name="A")])
