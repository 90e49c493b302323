"""Retry rules, backoff, Retry-After and the deadline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

import sobjects.client._client
from sobjects import RetryEvent, RetryPolicy, RetryRule, Salesforce
from sobjects.auth import StaticToken
from sobjects.client._retry import DEFAULT_RETRY, NO_RETRY, parse_retry_after
from sobjects.errors import (
    BadRequestError,
    ConfigurationError,
    MalformedQueryError,
    RequestLimitExceededError,
    RowLockError,
    ServerError,
    TransportError,
)
from tests.conftest import FAST_RETRY, INSTANCE, TOKEN

PATH = "/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG"
REL = "sobjects/Account/001xx000003DGb2AAG"
LOCKED = [
    {
        "errorCode": "UNABLE_TO_LOCK_ROW",
        "message": "unable to obtain exclusive access to this record or 1 records: 001xx000003DGb2",
    }
]


def ok(method: str) -> httpx.Response:
    return httpx.Response(204 if method in ("PATCH", "DELETE") else 200, json={"ok": True})


def make_client(
    http: httpx.AsyncClient, policy: RetryPolicy, events: list[RetryEvent]
) -> Salesforce:
    async def on_retry(event: RetryEvent) -> None:
        events.append(event)

    return Salesforce(
        INSTANCE,
        auth=StaticToken(TOKEN),
        httpx_client=http,
        retry=policy,
        event_hooks={"retry": [on_retry]},
    )


class FakeClock:
    """Stands in for the ``time`` module of the client: sleeping moves its clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def events() -> list[RetryEvent]:
    return []


@pytest.fixture
def fast(http: httpx.AsyncClient, events: list[RetryEvent]) -> Salesforce:
    return make_client(http, FAST_RETRY, events)


# -- what is retried -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_503_then_200_get_is_retried(
    fast: Salesforce, router: respx.Router, events: list[RetryEvent]
) -> None:
    route = router.get(PATH).mock(
        side_effect=[httpx.Response(503, text="unavailable"), httpx.Response(200, json={"Id": 1})]
    )
    assert await fast.request_json("GET", REL) == {"Id": 1}
    assert route.call_count == 2
    assert len(events) == 1
    assert events[0].attempt == 1
    assert events[0].method == "GET"
    assert events[0].reason == "HTTP 503"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 504])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_gateway_errors_are_retried_for_idempotent_methods(
    fast: Salesforce, router: respx.Router, method: str, status: int
) -> None:
    route = router.route(method=method, path=PATH).mock(
        side_effect=[httpx.Response(status, text="bad gateway"), ok(method)]
    )
    response = await fast.request(method, REL, json={"Name": "x"} if method == "PATCH" else None)
    assert response.status_code < 300
    assert route.call_count == 2


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 504])
async def test_gateway_errors_are_not_retried_for_post(
    fast: Salesforce, router: respx.Router, status: int, events: list[RetryEvent]
) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[httpx.Response(status, text="bad gateway"), httpx.Response(201, json={})]
    )
    with pytest.raises(ServerError) as info:
        await fast.request("POST", "sobjects/Account", json={"Name": "Acme"})
    assert info.value.status_code == status
    assert route.call_count == 1
    assert events == []


@pytest.mark.anyio
async def test_post_can_opt_in_as_idempotent(fast: Salesforce, router: respx.Router) -> None:
    route = router.post("/services/data/v62.0/composite/sobjects").mock(
        side_effect=[httpx.Response(502, text="bad gateway"), httpx.Response(200, json=[])]
    )
    await fast.request("POST", "composite/sobjects", json={"records": []}, idempotent=True)
    assert route.call_count == 2


@pytest.mark.anyio
async def test_get_can_opt_out_of_idempotent_retries(
    fast: Salesforce, router: respx.Router
) -> None:
    route = router.get(PATH).mock(
        side_effect=[httpx.Response(502, text="bad gateway"), httpx.Response(200, json={})]
    )
    with pytest.raises(ServerError):
        await fast.request("GET", REL, idempotent=False)
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_and_unavailable_are_retried_for_post(
    fast: Salesforce, router: respx.Router, status: int
) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[httpx.Response(status, text="slow down"), httpx.Response(201, json={"id": 1})]
    )
    assert await fast.request_json("POST", "sobjects/Account", json={"Name": "A"}) == {"id": 1}
    assert route.call_count == 2
    # The very same body is sent again.
    assert route.calls[0].request.content == route.calls[1].request.content


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")]
)
async def test_connection_failures_are_retried_for_post(
    fast: Salesforce, router: respx.Router, exc: Exception, events: list[RetryEvent]
) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[exc, httpx.Response(201, json={"id": 1})]
    )
    assert await fast.request_json("POST", "sobjects/Account", json={"Name": "A"}) == {"id": 1}
    assert route.call_count == 2
    assert events[0].reason == type(exc).__name__


@pytest.mark.anyio
async def test_read_error_is_not_retried_for_post(fast: Salesforce, router: respx.Router) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(201, json={})]
    )
    with pytest.raises(TransportError) as info:
        await fast.request("POST", "sobjects/Account", json={"Name": "A"})
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc", [httpx.ReadError("reset"), httpx.RemoteProtocolError("eof"), httpx.WriteError("w")]
)
async def test_broken_connections_are_retried_for_get(
    fast: Salesforce, router: respx.Router, exc: Exception
) -> None:
    route = router.get(PATH).mock(side_effect=[exc, httpx.Response(200, json={"Id": 1})])
    assert await fast.request_json("GET", REL) == {"Id": 1}
    assert route.call_count == 2


@pytest.mark.anyio
async def test_row_lock_is_retried_for_patch(
    fast: Salesforce, router: respx.Router, events: list[RetryEvent]
) -> None:
    route = router.patch(PATH).mock(
        side_effect=[httpx.Response(400, json=LOCKED), httpx.Response(204)]
    )
    response = await fast.request("PATCH", REL, json={"Name": "New"})
    assert response.status_code == 204
    assert route.call_count == 2
    assert events[0].reason == "HTTP 400 UNABLE_TO_LOCK_ROW"


@pytest.mark.anyio
async def test_row_lock_is_not_retried_for_post(fast: Salesforce, router: respx.Router) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        return_value=httpx.Response(400, json=LOCKED)
    )
    with pytest.raises(RowLockError):
        await fast.request("POST", "sobjects/Account", json={"Name": "A"})
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
async def test_a_400_is_never_retried(
    fast: Salesforce, router: respx.Router, method: str, events: list[RetryEvent]
) -> None:
    route = router.route(method=method, path=PATH).mock(
        return_value=httpx.Response(
            400, json=[{"errorCode": "MALFORMED_QUERY", "message": "unexpected token: FORM"}]
        )
    )
    with pytest.raises(MalformedQueryError):
        await fast.request(method, REL)
    assert route.call_count == 1
    assert events == []


@pytest.mark.anyio
async def test_html_400_is_not_retried(fast: Salesforce, router: respx.Router) -> None:
    route = router.get(PATH).mock(return_value=httpx.Response(400, text="<html>bad</html>"))
    with pytest.raises(BadRequestError):
        await fast.request("GET", REL)
    assert route.call_count == 1


@pytest.mark.anyio
async def test_request_limit_403_is_not_retried(fast: Salesforce, router: respx.Router) -> None:
    route = router.get(PATH).mock(
        return_value=httpx.Response(
            403,
            json=[
                {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
            ],
        )
    )
    with pytest.raises(RequestLimitExceededError):
        await fast.request("GET", REL)
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("max_attempts", [1, 2, 5])
async def test_max_attempts_is_respected(
    http: httpx.AsyncClient,
    router: respx.Router,
    events: list[RetryEvent],
    max_attempts: int,
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, backoff_base=0.0, backoff_max=0.0)
    sf = make_client(http, policy, events)
    route = router.get(PATH).mock(return_value=httpx.Response(503, text="unavailable"))
    with pytest.raises(ServerError) as info:
        await sf.request("GET", REL)
    assert info.value.status_code == 503
    assert route.call_count == max_attempts
    assert [e.attempt for e in events] == list(range(1, max_attempts))


@pytest.mark.anyio
async def test_exhausted_transport_retries_raise_transport_error(
    fast: Salesforce, router: respx.Router
) -> None:
    route = router.get(PATH).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TransportError) as info:
        await fast.request("GET", REL)
    assert route.call_count == FAST_RETRY.max_attempts
    cause = info.value.__cause__
    assert isinstance(cause, httpx.ConnectError)
    assert str(cause) == "connection refused"
    message = str(info.value)
    assert f"GET {INSTANCE}{PATH}" in message
    assert f"after {FAST_RETRY.max_attempts} attempt(s)" in message
    assert "ConnectError: connection refused" in message


@pytest.mark.anyio
async def test_a_timeout_that_is_not_retried_is_a_transport_error(
    fast: Salesforce, router: respx.Router
) -> None:
    # A POST that timed out while reading may have been applied: it is not repeated.
    route = router.post(PATH).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(TransportError) as info:
        await fast.request("POST", REL, json={})
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert route.call_count == 1


@pytest.mark.anyio
async def test_a_read_timeout_is_retried_for_get(fast: Salesforce, router: respx.Router) -> None:
    route = router.get(PATH).mock(
        side_effect=[httpx.ReadTimeout("read timed out"), httpx.Response(200, json={})]
    )
    assert (await fast.request("GET", REL)).status_code == 200
    assert route.call_count == 2


@pytest.mark.anyio
async def test_undecodable_body_is_a_transport_error(
    fast: Salesforce, router: respx.Router
) -> None:
    # What httpx raises reading a body whose Content-Encoding lies.
    router.get(PATH).mock(side_effect=httpx.DecodingError("incorrect header check"))
    with pytest.raises(TransportError) as info:
        await fast.request("GET", REL)
    assert isinstance(info.value.__cause__, httpx.DecodingError)


# -- waits ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_retry_after_seconds_is_honoured(
    fast: Salesforce, router: respx.Router, events: list[RetryEvent], sleeps: list[float]
) -> None:
    router.get(PATH).mock(
        side_effect=[
            httpx.Response(503, text="busy", headers={"Retry-After": "1"}),
            httpx.Response(200, json={}),
        ]
    )
    await fast.request("GET", REL)
    assert len(events) == 1
    assert events[0].delay >= 1
    assert sleeps == [events[0].delay]


@pytest.mark.anyio
async def test_retry_after_http_date_is_honoured(
    fast: Salesforce, router: respx.Router, events: list[RetryEvent], sleeps: list[float]
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=5)
    router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[
            httpx.Response(429, text="busy", headers={"Retry-After": format_datetime(when, True)}),
            httpx.Response(201, json={}),
        ]
    )
    await fast.request("POST", "sobjects/Account", json={"Name": "A"})
    assert len(events) == 1
    # The date has a one-second resolution.
    assert 3.5 <= events[0].delay <= 5
    assert sleeps == [events[0].delay]


@pytest.mark.anyio
async def test_retry_after_beyond_the_deadline_is_not_waited_for(
    http: httpx.AsyncClient,
    router: respx.Router,
    events: list[RetryEvent],
    sleeps: list[float],
) -> None:
    policy = RetryPolicy(backoff_base=0.0, backoff_max=0.0, deadline=5.0)
    sf = make_client(http, policy, events)
    route = router.get(PATH).mock(
        return_value=httpx.Response(503, text="busy", headers={"Retry-After": "30"})
    )
    with pytest.raises(ServerError) as info:
        await sf.request("GET", REL)
    assert info.value.status_code == 503
    assert route.call_count == 1
    assert events == []
    assert sleeps == []


@pytest.mark.anyio
async def test_backoff_wait_is_used_without_retry_after(
    http: httpx.AsyncClient,
    router: respx.Router,
    events: list[RetryEvent],
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    policy = RetryPolicy(backoff_base=0.5, backoff_max=1.5, deadline=60.0, max_attempts=5)
    sf = make_client(http, policy, events)
    router.get(PATH).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(ServerError):
        await sf.request("GET", REL)
    assert sleeps == [0.5, 1.0, 1.5, 1.5]
    assert [e.delay for e in events] == sleeps


@pytest.mark.anyio
async def test_short_retry_after_does_not_shorten_the_backoff(
    http: httpx.AsyncClient,
    router: respx.Router,
    events: list[RetryEvent],
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    sf = make_client(http, RetryPolicy(backoff_base=2.0, backoff_max=20.0), events)
    router.get(PATH).mock(
        side_effect=[
            httpx.Response(503, text="busy", headers={"Retry-After": "1"}),
            httpx.Response(200, json={}),
        ]
    )
    await sf.request("GET", REL)
    assert sleeps == [2.0]


@pytest.mark.anyio
async def test_backoff_beyond_the_deadline_stops_retrying(
    http: httpx.AsyncClient,
    router: respx.Router,
    events: list[RetryEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(sobjects.client._client, "time", clock)
    monkeypatch.setattr(anyio, "sleep", clock.sleep)
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    policy = RetryPolicy(backoff_base=4.0, backoff_max=100.0, deadline=10.0, max_attempts=10)
    sf = make_client(http, policy, events)
    route = router.get(PATH).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(ServerError):
        await sf.request("GET", REL)
    # A wait of 4 s, then one of 8 s would end 12 s after the start: past the deadline.
    assert clock.sleeps == [4.0]
    assert route.call_count == 2


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 20])
def test_full_jitter_backoff_is_bounded(attempt: int, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=5.0)
    ceiling = min(5.0, 0.5 * 2 ** (attempt - 1))
    calls: list[tuple[float, float]] = []

    def fake_uniform(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", fake_uniform)
    assert policy.backoff(attempt) == ceiling
    assert calls == [(0.0, ceiling)]


def test_full_jitter_backoff_samples_stay_in_range() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=3.0)
    for attempt in (1, 2, 3, 6):
        ceiling = min(3.0, 2.0 ** (attempt - 1))
        samples = [policy.backoff(attempt) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Jitter really spreads the waits (not a constant, not always the ceiling).
        assert len(set(samples)) > 100
        assert min(samples) < ceiling / 2 < max(samples)


def test_zero_backoff_is_zero() -> None:
    assert FAST_RETRY.backoff(1) == 0.0
    assert FAST_RETRY.backoff(10) == 0.0


# -- the policy and its rules ----------------------------------------------------------------------


def test_default_rules() -> None:
    p = DEFAULT_RETRY
    assert p.rule_for_response(503, None, idempotent=False) is not None
    assert p.rule_for_response(429, None, idempotent=False) is not None
    assert p.rule_for_response(502, None, idempotent=False) is None
    assert p.rule_for_response(502, None, idempotent=True) is not None
    assert p.rule_for_response(504, None, idempotent=True) is not None
    assert p.rule_for_response(400, "UNABLE_TO_LOCK_ROW", idempotent=True) is not None
    assert p.rule_for_response(400, "UNABLE_TO_LOCK_ROW", idempotent=False) is None
    assert p.rule_for_response(400, "MALFORMED_QUERY", idempotent=True) is None
    assert p.rule_for_response(401, "INVALID_SESSION_ID", idempotent=True) is None
    assert p.rule_for_exception(httpx.ConnectError("x"), idempotent=False) is not None
    assert p.rule_for_exception(httpx.ReadError("x"), idempotent=False) is None
    assert p.rule_for_exception(httpx.ReadError("x"), idempotent=True) is not None
    assert p.rule_for_exception(ValueError("x"), idempotent=True) is None


@pytest.mark.anyio
async def test_custom_rules(http: httpx.AsyncClient, router: respx.Router) -> None:
    policy = RetryPolicy(
        rules=(RetryRule(status_codes={500}, non_idempotent=True),),
        backoff_base=0.0,
        backoff_max=0.0,
    )
    sf = make_client(http, policy, [])
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        side_effect=[httpx.Response(500, text="oops"), httpx.Response(201, json={})]
    )
    await sf.request("POST", "sobjects/Account", json={})
    assert route.call_count == 2
    # 503 is not in this policy's rules.
    route503 = router.get(PATH).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(ServerError):
        await sf.request("GET", REL)
    assert route503.call_count == 1


@pytest.mark.anyio
async def test_no_retry_policy(http: httpx.AsyncClient, router: respx.Router) -> None:
    sf = make_client(http, NO_RETRY, [])
    route = router.get(PATH).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(ServerError):
        await sf.request("GET", REL)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff_base": -1.0}, {"backoff_max": -1.0}, {"deadline": 0.0}],
)
def test_bad_policy_is_a_configuration_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 2 ") == 2.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Tue, 02 Jan 2024 03:04:35 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 02 Jan 2024 03:04:35 -0000", now=now) == 30.0
    # A date in the past means "now".
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:00 GMT", now=now) == 0.0
