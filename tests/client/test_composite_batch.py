"""Composite Batch, the seed API (salesforce-rest.md section 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.errors import (
    ConfigurationError,
    InvalidFieldError,
    MultipleRecordsError,
    NotFoundError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    ResultNotReadyError,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
ACC = "001D000000IRFmaIAH"
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
HALTED = [
    {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
]


class FakeBatchEndpoint:
    """Answers /composite/batch like Salesforce: in order, honouring haltOnError."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        self.answer = answer
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.payloads.append(payload)
        results, failed = [], False
        for sub in payload["batchRequests"]:
            if failed and payload["haltOnError"]:
                results.append({"statusCode": 412, "result": HALTED})
                continue
            status, result = self.answer(sub)
            failed = failed or status >= 400
            results.append({"statusCode": status, "result": result})
        return httpx.Response(200, json={"hasErrors": failed, "results": results})


def seed_answers(sub: dict[str, Any]) -> tuple[int, Any]:
    method, url = sub["method"], sub["url"]
    if url.startswith("v62.0/query?"):
        records = [{"attributes": {"type": "Account"}, "Id": ACC, "Name": "Acme"}]
        return 200, {"totalSize": 1, "done": True, "records": records}
    if method == "POST" and url == "v62.0/sobjects/Contact":
        if "LastName" not in sub["richInput"]:
            return 400, [
                {
                    "message": "Required fields are missing: [LastName]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": ["LastName"],
                }
            ]
        return 201, {"id": "003D000000QV9n2IAD", "success": True, "errors": []}
    if method == "PATCH" and url == f"v62.0/sobjects/Account/{ACC}":
        return 204, None
    if method == "PATCH" and url.startswith("v62.0/sobjects/Opportunity/ExternalId__c/"):
        return 201, {"id": "006D000000AbCdEIAX", "success": True, "errors": [], "created": True}
    if method == "GET" and url.startswith(f"v62.0/sobjects/Account/{ACC}"):
        return 200, {"attributes": {"type": "Account"}, "Id": ACC, "Name": "Acme"}
    if method == "DELETE":
        return 404, NOT_FOUND
    raise AssertionError(f"unexpected subrequest {sub}")


@pytest.fixture
def endpoint(router: respx.Router) -> FakeBatchEndpoint:
    fake = FakeBatchEndpoint(seed_answers)
    router.post(f"{V}/composite/batch").mock(side_effect=fake)
    return fake


async def test_seed_example(sf: Salesforce, endpoint: FakeBatchEndpoint) -> None:
    account_id = ACC
    async with sf.composite.batch(halt_on_error=True) as batch:
        query = batch.query("SELECT Id, Name FROM Account LIMIT 10")
        contact = batch.sobject.create("Contact", {"FirstName": "Jon", "LastName": "Doe"})
        account = batch.sobject.update("Account", account_id, {"Name": "New Name"})
        opportunity = batch.sobject.upsert(
            "Opportunity",
            {"ExternalId__c": "123", "Name": "New Opportunity"},
            external_id_field="ExternalId__c",
        )
    assert contact.id == "003D000000QV9n2IAD"
    assert account.status_code == 204
    assert opportunity.id == "006D000000AbCdEIAX"
    assert opportunity.created is True
    assert len(query.records) == 1
    (payload,) = endpoint.payloads
    assert payload["haltOnError"] is True
    assert payload["batchRequests"] == [
        {"method": "GET", "url": "v62.0/query?q=SELECT+Id%2C+Name+FROM+Account+LIMIT+10"},
        {
            "method": "POST",
            "url": "v62.0/sobjects/Contact",
            "richInput": {"FirstName": "Jon", "LastName": "Doe"},
        },
        {
            "method": "PATCH",
            "url": f"v62.0/sobjects/Account/{ACC}",
            "richInput": {"Name": "New Name"},
        },
        {
            "method": "PATCH",
            "url": "v62.0/sobjects/Opportunity/ExternalId__c/123",
            "richInput": {"Name": "New Opportunity"},
        },
    ]


async def test_subrequest_attributes(sf: Salesforce, endpoint: FakeBatchEndpoint) -> None:
    batch = sf.composite.batch()
    got = batch.sobject.get("Account", ACC, fields=["Name"])
    gone = batch.sobject.delete("Account", ACC)
    assert not got.done
    for read in (
        lambda: got.status_code,
        lambda: got.result,
        lambda: got.response,
        lambda: got.is_success,
        lambda: got.record,
        got.raise_for_status,
    ):
        with pytest.raises(ResultNotReadyError, match="not been executed"):
            read()
    assert await batch.execute() is batch
    assert got.done and got.is_success and got.status_code == 200
    assert got.record["Name"] == "Acme"
    assert got.response == {"statusCode": 200, "result": got.result}
    got.raise_for_status()
    assert gone.done and not gone.is_success and gone.status_code == 404
    assert gone.errors[0].code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        gone.raise_for_status()
    assert endpoint.payloads[0]["batchRequests"][0]["url"] == (
        f"v62.0/sobjects/Account/{ACC}?fields=Name"
    )


async def test_halt_on_error_within_one_request(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    async with sf.composite.batch(halt_on_error=True) as batch:
        first = batch.sobject.create("Contact", {"LastName": "A"})
        bad = batch.sobject.create("Contact", {"FirstName": "no last name"})
        after = batch.sobject.create("Contact", {"LastName": "B"})
    assert first.is_success
    assert bad.status_code == 400
    with pytest.raises(RequiredFieldMissingError):
        bad.raise_for_status()
    assert after.status_code == 412 and after.halted
    with pytest.raises(ProcessingHaltedError):
        after.raise_for_status()


async def test_more_than_25_are_sent_in_consecutive_batches(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    async with sf.composite.batch() as batch:
        subs = [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(60)]
    assert [len(p["batchRequests"]) for p in endpoint.payloads] == [25, 25, 10]
    sent = [s["richInput"]["LastName"] for p in endpoint.payloads for s in p["batchRequests"]]
    assert sent == [f"N{i}" for i in range(60)]
    assert all(s.id == "003D000000QV9n2IAD" for s in subs)


async def test_halt_across_chunks_never_sends_the_rest(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    batch = sf.composite.batch(halt_on_error=True)
    subs = [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(30)]
    subs.insert(3, batch.sobject.create("Contact", {"FirstName": "broken"}))
    batch.subrequests = subs  # keep the broken one fourth, in the first chunk
    more = [batch.sobject.create("Contact", {"LastName": f"M{i}"}) for i in range(20)]
    await batch.execute()
    assert len(endpoint.payloads) == 1  # the later chunks were never sent
    assert subs[3].status_code == 400
    assert all(s.halted and s.status_code == 412 for s in subs[4:] + more)
    assert all(s.is_success for s in subs[:3])


async def test_without_halt_every_chunk_is_sent(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    batch = sf.composite.batch()
    bad = batch.sobject.create("Contact", {"FirstName": "broken"})
    rest = [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(30)]
    await batch.execute()
    assert len(endpoint.payloads) == 2
    assert not bad.is_success
    assert all(s.is_success for s in rest)


async def test_autoraise_raises_the_first_genuine_failure(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    with pytest.raises(RequiredFieldMissingError):
        async with sf.composite.batch(halt_on_error=True, autoraise=True) as batch:
            ok = batch.sobject.create("Contact", {"LastName": "A"})
            batch.sobject.create("Contact", {"FirstName": "x"})
            halted = batch.sobject.create("Contact", {"LastName": "B"})
    # Results are bound before raising: nothing that succeeded is lost.
    assert ok.id == "003D000000QV9n2IAD"
    assert halted.halted


async def test_group_errors_raises_every_failure(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    with pytest.raises(ExceptionGroup) as info:
        async with sf.composite.batch(autoraise=True, group_errors=True) as batch:
            batch.sobject.create("Contact", {"FirstName": "x"})
            batch.sobject.delete("Account", ACC)
            batch.sobject.create("Contact", {"LastName": "ok"})
    kinds = [type(e) for e in info.value.exceptions]
    assert kinds == [RequiredFieldMissingError, NotFoundError]
    assert "2 of 3 subrequests failed" in str(info.value)


async def test_no_autoraise_by_default(sf: Salesforce, endpoint: FakeBatchEndpoint) -> None:
    async with sf.composite.batch() as batch:
        bad = batch.sobject.delete("Account", ACC)
    assert batch.failures() == [bad]


async def test_block_that_raises_sends_nothing(sf: Salesforce, endpoint: FakeBatchEndpoint) -> None:
    with pytest.raises(KeyError):
        async with sf.composite.batch() as batch:
            sub = batch.sobject.create("Contact", {"LastName": "A"})
            raise KeyError("boom")
    assert endpoint.payloads == []
    assert not sub.done


async def test_executing_twice_and_adding_after_is_refused(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    batch = sf.composite.batch()
    batch.sobject.create("Contact", {"LastName": "A"})
    await batch.execute()
    with pytest.raises(ConfigurationError, match="already executed"):
        await batch.execute()
    with pytest.raises(ConfigurationError, match="already executed"):
        batch.sobject.create("Contact", {"LastName": "B"})
    assert len(endpoint.payloads) == 1


async def test_batch_refuses_composite_only_features(sf: Salesforce) -> None:
    batch = sf.composite.batch()
    sub = batch.sobject.create("Contact", {"LastName": "A"})
    with pytest.raises(ConfigurationError, match="reference"):
        _ = sub.reference
    with pytest.raises(ConfigurationError, match="reference_id"):
        batch.sobject.create("Contact", {"LastName": "A"}, reference_id="x")
    with pytest.raises(ConfigurationError, match="headers"):
        batch.sobject.create("Contact", {"LastName": "A"}, headers={"Sforce-Auto-Assign": "FALSE"})


async def test_upsert_subrequest_multiple_matches_and_errors(
    sf: Salesforce, router: respx.Router
) -> None:
    urls = [f"{V}/sobjects/Account/001D000000IRFmaIAH", f"{V}/sobjects/Account/001D000000IRFmbIAH"]

    def answer(sub: dict[str, Any]) -> tuple[int, Any]:
        if sub["url"].endswith("/dup"):
            return 300, urls
        if sub["url"].endswith("/old"):
            return 204, None
        return 400, [{"errorCode": "INVALID_FIELD", "message": "No such column 'Bogus__c'"}]

    router.post(f"{V}/composite/batch").mock(side_effect=FakeBatchEndpoint(answer))
    async with sf.composite.batch() as batch:
        dup = batch.sobject.upsert("Account", {"Ext__c": "dup"}, external_id_field="Ext__c")
        old = batch.sobject.upsert("Account", {"Ext__c": "old"}, external_id_field="Ext__c")
        bad = batch.sobject.upsert(
            "Account", {"Ext__c": "x", "Bogus__c": 1}, external_id_field="Ext__c"
        )
    assert not dup.is_success
    with pytest.raises(MultipleRecordsError) as info:
        _ = dup.id
    assert info.value.ids == ["001D000000IRFmaIAH", "001D000000IRFmbIAH"]
    assert (old.id, old.created) == (None, False)
    with pytest.raises(InvalidFieldError):
        _ = bad.created


async def test_envelope_error_raises_and_leaves_results_unset(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite/batch").mock(
        return_value=httpx.Response(
            400, json=[{"errorCode": "JSON_PARSER_ERROR", "message": "bad envelope"}]
        )
    )
    batch = sf.composite.batch()
    sub = batch.sobject.create("Contact", {"LastName": "A"})
    with pytest.raises(Exception, match="bad envelope"):
        await batch.execute()
    assert not sub.done


async def test_empty_batch_sends_nothing(sf: Salesforce, endpoint: FakeBatchEndpoint) -> None:
    async with sf.composite.batch():
        pass
    assert endpoint.payloads == []


async def test_a_300_answer_does_not_halt_later_requests(
    sf: Salesforce, router: respx.Router
) -> None:
    urls = [f"{V}/sobjects/Account/001D000000IRFmaIAH", f"{V}/sobjects/Account/001D000000IRFmbIAH"]

    def answer(sub: dict[str, Any]) -> tuple[int, Any]:
        if sub["url"].endswith("/dup"):
            return 300, urls
        return 201, {"id": "003D000000QV9n2IAD", "success": True, "errors": []}

    fake = FakeBatchEndpoint(answer)
    router.post(f"{V}/composite/batch").mock(side_effect=fake)
    batch = sf.composite.batch(halt_on_error=True)
    for i in range(24):
        batch.sobject.create("Contact", {"LastName": f"N{i}"})
    dup = batch.sobject.upsert("Account", {"Ext__c": "dup"}, external_id_field="Ext__c")
    later = batch.sobject.create("Contact", {"LastName": "later"})
    await batch.execute()
    assert dup.status_code == 300
    assert later.is_success  # Salesforce halts after 4xx/5xx only
    assert len(fake.payloads) == 2


async def test_fields_must_be_a_list(sf: Salesforce) -> None:
    with pytest.raises(ConfigurationError, match="list of field names"):
        sf.composite.batch().sobject.get("Account", ACC, fields="Name")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="list of field names"):
        await sf.sobject.get("Account", ACC, fields="Name")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sObject API name"):
        await sf.sobject.get("Account\n", ACC)


async def test_collections_are_refused_on_a_batch(sf: Salesforce) -> None:
    with pytest.raises(ConfigurationError, match="cannot run inside a Composite Batch"):
        _ = sf.composite.batch().collections
