"""Scripted faults and latency on the local org, and how sobjects' own client rides them out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sobjects import RequestEvent, RetryPolicy, Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import OutcomeUnknownError, RowLockError, ServerError, TransportError

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
FAST = RetryPolicy(backoff_base=0, backoff_max=0)
NEVER = RetryPolicy(rules=(), max_attempts=1)


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


@pytest.fixture
async def http(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as client:
        yield client


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
