"""Request bodies under hostile input: the 50 MB cap (enforced while reading) and deep JSON."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg
from sobjects.emulator._body import MAX_BODY_BYTES, MAX_JSON_DEPTH, BadJson, parse_json

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
MiB = 1024 * 1024


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account", {"name": "Ext_Id__c", "type": "string", "externalId": True, "length": 40}
    )
    return org


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    return dict(body[0])


# -- JSON nesting ------------------------------------------------------------------------------


def test_the_depth_cap_is_exact() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH)) is not None
    assert parse_json('{"a":' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH)
    with pytest.raises(BadJson, match="nesting depth"):
        parse_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(BadJson, match="nesting depth"):
        parse_json('{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(BadJson, match="nesting depth"):  # deep enough to exhaust the parser
        parse_json(nested(100_000))


ENDPOINTS = [
    ("POST", f"{V}/sobjects/Account"),
    ("PATCH", f"{V}/sobjects/Account/001000000000000AAA"),
    ("PATCH", f"{V}/sobjects/Account/Ext_Id__c/A-1"),
    ("POST", f"{V}/composite"),
    ("POST", f"{V}/composite/batch"),
    ("POST", f"{V}/composite/sobjects"),
    ("PATCH", f"{V}/composite/sobjects/Account/Ext_Id__c"),
    ("POST", f"{V}/composite/sobjects/Account"),
    ("POST", f"{V}/composite/graph"),
    ("POST", f"{V}/composite/tree/Account"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
async def test_deep_json_is_a_json_parser_error_everywhere(
    http: httpx.AsyncClient, org: LocalOrg, method: str, path: str, depth: int
) -> None:
    response = await http.request(
        method, path, content=nested(depth), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert str(MAX_JSON_DEPTH) in error["message"]
    assert org.store.records("Account") == []


async def test_deep_json_inside_a_subrequest_body_fails_the_envelope(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    body: Any = {"Name": "deep"}
    for _ in range(MAX_JSON_DEPTH):
        body = {"x": body}
    composite = {
        "compositeRequest": [
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "a", "body": body}
        ]
    }
    response = await http.post(f"{V}/composite", json=composite)
    assert response.status_code == 400, response.text
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


async def test_a_deep_jwt_payload_is_an_invalid_grant(http: httpx.AsyncClient) -> None:
    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    assertion = ".".join([part('{"alg":"RS256"}'), part(nested(100_000)), "sig"])
    response = await http.post(
        "/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


# -- body size -------------------------------------------------------------------------------


async def test_a_body_over_50_mb_is_refused(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.post(f"{V}/sobjects/Account", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    error = only_error(response)
    assert error["errorCode"] == "EXCEEDED_MAX_SIZE_REQUEST"
    assert "50 MB" in error["message"]
    assert org.api_usage == 0  # refused before it counts


async def test_a_body_of_exactly_50_mb_is_read(http: httpx.AsyncClient) -> None:
    head, tail = b'{"Name": "big", "Description": "', b'"}'
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    response = await http.post(f"{V}/sobjects/Account", content=body)
    # Parsed and validated: the field is too long for Salesforce, but the body was taken.
    assert response.status_code == 400, response.text[:200]
    assert only_error(response)["errorCode"] == "STRING_TOO_LONG"


class OneGiB(httpx.AsyncByteStream):
    """A 1 GiB request body made on demand, 1 MiB at a time; counts what was asked of it.

    An iterator class rather than an async generator: httpx's in-process transport does not
    close a request body it stops reading, and trio reports an unclosed generator."""

    def __init__(self) -> None:
        self.sent = 0

    def __aiter__(self) -> OneGiB:
        return self

    async def __anext__(self) -> bytes:
        if self.sent == 1024:
            raise StopAsyncIteration
        self.sent += 1
        return b" " * MiB


async def test_the_cap_holds_while_streaming(http: httpx.AsyncClient) -> None:
    """A chunked 1 GiB upload (no Content-Length) is cut off just past the cap: the org
    never asks for, let alone buffers, the rest."""
    body = OneGiB()
    url = http.base_url.join(f"{V}/composite")
    request = httpx.Request("POST", url, headers=http.headers, stream=body)
    assert "content-length" not in request.headers
    response = await http.send(request)
    assert response.status_code == 413
    assert only_error(response)["errorCode"] == "EXCEEDED_MAX_SIZE_REQUEST"
    assert body.sent <= MAX_BODY_BYTES // MiB + 1


async def test_the_token_endpoint_has_the_cap_too(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/services/oauth2/token",
        content=b"grant_type=password&username=" + b"x" * MAX_BODY_BYTES,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "50 MB" in response.json()["error_description"]


async def test_the_in_process_client_gets_the_same_answer(org: LocalOrg) -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    async with org.client() as sf:
        response = await sf.request("POST", "sobjects/Account", json=deep, raise_for_status=False)
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "JSON_PARSER_ERROR"


@pytest.mark.anyio
async def test_a_content_length_of_non_ascii_digits_is_not_trusted(
    http: httpx.AsyncClient,
) -> None:
    # "²".isdigit() is true, and int("²") raises: such a header must not crash the app.
    request = http.build_request(
        "POST", "/services/data/v62.0/sobjects/Account", content=b'{"Name": "A"}'
    )
    request.headers["Content-Length"] = "²"
    response = await http.send(request)
    assert response.status_code < 500
