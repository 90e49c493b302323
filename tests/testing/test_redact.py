"""Redaction in cassettes: credentials in every form they cross the wire (raw or
percent-encoded, under Salesforce's own key names, empty) never reach the file, and data
that merely looks like a credential (a User's ``Username``) is kept, so a replay gives back
what the recording saw."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import httpx
import pytest

from sobjects import Salesforce
from sobjects.auth import ClientCredentials, StaticToken, UsernamePassword
from sobjects.emulator import LocalOrg
from sobjects.testing._redact import Redactor
from sobjects.testing.cassette import REDACTED, Cassette, RecordingTransport, ReplayTransport

pytestmark = pytest.mark.anyio

USERNAME = "integration@acme.example"
PASSWORD = "correct-horse-battery"
CLIENT_ID = "3MVG9connectedAppId"
CLIENT_SECRET = "s3cr3t-client-value"
NEW_PASSWORD = "Tr0ub4dor&3-new"


def encoded(secret: str) -> set[str]:
    """A secret as it stands in a path, a query string or a form."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


async def test_credentials_in_urls_and_salesforce_key_names_are_redacted(tmp_path) -> None:
    org = LocalOrg()
    org.add_user(USERNAME, PASSWORD)
    org.add_connected_app(CLIENT_ID, CLIENT_SECRET)
    auth = UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD)

    async def scenario(sf: Salesforce, token: str) -> list[int]:
        soql = f"SELECT Id FROM User WHERE Username = '{USERNAME}'"
        return [
            (await sf.request("GET", "query", params={"q": soql})).status_code,
            (
                await sf.request(
                    "POST",
                    "sobjects/User/005000000000001AAA/password",
                    json={"NewPassword": NEW_PASSWORD},
                    raise_for_status=False,
                )
            ).status_code,
            (
                await sf.request(
                    "GET",
                    "/services/oauth2/revoke",
                    params={"token": token},
                    raise_for_status=False,
                )
            ).status_code,
            (
                await sf.request(
                    "GET", "/secur/frontdoor.jsp", params={"sid": token}, raise_for_status=False
                )
            ).status_code,
        ]

    async with org.serve() as base_url:
        recorder = RecordingTransport()
        http = httpx.AsyncClient(transport=recorder)
        async with http, Salesforce(base_url, auth=auth, httpx_client=http) as sf:
            await sf.limits()  # the token request
            (token,) = set(org._tokens) - {org.access_token}  # the one the login got
            recorded = await scenario(sf, token)
    path = recorder.cassette(tmp_path / "org.json").save()
    text = path.read_text(encoding="utf-8")

    for secret in (USERNAME, PASSWORD, CLIENT_ID, CLIENT_SECRET, NEW_PASSWORD, token):
        for form in encoded(secret):
            assert form not in text, (secret, form)
    requests = [item["request"] for item in json.loads(text)["interactions"]]
    by_path = {r["path"].split("?")[0]: r for r in requests}
    query = by_path["/services/data/v62.0/query"]["path"]
    assert query.endswith("WHERE+Username+%3D+%27REDACTED%27")
    password = "/services/data/v62.0/sobjects/User/005000000000001AAA/password"
    assert by_path[password]["body"] == {"NewPassword": REDACTED}
    assert by_path["/services/oauth2/revoke"]["path"].endswith("?token=REDACTED")
    assert by_path["/secur/frontdoor.jsp"]["path"].endswith("?sid=REDACTED")

    # The same credentials replay the same requests: a replay redacts what it sends the
    # way the recording did before it matches.
    replay = httpx.AsyncClient(transport=ReplayTransport(Cassette.load(path)))
    async with replay, Salesforce(base_url, auth=auth, httpx_client=replay) as sf:
        await sf.limits()
        assert await scenario(sf, "00D000000000001!another-live-token-value") == recorded


async def test_data_named_like_credentials_is_kept_and_replays(tmp_path) -> None:
    org = LocalOrg()
    org.add_user("someone@acme.example", "pw123456")
    org.define_field("Contact", {"name": "Signature__c", "type": "string", "length": 255})
    transport = httpx.ASGITransport(app=org.app)

    async def scenario(sf: Salesforce) -> tuple[str, str, str]:
        (user,) = await sf.query(
            "SELECT Id, Username FROM User WHERE Username != null LIMIT 1"
        ).all()
        # A literal that equals a value the data answers held under a "secret-looking" key.
        contact_id = await sf.sobject.create(
            "Contact",
            {"LastName": "Me", "Email": user["Username"], "Signature__c": "Kind regards, Me"},
        )
        contact = await sf.sobject.get("Contact", contact_id, fields=["Email", "Signature__c"])
        return user["Username"], contact["Email"], contact["Signature__c"]

    recorder = RecordingTransport(transport)
    http = httpx.AsyncClient(transport=recorder)
    async with (
        http,
        Salesforce("http://127.0.0.1", auth=StaticToken(org.access_token), httpx_client=http) as sf,
    ):
        recorded = await scenario(sf)
    assert recorded[0] and recorded[1] == recorded[0] and recorded[2] == "Kind regards, Me"
    text = json.dumps(recorder.cassette().to_json())
    assert recorded[0] in text and REDACTED not in text

    replay = httpx.AsyncClient(transport=ReplayTransport(recorder.cassette()))
    async with (
        replay,
        Salesforce("http://127.0.0.1", auth=StaticToken("ci"), httpx_client=replay) as sf,
    ):
        assert await scenario(sf) == recorded


@pytest.mark.parametrize("credentials", [("ci-id", "ci-secret"), ("", "")])
async def test_a_replay_matches_any_credentials_even_empty_ones(
    credentials: tuple[str, str],
) -> None:
    org = LocalOrg()
    org.add_connected_app("3MVG9realApp", "real-secret-value")
    async with org.serve() as base_url:
        recorder = RecordingTransport()
        http = httpx.AsyncClient(transport=recorder)
        auth = ClientCredentials("3MVG9realApp", "real-secret-value")
        async with http, Salesforce(base_url, auth=auth, httpx_client=http) as sf:
            recorded = await sf.limits()
    # GitHub Actions gives '' for secrets on a fork's pull request.
    replay = httpx.AsyncClient(transport=ReplayTransport(recorder.cassette()))
    url = "https://sandbox.my.salesforce.com"
    async with (
        replay,
        Salesforce(url, auth=ClientCredentials(*credentials), httpx_client=replay) as sf,
    ):
        assert await sf.limits() == recorded


def test_data_answers_hide_text_under_secret_keys_but_teach_nothing() -> None:
    redactor = Redactor()
    request = httpx.Request("GET", "https://acme.my.salesforce.com/services/apexrest/keys")
    answer = httpx.Response(
        200,
        json={"Api_Token__c": "tok-123456789", "HasPassword": True, "Username": "me@acme.example"},
    )
    _, body = redactor.response(request.url.path, answer)
    assert body == {"Api_Token__c": REDACTED, "HasPassword": True, "Username": "me@acme.example"}
    assert redactor.secrets == set()
    # An auth answer teaches: its values are scrubbed wherever else they appear.
    token_reply = httpx.Response(
        200, json={"access_token": "00D!live-token", "token_type": "Bearer"}
    )
    _, body = redactor.response("/services/oauth2/token", token_reply)
    assert body == {"access_token": REDACTED, "token_type": "Bearer"}
    assert redactor.scrub(["see 00D!live-token", "see 00D%21live-token", "Bearer"]) == [
        f"see {REDACTED}",
        f"see {REDACTED}",
        "Bearer",
    ]
