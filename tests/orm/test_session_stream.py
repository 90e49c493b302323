"""``session.save_all(models)`` / ``upsert_all(models)``: sources of models read at the flush,
once; long ones sent as Bulk API jobs with the models held weakly. Against the local org, on
asyncio and trio."""

from __future__ import annotations

import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from sobjects import FlushError, Salesforce, Session, SObject, inspect, select
from sobjects.emulator import LocalOrg
from sobjects.errors import BulkJobError, BulkJobTimeoutError, ConfigurationError
from sobjects.fields import Field, Id
from sobjects.orm import Operation, WriteStream

pytestmark = pytest.mark.anyio

FAST = {"poll_interval": 0.01, "max_poll_interval": 0.05}


class Account(SObject):
    name: Field[str]


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)
    title: Field[str | None] = Field(None)
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)
    account_id: Field[Id | None] = Field(None)
    account: Field[Account | None] = Field(None)


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_models(Account, Contact)
    return org


@pytest.fixture
async def sf(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as client:
        yield client


def session(sf: Salesforce, **options: Any) -> Session:
    options.setdefault("bulk_threshold", 50)
    return Session(sf, bulk_options=FAST, **options)


class Source:
    """A generator of Contacts that counts what was read from it."""

    def __init__(self, n: int, **values: Any) -> None:
        self.n = n
        self.values = values
        self.read = 0
        self.starts = 0

    def __iter__(self) -> Iterator[Contact]:
        self.starts += 1
        for i in range(self.n):
            self.read += 1
            fields = {"last_name": f"C{i:03d}", "ext_id": f"E{i}"}
            fields.update({k: v(i) if callable(v) else v for k, v in self.values.items()})
            yield Contact(**fields)


def endpoints(s: Session) -> list[str]:
    assert s.last_flush is not None
    return [r.endpoint for r in s.last_flush.requests]


async def test_a_source_is_read_at_the_flush_once_and_a_short_one_goes_as_saves(
    org: LocalOrg, sf: Salesforce
) -> None:
    source = Source(30)
    async with session(sf) as s:
        stream = s.save_all(iter(source))
        assert source.read == 0  # recording reads nothing
        assert s.pending == [stream]
        assert "save from a stream" in str(s.plan())
        assert source.read == 0  # nor does planning
    assert (source.read, source.starts) == (30, 1)
    assert stream.done and stream.pulled == 30
    assert "jobs/ingest" not in endpoints(s)  # within the threshold: as 30 save() calls
    assert s.last_flush is not None and s.last_flush.outcomes["succeeded"] == 30
    assert len(org.store.records("Contact")) == 30


async def test_a_long_stream_goes_as_one_job_and_outcomes_land_on_the_models_held(
    org: LocalOrg, sf: Salesforce
) -> None:
    held: list[Contact] = []

    def contacts() -> Iterator[Contact]:
        for contact in Source(200):
            if contact.last_name.endswith("0"):
                held.append(contact)
            yield contact

    async with session(sf) as s:
        stream = s.upsert_all(contacts())
        plan = s.plan()
        assert [r.endpoint for r in plan.requests] == ["jobs/ingest"]
        assert "0 operations and 1 stream" in str(plan)
        assert plan.api_calls == 7
        await s.flush()
        assert endpoints(s) == ["jobs/ingest"]
        assert s.last_flush is not None and s.last_flush.outcomes["succeeded"] == 200
        assert s.pending == []
        assert len(stream.jobs) == 1 and stream.sent == 200
        for contact in held:
            state = inspect(contact)
            assert contact.id and state.state == "persistent" and state.created is True
            assert state.changes == {}  # the snapshot is what was sent
            assert await s.get(Contact, contact.id) is contact  # in the identity map
        held[0].title = "Changed"
        assert inspect(held[0]).changes == {"Title": "Changed"}  # tracked like any record
        held[0].save()
    assert len(org.store.records("Contact")) == 200
    assert [r["Title"] for r in org.store.records("Contact") if r["Title"]] == ["Changed"]
    async with session(sf) as s:  # the same records again: updated, not created
        s.upsert_all(Source(200))
    assert len(org.store.records("Contact")) == 200


async def test_an_async_source_and_the_sessions_own_threshold(sf: Salesforce) -> None:
    async def contacts() -> AsyncIterator[Contact]:
        for contact in Source(60):
            await anyio.lowlevel.checkpoint()
            yield contact

    async with session(sf) as s:
        s.save_all(contacts())
    assert endpoints(s) == ["jobs/ingest"]
    async with Session(sf) as s:  # the default threshold (10,000): saves
        s.save_all(contacts())
    assert "jobs/ingest" not in endpoints(s)


async def test_a_failed_record_whose_model_is_gone_is_rebuilt_from_what_was_sent(
    org: LocalOrg, sf: Salesforce
) -> None:
    source = Source(120, email=lambda i: "not-an-email" if i in (7, 8) else f"c{i}@example.com")
    held: list[Contact] = []

    def contacts() -> Iterator[Contact]:
        for contact in source:
            if contact.last_name == "C008":
                held.append(contact)
            yield contact

    async with session(sf) as s:
        s.upsert_all(contacts())
        with pytest.raises(FlushError) as info:
            await s.flush()
        failures = info.value.failures
        assert [obj.last_name for obj, _ in failures] == ["C007", "C008"]
        rebuilt, kept = failures[0][0], failures[1][0]
        assert kept is held[0]  # a model still held is the one reported
        assert isinstance(rebuilt, Contact)
        assert (rebuilt.email, rebuilt.ext_id, rebuilt.id) == ("not-an-email", "E7", None)
        for obj in (rebuilt, kept):
            state = inspect(obj)
            assert state.state == "failed"
            assert list(state.field_errors) == ["Email"]
            assert isinstance(state.pending, Operation)  # pending, as any failure
        assert [op.obj for op in s.pending] == [rebuilt, kept]
        s.discard()
    assert "2 of 120 operations failed" in str(info.value)
    assert s.last_flush is not None
    assert s.last_flush.outcomes["succeeded"] == 118
    assert s.last_flush.outcomes["failed"] == 2
    assert len(org.store.records("Contact")) == 118


async def test_a_flushed_streamed_model_is_held_by_nothing_in_the_session(
    sf: Salesforce,
) -> None:
    refs: list[weakref.ref[Contact]] = []
    alive_at_upload: list[int] = []
    transport: Any = sf._http._transport
    original = transport.handle_async_request

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and "jobs/ingest" in request.url.path:
            gc.collect()  # the job is uploaded: what is left of its models?
            alive_at_upload.append(sum(ref() is not None for ref in refs))
        response: httpx.Response = await original(request)
        return response

    transport.handle_async_request = handle

    def contacts() -> Iterator[Contact]:
        for contact in Source(150):
            refs.append(weakref.ref(contact))
            yield contact

    async with session(sf) as s:
        s.upsert_all(contacts())
        await s.flush()
        gc.collect()
        assert [ref() for ref in refs if ref() is not None] == []
    assert alive_at_upload == [0]
    assert s.last_flush is not None and s.last_flush.outcomes["succeeded"] == 150


async def test_new_and_existing_records_in_one_stream_make_two_jobs(
    org: LocalOrg, sf: Salesforce
) -> None:
    async with session(sf) as s:
        s.save_all(Source(60))
    async with session(sf) as s:
        existing = await s.all(select(Contact))
        for contact in existing:
            contact.title = "Updated"
        new = [Contact(last_name=f"New {i}") for i in range(60)]
        s.save_all([*existing, *new])
        await s.flush()
        assert endpoints(s) == ["jobs/ingest", "jobs/ingest"]
        assert all(inspect(c).state == "persistent" for c in [*existing, *new])
        assert all(inspect(c).created is True for c in new)
    records = org.store.records("Contact")
    assert len(records) == 120
    assert sum(r["Title"] == "Updated" for r in records) == 60


async def test_a_model_yielded_twice_is_refused(org: LocalOrg, sf: Salesforce) -> None:
    def reused(n: int) -> Iterator[Contact]:
        contact = Contact(last_name="x")
        for i in range(n):
            contact.last_name = f"C{i}"
            yield contact  # one object changed and yielded again

    for n in (10, 100):  # recorded as saves, or sent as a job
        with pytest.raises(ConfigurationError, match="came twice from the stream"):
            async with session(sf) as s:
                s.save_all(reused(n))
        assert org.store.records("Contact") == []


async def test_streamed_records_refer_only_to_parents_with_an_id(
    org: LocalOrg, sf: Salesforce
) -> None:
    acme = Account(name="Acme")
    with pytest.raises(ConfigurationError, match=r"model 1 of the stream\).* \.account") as info:
        async with session(sf) as s:
            s.save_all(Contact(last_name=f"C{i}", account=acme) for i in range(60))
    assert "Nothing of the stream was sent" in "".join(info.value.__notes__)
    assert org.store.records("Contact") == []
    async with session(sf) as s:  # a parent saved before the stream has its id by then
        acme.save()
        s.save_all(Contact(last_name=f"C{i}", account=acme) for i in range(60))
        assert [r.endpoint for r in s.plan().requests] == ["composite/batch", "jobs/ingest"]
    assert acme.id
    assert {r["AccountId"] for r in org.store.records("Contact")} == {acme.id}


async def test_models_refused_as_save_and_upsert_refuse_them(sf: Salesforce) -> None:
    with pytest.raises(ConfigurationError, match=r"model 3 of the stream: .*ext_id must have"):
        async with session(sf) as s:
            s.upsert_all(
                Contact(last_name="C", ext_id=None if i == 2 else f"E{i}") for i in range(80)
            )
    with pytest.raises(ConfigurationError, match="yields models, not a dict"):
        async with session(sf) as s:
            s.save_all([{"LastName": "x"}])  # type: ignore[list-item]
    async with session(sf) as s:
        with pytest.raises(ConfigurationError, match=r"for one model, call \.save\(\)"):
            s.save_all(Contact(last_name="x"))  # type: ignore[arg-type]
        pending = Contact(last_name="x")
        pending.save()
        s.save_all([pending])
        with pytest.raises(ConfigurationError, match="already has a pending create"):
            await s.flush()


async def test_a_second_flush_never_reads_a_stream_again(sf: Salesforce) -> None:
    source = Source(80)
    async with session(sf) as s:
        s.upsert_all(iter(source))
        await s.flush()
        await s.flush()
    assert (source.read, source.starts) == (80, 1)

    def broken() -> Iterator[Contact]:
        yield from Source(70)
        raise ValueError("the file is truncated")

    with pytest.raises(ValueError, match="truncated") as info:
        async with session(sf) as s:
            s.upsert_all(broken())
            await s.flush()
    assert "Nothing of the stream was sent" in "".join(info.value.__notes__)
    assert s.pending == []


async def test_a_flush_cancelled_while_its_job_runs(org: LocalOrg, sf: Salesforce) -> None:
    """Cancelled once the data is uploaded: the records may have been processed, so the
    creates are unknown and never sent again; models nobody holds are just counted."""
    uploaded = anyio.Event()
    transport: Any = sf._http._transport
    original = transport.handle_async_request

    sent: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        response: httpx.Response = await original(request)
        upload_complete = request.method == "PATCH" and "jobs/ingest" in request.url.path
        if upload_complete and not uploaded.is_set():
            uploaded.set()
            await anyio.sleep_forever()
        return response

    transport.handle_async_request = handle
    held = [Contact(last_name=f"C{i}") for i in range(30)]
    source = iter([*held, *(Contact(last_name=f"D{i}") for i in range(60))])
    async with session(sf) as s:
        s.save_all(source)
        async with anyio.create_task_group() as group:
            group.start_soon(s.flush)
            await uploaded.wait()
            group.cancel_scope.cancel()
        states = {inspect(c).state for c in held}
        assert states == {"failed"}
        assert {inspect(c).errors[0].code for c in held} == {"OUTCOME_UNKNOWN"}
        assert s.last_flush is not None
        assert s.last_flush.outcomes["unknown"] == 90
        assert sum("PATCH" in line for line in sent) == 2  # UploadComplete, then Aborted
        before = len(sent)
        await s.flush()  # sends nothing
        assert len(sent) == before
    assert len(org.store.records("Contact")) <= 90


async def test_a_flush_cancelled_while_reading_the_stream(org: LocalOrg, sf: Salesforce) -> None:
    """Uploads of 1 KB: jobs go while the stream is read. Cancelled at the 150th model, the
    records uploaded are unknown (upserts: pending, to go again), those read but not
    uploaded were never sent, the rest of the source was never read."""
    scope = anyio.CancelScope()
    source = Source(1000)
    held: list[Contact] = []

    def contacts() -> Iterator[Contact]:
        for contact in source:
            held.append(contact)
            if source.read == 150:
                scope.cancel()
            yield contact

    async with Session(sf, bulk_threshold=50, bulk_options={**FAST, "max_upload_bytes": 1024}) as s:
        s.upsert_all(contacts())
        with scope:
            await s.flush()
        assert source.read <= 250  # stopped at the next checkpoint (every 100 records)
        unknown = [c for c in held if inspect(c).state == "pending"]  # upserts go again
        never_sent = [c for c in held if inspect(c).state == "transient"]
        assert unknown and never_sent
        assert len(unknown) + len(never_sent) == len(held)
        assert all(isinstance(inspect(c).pending, Operation) for c in unknown)
        s.discard()


async def test_a_job_that_fails_as_a_whole(org: LocalOrg, sf: Salesforce) -> None:
    def fail(job: Any) -> None:
        org.bulk._start(job)
        org.bulk._fail(job, "InvalidBatch : simulated failure")

    org.bulk._run_ingest = fail  # type: ignore[method-assign]
    held: list[Contact] = []

    def contacts() -> Iterator[Contact]:
        for contact in Source(100):
            if len(held) < 10:
                held.append(contact)
            yield contact

    with pytest.raises(BulkJobError) as info:
        async with session(sf) as s:
            s.save_all(contacts())
            await s.flush()
    assert info.value.code == "InvalidBatch"
    assert [id(obj) for obj in info.value.objects] == [id(c) for c in held]
    assert {inspect(c).errors[0].code for c in held} == {"NOT_SENT"}
    assert s.last_flush is not None and s.last_flush.outcomes["not_run"] == 100


async def test_without_bulk_jobs_a_stream_is_recorded_as_saves(sf: Salesforce) -> None:
    for options in ({"halt_on_error": True}, {"bulk_threshold": None}):
        async with session(sf, **options) as s:
            s.save_all(Source(80))
        assert "jobs/ingest" not in endpoints(s)
        assert s.last_flush is not None and s.last_flush.outcomes["succeeded"] == 80


async def test_a_stream_not_sent_stays_pending_and_is_dropped_by_discard(sf: Salesforce) -> None:
    source = Source(80)
    async with session(sf) as s:
        stream = s.save_all(source)
        assert isinstance(stream, WriteStream) and "pending" in repr(stream)
        s.discard()
        assert s.pending == []
    assert source.read == 0


async def test_a_job_past_its_timeout_leaves_its_records_unknown(
    org: LocalOrg, sf: Salesforce
) -> None:
    """A request of the stream fails (here the poll deadline): the job is aborted, and the
    error is raised naming the models still held, whose outcome is unknown."""
    created = [Contact(last_name=f"C{i}") for i in range(60)]
    upserted = [Contact(last_name=f"U{i}", ext_id=f"U{i}") for i in range(60)]
    assert org.store.records("Contact") == []
    async with Session(sf, bulk_threshold=50, bulk_options={**FAST, "timeout": 0.5}) as s:
        s.save_all(iter(created))
        second = s.upsert_all(iter(upserted))
        with org.bulk.paused(), pytest.raises(BulkJobTimeoutError) as info:
            await s.flush()
        assert {id(obj) for obj in info.value.objects} == {id(c) for c in created}
        assert {inspect(c).errors[0].code for c in created} == {"OUTCOME_UNKNOWN"}
        # The flush stopped at the failed request: the second stream was not sent (its
        # start was read, and is kept); the next flush sends it, and not the unknown ones.
        assert [item for item in s.pending if isinstance(item, WriteStream)] == [second]
        assert not second.done and second.pulled == 51
    assert second.done and second.pulled == 60
    assert all(c.id for c in upserted) and not any(c.id for c in created)
