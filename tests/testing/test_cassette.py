"""Cassettes: recording a real org (here the local org, served over HTTP) with every secret
redacted, replaying the recording with no org at all, and the error for a request the
recording lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sobjects import Salesforce, Session, select
from sobjects.auth import StaticToken, UsernamePassword
from sobjects.emulator import LocalOrg
from sobjects.errors import NotFoundError
from sobjects.fields import Field
from sobjects.orm import SObject
from sobjects.testing.cassette import (
    REDACTED,
    Cassette,
    CassetteError,
    CassetteMissError,
    RecordingTransport,
    ReplayTransport,
)

pytestmark = pytest.mark.anyio

USERNAME = "integration@acme.example"
PASSWORD = "correct-horse-battery"
CLIENT_ID = "3MVG9connectedAppId"
CLIENT_SECRET = "s3cr3t-client-value"


class Contact(SObject):
    last_name: Field[str]
    title: Field[str | None] = Field(None)


def auth() -> UsernamePassword:
    return UsernamePassword(CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD)


async def scenario(sf: Salesforce) -> dict[str, Any]:
    """What a test of one's own org might do: writes, reads, a batch, an error."""
    async with Session(sf):
        doe = Contact(last_name="Doe", title="CEO")
        doe.save()
    async with Session(sf) as session:
        found = await session.all(select(Contact).where(Contact.last_name == "Doe"))
    async with sf.composite.batch() as batch:
        count = batch.query("SELECT COUNT() FROM Contact")
    try:
        await sf.sobject.get("Contact", "003000000000000AAA")
        missing = ""
    except NotFoundError as exc:
        missing = exc.code
    return {
        "id": doe.id,
        "titles": [c.title for c in found],
        "count": count.total_size,
        "missing": missing,
    }


async def record(tmp_path: Path, *, redact_host: bool) -> tuple[Path, dict[str, Any], set[str]]:
    """Record the scenario against a served local org; returns the cassette, the scenario's
    outcome and every secret that crossed the wire."""
    org = LocalOrg()
    org.add_user(USERNAME, PASSWORD)
    org.add_connected_app(CLIENT_ID, CLIENT_SECRET)
    async with org.serve() as base_url:
        recorder = RecordingTransport(redact_host=redact_host)
        http = httpx.AsyncClient(transport=recorder)
        async with http, Salesforce(base_url, auth=auth(), httpx_client=http) as sf:
            outcome = await scenario(sf)
    secrets = {USERNAME, PASSWORD, CLIENT_ID, CLIENT_SECRET, *org._tokens}
    path = recorder.cassette(tmp_path / "org.json").save()
    return path, outcome, {*secrets, base_url.removeprefix("http://")} if redact_host else secrets


async def test_no_secret_reaches_the_cassette_file(tmp_path: Path) -> None:
    path, _, secrets = await record(tmp_path, redact_host=True)
    text = path.read_text(encoding="utf-8")
    assert len(secrets) >= 6  # the four credentials, a token, the host
    for secret in secrets:
        assert secret not in text
    assert "authorization" not in text.lower()  # the header is never recorded
    assert "127.0.0.1" not in text
    data = json.loads(text)  # readable JSON: requests and responses, in order
    (token,) = [i for i in data["interactions"] if i["request"]["path"] == "/services/oauth2/token"]
    form = token["request"]["body"]["form"]
    assert form["grant_type"] == "password"
    assert {form[k] for k in ("username", "password", "client_id", "client_secret")} == {REDACTED}
    reply = token["response"]["body"]
    assert reply["access_token"] == REDACTED
    assert reply["instance_url"] == "https://instance.example.invalid"
    paths = [i["request"]["path"] for i in data["interactions"]]
    assert "/services/data/v62.0/composite/batch" in paths


async def test_the_host_stays_unless_asked_and_secrets_still_go(tmp_path: Path) -> None:
    path, _, secrets = await record(tmp_path, redact_host=False)
    text = path.read_text(encoding="utf-8")
    assert "127.0.0.1" in text
    for secret in secrets:
        assert secret not in text


async def test_a_replay_gives_the_recorded_answers_with_no_org(tmp_path: Path) -> None:
    path, outcome, _ = await record(tmp_path, redact_host=True)
    replay = ReplayTransport(Cassette.load(path))
    http = httpx.AsyncClient(transport=replay)
    # Other credentials (CI has none): the token request matches once they are redacted.
    other = UsernamePassword("x", "y", "ci", "placeholder")
    url = "https://acme.my.salesforce.com"
    async with http, Salesforce(url, auth=other, httpx_client=http) as sf:
        assert await scenario(sf) == outcome
    assert outcome["titles"] == ["CEO"] and outcome["missing"] == "NOT_FOUND"


async def test_a_request_the_cassette_lacks_is_named(tmp_path: Path) -> None:
    path, _, _ = await record(tmp_path, redact_host=False)
    http = httpx.AsyncClient(transport=ReplayTransport(Cassette.load(path)))
    async with (
        http,
        Salesforce("https://acme.my.salesforce.com", auth=auth(), httpx_client=http) as sf,
    ):
        with pytest.raises(CassetteMissError) as info:
            await sf.sobject.create("Contact", {"LastName": "Roe"})
    message = str(info.value)
    assert str(path) in message
    assert 'POST /services/data/v62.0/sobjects/Contact with body {"LastName":"Roe"}' in message
    assert "--sobjects-record" in message


def test_a_missing_or_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match=r"no cassette at .*--sobjects-record"):
        Cassette.load(tmp_path / "absent.json")
    other = tmp_path / "other.json"
    other.write_text('{"interactions": []}', encoding="utf-8")
    with pytest.raises(CassetteError, match="not an sobjects cassette"):
        Cassette.load(other)


async def test_a_paged_bulk_query_replays_every_page() -> None:
    """The Bulk API pages query results with the ``Sforce-Locator`` header: a replay that
    lost it would stop after the first page."""
    org = LocalOrg()
    async with org.client() as seed:
        await seed.collections.create("Contact", [{"LastName": f"C{i}"} for i in range(5)])

    async def rows(sf: Salesforce) -> list[str]:
        query = sf.bulk.query("SELECT LastName FROM Contact", page_size=2, poll_interval=0.01)
        return sorted(row["LastName"] for row in await query.all())

    recorder = RecordingTransport(httpx.ASGITransport(app=org.app))
    http = httpx.AsyncClient(transport=recorder)
    url = "http://127.0.0.1"
    async with http, Salesforce(url, auth=StaticToken(org.access_token), httpx_client=http) as sf:
        recorded = await rows(sf)
    assert recorded == ["C0", "C1", "C2", "C3", "C4"]
    pages = [i for i in recorder.cassette().interactions if "/results" in i.path]
    assert len(pages) == 3
    assert pages[0].response_headers["sforce-numberofrecords"] == "2"

    replay = httpx.AsyncClient(transport=ReplayTransport(recorder.cassette()))
    async with replay, Salesforce(url, auth=StaticToken("ci"), httpx_client=replay) as sf:
        assert await rows(sf) == recorded
