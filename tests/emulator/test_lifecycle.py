"""An org's life: its schema (own copy, re-declared on each start), threads writing while it
answers, and serve() stopping for good."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from sobjects.emulator import LocalOrg, Schema
from sobjects.emulator._standard import standard_sobjects

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
WIDGET = {"name": "Widget__c", "fields": [{"name": "Name", "type": "string"}]}


@pytest.fixture
def org() -> LocalOrg:
    return LocalOrg()


def schema_entries(org: LocalOrg) -> int:
    """How many schema changes the data file holds (each is replayed on start)."""
    return len(org.store._data.schema_entries())


def other_threads() -> set[threading.Thread]:
    """Live threads, but for the main one and the event loops' reusable workers."""
    return {
        t
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and not t.name.startswith(("AnyIO worker", "Trio thread"))
    }


# -- schema -------------------------------------------------------------------------------------


def test_a_schema_passed_in_is_not_shared() -> None:
    schema = Schema(standard_sobjects())
    first, second = LocalOrg(schema), LocalOrg(schema)
    first.define_field("Account", {"name": "Only_First__c", "type": "string"})
    first.define({"name": "First_Only__c", "fields": [{"name": "Name", "type": "string"}]})
    assert first.schema.require("Account").field("Only_First__c") is not None
    assert second.schema.require("Account").field("Only_First__c") is None
    assert "First_Only__c" not in second.schema
    assert schema.require("Account").field("Only_First__c") is None


def test_defining_an_object_again_on_restart_keeps_its_records(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        org.define(WIDGET)
        org.define_field("Widget__c", {"name": "Ext__c", "type": "string", "externalId": True})
        widget = org.schema.require("Widget__c")
        first = org.store.insert(widget, {"Name": "w1", "Ext__c": "E1"})
        entries = schema_entries(org)
        org.define(WIDGET)  # the same declaration: nothing changes, nothing is recorded
        assert schema_entries(org) == entries
        assert org.schema.require("Widget__c").field("Ext__c") is not None
    with LocalOrg(data=data) as restarted:
        restarted.define(WIDGET)  # the app declares its schema on every start
        widget = restarted.schema.require("Widget__c")
        assert widget.key_prefix == first[:3]
        assert restarted.schema.by_prefix(first[:3]) is widget
        assert restarted.store.sobject_of(first) == "Widget__c"
        second = restarted.store.insert(widget, {"Name": "w2"})
        assert second[:3] == first[:3] and second != first
        assert widget.field("Ext__c") is not None
        assert schema_entries(restarted) == entries  # the insert is no schema change


def test_a_changed_definition_replaces_fields_and_keeps_the_prefix(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        org.define(WIDGET)
        before = org.schema.require("Widget__c")
        record = org.store.insert(before, {"Name": "w1"})
        org.define(
            {
                **WIDGET,
                "fields": [
                    {"name": "Name", "type": "string"},
                    {"name": "Size__c", "type": "double"},
                ],
            }
        )
        after = org.schema.require("Widget__c")
        assert after.key_prefix == before.key_prefix
        assert org.schema.by_prefix(before.key_prefix) is after
        assert after.field("Size__c") is not None
        assert sorted(p.key_prefix for p in org.schema if p.name == "Widget__c") == ["a00"]
    with LocalOrg(data=data) as restarted:
        replayed = restarted.schema.require("Widget__c")
        assert replayed.key_prefix == record[:3]
        assert replayed.field("Size__c") is not None
        restarted.store.update(replayed, record, {"Size__c": 2})


def test_a_removed_lookup_leaves_the_parents_child_relationships() -> None:
    org = LocalOrg()
    lookup = {
        "name": "Account__c",
        "type": "reference",
        "referenceTo": ["Account"],
        "relationshipName": "Account__r",
        "childRelationshipName": "Widgets__r",
    }
    org.define({**WIDGET, "fields": [*WIDGET["fields"], lookup]})  # type: ignore[list-item]

    def children() -> list[Any]:
        return [
            r["childSObject"]
            for r in org.schema.require("Account").describe["childRelationships"]
            if r["childSObject"] == "Widget__c"
        ]

    assert children() == ["Widget__c"]
    org.define(WIDGET)
    assert children() == []


# -- one lock for requests and direct store calls --------------------------------------------------


async def test_a_request_waits_for_a_thread_using_the_store(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with org.store.lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.2, release.set).start()
    started = time.monotonic()
    response = await http.get(f"{V}/query", params={"q": "SELECT Id FROM Account"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15  # it waited for the same lock
    holder.join(10)


async def test_queries_while_another_thread_writes(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account = org.schema.require("Account")
    for n in range(500):
        org.store.insert(account, {"Name": f"A{n}"})
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            org.store.insert(account, {"Name": f"W{n}"})
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        statuses = [
            (await http.get(f"{V}/query", params={"q": "SELECT Id FROM Account"})).status_code
            for _ in range(10)
        ]
    finally:
        stop.set()
        writer.join(10)
    assert statuses == [200] * 10


# -- serve() -------------------------------------------------------------------------------------


async def test_serve_cancelled_while_starting_stops_its_server(org: LocalOrg) -> None:
    before = other_threads()
    with anyio.move_on_after(0.001):
        async with org.serve():
            pass  # pragma: no cover - cancelled before the server is up
    assert other_threads() <= before


async def test_serve_stops_even_with_a_request_in_flight(
    org: LocalOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sobjects.emulator._org._STOP_TIMEOUT", 0.3)
    org.faults.latency = 30
    outcome: list[str] = []
    started = threading.Event()

    def slow_request(url: str) -> None:
        started.set()
        try:
            response = httpx.get(f"{url}{V}/limits", timeout=60, trust_env=False)
            outcome.append(str(response.status_code))  # uvicorn's 500 for a cancelled request
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    before = other_threads()
    began = time.monotonic()
    async with org.serve() as url:
        client = threading.Thread(target=slow_request, args=(url,))
        client.start()
        assert started.wait(10)
        await anyio.sleep(0.2)  # the request is in the latency sleep
    assert time.monotonic() - began < 10
    client.join(10)
    assert other_threads() <= before
    assert outcome and outcome != ["200"]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example"],
)
async def test_served_org_answers_loopback_hosts_only(org: LocalOrg, host: str) -> None:
    """DNS rebinding: a page whose name now resolves to 127.0.0.1 gets nothing, not even a
    token (the token endpoint grants any credentials)."""
    async with org.serve() as url, httpx.AsyncClient(base_url=url, trust_env=False) as http:
        headers = {"Host": host.format(port=url.rsplit(":", 1)[1])}
        for method, path, kwargs in [
            ("GET", f"{V}/limits", {"headers": {"Authorization": f"Bearer {org.access_token}"}}),
            ("POST", "/services/oauth2/token", {"data": {"grant_type": "client_credentials"}}),
            ("POST", "/__emulator__/faults", {"json": {"fail_next": 1}}),
        ]:
            request = http.build_request(method, path, **kwargs)
            request.headers.update(headers)
            response = await http.send(request)
            assert response.status_code == 421, (method, path)
            assert response.json()[0]["errorCode"] == "MISDIRECTED_REQUEST"
    assert org.api_usage == 0
    assert org.faults.pending()["fail_next"] == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "localhost", "[::1]:{port}"]
)
async def test_served_org_answers_its_loopback_names(org: LocalOrg, host: str) -> None:
    async with org.serve() as url, httpx.AsyncClient(base_url=url, trust_env=False) as http:
        response = await http.get(
            f"{V}/limits",
            headers={
                "Host": host.format(port=url.rsplit(":", 1)[1]),
                "Authorization": f"Bearer {org.access_token}",
            },
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8765", True),
        ("127.1.2.3:80", True),
        ("LOCALHOST:8765", True),
        ("[::1]", True),
        ("[::1]:8765", True),
        ("::1", False),  # an IPv6 Host is bracketed
        ("0.0.0.0", False),
        ("10.0.0.1:80", False),
        ("localhost:http", False),
        ("[::1]x", False),
        ("[::1", False),
        ("[::2]:80", False),
        ("localhost.", False),
        ("evil.example", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    from sobjects.emulator._org import is_loopback_host

    assert is_loopback_host(host) is loopback


async def test_in_process_clients_may_name_any_host(org: LocalOrg) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app),
        base_url="https://local.my.salesforce.com",
        headers={"Authorization": f"Bearer {org.access_token}"},
    ) as http:
        assert (await http.get(f"{V}/limits")).status_code == 200
