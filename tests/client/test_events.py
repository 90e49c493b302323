"""Event hooks and the usage the client keeps from ``Sforce-Limit-Info``."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from sobjects import (
    ApiUsage,
    ApiUsageEvent,
    EventHooks,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    Salesforce,
)
from sobjects.auth import StaticToken
from sobjects.client import AppApiUsage
from sobjects.client._events import HookRunner
from sobjects.errors import ConfigurationError
from tests.conftest import DATA, FAST_RETRY, INSTANCE, TOKEN

LIMITS = "/services/data/v62.0/limits"
URL = f"{DATA}/limits"


def client(http: httpx.AsyncClient, hooks: EventHooks) -> Salesforce:
    return Salesforce(
        INSTANCE, auth=StaticToken(TOKEN), httpx_client=http, retry=FAST_RETRY, event_hooks=hooks
    )


@pytest.mark.anyio
async def test_hooks_are_awaited_in_order_with_event_data(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    log: list[tuple[str, object]] = []

    def recorder(tag: str):  # type: ignore[no-untyped-def]
        async def hook(event: object) -> None:
            log.append((tag, event))

        return hook

    hooks: EventHooks = {
        "request": [recorder("request-1"), recorder("request-2")],
        "response": [recorder("response-1"), recorder("response-2")],
        "retry": [recorder("retry-1"), recorder("retry-2")],
        "api_usage": [recorder("usage-1"), recorder("usage-2")],
    }
    router.get(LIMITS).mock(
        side_effect=[
            httpx.Response(503, text="busy", headers={"Sforce-Limit-Info": "api-usage=17/5000"}),
            httpx.Response(200, json={}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}),
        ]
    )
    sf = client(http, hooks)
    await sf.limits()
    assert [tag for tag, _ in log] == [
        "request-1",
        "request-2",
        "response-1",
        "response-2",
        "usage-1",
        "usage-2",
        "retry-1",
        "retry-2",
        "request-1",
        "request-2",
        "response-1",
        "response-2",
        "usage-1",
        "usage-2",
    ]
    events = [event for _, event in log]
    assert events[0] == RequestEvent("GET", URL, 1)
    assert events[0] is events[1]  # every hook of an event gets the same event object
    first = events[2]
    assert isinstance(first, ResponseEvent)
    assert (first.method, first.url, first.attempt, first.status_code) == ("GET", URL, 1, 503)
    assert first.elapsed >= 0
    assert first.headers["Sforce-Limit-Info"] == "api-usage=17/5000"
    assert events[4] == ApiUsageEvent(ApiUsage(17, 5000))
    retry = events[6]
    assert isinstance(retry, RetryEvent)
    assert (retry.method, retry.url, retry.attempt, retry.reason) == ("GET", URL, 1, "HTTP 503")
    assert retry.delay == 0.0
    assert events[8] == RequestEvent("GET", URL, 2)
    second = events[10]
    assert isinstance(second, ResponseEvent)
    assert (second.attempt, second.status_code) == (2, 200)
    assert events[12] == ApiUsageEvent(ApiUsage(18, 5000))


@pytest.mark.anyio
async def test_a_transport_failure_has_a_request_event_but_no_response_event(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    names: list[str] = []

    async def on_request(event: RequestEvent) -> None:
        names.append(f"request {event.attempt}")

    async def on_response(event: ResponseEvent) -> None:
        names.append(f"response {event.attempt}")

    async def on_retry(event: RetryEvent) -> None:
        names.append(f"retry {event.reason}")

    router.get(LIMITS).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    sf = client(http, {"request": [on_request], "response": [on_response], "retry": [on_retry]})
    await sf.limits()
    assert names == ["request 1", "retry ConnectError", "request 2", "response 2"]


@pytest.mark.anyio
async def test_a_failing_hook_does_not_break_the_request_and_is_logged(
    http: httpx.AsyncClient, router: respx.Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sobjects")
    later: list[RequestEvent] = []

    async def broken(event: RequestEvent) -> None:
        raise RuntimeError("observability is down")

    async def after(event: RequestEvent) -> None:
        later.append(event)

    async def broken_usage(event: ApiUsageEvent) -> None:
        raise KeyError("nope")

    route = router.get(LIMITS).mock(
        return_value=httpx.Response(
            200, json={"ok": 1}, headers={"Sforce-Limit-Info": "api-usage=5/100"}
        )
    )
    sf = client(http, {"request": [broken, after], "api_usage": [broken_usage]})
    assert await sf.limits() == {"ok": 1}
    assert route.call_count == 1
    assert later == [RequestEvent("GET", URL, 1)]  # the next hook still ran
    assert sf.api_usage == ApiUsage(5, 100)
    failures = [r for r in caplog.records if r.exc_info is not None]
    assert len(failures) == 2
    assert "request hook" in failures[0].getMessage()
    assert failures[0].levelno == logging.ERROR
    assert isinstance(failures[0].exc_info[1], RuntimeError)  # type: ignore[index]
    assert "api_usage hook" in failures[1].getMessage()


@pytest.mark.anyio
async def test_api_usage_updates(sf: Salesforce, router: respx.Router) -> None:
    router.get(LIMITS).mock(
        side_effect=[
            httpx.Response(200, json={}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}),
            httpx.Response(200, json={}),
            httpx.Response(
                200,
                json={},
                headers={
                    "Sforce-Limit-Info": "api-usage=19/5000; per-app-api-usage=3/250(appName=x)"
                },
            ),
        ]
    )
    assert sf.api_usage is None
    await sf.limits()
    usage = sf.api_usage
    assert usage == ApiUsage(used=18, limit=5000)
    assert usage is not None
    assert usage.remaining == 4982
    await sf.limits()  # no header: the last reading stays
    assert sf.api_usage == ApiUsage(used=18, limit=5000)
    await sf.limits()
    assert sf.api_usage == ApiUsage(19, 5000, per_app=AppApiUsage("x", used=3, limit=250))


@pytest.mark.anyio
async def test_api_usage_is_read_from_error_responses_too(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get(LIMITS).mock(
        return_value=httpx.Response(
            404,
            json=[{"errorCode": "NOT_FOUND", "message": "x"}],
            headers={"Sforce-Limit-Info": "api-usage=7/15000"},
        )
    )
    with pytest.raises(Exception, match="NOT_FOUND"):
        await sf.limits()
    assert sf.api_usage == ApiUsage(7, 15000)


@pytest.mark.anyio
async def test_plain_functions_are_hooks_too_called_in_order_with_async_ones(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    order: list[str] = []

    def counted(event: RequestEvent) -> None:  # a plain function: no await needed
        order.append(f"plain {event.method}")

    async def awaited(event: RequestEvent) -> None:
        order.append(f"async {event.method}")

    def broken(event: ResponseEvent) -> None:
        raise RuntimeError("a plain hook that fails is logged, as an async one is")

    router.get(LIMITS).mock(return_value=httpx.Response(200, json={}))
    sf = client(http, {"request": [counted, awaited], "response": [broken]})
    await sf.limits()
    assert order == ["plain GET", "async GET"]


def test_hook_runner_rejects_what_is_not_a_callable() -> None:
    with pytest.raises(ConfigurationError, match="'request' holds 'log', not a callable"):
        HookRunner({"request": ["log"]})  # type: ignore[list-item]


def test_hook_runner_rejects_unknown_names() -> None:
    async def hook(event: object) -> None:
        return None

    with pytest.raises(ConfigurationError, match="responses"):
        HookRunner({"responses": [hook]})
    assert HookRunner(None).has("request") is False
    assert HookRunner({"retry": [hook]}).has("retry") is True
