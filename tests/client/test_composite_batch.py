"""Composite Batch, the seed API (salesforce-rest.md section 4)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import httpx
import pytest
import respx

from sobjects import RetryPolicy, Salesforce
from sobjects.auth import StaticToken
from sobjects.client import Subrequest
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    ConfigurationError,
    InvalidFieldError,
    MultipleRecordsError,
    NotFoundError,
    OutcomeUnknownError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    ResponseError,
    ResultNotReadyError,
    ServerError,
    SubrequestErrorGroup,
)
from tests.conftest import FAST_RETRY, INSTANCE, TOKEN

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


async def test_more_than_25_are_sent_in_requests_of_25(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    async with sf.composite.batch() as batch:
        subs = [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(60)]
    # The requests go concurrently, so they may arrive in any order.
    chunks = sorted(
        [int(s["richInput"]["LastName"][1:]) for s in p["batchRequests"]] for p in endpoint.payloads
    )
    assert chunks == [list(range(0, 25)), list(range(25, 50)), list(range(50, 60))]
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
    # Nothing halted: plain "N failed".
    assert str(info.value) == "3 subrequests: 2 failed (2 sub-exceptions)"
    assert isinstance(info.value, SubrequestErrorGroup)
    assert [s.kind for s in info.value.failed_subrequests] == ["create", "delete"]
    assert info.value.halted_subrequests == ()


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


# -- concurrent requests ------------------------------------------------------------------


def first_name(request: httpx.Request) -> str:
    """The LastName of a batch request's first subrequest: which chunk it is."""
    return str(json.loads(request.content)["batchRequests"][0]["richInput"]["LastName"])


def echo_ids(sub: dict[str, Any]) -> tuple[int, Any]:
    """Create answers whose id names the subrequest, to check where results are bound."""
    return 201, {"id": "id-" + sub["richInput"]["LastName"], "success": True, "errors": []}


def add_contacts(batch: Any, n: int) -> list[Any]:
    return [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(n)]


class Gate:
    """Holds every /composite/batch request until ``release()``; counts those in flight."""

    def __init__(self, endpoint: Callable[[httpx.Request], httpx.Response]) -> None:
        self.endpoint = endpoint
        self.in_flight = 0
        self.max_in_flight = 0
        self._released = anyio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._released.wait()
        finally:
            self.in_flight -= 1
        return self.endpoint(request)

    def release(self) -> None:
        """Let the requests held now go on; later ones are held again."""
        self._released.set()
        self._released = anyio.Event()


async def run_gated(gate: Gate, execute: Callable[[], Awaitable[Any]]) -> list[int]:
    """Run ``execute``; whenever every task is blocked, note how many requests the gate holds
    and release them. Returns those counts: one per wave of requests in flight together."""
    waves: list[int] = []
    finished = False

    async def run() -> None:
        nonlocal finished
        try:
            await execute()
        finally:
            finished = True

    # Only a safety net against a hang (a bug would otherwise block forever), not a timing.
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            while not finished:
                await anyio.wait_all_tasks_blocked()
                # On asyncio a task group can look blocked for a moment after its last child
                # ended (the wake-up is a scheduled callback): look again.
                if gate.in_flight:
                    waves.append(gate.in_flight)
                    gate.release()
    return waves


async def test_without_halt_the_requests_are_in_flight_together(
    sf: Salesforce, router: respx.Router
) -> None:
    fake = FakeBatchEndpoint(echo_ids)
    gate = Gate(fake)
    router.post(f"{V}/composite/batch").mock(side_effect=gate)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    assert await run_gated(gate, batch.execute) == [3]
    assert gate.max_in_flight == 3
    assert batch.executed
    assert [s.id for s in subs] == [f"id-N{i}" for i in range(60)]


async def test_concurrency_limit_bounds_the_requests_in_flight(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    sf = Salesforce(
        INSTANCE, auth=StaticToken(TOKEN), httpx_client=http, retry=FAST_RETRY, concurrency_limit=2
    )
    gate = Gate(FakeBatchEndpoint(echo_ids))
    router.post(f"{V}/composite/batch").mock(side_effect=gate)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    assert await run_gated(gate, batch.execute) == [2, 1]
    assert gate.max_in_flight == 2
    assert [s.id for s in subs] == [f"id-N{i}" for i in range(60)]


async def test_halt_on_error_sends_the_requests_one_after_another(
    sf: Salesforce, router: respx.Router
) -> None:
    fake = FakeBatchEndpoint(echo_ids)
    gate = Gate(fake)
    router.post(f"{V}/composite/batch").mock(side_effect=gate)
    batch = sf.composite.batch(halt_on_error=True)
    subs = add_contacts(batch, 60)
    assert await run_gated(gate, batch.execute) == [1, 1, 1]
    assert gate.max_in_flight == 1
    sent = [s["richInput"]["LastName"] for p in fake.payloads for s in p["batchRequests"]]
    assert sent == [f"N{i}" for i in range(60)]  # in order
    assert [s.id for s in subs] == [f"id-N{i}" for i in range(60)]


async def test_halt_on_error_failure_in_the_first_request_halts_the_others_unsent(
    sf: Salesforce, router: respx.Router
) -> None:
    def answer(sub: dict[str, Any]) -> tuple[int, Any]:
        if sub["richInput"]["LastName"] == "N3":
            return 404, NOT_FOUND
        return echo_ids(sub)

    fake = FakeBatchEndpoint(answer)
    gate = Gate(fake)
    router.post(f"{V}/composite/batch").mock(side_effect=gate)
    batch = sf.composite.batch(halt_on_error=True)
    subs = add_contacts(batch, 60)
    assert await run_gated(gate, batch.execute) == [1]
    assert len(fake.payloads) == 1
    assert all(s.is_success for s in subs[:3])
    assert subs[3].status_code == 404 and not subs[3].halted
    assert all(s.halted and s.status_code == 412 for s in subs[4:])


async def test_results_are_bound_whatever_order_the_requests_finish_in(
    sf: Salesforce, router: respx.Router
) -> None:
    fake = FakeBatchEndpoint(echo_ids)
    finished: list[str] = []
    answered = {name: anyio.Event() for name in ("N0", "N25", "N50")}
    after = {"N0": "N25", "N25": "N50"}  # the last chunk answers first, the first last

    async def reversed_answers(request: httpx.Request) -> httpx.Response:
        name = first_name(request)
        if name in after:
            await answered[after[name]].wait()
        response = fake(request)
        finished.append(name)
        answered[name].set()
        return response

    router.post(f"{V}/composite/batch").mock(side_effect=reversed_answers)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    with anyio.fail_after(30):  # a safety net: sequential requests would wait forever
        await batch.execute()
    assert finished == ["N50", "N25", "N0"]
    assert [s.id for s in subs] == [f"id-N{i}" for i in range(60)]


def failing_chunks(
    failures: dict[str, Callable[[], httpx.Response]],
) -> tuple[FakeBatchEndpoint, Callable[[httpx.Request], httpx.Response]]:
    """An endpoint where the chunks starting with the given LastNames fail as told."""
    fake = FakeBatchEndpoint(echo_ids)

    def side_effect(request: httpx.Request) -> httpx.Response:
        fail = failures.get(first_name(request))
        return fail() if fail is not None else fake(request)

    return fake, side_effect


def unavailable() -> httpx.Response:
    return httpx.Response(503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}])


def connection_lost() -> httpx.Response:
    raise httpx.ReadError("connection reset")


async def test_a_request_that_applied_nothing_leaves_its_chunk_pending(
    sf: Salesforce, router: respx.Router
) -> None:
    # 503 is retried (FAST_RETRY: 4 attempts), then raised; Salesforce applied nothing.
    failures = {"N25": unavailable}
    fake, side_effect = failing_chunks(failures)
    route = router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    with pytest.raises(ServerError) as info:
        await batch.execute()
    assert info.value.status_code == 503
    assert route.call_count == 2 + 4
    assert not batch.executed
    assert [s.id for s in subs[:25] + subs[50:]] == [
        f"id-N{i}" for i in [*range(25), *range(50, 60)]
    ]
    assert not any(s.done for s in subs[25:50])
    # Executing again sends only the chunk that did not go through.
    failures.clear()
    fake.payloads.clear()
    await batch.execute()
    (payload,) = fake.payloads
    assert [s["richInput"]["LastName"] for s in payload["batchRequests"]] == [
        f"N{i}" for i in range(25, 50)
    ]
    assert [s.id for s in subs] == [f"id-N{i}" for i in range(60)]
    assert batch.executed


async def test_a_request_that_never_connected_leaves_its_chunk_pending(
    sf: Salesforce, router: respx.Router
) -> None:
    def refused() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    sf.retry = RetryPolicy(max_attempts=1)
    _, side_effect = failing_chunks({"N0": refused})
    router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 30)
    with pytest.raises(Exception, match="ConnectError"):
        await batch.execute()
    assert not batch.executed
    assert not any(s.done for s in subs[:25])
    assert all(s.is_success for s in subs[25:])


async def test_a_request_with_an_unknown_outcome_marks_the_batch_executed(
    sf: Salesforce, router: respx.Router
) -> None:
    fake, side_effect = failing_chunks({"N25": connection_lost})
    router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    with pytest.raises(OutcomeUnknownError):
        await batch.execute()
    assert batch.executed
    assert all(s.is_success for s in subs[:25] + subs[50:])
    assert not any(s.done for s in subs[25:50])
    with pytest.raises(ConfigurationError, match="already executed"):
        await batch.execute()
    assert len(fake.payloads) == 2


async def test_an_unmatched_answer_fails_only_its_chunk(
    sf: Salesforce, router: respx.Router
) -> None:
    def malformed() -> httpx.Response:
        return httpx.Response(200, json={"results": [{"result": None}] * 25})

    _, side_effect = failing_chunks({"N0": malformed})
    router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 30)
    with pytest.raises(ResponseError) as info:
        await batch.execute()
    assert info.value.code == "UNEXPECTED_RESPONSE"
    assert batch.executed
    assert not any(s.done for s in subs[:25])
    assert all(s.is_success for s in subs[25:])


async def test_several_failed_requests_raise_an_exception_group(
    sf: Salesforce, router: respx.Router
) -> None:
    _, side_effect = failing_chunks({"N0": unavailable, "N50": connection_lost})
    router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch(autoraise=True)
    subs = add_contacts(batch, 60)
    with pytest.raises(ExceptionGroup) as info:
        await batch.execute()
    assert str(info.value) == "2 requests of the batch failed (2 sub-exceptions)"
    # In chunk order, whichever failed first.
    assert [type(e) for e in info.value.exceptions] == [ServerError, OutcomeUnknownError]
    assert batch.executed  # the second one may have been applied
    assert all(s.is_success for s in subs[25:50])
    assert not any(s.done for s in subs[:25] + subs[50:])


async def test_request_errors_come_before_autoraise(sf: Salesforce, router: respx.Router) -> None:
    fake, side_effect = failing_chunks({"N0": connection_lost})
    fake.answer = lambda sub: (404, NOT_FOUND) if sub["method"] == "DELETE" else echo_ids(sub)
    router.post(f"{V}/composite/batch").mock(side_effect=side_effect)
    batch = sf.composite.batch(autoraise=True)
    subs = add_contacts(batch, 30)
    bad = batch.sobject.delete("Account", ACC)  # in the second request: would autoraise
    with pytest.raises(OutcomeUnknownError):
        await batch.execute()
    assert bad.status_code == 404
    assert all(s.is_success for s in subs[25:])


async def test_autoraise_waits_for_every_request(sf: Salesforce, router: respx.Router) -> None:
    def answer(sub: dict[str, Any]) -> tuple[int, Any]:
        if sub["richInput"]["LastName"] in ("N1", "N40"):
            return 404, NOT_FOUND
        return echo_ids(sub)

    router.post(f"{V}/composite/batch").mock(side_effect=FakeBatchEndpoint(answer))
    batch = sf.composite.batch(autoraise=True, group_errors=True)
    subs = add_contacts(batch, 60)
    with pytest.raises(ExceptionGroup) as info:
        await batch.execute()
    assert [type(e) for e in info.value.exceptions] == [NotFoundError, NotFoundError]
    assert all(s.done for s in subs)


async def test_cancelling_execute_cancels_the_requests(
    sf: Salesforce, router: respx.Router
) -> None:
    gate = Gate(FakeBatchEndpoint(echo_ids))
    router.post(f"{V}/composite/batch").mock(side_effect=gate)
    batch = sf.composite.batch()
    subs = add_contacts(batch, 60)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(batch.execute)
            await anyio.wait_all_tasks_blocked()
            assert gate.in_flight == 3
            scope.cancel()
    assert scope.cancelled_caught
    assert gate.in_flight == 0
    assert not any(s.done for s in subs)
    assert batch.executed  # sent, so they may have been applied: never sent again


# -- failed or not run ---------------------------------------------------------------------------


def failing_first(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Creates that succeed, except the one for Contact ``name``."""

    def answer(sub: dict[str, Any]) -> tuple[int, Any]:
        return (404, NOT_FOUND) if sub["richInput"]["LastName"] == name else echo_ids(sub)

    return answer


def assert_halted_alike(halted: Sequence[Subrequest]) -> None:
    """Every halted subrequest reads the same, whoever halted it."""
    assert all(s.halted and s.status_code == 412 and not s.is_success for s in halted)
    assert len({str(s.errors) for s in halted}) == 1
    assert halted[0].errors[0].code == "BATCH_PROCESSING_HALTED"
    assert "Not run" in halted[0].errors[0].message
    assert all(isinstance(s.error(), ProcessingHaltedError) for s in halted)


@pytest.mark.parametrize(
    ("failing", "server_halted"),
    [(0, 24), (3, 21), (24, 0)],  # first, inside, and last of the first request of 25
)
async def test_halted_subrequests_are_counted_apart_from_the_failure(
    sf: Salesforce, router: respx.Router, failing: int, server_halted: int
) -> None:
    fake = FakeBatchEndpoint(failing_first(f"N{failing}"))
    router.post(f"{V}/composite/batch").mock(side_effect=fake)
    batch = sf.composite.batch(halt_on_error=True, autoraise=True, group_errors=True)
    subs = add_contacts(batch, 60)
    with pytest.raises(SubrequestErrorGroup) as info:
        await batch.execute()
    group = info.value
    not_run = 59 - failing
    summary = f"60 subrequests: 1 failed, {not_run} not run"
    assert str(group) == f"{summary} ({not_run + 1} sub-exceptions)"
    assert group.failed_subrequests == (subs[failing],)
    assert group.halted_subrequests == tuple(subs[failing + 1 :])
    kinds = [type(e) for e in group.exceptions]
    assert kinds == [NotFoundError] + [ProcessingHaltedError] * not_run
    assert len(fake.payloads) == 1  # the later requests were never sent
    # Halted by Salesforce (later in the failing request) or by the client (later requests):
    # the same message and code, and the raw answer is still there.
    by_server = subs[failing + 1 : 25]
    assert len(by_server) == server_halted
    assert all(s.response["result"] == HALTED for s in by_server)
    assert_halted_alike(subs[failing + 1 :])
    assert all(s.is_success and not s.halted for s in subs[:failing])


async def test_autoraise_without_group_says_what_was_not_run(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite/batch").mock(side_effect=FakeBatchEndpoint(failing_first("N0")))
    batch = sf.composite.batch(halt_on_error=True, autoraise=True)
    subs = add_contacts(batch, 60)
    with pytest.raises(NotFoundError) as info:
        await batch.execute()
    assert info.value.failed_subrequests == (subs[0],)
    assert info.value.halted_subrequests == tuple(subs[1:])
    assert info.value.__notes__ == ["60 subrequests: 1 failed, 59 not run"]


async def test_except_star_parts_keep_the_counts(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/composite/batch").mock(side_effect=FakeBatchEndpoint(failing_first("N3")))
    batch = sf.composite.batch(halt_on_error=True, autoraise=True, group_errors=True)
    subs = add_contacts(batch, 30)
    caught: list[ExceptionGroup[Exception]] = []
    try:
        await batch.execute()
    except* ProcessingHaltedError as halted_part:
        caught.append(halted_part)
    except* NotFoundError as failed_part:
        caught.append(failed_part)
    assert [len(part.exceptions) for part in caught] == [26, 1]
    for part in caught:
        assert isinstance(part, SubrequestErrorGroup)
        assert part.failed_subrequests == (subs[3],)
        assert part.halted_subrequests == tuple(subs[4:])


async def test_a_plain_412_is_a_failure_not_a_halt(sf: Salesforce, router: respx.Router) -> None:
    precondition = [{"errorCode": "PRECONDITION_FAILED", "message": "changed since"}]
    router.post(f"{V}/composite/batch").mock(
        side_effect=FakeBatchEndpoint(lambda sub: (412, precondition))
    )
    batch = sf.composite.batch(autoraise=True, group_errors=True)
    sub = batch.sobject.create("Contact", {"LastName": "A"})
    with pytest.raises(SubrequestErrorGroup) as info:
        await batch.execute()
    assert not sub.halted and sub.result == precondition
    assert info.value.failed_subrequests == (sub,)
    assert str(info.value) == "1 subrequest: 1 failed (1 sub-exception)"


async def test_the_local_org_halts_alike_and_applies_nothing_after_the_failure() -> None:
    org = LocalOrg()
    async with org.client() as sf:
        batch = sf.composite.batch(halt_on_error=True, autoraise=True, group_errors=True)
        broken = batch.sobject.create("Contact", {"FirstName": "no last name"})
        rest = add_contacts(batch, 59)
        with pytest.raises(SubrequestErrorGroup) as info:
            await batch.execute()
        assert str(info.value).startswith("60 subrequests: 1 failed, 59 not run")
        assert info.value.failed_subrequests == (broken,)
        assert info.value.halted_subrequests == tuple(rest)
        assert isinstance(broken.error(), RequiredFieldMissingError)
        assert_halted_alike(rest)
        # 24 halted by the org in the first request, 35 never sent.
        assert [s.response["result"][0]["message"] for s in rest[:24]] == [
            "Batch processing halted per request"
        ] * 24
        assert org.api_usage == 25  # only the first request reached the org
        assert await sf.query("SELECT COUNT() FROM Contact").count() == 0


def test_a_refused_token_means_nothing_was_applied() -> None:
    # A request that needed a token it could not get was never accepted by the org: a
    # session keeps its operations pending instead of calling their outcome unknown.
    from sobjects.client._composite import nothing_applied
    from sobjects.errors import AuthenticationError

    assert nothing_applied(AuthenticationError("invalid_grant", "expired", status_code=400))


async def test_a_created_record_answers_as_salesforce_sent_it(
    sf: Salesforce, router: respx.Router
) -> None:
    # A plain success is kept as the new id alone (see CreateSubrequest); what it answers
    # must not differ from what was sent, and an answer with more in it is kept whole.
    plain = {"id": "003D000000QV9n2IAD", "success": True, "errors": []}
    more = {"id": "003D000000QV9n3IAD", "success": True, "errors": [], "infos": ["x"]}
    answers = iter([(201, plain), (201, more), (200, dict(plain))])
    router.post(f"{V}/composite/batch").mock(
        side_effect=FakeBatchEndpoint(lambda sub: next(answers))
    )
    before = sf.composite.batch()
    with pytest.raises(ResultNotReadyError):
        before.sobject.create("Contact", {"LastName": "A"}).result  # noqa: B018
    async with sf.composite.batch() as batch:
        created = [batch.sobject.create("Contact", {"LastName": n}) for n in "ABC"]
    assert created[0].result == plain and created[0].id == plain["id"]
    assert created[0].response == {"statusCode": 201, "result": plain}
    assert created[0].is_success and created[0].errors == []
    assert created[1].result == more and created[1].id == more["id"]
    assert created[1].response == {"statusCode": 201, "result": more}
    assert created[2].status_code == 200 and created[2].result == plain


async def test_a_created_record_survives_copy_and_pickle(
    sf: Salesforce, endpoint: FakeBatchEndpoint
) -> None:
    import copy
    import pickle

    async with sf.composite.batch() as batch:
        created = batch.sobject.create("Contact", {"LastName": "Doe"})
    for twin in (copy.copy(created), copy.deepcopy(created), pickle.loads(pickle.dumps(created))):
        assert (
            twin.result
            == created.result
            == {
                "id": "003D000000QV9n2IAD",
                "success": True,
                "errors": [],
            }
        )
        assert twin.response == created.response and twin.id == created.id
    created._roll_back()  # (what an all-or-none request does to what it reported applied)
    assert created.response == {"statusCode": 201, "result": twin.result}
    assert created.status_code == 400 and created.errors[0].code == "PROCESSING_HALTED"
