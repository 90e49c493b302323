"""Persistence: every acknowledged write survives a ``kill -9`` of ``sobjects emulator``.

The emulator runs as a real subprocess on a journal file; the tests write over HTTP, kill it
with SIGKILL right after the last answer, start it again on the same file and read back.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sobjects._ids import to_18
from sobjects.cli import main
from sobjects.emulator import LocalOrg
from sobjects.emulator._schema import Schema
from sobjects.emulator._standard import standard_sobjects
from sobjects.emulator._store import (
    JOURNAL_HEADER,
    DamagedData,
    JournalInUse,
    Store,
    StoreClosed,
    UnusableJournal,
)

V = "/services/data/v62.0"
STARTUP_TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


class Emulator:
    """A running ``python -m sobjects.cli emulator`` and an HTTP client for it."""

    def __init__(self, process: subprocess.Popen[str], base_url: str, token: str) -> None:
        self.process = process
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            trust_env=False,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def create(self, sobject: str, data: dict[str, Any]) -> str:
        response = self.http.post(f"{V}/sobjects/{sobject}", json=data)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def get(self, sobject: str, record_id: str) -> httpx.Response:
        return self.http.get(f"{V}/sobjects/{sobject}/{record_id}")


@contextmanager
def emulator(data: Path) -> Iterator[Emulator]:
    """Start the emulator on ``data``; always killed on the way out."""
    stderr = open(data.parent / "stderr.log", "a")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        [sys.executable, "-m", "sobjects.cli", "emulator", "--port", "0", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    running: Emulator | None = None
    try:
        seen: dict[str, str] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "base_url" not in seen or "access_token" not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"the emulator did not start within {STARTUP_TIMEOUT}s")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                stderr.flush()
                log = (data.parent / "stderr.log").read_text()
                pytest.fail(f"the emulator exited with {process.wait(timeout=5)}: {log}")
            key, _, value = line.strip().partition(": ")
            seen[key] = value
        running = Emulator(process, seen["base_url"], seen["access_token"])
        yield running
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if running is not None:
            running.http.close()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()
        stderr.close()


def seed_schema(data: Path) -> None:
    """An external id field, journaled like any schema change (not available over HTTP)."""
    with LocalOrg(data=data) as org:
        org.define_field(
            "Account",
            {
                "name": "Ext_Id__c",
                "type": "string",
                "externalId": True,
                "unique": True,
                "length": 40,
            },
        )


def stored(data: Path) -> LocalOrg:
    """The org a fresh start on ``data`` sees (read in-process, after the emulator is gone)."""
    with LocalOrg(data=data) as org:
        return org


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    seed_schema(data)
    with emulator(data) as first:
        kept = first.create("Account", {"Name": "Kept"})
        renamed = first.create("Account", {"Name": "Before"})
        patched = first.http.patch(f"{V}/sobjects/Account/{renamed}", json={"Name": "After"})
        assert patched.status_code == 204
        deleted = first.create("Account", {"Name": "Deleted"})
        assert first.http.delete(f"{V}/sobjects/Account/{deleted}").status_code == 204
        inserted = first.http.patch(f"{V}/sobjects/Account/Ext_Id__c/U-1", json={"Name": "Up"})
        assert inserted.status_code == 201
        upserted = first.http.patch(
            f"{V}/sobjects/Account/Ext_Id__c/U-1", json={"Name": "Up again"}
        )
        assert (upserted.status_code, upserted.json()["created"]) == (200, False)
        contact = first.create("Contact", {"LastName": "Doe", "AccountId": kept})
        rolled_back = first.http.post(
            f"{V}/composite",
            json={
                "allOrNone": True,
                "compositeRequest": [
                    {
                        "method": "POST",
                        "url": f"{V}/sobjects/Account",
                        "referenceId": "a",
                        "body": {"Name": "Rolled back", "Ext_Id__c": "RB-1"},
                    },
                    {
                        "method": "PATCH",
                        "url": f"{V}/sobjects/Account/{kept}",
                        "referenceId": "b",
                        "body": {"Name": "Renamed then rolled back"},
                    },
                    {
                        "method": "POST",
                        "url": f"{V}/sobjects/Contact",
                        "referenceId": "c",
                        "body": {"FirstName": "No last name"},
                    },
                ],
            },
        )
        assert [i["httpStatusCode"] for i in rolled_back.json()["compositeResponse"]] == [
            400,
            400,
            400,
        ]
        collection = first.http.post(
            f"{V}/composite/sobjects",
            json={
                "allOrNone": True,
                "records": [
                    {"attributes": {"type": "Account"}, "Name": "Also rolled back"},
                    {"attributes": {"type": "Account"}, "Bogus__c": 1},
                ],
            },
        )
        # A rolled-back create reports no id (test_rolled_back_ids_are_not_reissued_after_restart
        # checks the store never hands its id out again).
        assert "id" not in collection.json()[0]
        partial = first.http.post(
            f"{V}/composite/sobjects",
            json={
                "records": [
                    {"attributes": {"type": "Account"}, "Name": "Partial"},
                    {"attributes": {"type": "Account"}, "Bogus__c": 1},
                ]
            },
        )
        partial_id = partial.json()[0]["id"]
        # The last acknowledged write, then straight to SIGKILL.
        last = first.create("Account", {"Name": "Last"})
        first.kill()

    with emulator(data) as second:
        assert second.get("Account", kept).json()["Name"] == "Kept"
        assert second.get("Account", renamed).json()["Name"] == "After"
        gone = second.get("Account", deleted)
        assert (gone.status_code, gone.json()[0]["errorCode"]) == (404, "ENTITY_IS_DELETED")
        by_ext = second.http.get(f"{V}/sobjects/Account/Ext_Id__c/U-1")
        assert (by_ext.json()["Id"], by_ext.json()["Name"]) == (inserted.json()["id"], "Up again")
        assert second.get("Contact", contact).json()["AccountId"] == kept
        assert second.http.get(f"{V}/sobjects/Account/Ext_Id__c/RB-1").status_code == 404
        assert second.get("Account", partial_id).json()["Name"] == "Partial"
        assert second.get("Account", last).json()["Name"] == "Last"
        # New ids never collide with stored ones.
        after_restart = second.create("Account", {"Name": "After restart"})
        assert after_restart not in {kept, renamed, deleted, inserted.json()["id"], last}
        second.kill()

    org = stored(data)
    names = {r["Name"]: r for r in org.store.records("Account", include_deleted=True)}
    assert set(names) == {
        "Kept",
        "After",
        "Deleted",
        "Up again",
        "Partial",
        "Last",
        "After restart",
    }
    assert names["Deleted"]["IsDeleted"] is True
    assert [c["LastName"] for c in org.store.records("Contact")] == ["Doe"]
    assert org.schema.require("Account").field("Ext_Id__c") is not None  # schema replayed


def test_a_torn_write_ahead_log_tail_is_ignored(tmp_path: Path) -> None:
    """A crash in the middle of a commit leaves a torn tail in the write-ahead log: SQLite
    checks each frame's checksum and ignores what was never completely written."""
    data = tmp_path / "org.db"
    with emulator(data) as first:
        before = first.create("Account", {"Name": "Before the crash"})
        first.kill()
    wal = data.with_name(data.name + "-wal")
    assert wal.exists()  # killed: nothing checkpointed it away
    with open(wal, "ab") as log:
        log.write(os.urandom(5000))
    with emulator(data) as second:
        assert second.get("Account", before).json()["Name"] == "Before the crash"
        after = second.create("Account", {"Name": "After the crash"})
        assert after != before
        second.kill()
    # The write acknowledged after the torn tail survives the next restart too.
    with emulator(data) as third:
        assert third.get("Account", before).status_code == 200
        assert third.get("Account", after).json()["Name"] == "After the crash"
        third.kill()


def test_a_failed_nested_transaction_is_not_journaled(tmp_path: Path) -> None:
    """An inner block that rolls back must not reach the journal when the outer commits."""
    data = tmp_path / "org.jsonl"
    store = Store(Schema(standard_sobjects()), journal=data)
    try:
        account = store.schema.require("Account")
        with store.transaction():
            kept = store.insert(account, {"Name": "Kept"})
            with pytest.raises(RuntimeError), store.transaction():
                store.insert(account, {"Name": "Rolled back"})
                raise RuntimeError("inner failure")
        assert [r["Name"] for r in store.records("Account")] == ["Kept"]
    finally:
        store.close()
    replayed = Store(Schema(standard_sobjects()), journal=data)
    try:
        assert [r["Id"] for r in replayed.records("Account")] == [kept]
    finally:
        replayed.close()


def test_rolled_back_ids_are_not_reissued_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        account = org.schema.require("Account")
        with pytest.raises(RuntimeError), org.store.transaction():
            rolled_back = org.store.insert(account, {"Name": "Rolled back"})
            raise RuntimeError("fails")
    with LocalOrg(data=data) as restarted:
        assert restarted.store.insert(account, {"Name": "New"}) != rolled_back


# -- closing: nothing is acknowledged that is not on disk ----------------------------------------


def test_ctrl_c_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    """SIGINT while clients write: the server stops before the journal closes."""
    data = tmp_path / "org.jsonl"
    acknowledged: list[str] = []
    with emulator(data) as running:

        def write(worker: int) -> None:
            with httpx.Client(
                base_url=running.base_url,
                headers={"Authorization": running.http.headers["Authorization"]},
                timeout=10,
                trust_env=False,
            ) as http:
                for n in range(100_000):
                    try:
                        response = http.post(
                            f"{V}/sobjects/Account", json={"Name": f"{worker}-{n}"}
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])

        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 10
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=20) == 0
        for writer in writers:
            writer.join(timeout=20)
    assert len(acknowledged) >= 50
    kept = {r["Id"] for r in stored(data).store.records("Account")}
    assert set(acknowledged) <= kept


@pytest.mark.anyio
async def test_a_closed_org_refuses_writes_instead_of_losing_them(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=org.app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {org.access_token}"},
        ) as http:
            before = await http.post(f"{V}/sobjects/Account", json={"Name": "Before"})
            assert before.status_code == 201
            org.close()
            after = await http.post(f"{V}/sobjects/Account", json={"Name": "After"})
            assert after.status_code == 503
            assert after.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
            composite = await http.post(
                f"{V}/composite/sobjects",
                json={"records": [{"attributes": {"type": "Account"}, "Name": "Nor this"}]},
            )
            assert composite.status_code == 503
            read = await http.get(f"{V}/sobjects/Account/{before.json()['id']}")
            assert read.status_code == 200  # reads still work
        with pytest.raises(StoreClosed):
            org.store.insert(org.schema.require("Account"), {"Name": "Direct"})
        with pytest.raises(StoreClosed):
            org.define_field("Account", {"name": "Late__c", "type": "string"})
        assert org.schema.require("Account").field("Late__c") is None
    assert [r["Name"] for r in stored(data).store.records("Account")] == ["Before"]


def test_close_waits_for_a_write_in_progress(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        account = org.schema.require("Account")
        inside, release = threading.Event(), threading.Event()

        def slow_write() -> None:
            with org.store.transaction():
                org.store.insert(account, {"Name": "In flight"})
                inside.set()
                release.wait(10)

        writer = threading.Thread(target=slow_write)
        writer.start()
        try:
            assert inside.wait(10)
            closer = threading.Thread(target=org.close)
            closer.start()
            closer.join(0.2)
            assert closer.is_alive()  # blocked on the store's lock, not closing under the write
        finally:
            release.set()
            writer.join(10)
        closer.join(10)
    assert [r["Name"] for r in stored(data).store.records("Account")] == ["In flight"]


@pytest.mark.anyio
async def test_with_and_async_with_close_the_org(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        assert not org.store.closed
    assert org.store.closed
    async with LocalOrg(data=data) as again:
        assert not again.store.closed
    assert again.store.closed


def test_an_unclosed_org_closes_its_journal_when_collected(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        org = LocalOrg(data=data)
        org.store.insert(org.schema.require("Account"), {"Name": "Kept"})
        del org
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert [r["Name"] for r in stored(data).store.records("Account")] == ["Kept"]


# -- one org per journal ---------------------------------------------------------------------------


def test_a_journal_is_used_by_one_org_at_a_time(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as first:
        with pytest.raises(JournalInUse, match=str(data)):
            LocalOrg(data=data)
        first.store.insert(first.schema.require("Account"), {"Name": "Only writer"})
    with LocalOrg(data=data) as second:  # free again once closed
        assert [r["Name"] for r in second.store.records("Account")] == ["Only writer"]


def test_a_second_emulator_on_the_same_journal_exits_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data):
        assert main(["emulator", "--data", str(data)]) == 1
    captured = capsys.readouterr()
    assert str(data) in captured.err and "in use" in captured.err
    assert "base_url" not in captured.out


def test_a_second_process_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with emulator(data) as running:
        with pytest.raises(JournalInUse):
            LocalOrg(data=data)
        running.kill()


# -- what --data may point at ----------------------------------------------------------------


def test_a_new_data_file_is_a_sqlite_database(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    with LocalOrg(data=data) as org:
        org.store.insert(org.schema.require("Account"), {"Name": "Kept"})
    assert data.read_bytes().startswith(b"SQLite format 3\x00")
    with LocalOrg(data=data) as again:
        assert [r["Name"] for r in again.store.records("Account")] == ["Kept"]


@pytest.mark.parametrize(
    "content",
    [
        b"name,phone\nAcme,555\n",  # a CSV
        b'{"name": "settings"}\n',  # some other JSON lines
        b"[]\n",
        b"\x00\x01binary",
        b"no newline at all",
        b'{"sobjects_journal":"one"}\n',
        b"\n",
    ],
)
def test_a_file_that_is_not_a_data_file_is_left_untouched(tmp_path: Path, content: bytes) -> None:
    data = tmp_path / "precious.txt"
    data.write_bytes(content)
    with pytest.raises(UnusableJournal, match="is not a sobjects data file"):
        LocalOrg(data=data)
    assert data.read_bytes() == content
    with LocalOrg(data=tmp_path / "other.db"):  # nothing left locked or half-open
        pass


def test_another_sqlite_database_is_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "app.db"
    with closing(sqlite3.connect(data)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
    content = data.read_bytes()
    with pytest.raises(UnusableJournal, match="SQLite database but not a sobjects data file"):
        LocalOrg(data=data)
    assert data.read_bytes() == content


def test_a_journal_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    data.write_bytes(b'{"sobjects_journal":2}\n{"records":[]}\n')
    with pytest.raises(UnusableJournal, match="format 2, newer"):
        LocalOrg(data=data)


def test_a_data_file_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    with LocalOrg(data=data):
        pass
    with closing(sqlite3.connect(data)) as db:
        db.execute("UPDATE sobjects_meta SET value = 2 WHERE key = 'format'")
        db.commit()
    with pytest.raises(UnusableJournal, match="format 2, newer"):
        LocalOrg(data=data)


def old_journal(path: Path, *units: list[dict[str, Any]], header: bool = True) -> None:
    """A journal as earlier versions wrote it: JSON lines, one unit of work each."""
    lines = [json.dumps({"entries": unit}).encode() + b"\n" for unit in units]
    path.write_bytes((JOURNAL_HEADER if header else b"") + b"".join(lines))


OLD_ID = to_18("0015e0000000007")


def old_account(name: str, **fields: Any) -> dict[str, Any]:
    return {"put": {"attributes": {"type": "Account"}, "Id": OLD_ID, "Name": name, **fields}}


@pytest.mark.parametrize("header", [True, False])
def test_a_journal_of_an_earlier_version_is_converted_once(tmp_path: Path, header: bool) -> None:
    """Journals before the header started with a unit of work; both are converted, the
    last version of each record kept, a torn last line (never acknowledged) dropped."""
    data = tmp_path / "org.jsonl"
    old_journal(
        data,
        [{"define_field": ["Account", {"name": "Old__c", "type": "string"}]}],
        [old_account("First", IsDeleted=False)],
        [old_account("Renamed", IsDeleted=False, Old__c="kept")],
        [{"counters": {"001": 9}}],
        header=header,
    )
    original = data.read_bytes()
    with open(data, "ab") as journal:
        journal.write(b'{"entries":[{"put":{"attributes":{"type":"Account"},"Id":"001')
    with LocalOrg(data=data) as org:
        assert [(r["Name"], r["Old__c"]) for r in org.store.records("Account")] == [
            ("Renamed", "kept")
        ]
        new = org.store.insert(org.schema.require("Account"), {"Name": "New"})
    assert new not in {OLD_ID, to_18("0015e0000000009")}  # the counters came along
    assert data.read_bytes().startswith(b"SQLite format 3\x00")
    assert (tmp_path / "org.jsonl.journal-v1").read_bytes().startswith(original)
    with LocalOrg(data=data) as again:
        assert sorted(r["Name"] for r in again.store.records("Account")) == ["New", "Renamed"]


@pytest.mark.parametrize("content", [b"", JOURNAL_HEADER[:7]])
def test_an_empty_or_torn_new_file_is_taken(tmp_path: Path, content: bytes) -> None:
    """An empty file (``touch``), or an earlier version's crash while writing its header."""
    data = tmp_path / "org.jsonl"
    data.write_bytes(content)
    with LocalOrg(data=data) as org:
        org.store.insert(org.schema.require("Account"), {"Name": "Kept"})
    assert data.read_bytes().startswith(b"SQLite format 3\x00")
    with LocalOrg(data=data) as again:
        assert [r["Name"] for r in again.store.records("Account")] == ["Kept"]


# -- damage, ids, size -------------------------------------------------------------------------


def test_a_damaged_data_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    with LocalOrg(data=data) as org:
        account = org.schema.require("Account")
        with org.store.transaction():
            for n in range(2_000):
                org.store.insert(account, {"Name": f"Account {n}", "Description": "x" * 200})
    size = data.stat().st_size
    with open(data, "r+b") as handle:  # scribble over pages in the middle of the file
        handle.seek(size // 2)
        handle.write(b"\xff" * 8192)
    with pytest.raises(DamagedData, match="is damaged"):
        LocalOrg(data=data)
    done = subprocess.run(
        [sys.executable, "-m", "sobjects.cli", "emulator", "--port", "0", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sobjects emulator: --data: ")
    assert "is damaged" in done.stderr and "Traceback" not in done.stderr
    assert "base_url" not in done.stdout


def test_ids_are_never_handed_out_again_after_a_restart(tmp_path: Path) -> None:
    """The counters live in the database: neither a deleted record's id nor the id of the
    last record created is issued again."""
    data = tmp_path / "org.db"
    with LocalOrg(data=data) as org:
        account = org.schema.require("Account")
        kept = org.store.insert(account, {"Name": "Kept"})
        deleted = org.store.insert(account, {"Name": "Deleted"})
        org.store.delete(account, deleted)
    with LocalOrg(data=data) as again:
        assert again.store.retrieve(account, kept)["Name"] == "Kept"
        new = again.store.insert(account, {"Name": "New"})
        assert new not in {kept, deleted}
        assert int(new[6:15]) > int(deleted[6:15])


def test_updates_replace_rows_instead_of_growing_the_file(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    with LocalOrg(data=data) as org:
        account = org.schema.require("Account")
        record_id = org.store.insert(account, {"Name": "Updated"})
    first = data.stat().st_size
    with LocalOrg(data=data) as org:
        for n in range(2_000):
            org.store.update(account, record_id, {"Description": f"version {n} " * 20})
    assert data.stat().st_size <= first + 64 * 1024
    assert not data.with_name(data.name + "-wal").exists()  # checkpointed on close
    with LocalOrg(data=data) as again:
        assert again.store.retrieve(account, record_id)["Description"].startswith("version 1999")


def test_a_directory_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnusableJournal, match="is a directory"):
        LocalOrg(data=tmp_path)
    with pytest.raises(UnusableJournal, match="does not exist"):
        LocalOrg(data=tmp_path / "missing" / "org.jsonl")
    assert not (tmp_path / "missing").exists()
    if Path("/dev/null").exists():
        with pytest.raises(UnusableJournal, match="not a regular file"):
            LocalOrg(data="/dev/null")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("precious.txt", "is not a sobjects data file"),
        (".", "is a directory"),
        ("missing/org.jsonl", "does not exist"),
    ],
)
def test_the_command_refuses_a_bad_data_path_without_a_traceback(
    tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "precious.txt").write_text("keep me\n")
    done = subprocess.run(
        [sys.executable, "-m", "sobjects.cli", "emulator", "--data", str(tmp_path / target)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sobjects emulator: --data: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "base_url" not in done.stdout
    assert (tmp_path / "precious.txt").read_text() == "keep me\n"
