"""sobjects' own client against the local org, end to end (no mocks)."""

from __future__ import annotations

import pytest

from sobjects import RetryPolicy, Salesforce, escape_sosl
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    EntityIsDeletedError,
    InvalidFieldError,
    MalformedQueryError,
    MultipleRecordsError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    SessionExpiredError,
)
from tests.flavours import Flavour

pytestmark = pytest.mark.anyio


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    return org


async def test_crud_and_upsert(org: LocalOrg, api: Flavour) -> None:
    async with api.client(org) as sf:
        account_id = await sf.sobject.create("Account", {"Name": "Acme"})
        await sf.sobject.update("Account", account_id, {"Phone": "555"})
        assert (await sf.sobject.get("Account", account_id, fields=["Phone"]))["Phone"] == "555"
        first = await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "A/1 x", "Name": "Slash"}, external_id_field="Ext_Id__c"
        )
        second = await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "A/1 x", "Name": "Slash 2"}, external_id_field="Ext_Id__c"
        )
        assert (first.created, second.created, first.id == second.id) == (True, False, True)
        got = await sf.sobject.get("Account", "A/1 x", external_id_field="Ext_Id__c")
        assert got["Name"] == "Slash 2"
        await sf.sobject.delete("Account", account_id)
        with pytest.raises(EntityIsDeletedError):
            await sf.sobject.get("Account", account_id)
        with pytest.raises(RequiredFieldMissingError):
            await sf.sobject.create("Contact", {"FirstName": "x"})


async def test_upsert_with_several_matches(org: LocalOrg) -> None:
    accounts = org.schema.require("Account")
    for name in ("a", "b"):
        org.store.insert(accounts, {"Name": name, "Ext_Id__c": "dup"})
    async with org.client() as sf:
        with pytest.raises(MultipleRecordsError) as info:
            await sf.sobject.upsert("Account", {"Ext_Id__c": "dup"}, external_id_field="Ext_Id__c")
    assert len(info.value.ids) == 2


async def test_query_paging_and_count(org: LocalOrg, api: Flavour) -> None:
    accounts = org.schema.require("Account")
    for i in range(450):
        org.store.insert(accounts, {"Name": f"Account {i:03d}"})
    async with api.client(org) as sf:
        result = sf.query("SELECT Name FROM Account ORDER BY Name", batch_size=200)
        pages = [len(page) async for page in result.pages()]
        assert pages == [200, 200, 50]
        assert result.total_size == 450
        names = [r["Name"] async for r in sf.query("SELECT Name FROM Account ORDER BY Name")]
        assert names[0] == "Account 000"
        assert names[-1] == "Account 449"
        assert await sf.query("SELECT COUNT() FROM Account").count() == 450
        with pytest.raises(InvalidFieldError, match="No such column 'Bogus'"):
            await sf.query("SELECT Bogus FROM Account").all()
        with pytest.raises(MalformedQueryError):
            await sf.query("SELECT FROM Account").all()


async def test_deleted_records_only_with_include_deleted(org: LocalOrg, api: Flavour) -> None:
    async with api.client(org) as sf:
        account_id = await sf.sobject.create("Account", {"Name": "Gone"})
        await sf.sobject.delete("Account", account_id)
        assert await sf.query("SELECT Id FROM Account").all() == []
        rows = await sf.query("SELECT Id, IsDeleted FROM Account", include_deleted=True).all()
        assert [r["IsDeleted"] for r in rows] == [True]


async def test_child_subquery_and_parent_paths(org: LocalOrg, api: Flavour) -> None:
    async with api.client(org) as sf:
        acme = await sf.sobject.create("Account", {"Name": "Acme"})
        await sf.sobject.create("Account", {"Name": "Empty"})
        for last in ("Doe", "Roe"):
            await sf.sobject.create("Contact", {"LastName": last, "AccountId": acme})
        rows = await sf.query(
            "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account "
            "ORDER BY Name"
        ).all()
        assert [c["LastName"] for c in rows[0]["Contacts"]["records"]] == ["Doe", "Roe"]
        assert rows[1]["Contacts"] is None
        contacts = await sf.query(
            "SELECT LastName, Account.Name, Account.Owner.Name FROM Contact ORDER BY LastName"
        ).all()
        assert contacts[0]["Account"]["Name"] == "Acme"
        assert contacts[0]["Account"]["Owner"]["Name"] == "Local Admin"


async def test_composite_batch_and_composite(org: LocalOrg, api: Flavour) -> None:
    async with api.client(org) as sf:
        async with sf.composite.batch(halt_on_error=True) as batch:
            query = batch.query("SELECT Id FROM Account")
            created = batch.sobject.create("Account", {"Name": "Batch"})
            broken = batch.sobject.create("Contact", {})
            halted = batch.sobject.create("Account", {"Name": "Never"})
        assert query.records == []
        assert created.id.startswith("001")
        assert broken.status_code == 400
        assert halted.halted
        assert org.api_usage == 4  # one API call per batch subrequest
        names = [r["Name"] async for r in sf.query("SELECT Name FROM Account")]
        assert names == ["Batch"]

        composite = sf.composite(all_or_none=True)
        account = composite.sobject.create("Account", {"Name": "Parent"})
        contact = composite.sobject.create(
            "Contact", {"LastName": "Child", "AccountId": account.reference.id}
        )
        found = composite.query("SELECT Id FROM Contact WHERE LastName = 'Child'")
        composite.sobject.update("Contact", found.reference.records[0].Id, {"Title": "CEO"})
        await composite.execute()
        assert account.is_success and contact.is_success
        record = await sf.sobject.get("Contact", contact.id, fields=["Title", "AccountId"])
        assert (record["Title"], record["AccountId"]) == ("CEO", account.id)

        rolled = sf.composite(all_or_none=True, autoraise=True)
        rolled.sobject.create("Account", {"Name": "Rolled back"})
        rolled.sobject.create("Contact", {})
        with pytest.raises(RequiredFieldMissingError):
            await rolled.execute()
        assert isinstance(rolled.subrequests[0].error(), ProcessingHaltedError)
        count = await sf.query("SELECT COUNT() FROM Account WHERE Name = 'Rolled back'").count()
        assert count == 0


async def test_collections(org: LocalOrg, api: Flavour) -> None:
    async with api.client(org) as sf:
        results = await sf.collections.create(
            "Contact", [{"LastName": f"C{i}"} for i in range(205)]
        )
        assert len(results) == 205
        assert all(r.success for r in results)
        ids = [r.id for r in results if r.id]
        updated = await sf.collections.update("Contact", [{"Id": i, "Title": "T"} for i in ids[:3]])
        assert all(r.success for r in updated)
        records = await sf.collections.retrieve("Contact", ids[:2], fields=["Title"])
        assert [r["Title"] for r in records if r] == ["T", "T"]
        mixed = await sf.collections.create(
            "Contact", [{"LastName": "ok"}, {"FirstName": "missing last name"}]
        )
        assert [r.success for r in mixed] == [True, False]
        assert mixed[1].errors[0].code == "REQUIRED_FIELD_MISSING"
        atomic = await sf.collections.create(
            "Contact", [{"LastName": "kept?"}, {"FirstName": "no"}], all_or_none=True
        )
        assert atomic[0].errors[0].code == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        upserted = await sf.collections.upsert(
            "Account", [{"Ext_Id__c": "E1", "Name": "One"}], external_id_field="Ext_Id__c"
        )
        assert upserted[0].created is True
        deleted = await sf.collections.delete(ids)
        assert all(r.success for r in deleted)
        assert await sf.query("SELECT COUNT() FROM Contact").count() == 1  # "ok" is left


async def test_token_flows_and_reauthentication(org: LocalOrg) -> None:
    from sobjects.auth import ClientCredentials

    async with org.serve() as base_url:
        async with Salesforce(base_url, auth=ClientCredentials("id", "secret")) as sf:
            await sf.limits()
            org.expire_tokens()
            await sf.limits()  # 401, one new token, replayed
            assert sf.instance_url == base_url
        async with org.client() as static:
            org.expire_tokens()
            with pytest.raises(SessionExpiredError):
                await static.limits()


async def test_retries_against_injected_faults(org: LocalOrg) -> None:
    async with org.client(retry=RetryPolicy(backoff_base=0, backoff_max=0)) as sf:
        org.faults.fail_next(2, status=503)
        assert (await sf.limits())["DailyApiRequests"]["Max"] == org.daily_api_limit
        account_id = await sf.sobject.create("Account", {"Name": "Locked"})
        org.faults.lock_record(account_id, times=2)
        await sf.sobject.update("Account", account_id, {"Phone": "1"})
        assert (await sf.sobject.get("Account", account_id))["Phone"] == "1"


async def test_every_token_grant_works_against_the_org(org: LocalOrg) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from sobjects.auth import JwtBearer, RefreshToken, UsernamePassword

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    async with org.serve() as base_url:
        jwt = JwtBearer("consumer-key", "admin@local.org", key)
        async with Salesforce(base_url, auth=jwt) as sf:
            assert "DailyApiRequests" in await sf.limits()
        password = UsernamePassword("id", "secret", "admin@local.org", "pw", security_token="t")
        async with Salesforce(base_url, auth=password) as sf:
            await sf.limits()
            assert sf._token is not None
            refresh_token = sf._token.refresh_token
        assert refresh_token
        async with Salesforce(base_url, auth=RefreshToken("id", refresh_token)) as sf:
            await sf.limits()


async def test_search_and_escape_sosl(org: LocalOrg) -> None:
    async with org.client() as sf:
        acme = await sf.sobject.create("Account", {"Name": "AT&T (east)"})
        await sf.sobject.create("Account", {"Name": "Globex"})
        sosl = f"FIND {{{escape_sosl('AT&T (east)')}}} IN NAME FIELDS RETURNING Account(Id, Name)"
        found = await sf.search(sosl)
        assert found == [
            {
                "attributes": {
                    "type": "Account",
                    "url": f"{sf.data_path}/sobjects/Account/{acme}",
                },
                "Id": acme,
                "Name": "AT&T (east)",
            }
        ]
        assert await sf.search("FIND {nothing}") == []
        with pytest.raises(MalformedQueryError):
            await sf.search("FIND {a}")
        with pytest.raises(MalformedQueryError):  # unescaped: "(" opens a group never closed
            await sf.search("FIND {AT&T (east} RETURNING Account")
