"""Authentication strategies, the single-flight token fetch and keeping secrets secret."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sobjects import RetryPolicy, Salesforce
from sobjects.auth import (
    Auth,
    ClientCredentials,
    JwtBearer,
    RefreshToken,
    StaticToken,
    Token,
    UsernamePassword,
)
from sobjects.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    SessionExpiredError,
    TransportError,
)
from tests.conftest import DATA, FAST_RETRY, INSTANCE, TOKEN, TOKEN_PATH, TOKEN_URL, token_reply

CLIENT_ID = "3MVG9PublicConsumerKey"
CLIENT_SECRET = "CS-0123456789-very-secret"
USERNAME = "integration@acme.com"
PASSWORD = "PW-hunter2-secret"
SECURITY_TOKEN = "ST-abcdef-secret"
REFRESH = "5Aep861-refresh-secret"
ACCESS = "00Dxx0000000001!AQ4AQ-access-secret"
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LIMITS = "/services/data/v62.0/limits"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def private_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def public_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    parsed = parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values())
    return {k: v[0] for k, v in parsed.items()}


def client(http: httpx.AsyncClient, auth: Auth, **kwargs: object) -> Salesforce:
    options: dict[str, object] = {"retry": FAST_RETRY, **kwargs}
    return Salesforce(INSTANCE, auth=auth, httpx_client=http, **options)  # type: ignore[arg-type]


def limits_ok(router: respx.Router) -> respx.Route:
    return router.get(LIMITS).mock(return_value=httpx.Response(200, json={}))


# -- the strategies against the token endpoint ---------------------------------------------------


@pytest.mark.anyio
async def test_client_credentials(router: respx.Router, http: httpx.AsyncClient) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    data = limits_ok(router)
    sf = client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    await sf.limits()
    assert token.call_count == 1
    sent = token.calls.last.request
    assert sent.method == "POST"
    assert str(sent.url) == TOKEN_URL
    assert sent.headers["Accept"] == "application/json"
    assert "Authorization" not in sent.headers
    assert form_of(sent) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert data.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS}"


@pytest.mark.anyio
async def test_explicit_token_url_is_used(http: httpx.AsyncClient) -> None:
    router = respx.Router(assert_all_called=False)
    token = router.post("https://login.salesforce.com/services/oauth2/token").mock(
        return_value=token_reply(ACCESS)
    )
    router.get(f"{DATA}/limits").mock(return_value=httpx.Response(200, json={}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as own:
        auth = ClientCredentials(
            CLIENT_ID, CLIENT_SECRET, token_url="https://login.salesforce.com/services/oauth2/token"
        )
        await client(own, auth).limits()
    assert token.call_count == 1


@pytest.mark.anyio
async def test_username_password_appends_the_security_token(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    limits_ok(router)
    auth = UsernamePassword(
        CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD, security_token=SECURITY_TOKEN
    )
    await client(http, auth).limits()
    assert form_of(token.calls.last.request) == {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
        "password": PASSWORD + SECURITY_TOKEN,
    }


@pytest.mark.anyio
async def test_username_password_without_security_token(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    limits_ok(router)
    await client(http, UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD)).limits()
    assert form_of(token.calls.last.request)["password"] == PASSWORD


@pytest.mark.anyio
async def test_refresh_token_is_rotated(router: respx.Router, http: httpx.AsyncClient) -> None:
    token = router.post(TOKEN_PATH).mock(
        side_effect=[
            token_reply("00D!first", refresh_token="5Aep-rotated"),
            token_reply("00D!second"),
            token_reply("00D!third"),
        ]
    )

    def by_token(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer 00D!third":
            return httpx.Response(200, json={})
        return httpx.Response(401, json=INVALID_SESSION)

    data = router.get(LIMITS).mock(side_effect=by_token)
    sf = client(http, RefreshToken(CLIENT_ID, REFRESH, client_secret=CLIENT_SECRET))
    # first -> 401 -> second -> 401: the one re-authentication is spent.
    with pytest.raises(SessionExpiredError):
        await sf.limits()
    # A new call re-authenticates again, with the refresh token of the first reply.
    await sf.limits()
    forms = [form_of(call.request) for call in token.calls]
    assert forms[0] == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": REFRESH,
        "client_secret": CLIENT_SECRET,
    }
    assert forms[1]["refresh_token"] == "5Aep-rotated"
    # The second reply had no refresh token: the rotated one is kept.
    assert forms[2]["refresh_token"] == "5Aep-rotated"
    assert data.call_count == 4


@pytest.mark.anyio
async def test_refresh_token_without_client_secret(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    limits_ok(router)
    await client(http, RefreshToken(CLIENT_ID, REFRESH)).limits()
    assert form_of(token.calls.last.request) == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": REFRESH,
    }


@pytest.mark.anyio
@pytest.mark.parametrize("key_as", ["bytes", "str_path", "path", "str_pem"])
async def test_jwt_bearer_assertion(
    router: respx.Router,
    http: httpx.AsyncClient,
    tmp_path: Path,
    private_pem: bytes,
    public_pem: bytes,
    key_as: str,
) -> None:
    key_file = tmp_path / "server.key"
    key_file.write_bytes(private_pem)
    keys: dict[str, bytes | str | Path] = {
        "bytes": private_pem,
        "str_path": str(key_file),
        "path": key_file,
        "str_pem": private_pem.decode(),
    }
    key = keys[key_as]
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    data = limits_ok(router)
    before = time.time()
    await client(http, JwtBearer(CLIENT_ID, USERNAME, key)).limits()
    form = form_of(token.calls.last.request)
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert set(form) == {"grant_type", "assertion"}
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"
    claims = jwt.decode(
        form["assertion"],
        public_pem,
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
    )
    assert claims["iss"] == CLIENT_ID
    assert claims["sub"] == USERNAME
    assert claims["aud"] == "https://login.salesforce.com"
    assert int(before) + 299 <= claims["exp"] <= int(time.time()) + 300
    assert data.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS}"


def test_jwt_bearer_audience_and_lifetime(private_pem: bytes, public_pem: bytes) -> None:
    auth = JwtBearer(
        CLIENT_ID, USERNAME, private_pem, audience="https://test.salesforce.com", lifetime=120
    )
    assertion = auth.assertion(private_pem, now=1_700_000_000.0)
    claims = jwt.decode(
        assertion,
        public_pem,
        algorithms=["RS256"],
        audience="https://test.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": CLIENT_ID,
        "sub": USERNAME,
        "aud": "https://test.salesforce.com",
        "exp": 1_700_000_120,
    }


def test_jwt_bearer_with_an_unusable_key_hides_the_key() -> None:
    bad_key = b"-----BEGIN PRIVATE KEY-----\nTm90QUtleVNlY3JldEJ5dGVz\n-----END PRIVATE KEY-----\n"
    auth = JwtBearer(CLIENT_ID, USERNAME, bad_key)
    with pytest.raises(ConfigurationError) as info:
        auth.assertion(bad_key)
    assert "Tm90QUtleVNlY3JldEJ5dGVz" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.anyio
async def test_jwt_bearer_with_a_missing_key_file(
    router: respx.Router, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    sf = client(http, JwtBearer(CLIENT_ID, USERNAME, tmp_path / "missing.key"))
    with pytest.raises(ConfigurationError, match=r"missing\.key"):
        await sf.limits()
    assert token.call_count == 0


@pytest.mark.anyio
async def test_token_endpoint_error_is_an_authentication_error(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "authentication failure"}
        )
    )
    data = limits_ok(router)
    sf = client(http, UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD))
    with pytest.raises(AuthenticationError) as info:
        await sf.limits()
    assert info.value.error == "invalid_grant"
    assert info.value.description == "authentication failure"
    assert info.value.status_code == 400
    assert str(info.value) == "invalid_grant: authentication failure"
    assert token.call_count == 1  # a 400 is never retried
    assert data.call_count == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>Maintenance</html>", headers={"Content-Type": "text/html"}),
        httpx.Response(400, text="Bad Request"),
        httpx.Response(200, json={"instance_url": INSTANCE}),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200),
    ],
)
async def test_token_reply_without_a_token_is_an_authentication_error(
    router: respx.Router, http: httpx.AsyncClient, reply: httpx.Response
) -> None:
    router.post(TOKEN_PATH).mock(return_value=reply)
    data = limits_ok(router)
    with pytest.raises(AuthenticationError) as info:
        await client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET)).limits()
    assert info.value.error == "invalid_response"
    assert info.value.status_code == reply.status_code
    assert data.call_count == 0


@pytest.mark.anyio
async def test_token_endpoint_unavailable_is_retried(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), token_reply(ACCESS)]
    )
    limits_ok(router)
    await client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET)).limits()
    assert token.call_count == 2


def test_static_token_cannot_be_empty() -> None:
    with pytest.raises(ConfigurationError):
        StaticToken("")


# -- single flight -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_first_requests_fetch_one_token(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.01)
        return token_reply(ACCESS)

    token = router.post(TOKEN_PATH).mock(side_effect=slow_token)
    data = limits_ok(router)
    sf = client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(sf.limits)
    assert token.call_count == 1
    assert data.call_count == 100
    assert {c.request.headers["Authorization"] for c in data.calls} == {f"Bearer {ACCESS}"}


@pytest.mark.anyio
async def test_expired_session_is_refetched_once_and_every_request_replayed(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    n = 50
    token = router.post(TOKEN_PATH).mock(
        side_effect=[token_reply("00D!old"), token_reply("00D!new"), token_reply("00D!extra")]
    )
    expired = False
    arrived = 0
    everyone_saw_401 = anyio.Event()
    seen: dict[str, list[str]] = {}

    async def record(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        used = request.headers["Authorization"].removeprefix("Bearer ")
        seen.setdefault(request.url.params["n"], []).append(used)
        if used == "00D!old" and expired:
            # Hold every stale request until all of them got here: all see the 401.
            arrived += 1
            if arrived == n:
                everyone_saw_401.set()
            await everyone_saw_401.wait()
            return httpx.Response(401, json=INVALID_SESSION)
        return httpx.Response(200, json={"token": used})

    router.get(LIMITS).mock(side_effect=record)
    sf = client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET), concurrency_limit=n)
    assert await sf.request_json("GET", "limits", params={"n": "warm-up"}) == {"token": "00D!old"}
    expired = True
    results: dict[str, object] = {}

    async def one(i: int) -> None:
        results[str(i)] = await sf.request_json("GET", "limits", params={"n": str(i)})

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
    assert token.call_count == 2
    assert results == {str(i): {"token": "00D!new"} for i in range(n)}
    for i in range(n):
        assert seen[str(i)] == ["00D!old", "00D!new"]


@pytest.mark.anyio
async def test_second_401_after_the_replay_raises_session_expired(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    token = router.post(TOKEN_PATH).mock(
        side_effect=[token_reply("00D!one"), token_reply("00D!two")]
    )
    data = router.get(LIMITS).mock(return_value=httpx.Response(401, json=INVALID_SESSION))
    sf = client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    with pytest.raises(SessionExpiredError) as info:
        await sf.limits()
    assert info.value.status_code == 401
    assert info.value.code == "INVALID_SESSION_ID"
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in data.calls] == [
        "Bearer 00D!one",
        "Bearer 00D!two",
    ]


@pytest.mark.anyio
async def test_static_token_401_raises_without_a_token_request(
    sf: Salesforce, router: respx.Router
) -> None:
    token = router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    data = router.get(LIMITS).mock(return_value=httpx.Response(401, json=INVALID_SESSION))
    with pytest.raises(SessionExpiredError) as info:
        await sf.limits()
    assert info.value.method == "GET"
    assert info.value.url == f"{DATA}/limits"
    assert token.call_count == 0
    assert data.call_count == 1


@pytest.mark.anyio
async def test_concurrent_requests_share_one_failed_token_fetch(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.01)
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "authentication failure"}
        )

    token = router.post(TOKEN_PATH).mock(side_effect=refuse)
    data = limits_ok(router)
    sf = client(http, UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD))
    failures: list[BaseException] = []

    async def one() -> None:
        try:
            await sf.limits()
        except AuthenticationError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    # One wrong password costs one login attempt, not twenty (users get locked out).
    assert token.call_count == 1
    assert len(failures) == 20
    assert data.call_count == 0
    # A later request asks again: the failure is not remembered forever.
    token.mock(side_effect=None, return_value=token_reply(ACCESS))
    await sf.limits()
    assert token.call_count == 2
    assert data.call_count == 1


# -- secrets ---------------------------------------------------------------------------------------


def all_strategies(private_pem: bytes) -> list[Auth]:
    return [
        StaticToken(ACCESS, instance_url=INSTANCE),
        ClientCredentials(CLIENT_ID, CLIENT_SECRET),
        UsernamePassword(
            CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD, security_token=SECURITY_TOKEN
        ),
        RefreshToken(CLIENT_ID, REFRESH, client_secret=CLIENT_SECRET),
        JwtBearer(CLIENT_ID, USERNAME, private_pem),
        JwtBearer(CLIENT_ID, USERNAME, private_pem.decode()),
    ]


def secrets_of(private_pem: bytes) -> list[str]:
    key_body = b"".join(private_pem.splitlines()[1:-1]).decode()
    return [ACCESS, CLIENT_SECRET, PASSWORD, SECURITY_TOKEN, REFRESH, key_body, key_body[:40]]


def assert_no_secret(text: str, private_pem: bytes) -> None:
    for secret in secrets_of(private_pem):
        assert secret not in text


def test_repr_of_strategies_hides_secrets(private_pem: bytes) -> None:
    for auth in all_strategies(private_pem):
        assert_no_secret(repr(auth), private_pem)
        assert_no_secret(str(auth), private_pem)
        assert "***" in repr(auth)
    assert repr(ClientCredentials(CLIENT_ID, CLIENT_SECRET)) == (
        f"ClientCredentials(client_id={CLIENT_ID!r}, client_secret='***')"
    )


def test_repr_of_token_hides_secrets(private_pem: bytes) -> None:
    token = Token(ACCESS, INSTANCE, refresh_token=REFRESH)
    assert repr(token) == f"Token(access_token='***', instance_url={INSTANCE!r})"
    assert_no_secret(repr(token), private_pem)
    assert_no_secret(str(token), private_pem)
    assert_no_secret(repr([token]), private_pem)


@pytest.mark.anyio
async def test_repr_of_the_client_hides_secrets(
    router: respx.Router, http: httpx.AsyncClient, private_pem: bytes
) -> None:
    router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS, refresh_token=REFRESH))
    limits_ok(router)
    for auth in all_strategies(private_pem):
        sf = client(http, auth)
        assert_no_secret(repr(sf), private_pem)
        await sf.limits()  # with a token in hand, too
        assert_no_secret(repr(sf), private_pem)
        assert_no_secret(str(sf), private_pem)


@pytest.mark.anyio
async def test_logs_carry_no_secrets(
    router: respx.Router,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    private_pem: bytes,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sobjects")
    token = router.post(TOKEN_PATH)
    data = router.get(LIMITS)

    async def broken_hook(event: object) -> None:
        raise RuntimeError("hook failed")

    for auth in all_strategies(private_pem)[1:]:
        sf = client(http, auth, event_hooks={"request": [broken_hook]})
        replies: list[httpx.Response | Exception] = [
            httpx.Response(503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "x"}]),
            httpx.ConnectError("connection refused"),
            httpx.Response(401, json=INVALID_SESSION),
            httpx.Response(200, json={}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}),
        ]
        data.side_effect = iter(replies)
        token.side_effect = iter(
            [
                httpx.Response(503, text="busy"),
                token_reply(ACCESS, refresh_token=REFRESH),
                token_reply(ACCESS, refresh_token=REFRESH),
            ]
        )
        await sf.limits()
    messages = [r.getMessage() for r in caplog.records]
    assert any("retrying" in m and TOKEN_PATH in m for m in messages)  # the token fetch retried
    assert any("retrying" in m and LIMITS in m for m in messages)  # the request retried
    assert any("hook" in m for m in messages)
    for record in caplog.records:
        assert_no_secret(record.getMessage(), private_pem)
    assert_no_secret(caplog.text, private_pem)


@pytest.mark.anyio
async def test_authentication_error_carries_no_secret(
    router: respx.Router, http: httpx.AsyncClient, private_pem: bytes
) -> None:
    router.post(TOKEN_PATH).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "authentication failure"}
        )
    )
    for auth in all_strategies(private_pem)[1:]:
        with pytest.raises(AuthenticationError) as info:
            await client(http, auth).limits()
        assert_no_secret(str(info.value), private_pem)
        assert_no_secret(repr(info.value), private_pem)
        assert_no_secret(str(info.getrepr()), private_pem)


@pytest.mark.anyio
async def test_response_error_carries_no_secret(
    router: respx.Router, http: httpx.AsyncClient, private_pem: bytes
) -> None:
    router.post(TOKEN_PATH).mock(return_value=token_reply(ACCESS))
    router.get(LIMITS).mock(
        return_value=httpx.Response(404, json=[{"errorCode": "NOT_FOUND", "message": "gone"}])
    )
    with pytest.raises(NotFoundError) as info:
        await client(http, ClientCredentials(CLIENT_ID, CLIENT_SECRET)).limits()
    assert_no_secret(str(info.value), private_pem)
    assert_no_secret(repr(info.value), private_pem)


@pytest.mark.anyio
async def test_transport_error_carries_no_secret(
    router: respx.Router, http: httpx.AsyncClient, private_pem: bytes
) -> None:
    no_retry = RetryPolicy(rules=(), max_attempts=1)
    # The token request fails: its form holds the client secret and the password.
    router.post(TOKEN_PATH).mock(side_effect=httpx.ConnectError("connection refused"))
    auth = UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD)
    with pytest.raises(TransportError) as info:
        await client(http, auth, retry=no_retry).limits()
    assert_no_secret(str(info.value), private_pem)
    assert_no_secret(repr(info.value), private_pem)
    assert TOKEN_PATH in str(info.value)
    # A data request fails: it carries the access token.
    router.get(LIMITS).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(TransportError) as info:
        await client(http, StaticToken(ACCESS), retry=no_retry).limits()
    assert_no_secret(str(info.value), private_pem)
    assert_no_secret(repr(info.value), private_pem)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


@pytest.mark.anyio
async def test_default_fixture_token_is_not_in_client_repr(sf: Salesforce) -> None:
    assert TOKEN not in repr(sf)
