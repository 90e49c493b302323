"""Other people's Salesforce clients against the local org, unchanged.

aiosalesforce and simple-salesforce run their own CRUD, upsert, query-with-paging and
Composite Batch calls here. Nothing in either library is patched: the only thing that differs
from talking to a real org is where the bytes go (the base URL, or the transport when the
library insists on ``https://`` or on a ``*.my.salesforce.com`` host).

- simple-salesforce (requests, synchronous) talks to the org served by uvicorn on a real
  socket. It writes ``https://{instance}`` into every URL it builds (``base_url``, ``SFType``,
  ``query_more``), so it is given a ``requests.Session`` (its documented ``session=`` option)
  whose transport adapter sends those requests over plain HTTP to the local server.
- aiosalesforce (httpx, asyncio) accepts only ``https://<name>.my.salesforce.com`` base URLs,
  so it gets an ``https://local.my.salesforce.com`` base URL and an ``httpx.AsyncClient`` whose
  transport is the org's ASGI app (its documented ``httpx_client=`` argument), and it logs in
  with its own client-credentials flow against the org's token endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio.from_thread
import httpx
import pytest
import requests
import requests.adapters
from aiosalesforce import Salesforce as AioSalesforce
from aiosalesforce.auth import ClientCredentialsFlow
from aiosalesforce.exceptions import MoreThanOneRecordError, NotFoundError, SalesforceError
from simple_salesforce import Salesforce as SimpleSalesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sobjects.emulator import LocalOrg

BULK = 2_500  # more than one 2,000-record page: forces nextRecordsUrl paging
EXT_FIELD = {
    "name": "Ext_Id__c",
    "type": "string",
    "externalId": True,
    "length": 40,
    "unique": True,
}


@pytest.fixture
def anyio_backend() -> str:
    # aiosalesforce is asyncio-only (asyncio.Lock in its Auth, asyncio.Semaphore and
    # asyncio.gather/asyncio.sleep in its retry machinery), so its tests cannot run on trio;
    # this module's simple-salesforce tests are synchronous and need no backend at all.
    return "asyncio"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", EXT_FIELD)
    return org


def two_contacts_sharing_an_external_id(org: LocalOrg) -> set[str]:
    """Two live Contacts whose (non-unique) external id is L-1: upserting on it is ambiguous."""
    org.define_field(
        "Contact", {"name": "Legacy_Id__c", "type": "string", "externalId": True, "length": 20}
    )
    contact = org.schema.require("Contact")
    return {
        org.store.insert(contact, {"LastName": name, "Legacy_Id__c": "L-1"})
        for name in ("One", "Two")
    }


def insert_accounts(org: LocalOrg, count: int = BULK) -> set[str]:
    """Seed ``count`` Accounts straight into the store (fast; the clients only read them)."""
    account = org.schema.require("Account")
    return {org.store.insert(account, {"Name": f"Bulk {i:05d}"}) for i in range(count)}


# -- simple-salesforce -----------------------------------------------------------------------


class _PlainHttpAdapter(requests.adapters.HTTPAdapter):
    """Transport only: sends simple-salesforce's ``https://`` requests to a local ``http://``
    server. ``hosts`` maps the host a request names to the ``host:port`` actually listening."""

    def __init__(self, hosts: dict[str, str]) -> None:
        super().__init__()
        self.hosts = hosts

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = urlsplit(request.url or "")
        request.url = url._replace(scheme="http", netloc=self.hosts[url.netloc]).geturl()
        return super().send(request, *args, **kwargs)


@pytest.fixture
def served(org: LocalOrg) -> Iterator[str]:
    """The org on uvicorn (its own thread), driven from synchronous tests through a portal."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(org.serve()) as base_url,
    ):
        yield base_url


@pytest.fixture
def http_session(served: str) -> Iterator[requests.Session]:
    netloc = served.removeprefix("http://")
    session = requests.Session()
    # simple-salesforce builds https://{instance}/... and, for domain="local",
    # https://local.salesforce.com/services/oauth2/token: both go to the local server.
    session.mount(
        "https://",
        _PlainHttpAdapter({netloc: netloc, "local.salesforce.com": netloc}),
    )
    with session:
        yield session


@pytest.fixture
def sf(org: LocalOrg, served: str, http_session: requests.Session) -> SimpleSalesforce:
    """simple-salesforce exactly as its README shows for an existing session."""
    return SimpleSalesforce(
        instance_url=served,
        session_id=org.access_token,
        version=org.api_version,
        session=http_session,
    )


def test_simple_salesforce_crud(sf: SimpleSalesforce) -> None:
    created = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace"})
    assert created["success"] is True and created["errors"] == []
    contact_id = created["id"]
    assert len(contact_id) == 18 and contact_id.startswith("003")

    record = sf.Contact.get(contact_id)
    assert record["attributes"]["type"] == "Contact"
    assert record["Id"] == contact_id
    assert record["Name"] == "Ada Lovelace"

    assert sf.Contact.update(contact_id, {"LastName": "King"}) == 204
    assert sf.Contact.get(contact_id)["LastName"] == "King"

    assert sf.Contact.delete(contact_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Contact.get(contact_id)
    assert raised.value.status == 404
    assert raised.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_simple_salesforce_upsert_by_external_id(sf: SimpleSalesforce) -> None:
    # API 62.0: insert is 201, update of the one match is 200 with created=false (>= 46.0).
    assert sf.Account.upsert("Ext_Id__c/A-1", {"Name": "Acme"}) == 201
    response = sf.Account.upsert("Ext_Id__c/A-1", {"Name": "Acme Ltd"}, raw_response=True)
    assert response.status_code == 200
    assert response.json()["created"] is False

    record = sf.Account.get_by_custom_id("Ext_Id__c", "A-1")
    assert record["Name"] == "Acme Ltd" and record["Ext_Id__c"] == "A-1"
    assert response.json()["id"] == record["Id"]


def test_simple_salesforce_upsert_before_v46_answers_204(
    org: LocalOrg, served: str, http_session: requests.Session
) -> None:
    sf45 = SimpleSalesforce(
        instance_url=served, session_id=org.access_token, version="45.0", session=http_session
    )
    assert sf45.Account.upsert("Ext_Id__c/A-2", {"Name": "Old API"}) == 201
    response = sf45.Account.upsert("Ext_Id__c/A-2", {"Name": "Old API 2"}, raw_response=True)
    assert response.status_code == 204 and response.content == b""


def test_simple_salesforce_query_pages(org: LocalOrg, sf: SimpleSalesforce) -> None:
    ids = insert_accounts(org)

    first = sf.query("SELECT Id, Name FROM Account")
    assert first["totalSize"] == BULK and first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{org.api_version}/query/01g")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["done"] is True and "nextRecordsUrl" not in second
    assert len(second["records"]) == BULK - 2000

    everything = sf.query_all("SELECT Id, Name FROM Account")
    assert everything["totalSize"] == BULK
    assert {r["Id"] for r in everything["records"]} == ids

    # query_all_iter passes headers on to every query_more: five pages of 500.
    pages = sf.query_all_iter(
        "SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=500"}
    )
    assert {r["Id"] for r in pages} == ids


def test_simple_salesforce_query_all_sees_deleted(sf: SimpleSalesforce) -> None:
    contact_id = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(contact_id)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact_id}'"
    assert sf.query_all(soql)["totalSize"] == 0
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(contact_id, True)]


def test_simple_salesforce_updated_and_deleted(sf: SimpleSalesforce) -> None:
    """simple-salesforce's ``updated()``/``deleted()`` call sObject Get Updated / Get Deleted
    (their answers as the REST API guide shows them)."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    kept = sf.Account.create({"Name": "Kept"})["id"]
    gone = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=5)
    updated = sf.Account.updated(start, end)
    assert updated["ids"] == [kept]
    assert "latestDateCovered" in updated
    deleted = sf.Account.deleted(start, end)
    assert [r["id"] for r in deleted["deletedRecords"]] == [gone]
    assert {"earliestDateAvailable", "latestDateCovered"} <= deleted.keys()


def test_simple_salesforce_composite_batch(org: LocalOrg, sf: SimpleSalesforce) -> None:
    # simple-salesforce (1.12) has no Composite API: its generic restful() call is the way.
    existing = sf.Account.create({"Name": "Before"})["id"]
    v = f"v{org.api_version}"
    result = sf.restful(
        "composite/batch",
        method="POST",
        json={
            "haltOnError": True,
            "batchRequests": [
                {"method": "POST", "url": f"{v}/sobjects/Account", "richInput": {"Name": "New"}},
                {
                    "method": "PATCH",
                    "url": f"{v}/sobjects/Account/{existing}",
                    "richInput": {"Name": "After"},
                },
                {"method": "GET", "url": f"{v}/sobjects/Account/001000000000000AAA"},
                {"method": "DELETE", "url": f"{v}/sobjects/Account/{existing}"},
            ],
        },
    )
    assert result is not None and result["hasErrors"] is True
    created, updated, missing, halted = result["results"]
    assert created["statusCode"] == 201 and created["result"]["success"] is True
    assert updated == {"statusCode": 204, "result": None}
    assert missing["statusCode"] == 404 and missing["result"][0]["errorCode"] == "NOT_FOUND"
    assert halted["statusCode"] == 412
    assert halted["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
    # Earlier subrequests committed; the halted delete did not run.
    assert sf.Account.get(existing)["Name"] == "After"
    assert sf.Account.get(created["result"]["id"])["Name"] == "New"


def test_simple_salesforce_describe_and_limits(org: LocalOrg, sf: SimpleSalesforce) -> None:
    described = sf.describe()
    assert described is not None
    names = {s["name"] for s in described["sobjects"]}
    assert {"Account", "Contact"} <= names

    account = sf.Account.describe()
    assert account["name"] == "Account" and account["keyPrefix"] == "001"
    fields = {f["name"]: f for f in account["fields"]}
    assert fields["Ext_Id__c"]["externalId"] is True

    metadata = sf.Account.metadata()
    assert metadata["objectDescribe"]["name"] == "Account"

    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == org.daily_api_limit
    # simple-salesforce parses Sforce-Limit-Info from every response.
    assert sf.api_usage["api-usage"].total == org.daily_api_limit


def test_simple_salesforce_errors(org: LocalOrg, sf: SimpleSalesforce) -> None:
    ids = two_contacts_sharing_an_external_id(org)
    with pytest.raises(SalesforceMoreThanOneRecord) as ambiguous:
        sf.Contact.upsert("Legacy_Id__c/L-1", {"FirstName": "Either"})
    assert ambiguous.value.status == 300
    assert {url.rsplit("/", 1)[-1] for url in ambiguous.value.content} == ids

    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.Contact.create({"LastName": "Doe", "No_Such_Field__c": 1})
    assert malformed.value.content[0]["errorCode"] == "INVALID_FIELD"

    with pytest.raises(SalesforceResourceNotFound) as not_found:
        sf.Account.upsert("No_Such_Field__c/X", {"Name": "Nope"})
    assert not_found.value.content[0]["errorCode"] == "NOT_FOUND"

    # A session id given directly cannot be refreshed: simple-salesforce raises on 401.
    org.expire_tokens()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.Contact.create({"LastName": "Late"})
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_simple_salesforce_search_and_quick_search(org: LocalOrg, sf: SimpleSalesforce) -> None:
    """``sf.search`` sends SOSL to ``search/``; ``quick_search`` wraps a term in ``FIND {}``;
    both hand back Salesforce's ``{"searchRecords": [...]}`` body as is."""
    account = org.schema.require("Account")
    acme = org.store.insert(account, {"Name": "Acme Corp"})
    org.store.insert(account, {"Name": "Globex"})
    found = sf.search("FIND {acme} IN NAME FIELDS RETURNING Account(Id, Name)")
    assert found == {
        "searchRecords": [
            {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/v{org.api_version}/sobjects/Account/{acme}",
                },
                "Id": acme,
                "Name": "Acme Corp",
            }
        ]
    }
    assert [r["Id"] for r in sf.quick_search("Acme")["searchRecords"]] == [acme]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.quick_search("a")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_SEARCH"


def test_simple_salesforce_password_login(org: LocalOrg, http_session: requests.Session) -> None:
    # The OAuth username-password flow: simple-salesforce posts to
    # https://{domain}.salesforce.com/services/oauth2/token and then uses the instance_url
    # the token endpoint returns.
    sf = SimpleSalesforce(
        username="admin@example.com",
        password="secret",
        consumer_key="key",
        consumer_secret="secret",
        domain="local",
        session=http_session,
        version=org.api_version,
    )
    assert sf.session_id != org.access_token
    assert sf.Contact.create({"LastName": "Logged In"})["success"] is True


def test_simple_salesforce_client_credentials_login(
    org: LocalOrg, http_session: requests.Session
) -> None:
    sf = SimpleSalesforce(
        consumer_key="key",
        consumer_secret="secret",
        domain="local",
        session=http_session,
        version=org.api_version,
    )
    assert sf.Contact.create({"LastName": "Integration"})["success"] is True


# -- aiosalesforce ---------------------------------------------------------------------------

AIO_BASE_URL = "https://local.my.salesforce.com"


@pytest.fixture
async def aiosf(org: LocalOrg) -> AsyncIterator[AioSalesforce]:
    """aiosalesforce as its docs show, with the org's ASGI app as the httpx transport."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=org.app)) as http:
        yield AioSalesforce(
            httpx_client=http,
            base_url=AIO_BASE_URL,
            auth=ClientCredentialsFlow(client_id="key", client_secret="secret"),
            version=org.api_version,
        )


@pytest.mark.anyio
async def test_aiosalesforce_crud(aiosf: AioSalesforce) -> None:
    contact_id = await aiosf.sobject.create("Contact", {"FirstName": "Ada", "LastName": "Byron"})
    assert len(contact_id) == 18 and contact_id.startswith("003")

    record = await aiosf.sobject.get("Contact", contact_id)
    assert record["Id"] == contact_id and record["Name"] == "Ada Byron"
    narrow = await aiosf.sobject.get("Contact", contact_id, fields=["LastName"])
    assert set(narrow) == {"attributes", "LastName", "Id"}

    await aiosf.sobject.update("Contact", contact_id, {"LastName": "Lovelace"})
    assert (await aiosf.sobject.get("Contact", contact_id))["LastName"] == "Lovelace"

    await aiosf.sobject.delete("Contact", contact_id)
    with pytest.raises(NotFoundError) as raised:
        await aiosf.sobject.get("Contact", contact_id)
    assert raised.value.error_code == "ENTITY_IS_DELETED"


@pytest.mark.anyio
async def test_aiosalesforce_upsert_get_delete_by_external_id(aiosf: AioSalesforce) -> None:
    inserted = await aiosf.sobject.upsert(
        "Account", "A-1", external_id_field="Ext_Id__c", data={"Name": "Acme"}
    )
    assert inserted.created is True
    # aiosalesforce strips the external-id field from the body (it is in the URL).
    updated = await aiosf.sobject.upsert(
        "Account",
        "A-1",
        external_id_field="Ext_Id__c",
        data={"Name": "Acme Ltd", "Ext_Id__c": "A-1"},
    )
    assert updated.created is False and updated.id == inserted.id

    record = await aiosf.sobject.get("Account", "A-1", external_id_field="Ext_Id__c")
    assert record["Id"] == inserted.id and record["Name"] == "Acme Ltd"

    await aiosf.sobject.delete("Account", "A-1", external_id_field="Ext_Id__c")
    with pytest.raises(NotFoundError):
        await aiosf.sobject.get("Account", "A-1", external_id_field="Ext_Id__c")


@pytest.mark.anyio
async def test_aiosalesforce_query_pages(org: LocalOrg, aiosf: AioSalesforce) -> None:
    ids = insert_accounts(org)
    seen = [record["Id"] async for record in aiosf.query("SELECT Id, Name FROM Account")]
    assert len(seen) == BULK and set(seen) == ids

    contact_id = await aiosf.sobject.create("Contact", {"LastName": "Gone"})
    await aiosf.sobject.delete("Contact", contact_id)
    soql = f"SELECT Id FROM Contact WHERE Id = '{contact_id}'"
    assert [r async for r in aiosf.query(soql)] == []
    deleted = [r["Id"] async for r in aiosf.query(soql, include_all_records=True)]
    assert deleted == [contact_id]


@pytest.mark.anyio
async def test_aiosalesforce_composite_batch_halts_on_error(aiosf: AioSalesforce) -> None:
    existing = await aiosf.sobject.create("Account", {"Name": "Before"})
    async with aiosf.composite.batch(halt_on_error=True) as batch:
        created = batch.sobject.create("Account", {"Name": "Batch"})
        upserted = batch.sobject.upsert(
            "Account", "B-1", external_id_field="Ext_Id__c", data={"Name": "Upserted"}
        )
        renamed = batch.sobject.update("Account", existing, {"Name": "After"})
        missing = batch.sobject.get("Account", "001000000000000AAA")
        halted_delete = batch.sobject.delete("Account", existing)
        halted_query = batch.query("SELECT Id FROM Account")

    assert created.status_code == 201 and created.is_success
    assert len(created.id) == 18 and created.id.startswith("001")
    assert upserted.status_code == 201 and upserted.created is True
    assert renamed.status_code == 204 and renamed.result is None
    assert missing.status_code == 404 and not missing.is_success
    with pytest.raises(NotFoundError):
        missing.raise_for_status()
    for halted in (halted_delete, halted_query):
        assert halted.status_code == 412
        assert isinstance(halted.result, list)
        assert halted.result[0]["errorCode"] == "BATCH_PROCESSING_HALTED"

    # Subrequests before the failure committed, the halted ones never ran.
    assert (await aiosf.sobject.get("Account", existing))["Name"] == "After"
    assert (await aiosf.sobject.get("Account", created.id))["Name"] == "Batch"
    assert (await aiosf.sobject.get("Account", upserted.id))["Ext_Id__c"] == "B-1"


@pytest.mark.anyio
async def test_aiosalesforce_composite_batch_without_halting(aiosf: AioSalesforce) -> None:
    account_id = await aiosf.sobject.create("Account", {"Name": "Read Me"})
    async with aiosf.composite.batch() as batch:
        missing = batch.sobject.get("Account", "001000000000000AAA")
        fetched = batch.sobject.get("Account", account_id, fields=["Name"])
        query = batch.query(f"SELECT Id, Name FROM Account WHERE Id = '{account_id}'")

    assert missing.status_code == 404
    assert fetched.record["Name"] == "Read Me" and fetched.record["Id"] == account_id
    assert [r["Name"] for r in query.records] == ["Read Me"]


@pytest.mark.anyio
async def test_aiosalesforce_errors(org: LocalOrg, aiosf: AioSalesforce) -> None:
    ids = two_contacts_sharing_an_external_id(org)
    with pytest.raises(MoreThanOneRecordError) as ambiguous:
        await aiosf.sobject.upsert(
            "Contact", "L-1", external_id_field="Legacy_Id__c", data={"FirstName": "Either"}
        )
    assert ambiguous.value.response is not None
    assert ambiguous.value.response.status_code == 300
    assert {url.rsplit("/", 1)[-1] for url in ambiguous.value.response.json()} == ids

    with pytest.raises(SalesforceError) as malformed:
        await aiosf.sobject.create("Contact", {"LastName": "Doe", "No_Such_Field__c": 1})
    assert malformed.value.error_code == "INVALID_FIELD"


@pytest.mark.anyio
async def test_aiosalesforce_reauthenticates_after_401(org: LocalOrg, aiosf: AioSalesforce) -> None:
    first = await aiosf.sobject.create("Contact", {"LastName": "Before"})
    org.expire_tokens()  # the token aiosalesforce holds is now refused with 401
    second = await aiosf.sobject.create("Contact", {"LastName": "After"})
    assert first != second
    assert (await aiosf.sobject.get("Contact", second))["LastName"] == "After"


@pytest.mark.anyio
async def test_aiosalesforce_limits(org: LocalOrg, aiosf: AioSalesforce) -> None:
    limits = await aiosf.get_limits()
    assert limits["DailyApiRequests"]["Max"] == org.daily_api_limit


# -- simple-salesforce's bulk2 (Bulk API 2.0) --------------------------------------------------


def test_simple_salesforce_bulk2_insert_upsert_delete_and_query(
    org: LocalOrg, sf: SimpleSalesforce
) -> None:
    records = [{"Name": f"Bulk {i:04d}", "Ext_Id__c": f"E-{i}"} for i in range(250)]
    inserted = sf.bulk2.Account.insert(records=records, wait=0.05)  # type: ignore[union-attr]
    assert [(r["numberRecordsProcessed"], r["numberRecordsFailed"]) for r in inserted] == [(250, 0)]
    upserted = sf.bulk2.Account.upsert(  # type: ignore[union-attr]
        records=[
            {"Ext_Id__c": "E-1", "Name": "Renamed"},
            {"Ext_Id__c": "E-new", "Name": "New one"},
        ],
        external_id_field="Ext_Id__c",
        wait=0.05,
    )
    assert upserted[0]["numberRecordsProcessed"] == 2
    assert len(org.store.records("Account")) == 251
    pages = list(
        sf.bulk2.Account.query(  # type: ignore[union-attr]
            "SELECT Id, Name, Ext_Id__c FROM Account ORDER BY Name", max_records=100, wait=0.05
        )
    )
    assert len(pages) == 3
    rows = [line for page in pages for line in page.splitlines()[1:]]
    assert len(rows) == 251
    assert any('"Renamed"' in row for row in rows)
    ids = [{"Id": r["Id"]} for r in org.store.records("Account")[:10]]
    deleted = sf.bulk2.Account.delete(records=ids, wait=0.05)  # type: ignore[union-attr]
    assert deleted[0]["numberRecordsProcessed"] == 10
    assert len(org.store.records("Account")) == 241


def test_simple_salesforce_bulk2_failed_records(org: LocalOrg, sf: SimpleSalesforce) -> None:
    result = sf.bulk2.Contact.insert(  # type: ignore[union-attr]
        records=[{"LastName": "Ok"}, {"LastName": "", "FirstName": "NoLastName"}], wait=0.05
    )
    assert (result[0]["numberRecordsProcessed"], result[0]["numberRecordsFailed"]) == (2, 1)
    failed = sf.bulk2.Contact.get_failed_records(result[0]["job_id"])  # type: ignore[union-attr]
    assert "REQUIRED_FIELD_MISSING" in failed
    assert "NoLastName" in failed
