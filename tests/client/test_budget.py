"""The org's API budget: ``Sforce-Limit-Info`` parsing, request costs, ``api_reserve`` and
``ApiCallMeter`` (salesforce-rest.md sections 0 and 3.4)."""

from __future__ import annotations

import random
from typing import Any

import anyio
import httpx
import pytest
import respx

from sobjects import ApiUsage, ApiUsageEvent, RequestEvent, Salesforce
from sobjects.auth import ClientCredentials, StaticToken
from sobjects.client import ApiBursts, ApiCallMeter, AppApiUsage, api_cost
from sobjects.client._budget import parse_limit_info
from sobjects.emulator import LocalOrg
from sobjects.errors import ApiBudgetError, ConfigurationError, RequestLimitExceededError
from tests.conftest import DATA, FAST_RETRY, INSTANCE, TOKEN, TOKEN_PATH, token_reply

V = "/services/data/v62.0"
LIMITS = f"{V}/limits"
BATCH = f"{V}/composite/batch"


def usage_header(used: int, limit: int = 100) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}


def client(http: httpx.AsyncClient, **kwargs: Any) -> Salesforce:
    kwargs.setdefault("retry", FAST_RETRY)
    return Salesforce(INSTANCE, auth=StaticToken(TOKEN), httpx_client=http, **kwargs)


# -- the header ------------------------------------------------------------------------------


APP = AppApiUsage("sample-connected-app", used=17, limit=250)


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=18/5000", ApiUsage(18, 5000)),
        (
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
            ApiUsage(25, 5000, per_app=APP),
        ),
        (  # any order
            "per-app-api-usage=17/250(appName=sample-connected-app); api-usage=25/5000",
            ApiUsage(25, 5000, per_app=APP),
        ),
        (
            "api-usage=10018/100000; api-bursts=1/750",
            ApiUsage(10018, 100000, bursts=ApiBursts(1, 750)),
        ),
        (  # commas (two headers joined by httpx), no spaces, all three parts
            "api-bursts=0/750,per-app-api-usage=3/10(appName=x),api-usage=0/15000",
            ApiUsage(0, 15000, per_app=AppApiUsage("x", 3, 10), bursts=ApiBursts(0, 750)),
        ),
        (  # spaces everywhere, other casing
            "  API-Usage = 18 / 5000 ;Per-App-Api-Usage= 17 /250 ( appname = My App ) ; ",
            ApiUsage(18, 5000, per_app=AppApiUsage("My App", 17, 250)),
        ),
        (  # an app name holding the separators
            "api-usage=1/2; per-app-api-usage=1/9(appName=a;b,c)",
            ApiUsage(1, 2, per_app=AppApiUsage("a;b,c", 1, 9)),
        ),
        (  # unknown parts, bare words and empty parts are ignored
            "future-thing=1/2(x=y); api-usage=5/100; ;nonsense; =3/4; api-bursts",
            ApiUsage(5, 100),
        ),
        (  # a malformed value is skipped: the first valid one counts
            "api-usage=abc; api-usage=7/100; api-usage=8/100",
            ApiUsage(7, 100),
        ),
        (  # malformed per-app and bursts values drop those parts, not the reading
            "api-usage=7/100; per-app-api-usage=3/250; api-bursts=x/750",
            ApiUsage(7, 100),
        ),
        (  # an unclosed parenthesis does not swallow what follows
            "per-app-api-usage=1/2(appName=x; api-usage=3/4",
            ApiUsage(3, 4),
        ),
        ("api-usage=110018/100000", ApiUsage(110018, 100000)),  # over the allowance (bursting)
        ("per-app-api-usage=17/250(appName=sample)", None),  # no org reading
        ("api-usage=abc", None),
        ("api-usage=18/", None),
        ("api-usage=/5000", None),
        ("api-usage=18/5000/3", None),
        ("api-usage=-1/5000", None),
        ("api-usage=1.5/5000", None),
        ("api-usage=18 5000", None),
        ("api-usage=\u0661\u0668/5000", None),  # Arabic-Indic digits are not ASCII digits
        ("api-usage=" + "9" * 19 + "/5000", None),  # absurdly long numbers are malformed
        ("api-usage=" + "9" * 5000 + "/5000", None),  # beyond int()'s digit limit: no raise
        ("api-usage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_limit_info(header: str | None, usage: ApiUsage | None) -> None:
    assert parse_limit_info(header) == usage


def test_parse_limit_info_never_raises() -> None:
    rng = random.Random(28)
    alphabet = "api-usageperbursts=/();, 0123456789appName\u0661x"
    parsed = 0
    for _ in range(3000):
        header = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        if rng.random() < 0.5:
            header += f"; api-usage={rng.randrange(100)}/100"
        usage = parse_limit_info(header)
        assert usage is None or isinstance(usage, ApiUsage)
        parsed += usage is not None
    assert parsed > 1000  # the valid part is found in most headers despite the noise


def test_usage_arithmetic() -> None:
    assert ApiUsage(18, 5000).remaining == 4982
    assert ApiUsage(18, 5000).fraction == pytest.approx(0.0036)
    assert ApiUsage(110018, 100000).remaining == 0
    assert ApiUsage(110018, 100000).fraction > 1
    assert ApiUsage(0, 0).fraction == 1.0
    assert AppApiUsage("x", 17, 250).remaining == 233
    assert ApiBursts(751, 750).remaining == 0


# -- costs -----------------------------------------------------------------------------------


def batch_body(n: int) -> dict[str, Any]:
    return {"batchRequests": [{"method": "GET", "url": "v62.0/limits"}] * n}


@pytest.mark.parametrize(
    ("method", "path", "body", "cost"),
    [
        ("POST", "composite/batch", batch_body(3), 3),
        ("post", f"{V}/composite/batch", batch_body(25), 25),
        ("POST", f"{DATA}/composite/batch/", batch_body(7), 7),
        ("POST", "composite/batch", batch_body(0), 1),  # refused whole by Salesforce
        ("POST", "composite/batch", batch_body(26), 1),  # idem
        ("POST", "composite/batch", {"batchRequests": "x"}, 1),
        ("POST", "composite/batch", [1, 2, 3], 1),
        ("GET", "composite/batch", None, 1),
        ("POST", "composite", {"compositeRequest": [{}] * 25}, 1),
        ("POST", "composite/graph", {"graphs": [{}] * 3}, 1),
        ("POST", "composite/tree/Account", {"records": [{}] * 200}, 1),
        ("POST", "composite/sobjects", {"records": [{}] * 200}, 1),
        ("GET", "query?q=SELECT+Id+FROM+Account", None, 1),
        ("GET", f"{V}/query/01gxx0000000001-2000", None, 1),
        ("GET", "/services/data/", None, 0),  # the versions list is free
        ("GET", "/services/data", None, 0),
        ("GET", f"{INSTANCE}/services/data/", None, 0),
        ("GET", "/services/apexrest/thing", None, 1),
    ],
)
def test_api_cost(method: str, path: str, body: Any, cost: int) -> None:
    assert api_cost(method, path, body) == cost


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_reserve_and_budget_are_validated(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="api_reserve must be None or an int >= 0"):
        Salesforce(INSTANCE, auth=StaticToken(TOKEN), api_reserve=bad)
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN), api_reserve=0)
    with pytest.raises(ConfigurationError, match="api_reserve"):
        sf.api_reserve = bad
    assert sf.api_reserve == 0
    with pytest.raises(ConfigurationError, match="budget must be None or an int >= 0"):
        ApiCallMeter(budget=bad)


@pytest.mark.anyio
async def test_a_bad_cost_is_refused_before_http(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    route = router.get(LIMITS).mock(return_value=httpx.Response(200, json={}))
    sf = client(http)
    with pytest.raises(ConfigurationError, match="cost must be None or an int >= 0"):
        await sf.request("GET", "limits", cost=-2)
    assert route.call_count == 0


# -- api_reserve -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_a_reading_requests_go(http: httpx.AsyncClient, router: respx.Router) -> None:
    route = router.get(f"{V}/sobjects").mock(return_value=httpx.Response(200, json={}))
    sf = client(http, api_reserve=10**9)
    assert sf.api_calls_available is None
    await sf.describe()
    await sf.describe()  # the answers carried no reading: still nothing to go by
    assert route.call_count == 2


@pytest.mark.anyio
async def test_the_reserve_refuses_before_any_http(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    route = router.get(f"{V}/sobjects").mock(
        side_effect=[
            httpx.Response(200, json={}, headers=usage_header(89)),
            httpx.Response(200, json={}, headers=usage_header(90)),
        ]
    )
    sent: list[RequestEvent] = []

    async def on_request(event: RequestEvent) -> None:
        sent.append(event)

    sf = client(http, api_reserve=10, event_hooks={"request": [on_request]})
    await sf.describe()
    assert sf.api_calls_available == 1  # 11 left, 10 kept
    await sf.describe()  # 11 left: 10 after it, none of the reserve spent
    assert sf.api_calls_available == 0
    with pytest.raises(ApiBudgetError) as info:
        await sf.describe()  # 10 left: the next call is the reserve's
    assert route.call_count == 2
    assert len(sent) == 2  # not even a request event
    error = info.value
    assert isinstance(error, ConfigurationError)  # refused before HTTP, like bad arguments
    assert (error.cost, error.reserve, error.usage) == (1, 10, ApiUsage(90, 100))
    assert (error.budget, error.spent) == (None, None)
    message = str(error)
    assert f"GET {DATA}/sobjects: it costs 1 API call" in message
    assert "api-usage=90/100" in message
    assert "api_reserve of 10" in message
    assert "nothing was sent" in message
    sf.api_reserve = 9  # lowering the reserve lets it through
    router.get(f"{V}/sobjects").mock(return_value=httpx.Response(200, json={}))
    await sf.describe()
    sf.api_reserve = None  # and None turns the check off
    assert sf.api_calls_available == 10  # what is left before the end of the allowance
    await sf.describe()


@pytest.mark.anyio
async def test_reserve_zero_refuses_past_the_allowance(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    router.get(f"{V}/sobjects").mock(
        return_value=httpx.Response(200, json={}, headers=usage_header(110018, 100000))
    )
    sf = client(http, api_reserve=0)
    await sf.describe()
    with pytest.raises(ApiBudgetError, match="0 of 100000 daily API calls left"):
        await sf.describe(refresh=True)


@pytest.mark.anyio
async def test_free_requests_and_limits_are_never_refused(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    router.get("/services/data/").mock(return_value=httpx.Response(200, json=[]))
    limits = router.get(LIMITS).mock(
        side_effect=[
            httpx.Response(200, json={}, headers=usage_header(100)),
            httpx.Response(200, json={}, headers=usage_header(40)),
        ]
    )
    query = router.get(f"{V}/query").mock(
        return_value=httpx.Response(200, json={"totalSize": 0, "done": True, "records": []})
    )
    sf = client(http, api_reserve=5)
    await sf.limits()
    assert sf.api_usage == ApiUsage(100, 100)
    assert await sf.versions() == []  # costs nothing: never refused
    with pytest.raises(ApiBudgetError):
        await sf.query("SELECT Id FROM Account").all()
    # The rolling 24 hours freed calls: limits() is how a refusing client finds out.
    await sf.limits()
    assert limits.call_count == 2
    assert await sf.query("SELECT Id FROM Account").all() == []
    assert query.call_count == 1


@pytest.mark.anyio
async def test_an_explicit_cost_counts(http: httpx.AsyncClient, router: respx.Router) -> None:
    route = router.post(f"{V}/actions/custom/flow/Bulk").mock(
        return_value=httpx.Response(200, json={}, headers=usage_header(86))
    )
    sf = client(http, api_reserve=10)
    await sf.request("POST", "actions/custom/flow/Bulk", json={}, cost=4)  # 14 left after
    with pytest.raises(ApiBudgetError, match="it costs 5 API calls") as info:
        await sf.request("POST", "actions/custom/flow/Bulk", json={}, cost=5)
    assert info.value.cost == 5
    await sf.request("POST", "actions/custom/flow/Bulk", json={}, cost=4)
    assert route.call_count == 2


class FakeBatch:
    """A Composite Batch endpoint that answers every subrequest with 204 and reports usage
    the way Salesforce does: one call per subrequest."""

    def __init__(self, used: int, limit: int = 100) -> None:
        self.used, self.limit = used, limit
        self.sizes: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import json

        size = len(json.loads(request.content)["batchRequests"])
        self.sizes.append(size)
        self.used += size
        results = [{"statusCode": 204, "result": None}] * size
        return httpx.Response(
            200,
            json={"hasErrors": False, "results": results},
            headers=usage_header(self.used, self.limit),
        )


@pytest.mark.anyio
async def test_a_batch_costs_one_call_per_subrequest(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    router.get(LIMITS).mock(return_value=httpx.Response(200, json={}, headers=usage_header(80)))
    fake = FakeBatch(used=80)
    router.post(BATCH).mock(side_effect=fake)
    costs: list[int] = []

    async def on_request(event: RequestEvent) -> None:
        costs.append(event.cost)

    sf = client(http, api_reserve=10, event_hooks={"request": [on_request]})
    await sf.limits()  # 20 left, 10 kept: 10 to spend
    batch = sf.composite.batch()
    subs = [batch.sobject.delete("Account", f"001xx00000000{i:02d}AAA") for i in range(11)]
    with pytest.raises(ApiBudgetError, match="it costs 11 API calls") as info:
        await batch.execute()
    assert info.value.cost == 11
    assert fake.sizes == []  # nothing sent
    assert not any(s.done for s in subs) and not batch.executed  # still pending: may retry
    sf.api_reserve = 9
    await batch.execute()
    assert fake.sizes == [11]
    assert all(s.status_code == 204 for s in subs)
    assert costs == [1, 11]
    assert sf.api_usage == ApiUsage(91, 100)


@pytest.mark.anyio
async def test_calls_in_flight_count_against_the_reserve(anyio_backend: str) -> None:
    release, all_arrived = anyio.Event(), anyio.Event()
    arrived = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        if arrived == 6:
            all_arrived.set()
        if request.url.path != LIMITS:
            await release.wait()
        return httpx.Response(200, json={}, headers=usage_header(85))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        sf = client(http, api_reserve=10)
        await sf.limits()  # 15 left: 5 calls to spend
        refused: list[ApiBudgetError] = []

        async def describe(name: str) -> None:
            try:
                await sf.describe(name)
            except ApiBudgetError as exc:
                refused.append(exc)

        async with anyio.create_task_group() as tg:
            for name in ("Account", "Contact", "Lead", "Case", "Task", "Event", "Note", "User"):
                tg.start_soon(describe, name)
            with anyio.fail_after(5):
                await all_arrived.wait()  # limits, then 5 of the 8
            assert sf.api_calls_in_flight == 5
            assert sf.api_calls_available == 0
            release.set()
        assert len(refused) == 3
        assert all("5 more in flight" in str(exc) for exc in refused)
        assert sf.api_calls_in_flight == 0
        assert arrived == 6


@pytest.mark.anyio
async def test_a_retry_is_checked_too(http: httpx.AsyncClient, router: respx.Router) -> None:
    router.get(LIMITS).mock(return_value=httpx.Response(200, json={}, headers=usage_header(80)))
    route = router.get(f"{V}/sobjects").mock(
        side_effect=[
            httpx.Response(503, text="busy", headers=usage_header(90)),
            httpx.Response(200, json={}),
        ]
    )
    sf = client(http, api_reserve=10)
    await sf.limits()
    with pytest.raises(
        ApiBudgetError, match=r"again \(after 1 attempt\(s\)\).*this attempt was not sent"
    ):
        await sf.describe()
    assert route.call_count == 1


@pytest.mark.anyio
async def test_the_usage_event_carries_every_part(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    header = "api-usage=10018/100000; api-bursts=1/750; per-app-api-usage=17/250(appName=x)"
    router.get(LIMITS).mock(
        return_value=httpx.Response(200, json={}, headers={"Sforce-Limit-Info": header})
    )
    events: list[ApiUsageEvent] = []

    async def on_usage(event: ApiUsageEvent) -> None:
        events.append(event)

    sf = client(http, event_hooks={"api_usage": [on_usage]})
    await sf.limits()
    expected = ApiUsage(10018, 100000, per_app=AppApiUsage("x", 17, 250), bursts=ApiBursts(1, 750))
    assert events == [ApiUsageEvent(expected)]
    assert sf.api_usage == expected


@pytest.mark.anyio
async def test_a_replay_after_401_is_refused_before_the_token_fetch(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply())
    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    route = router.get(f"{V}/sobjects").mock(
        return_value=httpx.Response(401, json=expired, headers=usage_header(95))
    )
    sf = Salesforce(
        INSTANCE,
        auth=ClientCredentials("id", "secret"),
        httpx_client=http,
        retry=FAST_RETRY,
        api_reserve=5,
    )
    with pytest.raises(ApiBudgetError, match=r"after 1 attempt\(s\)") as info:
        await sf.describe()
    assert "this attempt was not sent" in str(info.value)
    assert (token.call_count, route.call_count) == (1, 1)  # no second token, no replay


# -- meters ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_meter_counts_every_attempt_of_its_block(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    router.get(LIMITS).mock(
        side_effect=[
            httpx.ConnectError("refused"),  # never reached Salesforce: not counted
            httpx.Response(503, text="busy"),  # reached it: counted
            httpx.Response(200, json={}),
            httpx.Response(200, json={}),
            httpx.Response(200, json={}),
        ]
    )
    fake = FakeBatch(used=0, limit=15000)
    router.post(BATCH).mock(side_effect=fake)
    sf = client(http)
    meter, outer = ApiCallMeter(), ApiCallMeter()
    with outer.counting():
        with meter.counting() as same:
            assert same is meter
            await sf.limits()
            batch = sf.composite.batch()
            for i in range(30):
                batch.sobject.delete("Account", f"001xx000000{i:04d}AAA")
            await batch.execute()  # two requests of 25 and 5, concurrently
        assert meter.calls == 2 + 30
        await sf.limits()  # outside the inner block
    await sf.limits()  # outside both: counted by neither
    assert (meter.calls, outer.calls) == (32, 33)
    assert sorted(fake.sizes) == [5, 25]
    router.get("/services/data/").mock(return_value=httpx.Response(200, json=[]))
    with meter.counting():
        await sf.versions()  # free
    assert meter.calls == 32 and meter.remaining is None


@pytest.mark.anyio
async def test_a_meter_budget_refuses_before_http(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    route = router.get(LIMITS).mock(return_value=httpx.Response(200, json={}))
    fake = FakeBatch(used=0, limit=15000)
    router.post(BATCH).mock(side_effect=fake)
    sf = client(http)
    meter = ApiCallMeter(budget=5)
    with meter.counting():
        await sf.limits()
        batch = sf.composite.batch()
        for i in range(5):
            batch.sobject.delete("Account", f"001xx000000{i:04d}AAA")
        with pytest.raises(ApiBudgetError) as info:
            await batch.execute()
        await sf.limits()
        assert meter.remaining == 3
    error = info.value
    assert (error.cost, error.budget, error.spent, error.reserve) == (5, 5, 1, None)
    assert "budget of 5 has 4 left (1 spent)" in str(error)
    assert fake.sizes == [] and route.call_count == 2
    await sf.limits()  # outside the block the budget does not apply
    with meter.counting(), pytest.raises(ApiBudgetError):  # back inside: the count goes on
        await batch.execute()


@pytest.mark.anyio
async def test_tasks_started_inside_a_block_count(
    http: httpx.AsyncClient, router: respx.Router
) -> None:
    router.get(LIMITS).mock(return_value=httpx.Response(200, json={}))
    sf = client(http)
    meter = ApiCallMeter()

    async def twice() -> None:
        await sf.limits()
        await sf.limits()

    with meter.counting():
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(twice)
    assert meter.calls == 6


# -- against the local org -------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_reserve_against_the_local_org() -> None:
    org = LocalOrg(daily_api_limit=20)
    async with org.client(api_reserve=5) as sf:
        created = 0
        with pytest.raises(ApiBudgetError) as info:
            while True:
                await sf.sobject.create("Account", {"Name": f"A{created}"})
                created += 1
        assert created == 15 and org.api_usage == 15  # the last 5 calls were left alone
        assert sf.api_usage == ApiUsage(15, 20)
        assert info.value.usage == ApiUsage(15, 20)
        # A batch that fits without the reserve, not with it.
        sf.api_reserve = 0
        batch = sf.composite.batch()
        for i in range(6):
            batch.sobject.create("Account", {"Name": f"B{i}"})
        with pytest.raises(ApiBudgetError, match="it costs 6 API calls"):
            await batch.execute()
        assert org.api_usage == 15
        org.api_usage = 0  # the rolling 24 hours freed everything
        await sf.limits()
        assert sf.api_usage == ApiUsage(1, 20)
        await batch.execute()
        assert org.api_usage == 7 and sf.api_usage == ApiUsage(7, 20)


@pytest.mark.anyio
async def test_without_a_reserve_the_local_org_refuses_itself() -> None:
    org = LocalOrg(daily_api_limit=3)
    async with org.client() as sf:
        for _ in range(3):
            await sf.limits()
        with pytest.raises(RequestLimitExceededError):
            await sf.limits()
        assert sf.api_usage == ApiUsage(3, 3)
