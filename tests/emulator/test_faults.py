"""Scripted faults and latency on the local org, and how sobjects' own client rides them out."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sobjects import RequestEvent, RetryEvent, RetryPolicy, Salesforce
from sobjects.auth import ClientCredentials, StaticToken
from sobjects.emulator import LocalOrg
from sobjects.emulator._org import ConnectionDropped
from sobjects.errors import (
    AuthenticationError,
    OutcomeUnknownError,
    RowLockError,
    ServerError,
    TransportError,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
FAST = RetryPolicy(backoff_base=0, backoff_max=0)
NEVER = RetryPolicy(rules=(), max_attempts=1)


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


@pytest.fixture
async def admin(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the org's /__emulator__ controls (they take the admin token)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.admin_token}"},
    ) as client:
        yield client


async def create(http: httpx.AsyncClient, sobject: str, data: dict[str, Any]) -> str:
    response = await http.post(f"{V}/sobjects/{sobject}", json=data)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    return dict(body[0])


def counting_client(org: LocalOrg, retry: RetryPolicy = FAST) -> tuple[Salesforce, list[str]]:
    """A client for ``org`` and the list of requests it sends (one entry per attempt)."""
    sent: list[str] = []

    async def record(event: RequestEvent) -> None:
        sent.append(f"{event.method} {event.attempt}")

    client: Salesforce = org.client(retry=retry, event_hooks={"request": [record]})
    return client, sent


# -- injected failures on the wire -----------------------------------------------------------


async def test_fail_next_answers_503_without_effect(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.fail_next(2, status=503)
    for _ in range(2):
        refused = await http.post(f"{V}/sobjects/Account", json={"Name": "Never"})
        assert refused.status_code == 503
        assert only_error(refused)["errorCode"] == "SERVER_UNAVAILABLE"
    assert list(org.store.records("Account")) == []
    assert org.api_usage == 0  # refused before being metered
    await create(http, "Account", {"Name": "Third time"})
    assert [a["Name"] for a in org.store.records("Account")] == ["Third time"]


async def test_fail_next_other_status(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account_id = await create(http, "Account", {"Name": "Kept"})
    org.faults.fail_next(1, status=500)
    failed = await http.patch(f"{V}/sobjects/Account/{account_id}", json={"Name": "Lost"})
    assert failed.status_code == 500
    assert only_error(failed)["errorCode"] == "UNKNOWN_EXCEPTION"
    record = org.store.get(account_id)
    assert record is not None
    assert record["Name"] == "Kept"


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "INVALID_SESSION_ID", "Session expired or invalid"),
        (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        (404, "NOT_FOUND", "The requested resource does not exist"),
        (503, "SERVER_UNAVAILABLE", None),
        (500, "UNKNOWN_EXCEPTION", "Please include this ErrorId"),
        (502, "UNKNOWN_EXCEPTION", "Please include this ErrorId"),
    ],
)
async def test_injected_failures_answer_like_salesforce(
    http: httpx.AsyncClient, org: LocalOrg, status: int, code: str, message: str | None
) -> None:
    org.faults.fail_next(1, status=status)
    response = await http.get(f"{V}/limits")
    assert response.status_code == status
    error = only_error(response)
    assert error["errorCode"] == code
    if message is not None:
        assert message in error["message"]


async def test_faults_spare_the_controls_and_the_token_endpoint(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, org: LocalOrg
) -> None:
    org.faults.drop_next(1)
    org.faults.fail_next(1)
    org.faults.latency = 0.5
    started = time.monotonic()
    usage = await admin.get("/__emulator__/usage")
    assert usage.status_code == 200
    token = await http.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "i", "client_secret": "s"},
    )
    assert token.status_code == 200
    assert (await admin.post("/__emulator__/latency", json={"ms": 0})).status_code == 200
    assert time.monotonic() - started < 0.5
    # The scripted drop and failure are still there for the next API request.
    async with org.client(retry=NEVER) as sf:
        with pytest.raises(TransportError):
            await sf.limits()
    assert (await http.get(f"{V}/limits")).status_code == 503


def test_fault_arguments_are_checked(org: LocalOrg) -> None:
    with pytest.raises(ValueError, match="fail_next"):
        org.faults.fail_next(1, status=200)
    with pytest.raises(ValueError, match="fail_next"):
        org.faults.fail_next(-1)
    with pytest.raises(ValueError, match="drop_next"):
        org.faults.drop_next(-1)
    with pytest.raises(ValueError, match="lock_record"):
        org.faults.lock_record("001000000000000AAA", times=-1)


async def test_locked_record_refuses_writes_then_works(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id = await create(http, "Account", {"Name": "Locked"})
    url = f"{V}/sobjects/Account/{account_id}"
    org.faults.lock_record(account_id[:15], times=1)
    locked = await http.patch(url, json={"Name": "Changed"})
    assert locked.status_code == 400
    error = only_error(locked)
    assert error["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert account_id in error["message"]
    assert (await http.get(url)).json()["Name"] == "Locked"  # reads are not blocked
    assert (await http.patch(url, json={"Name": "Changed"})).status_code == 204
    assert (await http.get(url)).json()["Name"] == "Changed"

    org.faults.lock_record(account_id, times=2)
    for _ in range(2):
        refused = await http.delete(url)
        assert (refused.status_code, only_error(refused)["errorCode"]) == (
            400,
            "UNABLE_TO_LOCK_ROW",
        )
    assert (await http.delete(url)).status_code == 204


async def test_locked_record_in_collections(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account_id = await create(http, "Account", {"Name": "Locked"})
    org.faults.lock_record(account_id)
    response = await http.delete(f"{V}/composite/sobjects", params={"ids": account_id})
    assert response.json()[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    again = await http.delete(f"{V}/composite/sobjects", params={"ids": account_id})
    assert again.json()[0]["success"] is True


async def test_locked_record_in_collections_upsert(org: LocalOrg) -> None:
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as http:
        account_id = await create(http, "Account", {"Name": "Locked", "Ext_Id__c": "L-1"})
        org.faults.lock_record(account_id)
        body = {"records": [{"attributes": {"type": "Account"}, "Ext_Id__c": "L-1", "Phone": "1"}]}
        url = f"{V}/composite/sobjects/Account/Ext_Id__c"
        locked = (await http.patch(url, json=body)).json()
        assert locked[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
        assert (await http.patch(url, json=body)).json()[0]["success"] is True


async def test_drop_reaches_the_client_as_a_transport_error(org: LocalOrg) -> None:
    org.faults.drop_next(1)
    async with org.client(retry=NEVER) as sf:
        with pytest.raises(TransportError) as dropped:
            await sf.limits()
        assert isinstance(dropped.value.__cause__, httpx.RemoteProtocolError)
        assert "DailyApiRequests" in await sf.limits()  # only the next one was dropped
    assert org.api_usage == 1  # the dropped request never reached the API


async def test_drop_over_a_real_socket(org: LocalOrg) -> None:
    org.faults.drop_next(1)
    async with (
        org.serve() as url,
        httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {org.access_token}"},
            trust_env=False,
            timeout=10,
        ) as http,
    ):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.get(f"{V}/limits")
        response = await http.get(f"{V}/limits")
        assert response.status_code == 200
        assert response.headers["Sforce-Limit-Info"] == f"api-usage=1/{org.daily_api_limit}"


async def test_latency_is_added_to_each_request(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.latency = 0.05
    started = time.monotonic()
    response = await http.get(f"{V}/limits")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.05


# -- the same over HTTP ----------------------------------------------------------------------


async def test_faults_over_http(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id = await create(http, "Account", {"Name": "Acme"})
    url = f"{V}/sobjects/Account/{account_id}"

    set_fail = await admin.post("/__emulator__/faults", json={"fail_next": 2})
    assert (set_fail.status_code, set_fail.json()) == (200, {"ok": True})
    assert (await http.get(url)).status_code == 503
    assert (await http.get(url)).status_code == 503
    assert (await http.get(url)).status_code == 200

    await admin.post("/__emulator__/faults", json={"fail_next": 1, "status": 500})
    assert (await http.get(url)).status_code == 500

    await admin.post("/__emulator__/faults", json={"lock": account_id, "times": 1})
    locked = await http.patch(url, json={"Name": "New"})
    assert only_error(locked)["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert (await http.patch(url, json={"Name": "New"})).status_code == 204

    await admin.post("/__emulator__/faults", json={"fail_next": 5, "lock": account_id})
    cleared = await admin.post("/__emulator__/faults", json={"clear": True})
    assert cleared.status_code == 200
    assert (await http.patch(url, json={"Name": "Newer"})).status_code == 204

    usage = await admin.get("/__emulator__/usage")
    assert usage.json() == {"used": org.api_usage, "limit": org.daily_api_limit}
    # Metered: the create, the answered GET and the three PATCHes (a locked row is an
    # answer); injected failures and admin calls are not.
    assert org.api_usage == 5


async def test_drop_and_latency_over_http(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, org: LocalOrg
) -> None:
    dropping = await admin.post("/__emulator__/faults", json={"drop_next": 1})
    assert dropping.json() == {"ok": True}
    async with org.client(retry=NEVER) as sf:
        with pytest.raises(TransportError):
            await sf.limits()
    latency = await admin.post("/__emulator__/latency", json={"ms": 50})
    assert latency.json() == {"ok": True, "latency_ms": 50.0}
    assert org.faults.latency == pytest.approx(0.05)
    started = time.monotonic()
    assert (await http.get(f"{V}/limits")).status_code == 200
    assert time.monotonic() - started >= 0.05
    await admin.post("/__emulator__/latency", json={"ms": 0})
    assert org.faults.latency == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/__emulator__/faults", {"fail_next": "many"}, 400),
        ("POST", "/__emulator__/faults", {"fail_next": 1, "status": 200}, 400),
        ("POST", "/__emulator__/faults", {"lock": "not-an-id"}, 400),
        ("POST", "/__emulator__/latency", {"ms": "slow"}, 400),
        ("GET", "/__emulator__/nothing", None, 404),
        ("PUT", "/__emulator__/faults", {}, 404),
    ],
)
async def test_admin_errors(
    admin: httpx.AsyncClient,
    org: LocalOrg,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    response = await admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert org.faults.take_failure() is None  # nothing half-applied


async def test_admin_refuses_non_json(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/__emulator__/faults", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# -- sobjects' client retries ----------------------------------------------------------------


async def test_client_retries_a_get_through_two_503s(org: LocalOrg) -> None:
    account_id = await org_create(org, "Acme")
    sf, sent = counting_client(org)
    org.faults.fail_next(2, status=503)
    async with sf:
        record = await sf.sobject.get("Account", account_id)
    assert record["Name"] == "Acme"
    assert sent == ["GET 1", "GET 2", "GET 3"]


async def test_client_retries_a_create_refused_with_503(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    org.faults.fail_next(1, status=503)
    async with sf:
        new_id = await sf.sobject.create("Account", {"Name": "Once"})
    assert sent == ["POST 1", "POST 2"]  # a 503 was refused unprocessed: safe to resend
    assert [a["Id"] for a in org.store.records("Account")] == [new_id]


async def test_client_gives_up_after_max_attempts(org: LocalOrg) -> None:
    sf, sent = counting_client(org, RetryPolicy(backoff_base=0, backoff_max=0, max_attempts=3))
    org.faults.fail_next(5, status=503)
    async with sf:
        with pytest.raises(ServerError):
            await sf.limits()
    assert len(sent) == 3


async def test_client_does_not_resend_a_create_whose_answer_was_lost(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    org.faults.drop_next(1)
    usage = org.api_usage
    async with sf:
        with pytest.raises(OutcomeUnknownError):
            await sf.sobject.create("Account", {"Name": "Maybe"})
    assert sent == ["POST 1"]  # not retried
    assert org.api_usage == usage
    # The drop happens before the org processes the request: nothing was created.
    assert list(org.store.records("Account")) == []


async def test_client_retries_a_get_whose_answer_was_lost(org: LocalOrg) -> None:
    account_id = await org_create(org, "Acme")
    sf, sent = counting_client(org)
    org.faults.drop_next(1)
    async with sf:
        record = await sf.sobject.get("Account", account_id)
    assert record["Id"] == account_id
    assert sent == ["GET 1", "GET 2"]


async def test_client_retries_an_update_on_a_locked_row(org: LocalOrg) -> None:
    account_id = await org_create(org, "Before")
    sf, sent = counting_client(org)
    org.faults.lock_record(account_id, times=1)
    async with sf:
        await sf.sobject.update("Account", account_id, {"Name": "After"})
    assert sent == ["PATCH 1", "PATCH 2"]
    record = org.store.get(account_id)
    assert record is not None
    assert record["Name"] == "After"


async def test_client_surfaces_a_lock_that_outlasts_the_retries(org: LocalOrg) -> None:
    account_id = await org_create(org, "Before")
    sf, sent = counting_client(org, RetryPolicy(backoff_base=0, backoff_max=0, max_attempts=2))
    org.faults.lock_record(account_id, times=5)
    async with sf:
        with pytest.raises(RowLockError):
            await sf.sobject.delete("Account", account_id)
    assert sent == ["DELETE 1", "DELETE 2"]


async def org_create(org: LocalOrg, name: str) -> str:
    async with org.client(retry=NEVER) as sf:
        return str(await sf.sobject.create("Account", {"Name": name}))


# -- faults for reliability tests ------------------------------------------------------------


async def test_drop_answer_next_applies_then_loses_the_answer(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    org.faults.drop_answer_next(1)
    async with sf:
        with pytest.raises(OutcomeUnknownError) as lost:
            await sf.sobject.create("Account", {"Name": "Applied"})
        assert isinstance(lost.value.__cause__, httpx.RemoteProtocolError)
        assert sent == ["POST 1"]  # not resent: it may have been applied...
        # ...and it was.
        assert [a["Name"] for a in org.store.records("Account")] == ["Applied"]
        assert org.api_usage == 1
        # A read whose answer is lost is simply retried.
        org.faults.drop_answer_next(1)
        account_id = org.store.records("Account")[0]["Id"]
        assert (await sf.sobject.get("Account", account_id))["Name"] == "Applied"
        assert sent[1:] == ["GET 1", "GET 2"]
    assert org.faults.pending()["drop_answer_next"] == 0


async def test_drop_answer_next_waits_for_a_request_that_is_carried_out(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    # A request refused on the way in (throttled here) was not applied: its answer arrives,
    # and the lost answer is the next applied request's.
    org.faults.throttle_next(1, retry_after=0)
    org.faults.drop_answer_next(1)
    throttled = await http.post("/services/data/v62.0/sobjects/Account", json={"Name": "A"})
    assert throttled.status_code == 429
    assert org.store.records("Account") == []
    assert org.faults.pending()["drop_answer_next"] == 1
    with pytest.raises(ConnectionDropped):  # what the plain ASGI transport sees
        await http.post("/services/data/v62.0/sobjects/Account", json={"Name": "B"})
    assert [a["Name"] for a in org.store.records("Account")] == ["B"]
    assert org.faults.pending()["drop_answer_next"] == 0


async def test_drop_answer_next_keeps_the_write_on_disk(tmp_path: Any) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        org.faults.drop_answer_next(1)
        async with (
            org.serve() as url,
            Salesforce(url, auth=StaticToken(org.access_token), retry=NEVER) as sf,
        ):
            with pytest.raises(OutcomeUnknownError):
                await sf.sobject.create("Account", {"Name": "Durable"})
    with LocalOrg(data=data) as restarted:
        assert [a["Name"] for a in restarted.store.records("Account")] == ["Durable"]


async def test_drop_next_and_drop_answer_next_are_distinct(org: LocalOrg) -> None:
    org.faults.drop_next(1)
    org.faults.drop_answer_next(1)
    async with org.client(retry=NEVER) as sf:
        with pytest.raises(OutcomeUnknownError):
            await sf.sobject.create("Account", {"Name": "Not applied"})
        assert list(org.store.records("Account")) == []  # dropped before: not applied
        with pytest.raises(OutcomeUnknownError):
            await sf.sobject.create("Account", {"Name": "Applied"})
        assert [a["Name"] for a in org.store.records("Account")] == ["Applied"]


async def test_lock_creates_on_a_rest_create(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.lock_creates("account", times=1)
    locked = await http.post(f"{V}/sobjects/Account", json={"Name": "Locked"})
    assert locked.status_code == 400
    assert locked.json() == [
        {
            "message": "unable to obtain exclusive access to this record",
            "errorCode": "UNABLE_TO_LOCK_ROW",
            "fields": [],
        }
    ]
    await create(http, "Contact", {"LastName": "Other objects are free"})
    await create(http, "Account", {"Name": "Once only"})
    assert [a["Name"] for a in org.store.records("Account")] == ["Once only"]


async def test_lock_creates_leaves_updates_alone(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account_id = await create(http, "Account", {"Name": "Kept"})
    org.faults.lock_creates(times=1)
    updated = await http.patch(f"{V}/sobjects/Account/{account_id}", json={"Name": "Updated"})
    assert updated.status_code == 204
    assert org.faults.pending()["lock_creates"] == {"*": 1}


async def test_a_locked_create_surfaces_through_the_client(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    org.faults.lock_creates("Account", times=1)
    async with sf:
        # A create is not idempotent: UNABLE_TO_LOCK_ROW is not retried for it.
        with pytest.raises(RowLockError):
            await sf.sobject.create("Account", {"Name": "Locked"})
        assert sent == ["POST 1"]
        assert await sf.sobject.create("Account", {"Name": "Next"})
    assert [a["Name"] for a in org.store.records("Account")] == ["Next"]


async def test_lock_creates_on_upserts_that_would_insert(org: LocalOrg) -> None:
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    existing = org.store.insert(org.schema.require("Account"), {"Name": "A", "Ext_Id__c": "A"})
    sf, sent = counting_client(org)
    org.faults.lock_creates("Account", times=1)
    async with sf:
        updated = await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "A", "Phone": "1"}, external_id_field="Ext_Id__c"
        )
        assert (updated.id, updated.created) == (existing, False)  # an update: not locked
        inserted = await sf.sobject.upsert(
            "Account", {"Ext_Id__c": "B", "Name": "B"}, external_id_field="Ext_Id__c"
        )
        assert inserted.created  # locked once, then retried (an upsert is idempotent)
    assert sent == ["PATCH 1", "PATCH 1", "PATCH 2"]
    assert org.faults.pending()["lock_creates"] == {}


async def test_lock_creates_in_collections_is_per_record(org: LocalOrg) -> None:
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    org.faults.lock_creates(times=1)
    async with org.client(retry=NEVER) as sf:
        created = await sf.collections.create("Account", [{"Name": "One"}, {"Name": "Two"}])
        assert [r.success for r in created] == [False, True]
        assert [e.code for e in created[0].errors] == ["UNABLE_TO_LOCK_ROW"]
        org.faults.lock_creates("Account", times=1)
        upserted = await sf.collections.upsert(
            "Account",
            [{"Ext_Id__c": "X", "Name": "X"}, {"Ext_Id__c": "Y", "Name": "Y"}],
            external_id_field="Ext_Id__c",
        )
        assert [r.success for r in upserted] == [False, True]
        assert [e.code for e in upserted[0].errors] == ["UNABLE_TO_LOCK_ROW"]
    assert sorted(a["Name"] for a in org.store.records("Account")) == ["Two", "Y"]


async def test_lock_creates_in_batch_and_composite_is_per_subrequest(org: LocalOrg) -> None:
    org.faults.lock_creates("Account", times=2)
    async with org.client(retry=NEVER) as sf:
        async with sf.composite.batch() as batch:
            locked = batch.sobject.create("Account", {"Name": "Locked"})
            contact = batch.sobject.create("Contact", {"LastName": "Free"})
        assert locked.status_code == 400
        assert isinstance(locked.error(), RowLockError)
        assert contact.is_success
        composite = sf.composite()
        also_locked = composite.sobject.create("Account", {"Name": "Locked too"})
        created = composite.sobject.create("Account", {"Name": "Created"})
        await composite.execute()
        assert also_locked.status_code == 400
        assert isinstance(also_locked.error(), RowLockError)
        assert created.is_success
    assert [a["Name"] for a in org.store.records("Account")] == ["Created"]


def test_lock_creates_checks_its_sobject(org: LocalOrg) -> None:
    with pytest.raises(ValueError, match="no sObject 'Nope'"):
        org.faults.lock_creates("Nope")
    with pytest.raises(ValueError, match="lock_creates: times"):
        org.faults.lock_creates(times=-1)
    org.faults.lock_creates("account", times=2)
    assert org.faults.pending()["lock_creates"] == {"Account": 2}
    org.faults.lock_creates("Account", times=0)
    assert org.faults.pending()["lock_creates"] == {}


async def test_delay_next_delays_that_many_requests(org: LocalOrg, sleeps: list[float]) -> None:
    org.faults.latency = 0.5
    org.faults.delay_next(2, seconds=3)
    async with org.client(retry=NEVER) as sf:
        for _ in range(3):
            await sf.limits()
    assert sleeps == [3.5, 3.5, 0.5]  # the latency, plus the scripted delay twice


async def test_throttle_next_answers_429_with_retry_after(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    org.faults.throttle_next(1, retry_after=7)
    throttled = await http.post(f"{V}/sobjects/Account", json={"Name": "Not yet"})
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert only_error(throttled)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert list(org.store.records("Account")) == []  # refused, not applied
    assert org.api_usage == 0


async def test_the_client_waits_as_long_as_retry_after_says(
    org: LocalOrg, sleeps: list[float]
) -> None:
    retries: list[float] = []

    async def on_retry(event: RetryEvent) -> None:
        retries.append(event.delay)

    org.faults.throttle_next(2, retry_after=7)
    sf = org.client(retry=FAST, event_hooks={"retry": [on_retry]})
    async with sf:
        account_id = await sf.sobject.create("Account", {"Name": "Throttled"})
    assert retries == [7.0, 7.0]  # Retry-After wins over the (zero) backoff
    assert sleeps == [7.0, 7.0]
    assert [a["Id"] for a in org.store.records("Account")] == [account_id]


async def test_fail_subrequests_in_a_composite_batch(org: LocalOrg) -> None:
    org.faults.fail_subrequests(1, status=500)
    async with org.client(retry=NEVER) as sf:
        async with sf.composite.batch() as batch:
            first = batch.sobject.create("Account", {"Name": "Failed"})
            second = batch.sobject.create("Account", {"Name": "Second"})
            query = batch.query("SELECT Name FROM Account")
        assert first.status_code == 500
        assert isinstance(first.error(), ServerError)
        assert first.errors[0].code == "UNKNOWN_EXCEPTION"
        assert second.is_success
        assert [r["Name"] for r in query.records] == ["Second"]
    assert [a["Name"] for a in org.store.records("Account")] == ["Second"]


async def test_fail_subrequests_shapes(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.fail_subrequests(1, status=400, error_code="UNABLE_TO_LOCK_ROW")
    batch = await http.post(
        f"{V}/composite/batch",
        json={
            "batchRequests": [
                {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "A"}},
                {"method": "GET", "url": "v62.0/limits"},
            ]
        },
    )
    assert batch.status_code == 200
    body = batch.json()
    assert body["hasErrors"] is True
    assert body["results"][0] == {
        "statusCode": 400,
        "result": [
            {
                "message": "unable to obtain exclusive access to this record",
                "errorCode": "UNABLE_TO_LOCK_ROW",
            }
        ],
    }
    assert body["results"][1]["statusCode"] == 200
    org.faults.fail_subrequests(1, status=503)
    composite = await http.post(
        f"{V}/composite",
        json={
            "compositeRequest": [
                {"method": "GET", "url": f"{V}/limits", "referenceId": "limits"},
                {
                    "method": "POST",
                    "url": f"{V}/sobjects/Account",
                    "referenceId": "account",
                    "body": {"Name": "B"},
                },
            ]
        },
    )
    assert composite.status_code == 200
    first, second = composite.json()["compositeResponse"]
    assert first["referenceId"] == "limits"
    assert first["httpStatusCode"] == 503
    assert first["body"][0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert (second["referenceId"], second["httpStatusCode"]) == ("account", 201)
    assert [a["Name"] for a in org.store.records("Account")] == ["B"]
    # Plain requests are not subrequests.
    org.faults.fail_subrequests(1)
    assert (await http.get(f"{V}/limits")).status_code == 200
    assert org.faults.pending()["fail_subrequests"] == [[[500, None], 1]]


def test_fail_subrequests_checks_its_error_code(org: LocalOrg) -> None:
    for bad in ("lower_case", "", "A" * 81, 42):
        with pytest.raises(ValueError, match="error_code"):
            org.faults.fail_subrequests(1, error_code=bad)  # type: ignore[arg-type]


async def test_token_failure_reaches_the_client(org: LocalOrg) -> None:
    org.faults.fail_token_next(1, status=400)
    async with org.client(auth=ClientCredentials("id", "secret"), retry=FAST) as sf:
        with pytest.raises(AuthenticationError) as refused:
            await sf.limits()
        assert (refused.value.error, refused.value.status_code) == ("invalid_grant", 400)
        assert "DailyApiRequests" in await sf.limits()  # the next login works


async def test_token_failure_on_refresh(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    sf.auth = ClientCredentials("id", "secret")
    async with sf:
        await sf.limits()
        org.expire_tokens()
        org.faults.fail_token_next(1, status=400)
        with pytest.raises(AuthenticationError):
            await sf.limits()  # 401, the refresh fails: no replay
        assert sent == ["POST 1", "GET 1", "GET 1", "POST 1"]
        assert "DailyApiRequests" in await sf.limits()


async def test_token_endpoint_unavailable_is_retried(org: LocalOrg) -> None:
    sf, sent = counting_client(org)
    sf.auth = ClientCredentials("id", "secret")
    org.faults.fail_token_next(2, status=503)
    async with sf:
        assert "DailyApiRequests" in await sf.limits()
    assert sent == ["POST 1", "POST 2", "POST 3", "GET 1"]


async def test_token_failures_over_http(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.fail_token_next(1, status=503)
    org.faults.fail_token_next(1, status=401)
    form = {"grant_type": "client_credentials", "client_id": "i", "client_secret": "s"}
    unavailable = await http.post("/services/oauth2/token", data=form)
    assert (unavailable.status_code, unavailable.json()) == (
        503,
        {"error": "unknown_error", "error_description": "retry your request"},
    )
    refused = await http.post("/services/oauth2/token", data=form)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_grant")
    assert (await http.post("/services/oauth2/token", data=form)).status_code == 200
    # API faults leave the token endpoint alone, and token faults leave the API alone.
    org.faults.fail_next(1)
    assert (await http.post("/services/oauth2/token", data=form)).status_code == 200
    org.faults.fail_token_next(1)
    assert (await http.get(f"{V}/limits")).status_code == 503
    assert (await http.get(f"{V}/limits")).status_code == 200


async def test_new_faults_over_http(
    http: httpx.AsyncClient, admin: httpx.AsyncClient, org: LocalOrg
) -> None:
    response = await admin.post(
        "/__emulator__/faults",
        json={
            "delay_next": {"count": 2, "seconds": 0.25},
            "throttle_next": {"count": 1, "retry_after": 3},
            "lock_creates": {"sobject": "Contact", "times": 2},
            "fail_subrequests": {"count": 1, "status": 400, "error_code": "UNABLE_TO_LOCK_ROW"},
            "drop_answer_next": 4,
            "fail_token_next": {"count": 1, "status": 400},
        },
    )
    assert response.status_code == 200, response.text
    state = (await admin.get("/__emulator__/faults")).json()
    assert {k: v for k, v in state.items() if v} == {
        "delay_next": [[0.25, 2]],
        "throttle_next": [[3, 1]],
        "lock_creates": {"Contact": 2},
        "fail_subrequests": [[[400, "UNABLE_TO_LOCK_ROW"], 1]],
        "drop_answer_next": 4,
        "fail_token_next": [[400, 1]],
    }
    await admin.post("/__emulator__/faults", json={"lock_creates": "Account"})
    assert org.faults.pending()["lock_creates"] == {"Contact": 2, "Account": 1}
    await admin.post("/__emulator__/faults", json={"lock_creates": None})
    assert org.faults.pending()["lock_creates"] == {"Contact": 2, "Account": 1, "*": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"delay_next": 2}, "delay_next needs seconds"),
        ({"delay_next": {"count": 1, "seconds": 61}}, "delay_next: seconds must be"),
        ({"delay_next": {"count": 1, "seconds": "1"}}, "delay_next: seconds must be"),
        ({"throttle_next": {"retry_after": 1.5}}, "retry_after must be an integer"),
        ({"throttle_next": {"retry_after": 3601}}, "retry_after must be an integer"),
        ({"throttle_next": 10**6}, "throttle_next: count must be"),
        ({"lock_creates": "Nope"}, "no sObject 'Nope'"),
        ({"lock_creates": {"sobject": 3}}, "sobject must be a name"),
        ({"lock_creates": {"times": True}}, "lock_creates: times must be"),
        ({"fail_subrequests": {"status": 302}}, "fail_subrequests: status must be"),
        ({"fail_subrequests": {"error_code": "oops"}}, "error_code must be"),
        ({"drop_answer_next": -1}, "drop_answer_next: count must be"),
        ({"fail_token_next": {"status": 200}}, "fail_token_next: status must be"),
        ({"fail_token_next": {"count": 1, "retry_after": 1}}, "unknown key(s) retry_after"),
    ],
)
async def test_new_faults_over_http_are_checked(
    admin: httpx.AsyncClient, org: LocalOrg, body: dict[str, Any], message: str
) -> None:
    response = await admin.post("/__emulator__/faults", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert not any(org.faults.pending().values())


def test_clear_clears_every_kind(org: LocalOrg) -> None:
    faults = org.faults
    faults.latency = 1
    faults.delay_next(1, seconds=1)
    faults.drop_next(1)
    faults.throttle_next(1)
    faults.fail_next(1)
    faults.lock_record("001000000000000AAA")
    faults.lock_creates()
    faults.fail_subrequests(1)
    faults.drop_answer_next(1)
    faults.fail_token_next(1)
    assert all(faults.pending().values())
    faults.clear()
    assert not any(faults.pending().values())


def test_the_fault_state_is_thread_safe(org: LocalOrg) -> None:
    """Threads scripting and taking faults at once lose none and take none twice."""
    faults = org.faults
    taken: list[int] = []

    def script() -> None:
        for _ in range(200):
            faults.fail_next(5, status=500)
            faults.drop_answer_next(5)

    def take() -> None:
        mine = 0
        for _ in range(2000):
            mine += faults.take_failure() is not None
            mine += faults.take_answer_drop()
        taken.append(mine)

    threads = [threading.Thread(target=script) for _ in range(4)]
    threads += [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    left = faults.pending()
    remaining = sum(n for _, n in left["fail_next"]) + left["drop_answer_next"]
    assert sum(taken) + remaining == 4 * 200 * 10
