"""The ``/__emulator__`` controls under hostile input: a token, JSON only, every number checked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg
from sobjects.emulator._faults import MAX_COUNT

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


@pytest.fixture
async def bare(org: LocalOrg) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials (each test sends its own)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app), base_url="http://127.0.0.1"
    ) as client:
        yield client


def as_admin(org: LocalOrg) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.admin_token}"}


async def post(bare: httpx.AsyncClient, org: LocalOrg, path: str, body: Any) -> httpx.Response:
    return await bare.post(
        path,
        content=json.dumps(body),
        headers={**as_admin(org), "Content-Type": "application/json"},
    )


def nothing_scripted(org: LocalOrg) -> bool:
    pending = org.faults.pending()
    return not any(v for k, v in pending.items())


# -- who may use them ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer wrong", "Basic YWRtaW46YWRtaW4=", "OAuth {admin}", "{admin}"],
)
async def test_the_controls_need_the_admin_token(
    bare: httpx.AsyncClient, org: LocalOrg, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization.format(admin=org.admin_token)
    for method, path in [
        ("POST", "/__emulator__/faults"),
        ("POST", "/__emulator__/latency"),
        ("GET", "/__emulator__/usage"),
        ("GET", "/__emulator__/faults"),
        ("GET", "/__emulator__/nothing"),
    ]:
        response = await bare.request(method, path, content=b'{"fail_next": 1}', headers=headers)
        assert response.status_code == 401, (method, path)
        assert "admin token" in response.json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_scripted(org)


async def test_an_api_token_is_not_an_admin_token(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    granted = await bare.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "any", "client_secret": "any"},
    )
    for token in (org.access_token, granted.json()["access_token"]):
        response = await bare.post(
            "/__emulator__/faults",
            json={"fail_next": 1},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
    assert nothing_scripted(org)


async def test_the_admin_token_is_not_an_api_token(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await bare.get(f"{V}/limits", headers=as_admin(org))
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_each_org_has_its_own_admin_token() -> None:
    assert LocalOrg().admin_token != LocalOrg().admin_token


# -- what they accept ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # What a web page can send cross-site without a preflight (a CSRF-style form POST).
        ("application/x-www-form-urlencoded", b"fail_next=1000"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"'),
        ("text/plain", b'{"fail_next": 1}'),
        (None, b'{"fail_next": 1}'),
        ("application/jsonx", b'{"fail_next": 1}'),
    ],
)
async def test_posts_must_be_json(
    bare: httpx.AsyncClient, org: LocalOrg, content_type: str | None, body: bytes
) -> None:
    headers = as_admin(org)
    if content_type is not None:
        headers["Content-Type"] = content_type
    for path in ("/__emulator__/faults", "/__emulator__/latency"):
        response = await bare.post(path, content=body, headers=headers)
        assert response.status_code == 415, response.text
        assert "application/json" in response.json()["error"]
    assert nothing_scripted(org)


async def test_json_with_a_charset_is_json(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await bare.post(
        "/__emulator__/faults",
        content=b'{"fail_next": 1}',
        headers={**as_admin(org), "Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200
    assert org.faults.pending()["fail_next"] == [[503, 1]]


@pytest.mark.parametrize("body", [[], ["fail_next", 1], "fail_next", 3, None, True])
async def test_the_body_must_be_an_object(
    bare: httpx.AsyncClient, org: LocalOrg, body: Any
) -> None:
    for path in ("/__emulator__/faults", "/__emulator__/latency"):
        response = await post(bare, org, path, body)
        assert response.status_code == 400
        assert "JSON object" in response.json()["error"]
    assert nothing_scripted(org)


@pytest.mark.parametrize("raw", [b"", b"{", b"NaN", b'{"fail_next": NaN}', b"[" * 50_000])
async def test_bodies_that_are_not_json(bare: httpx.AsyncClient, org: LocalOrg, raw: bytes) -> None:
    response = await bare.post(
        "/__emulator__/faults",
        content=raw,
        headers={**as_admin(org), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert nothing_scripted(org)


async def test_a_huge_body_is_refused(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await post(bare, org, "/__emulator__/faults", {"clear": True, "x": "y" * 100_000})
    assert response.status_code == 413


async def test_unknown_keys_are_named(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await post(
        bare, org, "/__emulator__/faults", {"fail_next": 1, "fial_next": 2, "latency": 5}
    )
    assert response.status_code == 400
    assert "fial_next, latency" in response.json()["error"]
    inner = await post(bare, org, "/__emulator__/faults", {"fail_next": {"count": 1, "code": 1}})
    assert inner.status_code == 400
    assert "fail_next: unknown key(s) code" in inner.json()["error"]
    latency = await post(bare, org, "/__emulator__/latency", {"ms": 5, "seconds": 1})
    assert latency.status_code == 400
    assert "seconds" in latency.json()["error"]
    assert nothing_scripted(org)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        # The numbers that used to hang the org or exhaust its memory.
        ("/__emulator__/latency", {"ms": 1e300}, "ms must be a number from 0 to 60000"),
        ("/__emulator__/faults", {"fail_next": 1e12}, "count must be an integer from 0 to 10000"),
        ("/__emulator__/faults", {"fail_next": 10**12}, "count must be an integer"),
        ("/__emulator__/faults", {"drop_next": 10**12}, "drop_next: count must be an integer"),
        # Types: an int is an int.
        ("/__emulator__/latency", {"ms": True}, "ms must be"),
        ("/__emulator__/latency", {"ms": "5"}, "ms must be"),
        ("/__emulator__/latency", {"ms": -1}, "ms must be"),
        ("/__emulator__/latency", {}, "latency takes"),
        ("/__emulator__/faults", {"fail_next": True}, "count must be an integer"),
        ("/__emulator__/faults", {"fail_next": 1.0}, "count must be an integer"),
        ("/__emulator__/faults", {"fail_next": -1}, "count must be an integer"),
        ("/__emulator__/faults", {"fail_next": 1, "status": 200}, "status must be an HTTP error"),
        ("/__emulator__/faults", {"fail_next": 1, "status": "503"}, "status must be"),
        ("/__emulator__/faults", {"fail_next": 1, "status": 503.0}, "status must be"),
        ("/__emulator__/faults", {"fail_next": {"status": 600}}, "status must be"),
        ("/__emulator__/faults", {"fail_next": {"count": 1}, "status": 500}, "inside"),
        ("/__emulator__/faults", {"status": 500}, "status goes with fail_next"),
        ("/__emulator__/faults", {"times": 2}, "times goes with lock_record"),
        ("/__emulator__/faults", {"lock": "001"}, "record_id must be"),
        ("/__emulator__/faults", {"lock": 1}, "record_id must be"),
        ("/__emulator__/faults", {"lock_record": {"times": 1}}, "lock_record needs record_id"),
        ("/__emulator__/faults", {"lock": "001000000000000AAA", "times": 1.5}, "times must be"),
        ("/__emulator__/faults", {"clear": 1}, "clear must be true or false"),
        (
            "/__emulator__/faults",
            {"lock": "001000000000000AAA", "lock_record": "001000000000000AAA"},
            "same fault",
        ),
    ],
)
async def test_every_number_is_checked(
    bare: httpx.AsyncClient, org: LocalOrg, path: str, body: dict[str, Any], message: str
) -> None:
    response = await post(bare, org, path, body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert nothing_scripted(org)


async def test_one_bad_value_changes_nothing(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.drop_next(1)
    response = await post(
        bare, org, "/__emulator__/faults", {"clear": True, "fail_next": 2, "drop_next": -1}
    )
    assert response.status_code == 400
    assert org.faults.pending()["drop_next"] == 1  # not cleared either
    assert org.faults.pending()["fail_next"] == []


async def test_the_object_form_and_the_state(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    account = "001000000000000AAA"
    response = await post(
        bare,
        org,
        "/__emulator__/faults",
        {
            "fail_next": {"count": 2, "status": 500},
            "drop_next": 1,
            "lock_record": {"record_id": account[:15], "times": 3},
        },
    )
    assert response.status_code == 200, response.text
    state = (await bare.get("/__emulator__/faults", headers=as_admin(org))).json()
    assert state == org.faults.pending()
    assert {k: v for k, v in state.items() if v} == {
        "fail_next": [[500, 2]],
        "drop_next": 1,
        "lock_record": {account: 3},
    }
    # clear comes first: the rest of the body is scripted on a clean slate.
    await post(bare, org, "/__emulator__/faults", {"clear": True, "fail_next": 1})
    assert org.faults.pending()["fail_next"] == [[503, 1]]
    assert org.faults.pending()["drop_next"] == 0


async def test_big_counts_do_not_take_memory(bare: httpx.AsyncClient, org: LocalOrg) -> None:
    for _ in range(3):
        response = await post(bare, org, "/__emulator__/faults", {"fail_next": MAX_COUNT})
        assert response.status_code == 200
    assert org.faults.pending()["fail_next"] == [[503, 3 * MAX_COUNT]]  # one run
    org.faults.clear()


# -- the same rules from Python ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.fail_next(True), "fail_next: count must be an integer"),
        (lambda f: f.fail_next(1.0), "fail_next: count must be an integer"),
        (lambda f: f.fail_next(MAX_COUNT + 1), "fail_next: count must be an integer"),
        (lambda f: f.fail_next(1, status=True), "fail_next: status must be"),
        (lambda f: f.fail_next(1, status=200), "fail_next: status must be"),
        (lambda f: f.drop_next(2.5), "drop_next: count must be"),
        (lambda f: f.drop_next(-1), "drop_next: count must be"),
        (lambda f: f.lock_record("nope"), "lock_record: record_id must be"),
        (lambda f: f.lock_record("001000000000000AAA", times=10**9), "lock_record: times"),
        (lambda f: setattr(f, "latency", 1e300), "latency must be a number of seconds"),
        (lambda f: setattr(f, "latency", -0.1), "latency must be"),
        (lambda f: setattr(f, "latency", float("nan")), "latency must be"),
        (lambda f: setattr(f, "latency", True), "latency must be"),
        (lambda f: setattr(f, "latency", "1"), "latency must be"),
    ],
)
def test_python_arguments_are_checked(org: LocalOrg, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(org.faults)
    assert nothing_scripted(org)


def test_failures_keep_their_order(org: LocalOrg) -> None:
    org.faults.fail_next(1, status=500)
    org.faults.fail_next(2, status=503)
    org.faults.fail_next(0, status=502)  # nothing
    org.faults.fail_next(1, status=503)
    assert org.faults.pending()["fail_next"] == [[500, 1], [503, 3]]
    taken = [org.faults.take_failure() for _ in range(5)]
    assert taken == [500, 503, 503, 503, None]


def test_latency_up_to_a_minute(org: LocalOrg) -> None:
    org.faults.latency = 60
    assert org.faults.latency == 60.0
    org.faults.clear()
    assert org.faults.latency == 0.0
