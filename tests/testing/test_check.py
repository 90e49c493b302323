"""``sobjects emulator --check CASSETTE``: a recording replayed against the local org, with
each request's differences reported (status, error codes, JSON shape)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sobjects import Salesforce
from sobjects.auth import StaticToken
from sobjects.cli import main
from sobjects.emulator import LocalOrg
from sobjects.errors import NotFoundError
from sobjects.testing.cassette import RecordingTransport


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    """A recording of the local org itself, served over HTTP: creates, an update of a created
    record, a query, a failed create and a missing record."""

    async def record() -> Path:
        org = LocalOrg()
        recorder = RecordingTransport()
        async with org.serve() as base_url:
            http = httpx.AsyncClient(transport=recorder)
            auth = StaticToken(org.access_token)
            async with http, Salesforce(base_url, auth=auth, httpx_client=http) as sf:
                account = await sf.sobject.create("Account", {"Name": "Acme"})
                contact = await sf.sobject.create(
                    "Contact", {"LastName": "Doe", "AccountId": account}
                )
                await sf.sobject.update("Contact", contact, {"Title": "CEO"})
                await sf.query("SELECT Id, Title, Account.Name FROM Contact").all()
                await sf.request("POST", "sobjects/Contact", json={}, raise_for_status=False)
                with pytest.raises(NotFoundError):
                    await sf.sobject.get("Contact", "003000000000000AAA")
        return recorder.cassette(tmp_path / "org.json").save()

    import anyio

    return anyio.run(record)


def test_a_recording_of_the_local_org_checks_the_same(
    cassette: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emulator", "--check", str(cassette)]) == 0
    out = capsys.readouterr().out
    # The update found the locally created record: the recorded ids were mapped.
    assert "PATCH /services/data/v62.0/sobjects/Contact/" in out
    assert "differs" not in out
    assert out.rstrip().endswith("6 same, 0 differ, 0 skipped")


def test_differences_are_reported_per_request(
    cassette: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(cassette.read_text(encoding="utf-8"))
    interactions = data["interactions"]
    query = next(
        i for i in interactions if i["request"]["path"].startswith("/services/data/v62.0/query")
    )
    record = query["response"]["body"]["records"][0]
    record["Department"] = "Sales"  # a field the real org sent and the local org does not
    record["Title"] = 7  # a type the local org does not give
    failed = interactions[4]["response"]
    failed["body"][0]["errorCode"] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    interactions[5]["response"]["status"] = 400
    cassette.write_text(json.dumps(data), encoding="utf-8")

    assert main(["emulator", "--check", str(cassette)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert (
        "   4 GET /services/data/v62.0/query?q=SELECT+Id%2C+Title%2C+Account.Name+FROM+Contact: "
        "differs" in lines
    )
    assert "       shape: $.records[0].Department: missing in the local org's answer" in lines
    assert "       shape: $.records[0].Title: recorded number, local org string" in lines
    assert (
        "       error codes: recorded ['FIELD_CUSTOM_VALIDATION_EXCEPTION'], "
        "local org ['REQUIRED_FIELD_MISSING']"
    ) in lines
    assert "       status: recorded 400, local org 404" in lines
    assert lines[-1] == "3 same, 3 differ, 0 skipped"


def test_an_unreadable_cassette_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--check", str(tmp_path / "absent.json")]) == 2
    assert "no cassette at" in capsys.readouterr().err
