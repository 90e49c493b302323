"""A flush reports its progress through the client's ``flush_progress`` event hook."""

from __future__ import annotations

import pytest

from sobjects import EventHooks, FlushError, FlushProgressEvent, Session
from sobjects.emulator import LocalOrg
from sobjects.fields import Field
from sobjects.orm import SObject

pytestmark = pytest.mark.anyio


class Contact(SObject):
    last_name: Field[str]
    email: Field[str | None] = Field(None)


async def record(events: list[tuple[int, int]], event: FlushProgressEvent) -> None:
    events.append((event.done, event.total))


async def test_a_large_flush_counts_up_to_its_records() -> None:
    """2,500 creates go as three Composite requests of Collections (1,000, 1,000, 500): one
    event before the first, one per answer."""
    events: list[tuple[int, int]] = []

    async def hook(event: FlushProgressEvent) -> None:
        await record(events, event)

    async with LocalOrg().client(event_hooks={"flush_progress": [hook]}) as sf:
        async with Session(sf) as session:
            for i in range(2500):
                Contact(last_name=f"Customer {i}").save(session=session)
        assert session.last_flush is not None
        requests = session.last_flush.http_requests
    assert events[0] == (0, 2500) and events[-1] == (2500, 2500)
    done = [d for d, _ in events]
    assert done == sorted(set(done))  # strictly rising, one event per answered request
    assert {t for _, t in events} == {2500}
    assert len(events) == requests + 1 == 4


async def test_a_transaction_reports_its_one_request() -> None:
    events: list[tuple[int, int]] = []

    async def hook(event: FlushProgressEvent) -> None:
        await record(events, event)

    hooks: EventHooks = {"flush_progress": [hook]}
    async with LocalOrg().client(event_hooks=hooks) as sf, Session(sf, transaction=True) as s:
        for i in range(3):
            Contact(last_name=f"All or none {i}").save(session=s)
    assert events == [(0, 3), (3, 3)]


async def test_failed_records_count_as_answered() -> None:
    events: list[tuple[int, int]] = []

    async def hook(event: FlushProgressEvent) -> None:
        await record(events, event)

    async with LocalOrg().client(event_hooks={"flush_progress": [hook]}) as sf:
        with pytest.raises(FlushError):
            async with Session(sf) as session:
                Contact(last_name="Good").save(session=session)
                Contact(last_name="Bad", email="not an email").save(session=session)
    assert events[-1] == (2, 2)


async def test_no_event_for_a_flush_without_records() -> None:
    events: list[tuple[int, int]] = []

    async def hook(event: FlushProgressEvent) -> None:
        await record(events, event)

    async with LocalOrg().client(event_hooks={"flush_progress": [hook]}) as sf, Session(sf) as s:
        await s.flush()  # nothing recorded
    assert events == []
