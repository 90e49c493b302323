"""The ``Salesforce`` client: configuration, URLs, HTTP client ownership and error mapping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from sobjects import RequestEvent, Salesforce
from sobjects.auth import ClientCredentials, StaticToken
from sobjects.client import DEFAULT_TIMEOUT
from sobjects.errors import (
    ClientClosedError,
    ConfigurationError,
    EntityIsDeletedError,
    MultipleRecordsError,
    NotFoundError,
    RequiredFieldMissingError,
    SalesforceError,
    ServerError,
)
from tests.conftest import DATA, FAST_RETRY, INSTANCE, TOKEN, TOKEN_PATH, token_reply

# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.my.salesforce.com",
        "https://acme.my.salesforce.com/",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://[::1]:8000",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    sf = Salesforce(url, auth=StaticToken(TOKEN))
    assert sf.base_url == url.rstrip("/")
    assert not sf.base_url.endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://acme.my.salesforce.com",
        "http://localhost.example.com",
        "http://10.0.0.1",
        "ftp://acme.my.salesforce.com",
        "acme.my.salesforce.com",
        "https://",
        "https://acme.my.salesforce.com?x=1",
        "https://acme.my.salesforce.com#top",
    ],
)
def test_bad_base_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Salesforce(url, auth=StaticToken(TOKEN))


def test_plain_http_error_explains_https() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        Salesforce("http://example.com", auth=StaticToken(TOKEN))


@pytest.mark.parametrize(("given", "kept"), [("62.0", "62.0"), ("v61.0", "61.0"), ("58.5", "58.5")])
def test_version_is_normalised(given: str, kept: str) -> None:
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN), version=given)
    assert sf.version == kept
    assert sf.data_path == f"/services/data/v{kept}"


@pytest.mark.parametrize(
    "version", ["62", "latest", "62.0.1", "v", "", ".0", "62.", "\uff16\uff12.\uff10", "6\u00b2.0"]
)
def test_bad_version_is_a_configuration_error(version: str) -> None:
    with pytest.raises(ConfigurationError, match="version"):
        Salesforce(INSTANCE, auth=StaticToken(TOKEN), version=version)


def test_auth_must_be_a_strategy() -> None:
    with pytest.raises(ConfigurationError, match="auth"):
        Salesforce(INSTANCE, auth="00D!token")  # type: ignore[arg-type]


def test_concurrency_limit_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="concurrency_limit"):
        Salesforce(INSTANCE, auth=StaticToken(TOKEN), concurrency_limit=0)


@pytest.mark.parametrize("timeout", [None, 0, -1.0, "10"])
def test_timeout_cannot_be_disabled_or_nonsense(timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        Salesforce(INSTANCE, auth=StaticToken(TOKEN), timeout=timeout)  # type: ignore[arg-type]


def test_unknown_event_hook_name_is_a_configuration_error() -> None:
    async def hook(event: object) -> None:
        return None

    with pytest.raises(ConfigurationError, match="on_request"):
        Salesforce(
            INSTANCE,
            auth=StaticToken(TOKEN),
            event_hooks={"on_request": [hook]},  # type: ignore[arg-type]
        )


def test_a_single_hook_instead_of_a_sequence_is_a_configuration_error() -> None:
    async def hook(event: object) -> None:
        return None

    with pytest.raises(ConfigurationError, match="sequence"):
        Salesforce(
            INSTANCE,
            auth=StaticToken(TOKEN),
            event_hooks={"request": hook},  # type: ignore[arg-type]
        )


# -- URLs ------------------------------------------------------------------------------------


def test_url_for_builds_versioned_and_rooted_urls() -> None:
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN))
    assert sf.url_for("limits") == f"{DATA}/limits"
    assert sf.url_for("/services/data/") == f"{INSTANCE}/services/data/"
    same_host = f"{INSTANCE}/services/data/v62.0/query/01gxx-2000"
    assert sf.url_for(same_host) == same_host


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/services/data/v62.0/limits",
        "http://acme.my.salesforce.com/services/data/v62.0/limits",
        "https://acme.my.salesforce.com.evil.example.com/x",
        "https://acme.my.salesforce.com:8443/x",
    ],
)
def test_url_for_refuses_a_foreign_host(url: str) -> None:
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN))
    with pytest.raises(ConfigurationError, match="another host"):
        sf.url_for(url)


@pytest.mark.anyio
async def test_request_to_a_foreign_host_sends_nothing(
    sf: Salesforce, router: respx.Router
) -> None:
    with pytest.raises(ConfigurationError):
        await sf.request("GET", "https://evil.example.com/steal")
    assert router.calls.call_count == 0


@pytest.mark.anyio
async def test_token_instance_url_wins_over_base_url() -> None:
    other = "https://acme--dev.sandbox.my.salesforce.com"
    router = respx.Router(assert_all_called=False)
    token = router.post(f"{INSTANCE}{TOKEN_PATH}").mock(
        return_value=token_reply("00D!fresh", instance_url=other)
    )
    limits = router.get(f"{other}/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={"ok": True})
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        sf = Salesforce(INSTANCE, auth=ClientCredentials("id", "secret"), httpx_client=http)
        assert sf.instance_url == INSTANCE
        assert await sf.limits() == {"ok": True}
        assert sf.instance_url == other
        assert sf.url_for("limits") == f"{other}/services/data/v62.0/limits"
        # Absolute URLs are checked against the instance now in use.
        with pytest.raises(ConfigurationError):
            sf.url_for(f"{INSTANCE}/services/data/v62.0/limits")
    assert token.call_count == 1
    assert limits.call_count == 1
    assert limits.calls.last.request.headers["Authorization"] == "Bearer 00D!fresh"


@pytest.mark.anyio
async def test_static_token_instance_url_wins_over_base_url() -> None:
    other = "https://other.my.salesforce.com"
    router = respx.Router(assert_all_called=False)
    route = router.get(f"{other}/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={})
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN, instance_url=other), httpx_client=http)
        await sf.limits()
    assert route.call_count == 1


@pytest.mark.anyio
async def test_plain_http_instance_url_from_the_token_is_refused() -> None:
    router = respx.Router(assert_all_called=False)
    router.post(f"{INSTANCE}{TOKEN_PATH}").mock(
        return_value=token_reply("00D!fresh", instance_url="http://evil.example.com")
    )
    data = router.get(url__startswith="http://evil.example.com").mock(
        return_value=httpx.Response(200, json={})
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        sf = Salesforce(INSTANCE, auth=ClientCredentials("id", "secret"), httpx_client=http)
        with pytest.raises(ConfigurationError, match="instance_url"):
            await sf.limits()
    assert data.call_count == 0


# -- the HTTP client ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_caller_http_client_is_used_and_not_closed(router: respx.Router) -> None:
    route = router.get("/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={})
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        async with Salesforce(INSTANCE, auth=StaticToken(TOKEN), httpx_client=http) as sf:
            await sf.limits()
        await sf.aclose()
        assert not http.is_closed
        # Still usable by its owner.
        response = await http.get(f"{DATA}/limits")
        assert response.status_code == 200
    assert route.call_count == 2


@pytest.mark.anyio
async def test_owned_http_client_is_closed_by_aclose() -> None:
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN))
    http = sf._http
    assert not http.is_closed
    await sf.aclose()
    assert http.is_closed


@pytest.mark.anyio
async def test_owned_http_client_is_closed_by_async_with() -> None:
    with respx.mock(base_url=INSTANCE, assert_all_called=False) as mock:
        route = mock.get("/services/data/v62.0/limits").mock(
            return_value=httpx.Response(200, json={"ok": 1})
        )
        async with Salesforce(INSTANCE, auth=StaticToken(TOKEN)) as sf:
            assert await sf.limits() == {"ok": 1}
            http = sf._http
        assert http.is_closed
    assert route.call_count == 1


@pytest.mark.anyio
async def test_every_request_carries_the_default_timeout(
    sf: Salesforce, router: respx.Router
) -> None:
    route = router.get("/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={})
    )
    await sf.limits()
    assert route.calls.last.request.extensions["timeout"] == DEFAULT_TIMEOUT.as_dict()


@pytest.mark.anyio
async def test_timeout_is_set_even_when_the_caller_client_has_none(router: respx.Router) -> None:
    router.post(TOKEN_PATH).mock(return_value=token_reply())
    route = router.get("/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={})
    )
    transport = httpx.MockTransport(router.async_handler)
    async with httpx.AsyncClient(transport=transport, timeout=None) as http:
        sf = Salesforce(
            INSTANCE, auth=ClientCredentials("id", "secret"), httpx_client=http, timeout=7.5
        )
        await sf.limits()
    expected = {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert route.calls.last.request.extensions["timeout"] == expected
    token_request = router.calls[0].request
    assert token_request.url.path == TOKEN_PATH
    assert token_request.extensions["timeout"] == expected


def test_repr_shows_instance_and_version() -> None:
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN))
    assert repr(sf) == (
        f"Salesforce({INSTANCE!r}, version='62.0', "
        f"auth=StaticToken(access_token='***', instance_url=None))"
    )


# -- the request pipeline ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_request_sends_json_and_headers(sf: Salesforce, router: respx.Router) -> None:
    route = router.post("/services/data/v62.0/sobjects/Account").mock(
        return_value=httpx.Response(201, json={"id": "001xx000003DGb2AAG", "success": True})
    )
    body = await sf.request_json(
        "post", "sobjects/Account", json={"Name": "Acme"}, headers={"X-PrettyPrint": "1"}
    )
    assert body == {"id": "001xx000003DGb2AAG", "success": True}
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert json.loads(sent.content) == {"Name": "Acme"}
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["X-PrettyPrint"] == "1"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.anyio
async def test_caller_headers_cannot_replace_the_authorization(
    sf: Salesforce, router: respx.Router
) -> None:
    route = router.get("/services/data/v62.0/limits").mock(
        return_value=httpx.Response(200, json={})
    )
    await sf.request("GET", "limits", headers={"Authorization": "Bearer other"})
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.anyio
async def test_request_json_of_an_empty_body_is_none(sf: Salesforce, router: respx.Router) -> None:
    router.patch("/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG").mock(
        return_value=httpx.Response(204)
    )
    body = await sf.request_json(
        "PATCH", "sobjects/Account/001xx000003DGb2AAG", json={"Name": "New"}
    )
    assert body is None


@pytest.mark.anyio
async def test_versions_uses_the_root_path(sf: Salesforce, router: respx.Router) -> None:
    route = router.get("/services/data/").mock(
        return_value=httpx.Response(200, json=[{"version": "62.0", "url": "/services/data/v62.0"}])
    )
    assert await sf.versions() == [{"version": "62.0", "url": "/services/data/v62.0"}]
    assert route.call_count == 1


@pytest.mark.anyio
async def test_error_response_raises_the_mapped_class_with_method_and_url(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get("/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG").mock(
        return_value=httpx.Response(
            404,
            json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
        )
    )
    with pytest.raises(NotFoundError) as info:
        await sf.request("GET", "sobjects/Account/001xx000003DGb2AAG", params={"fields": "Name"})
    exc = info.value
    url = f"{DATA}/sobjects/Account/001xx000003DGb2AAG"
    assert exc.status_code == 404
    assert exc.method == "GET"
    assert exc.url == url
    assert exc.code == "NOT_FOUND"
    assert str(exc) == f"GET {url} -> HTTP 404: NOT_FOUND: The requested resource does not exist"


@pytest.mark.anyio
async def test_every_error_of_the_response_is_kept(sf: Salesforce, router: respx.Router) -> None:
    router.post("/services/data/v62.0/sobjects/Contact").mock(
        return_value=httpx.Response(
            400,
            json=[
                {
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [LastName]",
                    "fields": ["LastName"],
                },
                {
                    "errorCode": "INVALID_EMAIL_ADDRESS",
                    "message": "Email: invalid email address: x",
                    "fields": ["Email"],
                },
            ],
        )
    )
    with pytest.raises(RequiredFieldMissingError) as info:
        await sf.request("POST", "sobjects/Contact", json={"Email": "x"})
    assert [e.code for e in info.value.errors] == [
        "REQUIRED_FIELD_MISSING",
        "INVALID_EMAIL_ADDRESS",
    ]
    assert info.value.errors[1].fields == ("Email",)
    assert "INVALID_EMAIL_ADDRESS" in str(info.value)


@pytest.mark.anyio
async def test_entity_is_deleted(sf: Salesforce, router: respx.Router) -> None:
    router.delete("/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG").mock(
        return_value=httpx.Response(
            404, json=[{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]
        )
    )
    with pytest.raises(EntityIsDeletedError) as info:
        await sf.request("DELETE", "sobjects/Account/001xx000003DGb2AAG")
    assert isinstance(info.value, NotFoundError)
    assert info.value.method == "DELETE"


@pytest.mark.anyio
async def test_html_error_body_is_kept_as_text(sf: Salesforce, router: respx.Router) -> None:
    html = "<html><body><h1>500 Internal Server Error</h1></body></html>"
    router.post("/services/data/v62.0/composite").mock(
        return_value=httpx.Response(500, text=html, headers={"Content-Type": "text/html"})
    )
    with pytest.raises(ServerError) as info:
        await sf.request("POST", "composite", json={"compositeRequest": []})
    assert info.value.status_code == 500
    assert info.value.errors[0].code == "UNKNOWN_ERROR"
    assert info.value.errors[0].message == html


@pytest.mark.anyio
async def test_300_raises_multiple_records_error(sf: Salesforce, router: respx.Router) -> None:
    urls = [
        "/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG",
        "/services/data/v62.0/sobjects/Account/001xx000003DGb3AAG",
    ]
    router.get("/services/data/v62.0/sobjects/Account/Ext__c/42").mock(
        return_value=httpx.Response(300, json=urls)
    )
    with pytest.raises(MultipleRecordsError) as info:
        await sf.request("GET", "sobjects/Account/Ext__c/42")
    assert info.value.urls == urls
    assert info.value.ids == ["001xx000003DGb2AAG", "001xx000003DGb3AAG"]
    assert info.value.url == f"{DATA}/sobjects/Account/Ext__c/42"


@pytest.mark.anyio
async def test_raise_for_status_false_returns_the_response(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get("/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG").mock(
        return_value=httpx.Response(404, json=[{"errorCode": "NOT_FOUND", "message": "gone"}])
    )
    response = await sf.request(
        "GET", "sobjects/Account/001xx000003DGb2AAG", raise_for_status=False
    )
    assert response.status_code == 404


@pytest.mark.anyio
async def test_304_is_not_an_error(sf: Salesforce, router: respx.Router) -> None:
    router.get("/services/data/v62.0/sobjects/Account/describe").mock(
        return_value=httpx.Response(304)
    )
    response = await sf.request(
        "GET",
        "sobjects/Account/describe",
        headers={"If-Modified-Since": "Wed, 01 Jan 2025 00:00:00 GMT"},
    )
    assert response.status_code == 304


@pytest.mark.anyio
async def test_concurrency_limit_bounds_requests_in_flight(router: respx.Router) -> None:
    import anyio

    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={})

    router.get("/services/data/v62.0/limits").mock(side_effect=slow)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        sf = Salesforce(
            INSTANCE,
            auth=StaticToken(TOKEN),
            httpx_client=http,
            concurrency_limit=3,
            retry=FAST_RETRY,
        )
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(sf.limits)
    assert peak == 3


# -- a closed client -----------------------------------------------------------------------------

ACCOUNT_ID = "001D000000IRFmaIAH"


async def _batch(sf: Salesforce) -> object:
    batch = sf.composite.batch()
    for i in range(60):  # three requests of 25, concurrently: still one error
        batch.sobject.create("Contact", {"LastName": f"N{i}"})
    return await batch.execute()


async def _composite(sf: Salesforce) -> object:
    async with sf.composite() as composite:
        composite.sobject.create("Account", {"Name": "Acme"})
    return composite


async def _query_pages(sf: Salesforce) -> object:
    return [page async for page in sf.query("SELECT Id FROM Account").pages()]


EVERY_REQUEST_PATH: dict[str, Callable[[Salesforce], Awaitable[object]]] = {
    "sobject.create": lambda sf: sf.sobject.create("Account", {"Name": "Acme"}),
    "sobject.get": lambda sf: sf.sobject.get("Account", ACCOUNT_ID),
    "sobject.update": lambda sf: sf.sobject.update("Account", ACCOUNT_ID, {"Name": "B"}),
    "sobject.delete": lambda sf: sf.sobject.delete("Account", ACCOUNT_ID),
    "sobject.upsert": lambda sf: sf.sobject.upsert(
        "Account", {"Ext__c": "1", "Name": "A"}, external_id_field="Ext__c"
    ),
    "query.all": lambda sf: sf.query("SELECT Id FROM Account").all(),
    "query.count": lambda sf: sf.query("SELECT COUNT() FROM Account").count(),
    "query.pages": _query_pages,
    "composite.batch": _batch,
    "composite": _composite,
    "collections.create": lambda sf: sf.collections.create("Account", [{"Name": "A"}] * 250),
    "collections.update": lambda sf: sf.collections.update(
        "Account", [{"Id": ACCOUNT_ID, "Name": "A"}]
    ),
    "collections.delete": lambda sf: sf.collections.delete([ACCOUNT_ID]),
    "collections.retrieve": lambda sf: sf.collections.retrieve(
        "Account", [ACCOUNT_ID], fields=["Name"]
    ),
    "limits": lambda sf: sf.limits(),
    "versions": lambda sf: sf.versions(),
    "describe": lambda sf: sf.describe(),
    "describe sobject": lambda sf: sf.describe("Account"),
    "request": lambda sf: sf.request("GET", "recent"),
    "request_json": lambda sf: sf.request_json("GET", "recent"),
}


@pytest.fixture
def anything(router: respx.Router) -> respx.Route:
    """Answers every request (token included) so that only a refusal can fail the call."""
    return router.route().mock(return_value=httpx.Response(200, json={}))


@pytest.mark.anyio
@pytest.mark.parametrize("path", list(EVERY_REQUEST_PATH))
async def test_every_request_path_of_a_closed_client_raises_client_closed_error(
    path: str, router: respx.Router, anything: respx.Route
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        # ClientCredentials: not even a token request may be made.
        sf = Salesforce(INSTANCE, auth=ClientCredentials("id", "secret"), httpx_client=http)
        await sf.aclose()
        assert sf.is_closed
        with pytest.raises(ClientClosedError, match="client is closed"):
            await EVERY_REQUEST_PATH[path](sf)
    assert anything.call_count == 0


@pytest.mark.anyio
async def test_a_client_used_after_its_async_with_block_raises_client_closed_error() -> None:
    with respx.mock(base_url=INSTANCE, assert_all_called=False) as mock:
        paths = r"/services/data/v62.0/(limits|sobjects/Account/describe)"
        route = mock.get(path__regex=paths).mock(return_value=httpx.Response(200, json={}))
        async with Salesforce(INSTANCE, auth=StaticToken(TOKEN)) as sf:
            await sf.limits()
            await sf.describe("Account")  # cached from here on
        for call in (sf.limits, lambda: sf.describe("Account")):
            with pytest.raises(ClientClosedError) as info:
                await call()
            # A sobjects error, and still the RuntimeError httpx used to raise.
            assert isinstance(info.value, SalesforceError)
            assert isinstance(info.value, RuntimeError)
        with pytest.raises(ClientClosedError):
            async with sf:
                pass
        await sf.aclose()  # closing twice is harmless
    assert route.call_count == 2


@pytest.mark.anyio
async def test_a_closed_client_leaves_a_batch_pending(
    sf: Salesforce, router: respx.Router, anything: respx.Route
) -> None:
    batch = sf.composite.batch(halt_on_error=True)
    subs = [batch.sobject.create("Contact", {"LastName": f"N{i}"}) for i in range(30)]
    await sf.aclose()
    with pytest.raises(ClientClosedError):
        await batch.execute()
    # Refused before sending: nothing can have been applied.
    assert not batch.executed
    assert not any(s.done for s in subs)
    assert anything.call_count == 0


@pytest.mark.anyio
async def test_a_caller_client_closed_by_its_owner_raises_client_closed_error(
    router: respx.Router, anything: respx.Route
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    sf = Salesforce(INSTANCE, auth=StaticToken(TOKEN), httpx_client=http)
    await http.aclose()
    assert sf.is_closed
    with pytest.raises(ClientClosedError, match="httpx_client is closed"):
        await sf.sobject.create("Account", {"Name": "Acme"})
    assert anything.call_count == 0


@pytest.mark.anyio
async def test_a_caller_client_closed_during_the_request_is_translated_at_the_send(
    router: respx.Router, anything: respx.Route
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))

    async def close_http(event: RequestEvent) -> None:
        # Emitted after the checks, just before httpx sends: as if another task closed it.
        await http.aclose()

    sf = Salesforce(
        INSTANCE,
        auth=StaticToken(TOKEN),
        httpx_client=http,
        event_hooks={"request": [close_http]},
    )
    with pytest.raises(ClientClosedError, match="was not sent") as info:
        await sf.sobject.create("Account", {"Name": "Acme"})
    assert isinstance(info.value.__cause__, RuntimeError)
    assert anything.call_count == 0


@pytest.mark.anyio
async def test_other_runtime_errors_of_the_transport_are_not_translated(
    sf: Salesforce, router: respx.Router
) -> None:
    router.get("/services/data/v62.0/limits").mock(side_effect=RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom") as info:
        await sf.limits()
    assert not isinstance(info.value, ClientClosedError)
