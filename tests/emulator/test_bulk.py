"""Bulk API 2.0 in the local org: ingest and query jobs over raw HTTP (no client library)."""

from __future__ import annotations

import csv
import io
from typing import Any

import anyio.to_thread
import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext__c", "type": "string", "externalId": True})
    org.define_field("Contact", {"name": "Ext__c", "type": "string", "externalId": True})
    return org


async def wait(org: LocalOrg, job_id: str) -> str:
    return await anyio.to_thread.run_sync(org.bulk.wait, job_id)


async def ingest(
    http: httpx.AsyncClient,
    org: LocalOrg,
    data: str | bytes,
    *,
    close: bool = True,
    **job: Any,
) -> dict[str, Any]:
    """Create, upload and close an ingest job; its final info."""
    job.setdefault("object", "Contact")
    job.setdefault("operation", "insert")
    created = await http.post(f"{V}/jobs/ingest", json=job)
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    body = data.encode() if isinstance(data, str) else data
    put = await http.put(
        f"{V}/jobs/ingest/{job_id}/batches", content=body, headers={"Content-Type": "text/csv"}
    )
    assert put.status_code == 201, put.text
    if close:
        closed = await http.patch(f"{V}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        assert closed.json()["state"] == "UploadComplete"
        await wait(org, job_id)
    info: dict[str, Any] = (await http.get(f"{V}/jobs/ingest/{job_id}")).json()
    return info


async def results(http: httpx.AsyncClient, job_id: str, which: str) -> list[dict[str, str]]:
    reply = await http.get(f"{V}/jobs/ingest/{job_id}/{which}")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(reply.text)))


async def test_insert_job_lifecycle_and_results(http: httpx.AsyncClient, org: LocalOrg) -> None:
    info = await ingest(
        http,
        org,
        'LastName,FirstName,Email\nSmith,"Ann, Jr.",ann@example.com\n'
        'Doe,"say ""hi""",not-an-email\n,NoLast,\n',
    )
    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 2)
    assert info["jobType"] == "V2Ingest" and info["apiVersion"] == 62.0
    ok = await results(http, info["id"], "successfulResults")
    assert [(r["sf__Created"], r["FirstName"]) for r in ok] == [("true", "Ann, Jr.")]
    stored = org.store.get(ok[0]["sf__Id"])
    assert stored is not None and stored["FirstName"] == "Ann, Jr."
    failed = await results(http, info["id"], "failedResults")
    assert [r["sf__Error"].split(":")[0] for r in failed] == [
        "INVALID_EMAIL_ADDRESS",
        "REQUIRED_FIELD_MISSING",
    ]
    assert failed[0]["FirstName"] == 'say "hi"'  # the original values come back
    assert failed[1]["sf__Error"].endswith(":LastName --")
    assert await results(http, info["id"], "unprocessedrecords") == []


async def test_update_with_null_and_empty_values(http: httpx.AsyncClient, org: LocalOrg) -> None:
    contact = org.schema.require("Contact")
    record_id = org.store.insert(
        contact, {"LastName": "Smith", "Title": "CEO", "Department": "Sales"}
    )
    info = await ingest(http, org, f"Id,Title,Department\n{record_id},#N/A,\n", operation="update")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (1, 0)
    record = org.store.get(record_id)
    assert record is not None
    assert record["Title"] is None  # #N/A clears the field
    assert record["Department"] == "Sales"  # an empty value leaves it alone
    ok = await results(http, info["id"], "successfulResults")
    assert ok[0]["sf__Created"] == "false"


async def test_a_row_with_too_many_values_fails_alone(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    info = await ingest(http, org, "LastName\nOne\nTwo,extra\n")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    (failed,) = await results(http, info["id"], "failedResults")
    assert failed["sf__Error"].startswith("INVALID_FIELD:The row has 2 values for 1 columns")


async def test_update_without_id_fails_each_row(http: httpx.AsyncClient, org: LocalOrg) -> None:
    info = await ingest(http, org, "Title\nCEO\n", operation="update")
    failed = await results(http, info["id"], "failedResults")
    assert failed[0]["sf__Error"].startswith("MISSING_ARGUMENT:")


async def test_upsert_by_external_id_with_a_parent_reference(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme", "Ext__c": "A-1"})
    data = "Ext__c,LastName,Account.Ext__c\nC-1,One,A-1\nC-2,Two,A-missing\n"
    first = await ingest(http, org, data, operation="upsert", externalIdFieldName="Ext__c")
    assert (first["numberRecordsProcessed"], first["numberRecordsFailed"]) == (2, 1)
    again = await ingest(
        http,
        org,
        "Ext__c,LastName\nC-1,Renamed\n",
        operation="upsert",
        externalIdFieldName="ext__c",
    )
    ok = await results(http, again["id"], "successfulResults")
    assert ok[0]["sf__Created"] == "false"
    (contact,) = [c for c in org.store.records("Contact") if c["Ext__c"] == "C-1"]
    assert (contact["LastName"], contact["AccountId"]) == ("Renamed", account_id)
    failed = await results(http, first["id"], "failedResults")
    assert "A-missing" in failed[0]["sf__Error"]


async def test_delete_job(http: httpx.AsyncClient, org: LocalOrg) -> None:
    contact = org.schema.require("Contact")
    ids = [org.store.insert(contact, {"LastName": f"C{i}"}) for i in range(3)]
    info = await ingest(
        http, org, "Id\n" + "\n".join([*ids, "003000000000000AAA"]) + "\n", operation="delete"
    )
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (4, 1)
    assert org.store.records("Contact") == []


@pytest.mark.parametrize(
    ("delimiter", "line_ending", "sep", "eol"),
    [("TAB", "LF", "\t", "\n"), ("PIPE", "CRLF", "|", "\r\n"), ("SEMICOLON", "LF", ";", "\n")],
)
async def test_delimiters_and_line_endings(
    http: httpx.AsyncClient,
    org: LocalOrg,
    delimiter: str,
    line_ending: str,
    sep: str,
    eol: str,
) -> None:
    data = f"LastName{sep}Title{eol}Smith{sep}a,b{eol}Doe{sep}x{eol}"
    info = await ingest(http, org, data, columnDelimiter=delimiter, lineEnding=line_ending)
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 0)
    assert sorted(r["Title"] for r in org.store.records("Contact")) == ["a,b", "x"]
    reply = await http.get(f"{V}/jobs/ingest/{info['id']}/successfulResults")
    assert reply.text.startswith(f'"sf__Id"{sep}"sf__Created"{sep}"LastName"{sep}"Title"{eol}')


@pytest.mark.parametrize(
    ("data", "job", "message"),
    [
        ("LastName,Bogus__c\nA,1\n", {}, "InvalidBatch : Field name not found : Bogus__c"),
        ("LastName,Owner.Name\nA,1\n", {}, "Field name not found : Owner.Name"),
        ("LastName\r\nA\r\n", {}, "LineEnding is invalid on user data"),
        ("LastName\nA\n", {"lineEnding": "CRLF"}, "Current LineEnding setting is CRLF"),
        ('LastName\n"A\n', {}, "ClientInputError"),
        ("LastName,lastname\nA,B\n", {}, "Duplicate field name"),
    ],
)
async def test_a_job_that_fails_as_a_whole(
    http: httpx.AsyncClient, org: LocalOrg, data: str, job: dict[str, str], message: str
) -> None:
    info = await ingest(http, org, data, **job)
    assert info["state"] == "Failed"
    assert message in info["errorMessage"]
    assert org.store.records("Contact") == []


async def test_abort_before_processing_leaves_every_row_unprocessed(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    data = "LastName\n" + "".join(f"C{i}\n" for i in range(450))
    with org.bulk.paused():
        info = await ingest(http, org, data, close=False)
        job = f"{V}/jobs/ingest/{info['id']}"
        await http.patch(job, json={"state": "UploadComplete"})
        aborted = await http.patch(job, json={"state": "Aborted"})
        assert aborted.json()["state"] == "Aborted"
    assert await wait(org, info["id"]) == "Aborted"
    assert org.store.records("Contact") == []
    unprocessed = await results(http, info["id"], "unprocessedrecords")
    assert [r["LastName"] for r in unprocessed] == [f"C{i}" for i in range(450)]
    assert await results(http, info["id"], "successfulResults") == []
    again = await http.patch(job, json={"state": "Aborted"})
    assert (again.status_code, again.json()[0]["errorCode"]) == (409, "INVALIDJOBSTATE")


async def test_abort_while_in_progress(http: httpx.AsyncClient, org: LocalOrg) -> None:
    data = "LastName\n" + "".join(f"C{i}\n" for i in range(1000))
    info = await ingest(http, org, data, close=False)
    job = f"{V}/jobs/ingest/{info['id']}"
    with org.bulk.paused():
        await http.patch(job, json={"state": "UploadComplete"})
        # The worker takes the job (InProgress) and holds before its first chunk.
        with anyio.fail_after(10):
            state = (await http.get(job)).json()["state"]
            while state != "InProgress":
                await anyio.sleep(0.01)
                state = (await http.get(job)).json()["state"]
        await http.patch(job, json={"state": "Aborted"})
    await wait(org, info["id"])
    unprocessed = await results(http, info["id"], "unprocessedrecords")
    assert len(unprocessed) == 1000
    assert (await http.get(job)).json()["numberRecordsProcessed"] == 0
    assert org.store.records("Contact") == []


async def test_upload_rules(http: httpx.AsyncClient, org: LocalOrg) -> None:
    created = (
        await http.post(f"{V}/jobs/ingest", json={"object": "Contact", "operation": "insert"})
    ).json()
    batches = f"{V}/jobs/ingest/{created['id']}/batches"
    first = await http.put(batches, content=b"LastName\nA\n", headers={"Content-Type": "text/csv"})
    assert first.status_code == 201
    second = await http.put(batches, content=b"LastName\nB\n", headers={"Content-Type": "text/csv"})
    assert second.status_code == 409
    assert "only do 'PUT' once" in second.json()[0]["message"]
    early = await http.get(f"{V}/jobs/ingest/{created['id']}/successfulResults")
    assert early.status_code == 409
    busy = await http.delete(f"{V}/jobs/ingest/{created['id']}")
    assert busy.status_code == 409  # an Open job cannot be deleted
    await http.patch(f"{V}/jobs/ingest/{created['id']}", json={"state": "UploadComplete"})
    late = await http.put(batches, content=b"LastName\nC\n", headers={"Content-Type": "text/csv"})
    assert late.status_code == 409
    await wait(org, created["id"])
    listed = (await http.get(f"{V}/jobs/ingest")).json()
    assert listed["done"] is True
    assert [j["id"] for j in listed["records"]] == [created["id"]]
    assert (await http.delete(f"{V}/jobs/ingest/{created['id']}")).status_code == 204
    assert (await http.get(f"{V}/jobs/ingest/{created['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("job", "code"),
    [
        ({"object": "Nope", "operation": "insert"}, "INVALIDJOB"),
        ({"object": "Contact", "operation": "merge"}, "INVALIDJOB"),
        ({"object": "Contact", "operation": "upsert"}, "INVALIDJOB"),
        (
            {"object": "Contact", "operation": "upsert", "externalIdFieldName": "LastName"},
            "INVALIDJOB",
        ),
        (
            {"object": "Contact", "operation": "insert", "columnDelimiter": "COLON"},
            "JSON_PARSER_ERROR",
        ),
        ({"object": "Contact", "operation": "insert", "lineEnding": "CR"}, "JSON_PARSER_ERROR"),
        ({"object": "Contact", "operation": "insert", "contentType": "JSON"}, "INVALIDJOB"),
    ],
)
async def test_bad_job_definitions(http: httpx.AsyncClient, job: dict[str, str], code: str) -> None:
    reply = await http.post(f"{V}/jobs/ingest", json=job)
    assert (reply.status_code, reply.json()[0]["errorCode"]) == (400, code)


async def test_query_job_pages_with_locators(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account_id = org.store.insert(org.schema.require("Account"), {"Name": "Acme"})
    contact = org.schema.require("Contact")
    for i in range(25):
        org.store.insert(contact, {"LastName": f"C{i:02d}", "AccountId": account_id})
    created = await http.post(
        f"{V}/jobs/query",
        json={
            "operation": "query",
            "query": "SELECT LastName, Account.Name, Email FROM Contact ORDER BY LastName",
        },
    )
    assert created.status_code == 200
    job = created.json()
    assert (job["state"], job["jobType"], job["object"]) == ("UploadComplete", "V2Query", "Contact")
    assert await wait(org, job["id"]) == "JobComplete"
    info = (await http.get(f"{V}/jobs/query/{job['id']}")).json()
    assert info["numberRecordsProcessed"] == 25
    rows: list[dict[str, str]] = []
    locator, pages = "", 0
    while True:
        params = {"maxRecords": "10", **({"locator": locator} if locator else {})}
        page = await http.get(f"{V}/jobs/query/{job['id']}/results", params=params)
        assert page.headers["content-type"].startswith("text/csv")
        found = list(csv.DictReader(io.StringIO(page.text)))
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(found)
        rows += found
        pages += 1
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert pages == 3
    assert [r["LastName"] for r in rows] == [f"C{i:02d}" for i in range(25)]
    assert rows[0] == {"LastName": "C00", "Account.Name": "Acme", "Email": ""}
    bad = await http.get(f"{V}/jobs/query/{job['id']}/results", params={"locator": "bogus"})
    assert bad.status_code == 400
    other_version = await http.get(f"/services/data/v61.0/jobs/query/{job['id']}/results")
    assert other_version.status_code == 409
    assert (await http.delete(f"{V}/jobs/query/{job['id']}")).status_code == 204


async def test_query_all_sees_deleted_records(http: httpx.AsyncClient, org: LocalOrg) -> None:
    contact = org.schema.require("Contact")
    org.store.delete(contact, org.store.insert(contact, {"LastName": "Gone"}))
    counts = {}
    for operation in ("query", "queryAll"):
        job = (
            await http.post(
                f"{V}/jobs/query", json={"operation": operation, "query": "SELECT Id FROM Contact"}
            )
        ).json()
        await wait(org, job["id"])
        counts[operation] = (await http.get(f"{V}/jobs/query/{job['id']}")).json()[
            "numberRecordsProcessed"
        ]
    assert counts == {"query": 0, "queryAll": 1}


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT LastName FROM", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Contact", "API_ERROR"),
        ("SELECT LastName FROM Contact GROUP BY LastName", "API_ERROR"),
        ("SELECT Name, (SELECT Id FROM Contacts) FROM Account", "API_ERROR"),
        ("SELECT Id FROM Contact OFFSET 5", "API_ERROR"),
    ],
)
async def test_query_jobs_refuse_what_bulk_does_not_support(
    http: httpx.AsyncClient, soql: str, code: str
) -> None:
    reply = await http.post(f"{V}/jobs/query", json={"operation": "query", "query": soql})
    assert (reply.status_code, reply.json()[0]["errorCode"]) == (400, code)


async def test_query_job_abort(http: httpx.AsyncClient, org: LocalOrg) -> None:
    with org.bulk.paused():
        job = (await http.post(f"{V}/jobs/query", json={"query": "SELECT Id FROM Contact"})).json()
        aborted = await http.patch(f"{V}/jobs/query/{job['id']}", json={"state": "Aborted"})
        assert aborted.json()["state"] == "Aborted"
    assert await wait(org, job["id"]) == "Aborted"
    results_reply = await http.get(f"{V}/jobs/query/{job['id']}/results")
    assert results_reply.status_code == 409


async def test_limits_and_api_calls(http: httpx.AsyncClient, org: LocalOrg) -> None:
    before = org.api_usage
    data = "LastName\n" + "".join(f"C{i}\n" for i in range(10_001))
    await ingest(http, org, data)  # POST, PUT, PATCH, GET: the test's wait costs nothing
    assert org.api_usage - before == 4
    job = (await http.post(f"{V}/jobs/query", json={"query": "SELECT Id FROM Contact"})).json()
    await wait(org, job["id"])
    limits = (await http.get(f"{V}/limits")).json()
    assert limits["DailyBulkApiBatches"]["Remaining"] == 15_000 - 2  # 10,001 rows: 2 batches
    assert limits["DailyBulkV2QueryJobs"]["Remaining"] == 10_000 - 1
    assert len(org.store.records("Contact")) == 10_001


async def test_unknown_jobs_and_methods(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{V}/jobs/ingest/750000000000000AAA")).status_code == 404
    assert (await http.get(f"{V}/jobs/other")).status_code == 404
    assert (await http.put(f"{V}/jobs/ingest", json={})).status_code == 405


async def test_composite_requests_cannot_carry_bulk_resources(http: httpx.AsyncClient) -> None:
    body = {
        "compositeRequest": [
            {"method": "GET", "url": f"{V}/jobs/ingest", "referenceId": "jobs"},
        ]
    }
    reply = await http.post(f"{V}/composite", json=body)
    (item,) = reply.json()["compositeResponse"]
    assert (item["httpStatusCode"], item["body"][0]["errorCode"]) == (400, "INVALID_API_INPUT")


async def test_hard_delete_purges_past_the_recycle_bin(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    """Bulk API 2.0 ``hardDelete``: "Mark the records as immediately eligible for deletion by
    your org. If you don't specify this flag, the deleted records go into the Recycle Bin"
    (Salesforce CLI reference, ``data delete bulk --hard-delete``). The local org purges them
    at once (Salesforce may list them in queryAll for a while): not in the recycle bin, not
    seen by queryAll; an autonumber is never handed out again."""
    case = org.schema.require("Case")
    soft, hard = (org.store.insert(case, {"Subject": s}) for s in ("soft", "hard"))
    numbers = {org.store.get(i)["CaseNumber"] for i in (soft, hard)}  # type: ignore[index]
    await ingest(http, org, f"Id\n{soft}\n", object="Case", operation="delete")
    info = await ingest(http, org, f"Id\n{hard}\n", object="Case", operation="hardDelete")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (1, 0)
    assert org.store.get(hard) is None
    assert [r["Id"] for r in org.store.records("Case", include_deleted=True)] == [soft]
    again = org.store.insert(case, {"Subject": "after"})
    assert org.store.get(again)["CaseNumber"] not in numbers  # type: ignore[index]
    assert again not in (soft, hard)
