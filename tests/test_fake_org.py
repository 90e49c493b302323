"""The fake org itself, driven through the real client (``sobjects.Salesforce``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sobjects import Salesforce
from sobjects.auth import ClientCredentials, StaticToken
from sobjects.errors import (
    EntityIsDeletedError,
    InvalidFieldError,
    MalformedQueryError,
    MultipleRecordsError,
    NotFoundError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    SessionExpiredError,
)
from tests.conftest import FAST_RETRY, INSTANCE
from tests.fake_org import FakeOrg

pytestmark = pytest.mark.anyio


@pytest.fixture
def org() -> FakeOrg:
    return FakeOrg.with_demo_data()


@pytest.fixture
async def sf(org: FakeOrg) -> AsyncIterator[Salesforce]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(org.handle)) as http:
        auth = ClientCredentials("3MVG9example", "example-secret")
        yield Salesforce(INSTANCE, auth=auth, httpx_client=http, retry=FAST_RETRY)


async def test_create_get_update_delete(sf: Salesforce, org: FakeOrg) -> None:
    account_id = await sf.sobject.create("Account", {"Name": "Umbrella", "Industry": "Biotech"})
    assert len(account_id) == 18 and account_id.startswith("001")
    contact_id = await sf.sobject.create("Contact", {"LastName": "Wesker", "AccountId": account_id})
    record = await sf.sobject.get("Contact", contact_id, fields=["lastname", "AccountId"])
    assert list(record) == ["attributes", "LastName", "AccountId", "Id"]
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v62.0/sobjects/Contact/{contact_id}",
    }
    assert record["AccountId"] == account_id
    await sf.sobject.update("Contact", contact_id, {"FirstName": "Albert"})
    assert (await sf.sobject.get("Contact", contact_id))["Name"] == "Albert Wesker"
    await sf.sobject.delete("Contact", contact_id)
    with pytest.raises(EntityIsDeletedError):
        await sf.sobject.delete("Contact", contact_id)
    with pytest.raises(NotFoundError):
        await sf.sobject.get("Contact", account_id)  # an Account id is not a Contact
    assert sf.api_usage is not None and sf.api_usage.used == org.api_usage == 8


async def test_validation_errors(sf: Salesforce) -> None:
    with pytest.raises(RequiredFieldMissingError) as missing:
        await sf.sobject.create("Contact", {"FirstName": "Jon"})
    assert missing.value.errors[0].fields == ("LastName",)
    with pytest.raises(InvalidFieldError):
        await sf.sobject.create("Account", {"Name": "X", "Colour__c": "red"})
    with pytest.raises(NotFoundError):
        await sf.sobject.create("Invoice__c", {"Name": "X"})


async def test_upsert_by_external_id(sf: Salesforce, org: FakeOrg) -> None:
    created = await sf.sobject.upsert(
        "Account", {"Ext_Id__c": "A-900", "Name": "Hooli"}, external_id_field="Ext_Id__c"
    )
    updated = await sf.sobject.upsert(
        "Account", {"Ext_Id__c": "a-900", "Phone": "555"}, external_id_field="Ext_Id__c"
    )
    assert created.created and not updated.created and created.id == updated.id
    record = await sf.sobject.get("Account", "A-900", external_id_field="Ext_Id__c")
    assert (record["Name"], record["Phone"]) == ("Hooli", "555")
    org.insert("Account", {"Name": "Hooli 2", "Ext_Id__c": "A-900"})
    with pytest.raises(MultipleRecordsError) as several:
        await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "A-900", "Name": "?"}, external_id_field="Ext_Id__c"
        )
    assert len(several.value.urls) == 2
    with pytest.raises(NotFoundError):
        await sf.sobject.upsert("Account", {"Name": "A"}, external_id_field="Name")


async def test_query_filters_orders_and_pages(sf: Salesforce, org: FakeOrg) -> None:
    names = [r["Name"] async for r in sf.query("select Name from Account order by Name desc")]
    assert names == ["Initech", "Globex", "Acme"]
    acme = await sf.query("SELECT Id FROM Account WHERE Name = 'acme'").all()
    soql = f"SELECT LastName, FirstName FROM Contact WHERE AccountId = '{acme[0]['Id']}'"
    doe = await sf.query(soql + " AND FirstName = 'Jane'").all()
    assert [list(r) for r in doe] == [["attributes", "LastName", "FirstName"]]
    assert await sf.query(soql).count() == 2
    for i in range(450):
        org.insert("Contact", {"LastName": f"Bulk {i}", "Department": "O'Neil\\s"})
    query = sf.query(
        r"SELECT Id FROM Contact WHERE Department = 'O\'Neil\\s' LIMIT 420", batch_size=200
    )
    pages = [len(page) async for page in query.pages()]
    assert pages == [200, 200, 20] and query.total_size == 420
    assert await sf.query("SELECT COUNT() FROM Contact WHERE Department = null").count() == 5


async def test_query_outside_the_subset_is_refused(sf: Salesforce) -> None:
    for soql in [
        "SELECT Account.Name FROM Contact",
        "SELECT Id FROM Contact WHERE LastName LIKE 'D%'",
        "SELECT Id FROM Contact WHERE LastName = 'Doe' OR FirstName = 'X'",
        "SELECT Id FROM Contact OFFSET 5",
    ]:
        with pytest.raises(MalformedQueryError):
            await sf.query(soql).all()
    with pytest.raises(InvalidFieldError):
        await sf.query("SELECT Nope FROM Contact").all()


async def test_deleted_rows_only_in_query_all(sf: Salesforce) -> None:
    (doe,) = await sf.query("SELECT Id FROM Contact WHERE FirstName = 'John'").all()
    await sf.sobject.delete("Contact", doe["Id"])
    soql = "SELECT Id, IsDeleted FROM Contact WHERE LastName = 'Doe'"
    assert len(await sf.query(soql).all()) == 1
    rows = await sf.query(soql, include_deleted=True).all()
    assert sorted(r["IsDeleted"] for r in rows) == [False, True]


async def test_batch_halts_and_counts_each_subrequest(sf: Salesforce, org: FakeOrg) -> None:
    async with sf.composite.batch(halt_on_error=True) as batch:
        ok = batch.sobject.create("Account", {"Name": "Soylent"})
        bad = batch.sobject.create("Account", {"Industry": "Food"})
        halted = batch.sobject.create("Account", {"Name": "Never"})
    assert ok.is_success and bad.status_code == 400 and halted.status_code == 412
    with pytest.raises(ProcessingHaltedError):
        halted.raise_for_status()
    assert org.api_usage == 3  # one per subrequest; the token request is free
    assert await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Never'").count() == 0


async def test_composite_references_and_rollback(sf: Salesforce, org: FakeOrg) -> None:
    async with sf.composite(all_or_none=True) as composite:
        account = composite.sobject.create("Account", {"Name": "Stark"})
        contact = composite.sobject.create(
            "Contact", {"LastName": "Potts", "AccountId": account.reference.id}
        )
        query = composite.query("SELECT Id, Name FROM Account WHERE Name = 'Stark'")
        composite.sobject.update("Account", query.reference.records[0].Id, {"Phone": "1"})
    assert contact.result["id"] and org.api_usage == 1
    before = len(org.records)
    composite = sf.composite(all_or_none=True)
    good = composite.sobject.create("Account", {"Name": "Wayne"})
    failing = composite.sobject.create("Contact", {"FirstName": "Bruce"})
    await composite.execute()
    assert failing.errors[0].code == "REQUIRED_FIELD_MISSING"
    assert good.errors[0].code == "PROCESSING_HALTED" and len(org.records) == before


async def test_collections(sf: Salesforce, org: FakeOrg) -> None:
    results = await sf.collections.create("Contact", [{"LastName": "A"}, {"LastName": "B"}])
    ids = [r.id for r in results]
    assert all(r.success for r in results)
    rolled = await sf.collections.update(
        "Contact",
        [{"Id": ids[0], "Title": "CEO"}, {"Id": ids[1], "LastName": None}],
        all_or_none=True,
    )
    assert [e.code for r in rolled for e in r.errors] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    fetched = await sf.collections.retrieve(
        "Contact", [*ids, ids[0][:6] + "zzzzzzzzz"], fields=["Title"]
    )
    assert [r and r["Title"] for r in fetched] == [None, None, None]
    org.insert("Account", {"Name": "Known", "Ext_Id__c": "A-100"})
    upserted = await sf.collections.upsert(
        "Account",
        [{"Ext_Id__c": "a-100", "Phone": "1"}, {"Ext_Id__c": "A-999", "Name": "New"}],
        external_id_field="Ext_Id__c",
    )
    assert [r.created for r in upserted] == [False, True]
    deleted = await sf.collections.delete([ids[0], ids[0]])
    assert [r.success for r in deleted] == [True, False]


async def test_describe_and_limits(sf: Salesforce, org: FakeOrg) -> None:
    names = [o["name"] for o in (await sf.describe())["sobjects"]]
    assert names == ["Account", "Contact", "Opportunity"]
    fields = {f["name"]: f for f in (await sf.describe("Opportunity"))["fields"]}
    assert fields["ExternalId__c"]["externalId"] and not fields["Name"]["nillable"]
    with pytest.raises(NotFoundError):
        await sf.describe("Nope")
    limits = await sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - org.api_usage}
    assert [v["version"] for v in await sf.versions()][-1] == "62.0"


async def test_tokens_are_checked_and_reissued(sf: Salesforce, org: FakeOrg) -> None:
    await sf.limits()
    org.expire_tokens()
    await sf.limits()  # 401, then a new token and one replay
    async with httpx.AsyncClient(transport=httpx.MockTransport(org.handle)) as http:
        stranger = Salesforce(INSTANCE, auth=StaticToken("00D!forged"), httpx_client=http)
        with pytest.raises(SessionExpiredError):
            await stranger.limits()
