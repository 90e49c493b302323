"""``sobjects.sync`` as such: one-to-one with the async API, its loop thread's lifecycle, and
what only blocking code meets. (Its behaviour is tested with the async API's own tests, run
both ways: see ``tests/flavours.py``.)"""

from __future__ import annotations

import gc
import inspect
import os
import signal
import threading
import warnings
from typing import Any

import anyio
import httpx
import pytest

import sobjects
from sobjects import sync
from sobjects.client import (
    ApiCallMeter,
    BulkAPI,
    BulkQuery,
    CollectionsAPI,
    CompositeAPI,
    RequestEvent,
    SObjectAPI,
)
from sobjects.client import Salesforce as AsyncSalesforce
from sobjects.client._composite import Composite, CompositeBatch
from sobjects.client._graph import CompositeGraph
from sobjects.client._query import QueryResult
from sobjects.emulator import LocalOrg
from sobjects.errors import ClientClosedError, ConfigurationError
from sobjects.fields import Field
from sobjects.orm import Session, SObject, UnsavedChangesWarning, select

# The async API's public methods that the sync one leaves out, and why.
NOT_MIRRORED = {
    "aclose",  # close()
    "register_save",  # called by the models, not by users
    "register_upsert",
    "register_delete",
    "decoded_pages",  # a hot path of the async session's reads
    "complete_children",  # the same
    "long_timeout",
}

PAIRS = [
    (AsyncSalesforce, sync.Salesforce),
    (Session, sync.Session),
    (QueryResult, sync.QueryResult),
    (SObjectAPI, sync.SObjectAPI),
    (CollectionsAPI, sync.CollectionsAPI),
    (CompositeAPI, sync.CompositeAPI),
    (CompositeBatch, sync.CompositeBatch),
    (Composite, sync.Composite),
    (CompositeGraph, sync.CompositeGraph),
    (BulkAPI, sync.BulkAPI),
    (BulkQuery, sync.BulkQuery),
]


def _methods(cls: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in inspect.getmembers(cls)
        if callable(value) and not name.startswith("_") and name not in NOT_MIRRORED
    }


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_every_async_method_has_a_blocking_twin_with_the_same_parameters(
    async_cls: type, sync_cls: type
) -> None:
    async_methods, sync_methods = _methods(async_cls), _methods(sync_cls)
    assert set(async_methods) <= set(sync_methods), set(async_methods) - set(sync_methods)
    for name, method in async_methods.items():
        if name == "sobject":
            continue
        wanted = list(inspect.signature(method).parameters.values())
        got = list(inspect.signature(sync_methods[name]).parameters.values())
        strip = [(p.name, p.kind, p.default) for p in wanted if p.name != "self"]
        assert [(p.name, p.kind, p.default) for p in got if p.name != "self"] == strip, name
        if inspect.iscoroutinefunction(method):
            assert not inspect.iscoroutinefunction(sync_methods[name]), name


class Contact(SObject):
    last_name: Field[str]
    title: Field[str | None] = Field(None)


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sobjects-sync"]


def test_close_stops_the_loop_thread_and_later_calls_say_so() -> None:
    before = len(_loop_threads())
    sf = sync.Salesforce.wrap(LocalOrg().client())
    assert len(_loop_threads()) == before  # started on first use only
    with sf:
        assert sf.query("SELECT COUNT() FROM Contact").count() == 0
        assert len(_loop_threads()) == before + 1
    assert len(_loop_threads()) == before
    assert sf.is_closed and sf.async_client.is_closed
    with pytest.raises(ClientClosedError, match="sync Salesforce client is closed"):
        sf.sobject.create("Contact", {"LastName": "Late"})
    sf.close()  # twice is harmless


def test_a_client_nobody_closed_stops_its_thread_when_collected() -> None:
    before = len(_loop_threads())
    sf = sync.Salesforce.wrap(LocalOrg().client())
    sf.limits()
    assert len(_loop_threads()) == before + 1
    del sf
    gc.collect()
    assert len(_loop_threads()) == before


def test_save_stream_and_the_unsaved_warning_in_plain_blocking_code() -> None:
    org = LocalOrg()
    with sync.Salesforce.wrap(org.client()) as sf:
        with sync.Session(sf) as session:
            doe = Contact(last_name="Doe")
            doe.save()
            roe = Contact(last_name="Roe")
            roe.save(session=session)  # an explicit sync session works too
        assert doe.id and roe.id
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with sync.Session(sf) as session:
                loaded = session.get(Contact, doe.id)
                loaded.title = "CEO"
        (warning,) = caught
        assert issubclass(warning.category, UnsavedChangesWarning)
        assert warning.filename == __file__  # the `with` line, as for `async with`
        with sync.Session(sf) as session:
            names = session.stream(select(Contact).order_by(Contact.last_name))
            assert next(names).last_name == "Doe"
            names.close()  # leaving a stream early closes it on the loop
            with pytest.raises(ConfigurationError):
                session.stream(object())  # type: ignore[call-overload]  # refused at once
            assert session.count(select(Contact)) == 2


def test_api_call_meters_of_the_calling_thread_count_its_requests() -> None:
    meter = ApiCallMeter(budget=10)
    with sync.Salesforce.wrap(LocalOrg().client()) as sf:
        with meter.counting():
            sf.sobject.create("Contact", {"LastName": "Doe"})
            sf.query("SELECT Id FROM Contact").all()
        sf.sobject.create("Contact", {"LastName": "Uncounted"})
    assert meter.calls == 2


def test_a_sync_call_on_its_own_loop_thread_is_refused_not_deadlocked() -> None:
    outcome: list[BaseException] = []
    holder: dict[str, sync.Salesforce] = {}

    async def on_request(event: Any) -> None:
        if not outcome:
            try:
                holder["sf"].limits()
            except RuntimeError as exc:
                outcome.append(exc)

    org = LocalOrg()
    with sync.Salesforce.wrap(org.client(event_hooks={"request": [on_request]})) as sf:
        holder["sf"] = sf
        sf.versions()
    assert "use the async API there" in str(outcome[0])


def test_plain_function_hooks_need_no_async_code() -> None:
    seen: list[str] = []

    def on_request(event: RequestEvent) -> None:
        seen.append(event.method)

    org = LocalOrg()
    with sync.Salesforce.wrap(org.client(event_hooks={"request": [on_request]})) as sf:
        sf.limits()
    assert seen == ["GET"]


def test_ctrl_c_during_a_blocking_flush_settles_what_was_in_flight_before_it_returns() -> None:
    """Ctrl+C while the create is on the wire: the KeyboardInterrupt reaches the caller only
    once the flush on the loop thread has wound down and marked the create unknown, so it is
    never sent again."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is handled on the main thread only")
    main = threading.main_thread().ident
    assert main is not None
    org = LocalOrg()
    with sync.Salesforce.wrap(org.client()) as sf:
        transport: Any = sf.async_client._http._transport
        original = transport.handle_async_request
        interrupted: list[str] = []

        async def handle(request: httpx.Request) -> httpx.Response:
            response: httpx.Response = await original(request)  # the org applied it
            if not interrupted:
                interrupted.append(request.url.path)
                signal.pthread_kill(main, signal.SIGINT)  # Ctrl+C in the waiting thread
                await anyio.sleep_forever()  # the answer never comes back
            return response

        session = sync.Session(sf)
        doe = Contact(last_name="Doe")
        doe.save(session=session)
        transport.handle_async_request = handle
        with pytest.raises(KeyboardInterrupt):
            session.flush()
        state = sobjects.inspect(doe)
        assert state.state == "failed"
        assert state.errors[0].code == "OUTCOME_UNKNOWN"
        session.flush()  # sends nothing
        assert len(interrupted) == 1
        session.close()
        assert [r["LastName"] for r in org.store.records("Contact")] == ["Doe"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_client_started_before_a_fork_refuses_in_the_child_and_lets_it_exit() -> None:
    """gunicorn --preload, Celery prefork: the loop thread stays in the parent, so the child
    gets a clear error (not a call that waits forever), and collecting the client there
    returns at once."""
    org = LocalOrg()
    sf = sync.Salesforce.wrap(org.client())
    assert sf.query("SELECT COUNT() FROM Contact").count() == 0
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            signal.alarm(10)  # a hang kills the child, and the parent sees it
            try:
                sf.query("SELECT COUNT() FROM Contact").count()
                message = "no error"
            except ClientClosedError as exc:
                message = str(exc)
            sf.close()  # what the finalizer does: must not wait for the parent's loop
            os.write(write, message.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "started before the process forked" in message
    assert sf.query("SELECT COUNT() FROM Contact").count() == 0  # the parent's still works
    sf.close()


def test_search_and_parameterized_search_block_and_answer_like_the_async_client() -> None:
    org = LocalOrg()
    with sync.Salesforce.wrap(org.client()) as sf:
        sf.sobject.create("Account", {"Name": "Acme Rockets"})
        sf.sobject.create("Account", {"Name": "Globex"})
        by_sosl = sf.search("FIND {Acme} IN NAME FIELDS RETURNING Account(Name)")
        by_params = sf.parameterized_search(
            "Acme", sobjects=["Account"], fields=["Name"], in_="NAME"
        )
    assert [r["Name"] for r in by_sosl] == [r["Name"] for r in by_params] == ["Acme Rockets"]


def test_the_session_takes_the_bulk_options_and_reads_through_bulk_query_jobs() -> None:
    org = LocalOrg()
    with sync.Salesforce.wrap(org.client()) as sf:
        with sync.Session(sf, bulk_threshold=5, bulk_options={"poll_interval": 0.01}) as session:
            for i in range(8):
                Contact(last_name=f"Bulk {i}").save()
            plan = session.plan()
        assert [r.endpoint for r in plan.requests] == ["jobs/ingest"]
        with sync.Session(sf, bulk_options={"poll_interval": 0.01}) as session:
            streamed = [c.last_name for c in session.stream(select(Contact), bulk=True)]
            listed = session.all(select(Contact), bulk=True)
    assert (
        sorted(streamed) == sorted(c.last_name for c in listed) == [f"Bulk {i}" for i in range(8)]
    )


def test_save_all_and_upsert_all_read_a_plain_iterable_at_the_flush() -> None:
    class Patron(SObject, api_name="Patron__c"):
        last_name: Field[str]
        ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)

    org = LocalOrg()
    org.define_models(Patron)
    read: list[int] = []

    def patrons(n: int) -> Any:
        for i in range(n):
            read.append(i)
            yield Patron(last_name=f"L{i}", ext_id=f"E{i}")

    with sync.Salesforce.wrap(org.client()) as sf:
        options = {"poll_interval": 0.01}
        with sync.Session(sf, bulk_threshold=5, bulk_options=options) as session:
            stream = session.upsert_all(patrons(12))
            assert read == [] and session.pending == [stream]
        assert len(read) == 12 and stream.done and len(stream.jobs) == 1
        with sync.Session(sf, bulk_threshold=5, bulk_options=options) as session:
            session.save_all([Patron(last_name="Short")])  # within the threshold: a save
        assert session.last_flush is not None
        assert [r.endpoint for r in session.last_flush.requests] == ["composite/batch"]
    assert len(org.store.records("Patron__c")) == 13


def test_bulk_jobs_block_and_answer_like_the_async_client() -> None:
    org = LocalOrg()
    with sync.Salesforce.wrap(org.client()) as sf:
        rows = ({"LastName": f"Row {i}"} for i in range(30))  # read lazily, like the async one
        result = sf.bulk.insert("Contact", rows, poll_interval=0.01)
        assert len(result.successful) == 30 and not result.failed
        query = sf.bulk.query("SELECT LastName FROM Contact", poll_interval=0.01, page_size=7)
        pages = [len(page) for page in query.pages()]
        assert sum(pages) == 30 and max(pages) == 7
        assert query.job is not None and query.job.state == "JobComplete"
        names = sorted(r["LastName"] for r in sf.bulk.query("SELECT LastName FROM Contact"))
    assert names == sorted(f"Row {i}" for i in range(30))
