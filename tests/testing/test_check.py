"""``sobjects emulator --check CASSETTE``: a recording replayed against the local org, with
each request's differences reported (status, error codes, JSON shape)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


@pytest.fixture
def bulk_cassette(tmp_path: Path) -> Path:
    """A recording of the local org (in-process): a Bulk API insert (a CSV upload), a Bulk
    API query and a Composite batch with a missing record."""

    async def record() -> Path:
        org = LocalOrg()
        recorder = RecordingTransport(httpx.ASGITransport(app=org.app))
        http = httpx.AsyncClient(transport=recorder)
        auth = StaticToken(org.access_token)
        async with http, Salesforce("http://127.0.0.1", auth=auth, httpx_client=http) as sf:
            rows = [{"LastName": f"C{i}"} for i in range(3)]
            result = await sf.bulk.insert("Contact", rows, poll_interval=0.01)
            assert len(result.successful) == 3
            query = sf.bulk.query("SELECT Id FROM Contact", poll_interval=0.01)
            assert len(await query.all()) == 3
            async with sf.composite.batch() as batch:
                batch.query("SELECT COUNT() FROM Contact")
                missing = batch.sobject.get("Contact", "003000000000000AAA")
            assert missing.status_code == 404
        return recorder.cassette(tmp_path / "bulk.json").save()

    import anyio

    return anyio.run(record)


def interactions(cassette: Path) -> list[dict[str, Any]]:
    return list(json.loads(cassette.read_text(encoding="utf-8"))["interactions"])


def test_a_bulk_upload_is_sent_as_csv_and_checks_the_same(
    bulk_cassette: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (upload,) = [
        i["request"] for i in interactions(bulk_cassette) if i["request"]["method"] == "PUT"
    ]
    assert upload["headers"]["content-type"] == "text/csv"
    assert upload["body"] == "LastName\nC0\nC1\nC2\n"
    assert main(["emulator", "--check", str(bulk_cassette)]) == 0
    out = capsys.readouterr().out
    assert "differs" not in out
    assert "successfulResults/: same" in out


def test_outcome_values_are_compared(
    bulk_cassette: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(bulk_cassette.read_text(encoding="utf-8"))
    items = data["interactions"]
    polls = [
        (number, i["response"]["body"])
        for number, i in enumerate(items, 1)
        if i["request"]["method"] == "GET" and re.search(r"/jobs/ingest/\w+$", i["request"]["path"])
    ]
    finished_at, finished = polls[-1]
    assert finished["state"] == "JobComplete"
    finished["state"], finished["numberRecordsFailed"] = "Failed", 2
    # A job's state caught in passing is no difference, although the local org's job may be
    # further on by then: here the answer that closed the upload.
    (closed,) = [i["response"]["body"] for i in items if i["request"]["method"] == "PATCH"]
    assert closed["state"] == "UploadComplete"
    closed["state"] = "InProgress"
    (batch,) = [i for i in items if i["request"]["path"].endswith("/composite/batch")]
    batch["response"]["body"]["results"][1]["statusCode"] = 400
    bulk_cassette.write_text(json.dumps(data), encoding="utf-8")

    assert main(["emulator", "--check", str(bulk_cassette)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "       value: $.state: recorded 'Failed', local org 'JobComplete'" in lines
    assert "       value: $.numberRecordsFailed: recorded 2, local org 0" in lines
    assert "       value: $.results[1].statusCode: recorded 400, local org 404" in lines
    differing = [line for line in lines if line.endswith(": differs")]
    assert len(differing) == 2
    assert differing[0].startswith(f"{finished_at:>4} GET ")
    assert lines[-1].endswith(" 2 differ, 0 skipped")
