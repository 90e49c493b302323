"""The pytest integration: ``pytest --sobjects-record`` records a test's cassette from the
real org it is given; a plain ``pytest`` (CI) replays it, and fails clearly without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# A user's test: it reaches the org it is given (in CI, no org: the cassette answers).
USER_TEST = """
import os

import pytest

from sobjects import Salesforce
from sobjects.auth import ClientCredentials
from sobjects.emulator import LocalOrg


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def run(sobjects_cassette, base_url):
    auth = ClientCredentials(os.environ.get("SF_CLIENT_ID", "ci-id"),
                             os.environ.get("SF_CLIENT_SECRET", "ci-secret"))
    async with sobjects_cassette.client(base_url, auth=auth) as sf:
        contact_id = await sf.sobject.create("Contact", {"LastName": "Doe"})
        record = await sf.sobject.get("Contact", contact_id, fields=["LastName"])
        assert record["LastName"] == "Doe"
        EXTRA


@pytest.mark.anyio
@pytest.mark.sobjects_cassette(redact_host=True)
async def test_against_my_org(sobjects_cassette):
    if sobjects_cassette.recording:
        org = LocalOrg()
        org.add_connected_app(os.environ["SF_CLIENT_ID"], os.environ["SF_CLIENT_SECRET"])
        async with org.serve() as base_url:
            await run(sobjects_cassette, base_url)
    else:
        await run(sobjects_cassette, "https://sandbox.my.salesforce.com")
"""


def write_test(pytester: pytest.Pytester, extra: str = "pass") -> Path:
    return pytester.makepyfile(test_org=USER_TEST.replace("EXTRA", extra))


def test_record_once_then_replay_by_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_test(pytester)
    cassette = pytester.path / "cassettes" / "test_org" / "test_against_my_org.json"

    # CI before anyone recorded: a clear failure, not a request to a real org.
    first = pytester.runpytest("-p", "no:cacheprovider")
    first.assert_outcomes(errors=1)
    first.stdout.fnmatch_lines(["*no cassette at*test_against_my_org.json*--sobjects-record*"])

    monkeypatch.setenv("SF_CLIENT_ID", "3MVG9realConnectedApp")
    monkeypatch.setenv("SF_CLIENT_SECRET", "real-secret-value")
    recorded = pytester.runpytest("-p", "no:cacheprovider", "--sobjects-record")
    recorded.assert_outcomes(passed=1)
    text = cassette.read_text(encoding="utf-8")
    assert "real-secret-value" not in text and "3MVG9realConnectedApp" not in text
    assert "127.0.0.1" not in text  # redact_host=True
    assert len(json.loads(text)["interactions"]) == 3  # token, create, get

    monkeypatch.delenv("SF_CLIENT_ID")
    monkeypatch.delenv("SF_CLIENT_SECRET")
    replayed = pytester.runpytest("-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=1)


def test_a_request_missing_from_the_cassette_fails_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_test(pytester)
    monkeypatch.setenv("SF_CLIENT_ID", "app")
    monkeypatch.setenv("SF_CLIENT_SECRET", "secret-value")
    pytester.runpytest("-p", "no:cacheprovider", "--sobjects-record").assert_outcomes(passed=1)
    write_test(pytester, extra='await sf.sobject.update("Contact", contact_id, {"Title": "CEO"})')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*CassetteMissError*has no answer for PATCH /services/data/v62.0/sobjects/Contact/*"]
    )


def test_a_failed_recording_keeps_the_previous_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_test(pytester, extra="assert False, 'the test failed'")
    monkeypatch.setenv("SF_CLIENT_ID", "app")
    monkeypatch.setenv("SF_CLIENT_SECRET", "secret-value")
    pytester.runpytest("-p", "no:cacheprovider", "--sobjects-record").assert_outcomes(failed=1)
    assert not (pytester.path / "cassettes").exists()


# A blocking user's test: two sync clients one after the other, each on its own loop thread,
# on clients from the fixture; then a collection that would find any socket left open.
SYNC_TEST = """
import contextlib
import gc

from anyio.from_thread import start_blocking_portal

from sobjects.auth import StaticToken
from sobjects.emulator import LocalOrg
from sobjects.sync import Salesforce

org = LocalOrg()


@contextlib.contextmanager
def served(recording):
    if not recording:
        yield "https://sandbox.my.salesforce.com"
        return
    with start_blocking_portal() as portal:
        serving = org.serve()
        url = portal.call(serving.__aenter__)
        try:
            yield url
        finally:
            portal.call(serving.__aexit__, None, None, None)


def test_two_sync_clients(sobjects_cassette):
    with served(sobjects_cassette.recording) as url:
        for n in range(2):
            http = sobjects_cassette.httpx_client()  # a sync client leaves it open
            with Salesforce(url, auth=StaticToken(org.access_token), httpx_client=http) as sf:
                assert sf.sobject.create("Contact", {"LastName": f"N{n}"}).startswith("003")
        wrapped = Salesforce.wrap(sobjects_cassette.client(url, auth=StaticToken(org.access_token)))
        with wrapped as sf:
            assert sf.sobject.get("Contact", sf.sobject.create("Contact", {"LastName": "W"}))


def test_nothing_was_left_open():
    gc.collect()  # an unclosed socket warns here, and -W error makes that a failure
"""


def test_record_with_several_sync_clients_then_replay(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sync=SYNC_TEST)
    # In a process of its own, so that the garbage collected is this run's alone.
    recorded = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "error", "--sobjects-record"
    )
    recorded.assert_outcomes(passed=2)
    cassette = pytester.path / "cassettes" / "test_sync" / "test_two_sync_clients.json"
    paths = [i["request"]["path"] for i in json.loads(cassette.read_text())["interactions"]]
    assert len(paths) == 4  # three creates and a get, from three clients, in one cassette
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error").assert_outcomes(passed=2)


NAMES_TEST = """
import pytest


class TestAccounts:
    def test_create(self, sobjects_cassette):
        pass


class TestContacts:
    def test_create(self, sobjects_cassette):
        pass


def test_plain(sobjects_cassette):
    pass


@pytest.mark.parametrize("name", ["O'Brien", "O/Brien", "O Brien", "plain-id"])
def test_param(sobjects_cassette, name):
    pass


@pytest.mark.parametrize("soql", ["SELECT Id FROM Contact WHERE " + " AND ".join(
    f"Field{i}__c = 'value'" for i in range(20))], ids=str)
def test_long_id(sobjects_cassette, soql):
    pass
"""


def test_every_test_gets_a_cassette_of_its_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_names=NAMES_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--sobjects-record")
    result.assert_outcomes(passed=8)
    names = sorted(path.name for path in (pytester.path / "cassettes" / "test_names").iterdir())
    assert len(names) == 8  # one file per test
    # Plain names and clean parameter ids stay as they were, so existing cassettes load.
    assert {
        "TestAccounts.test_create.json",
        "TestContacts.test_create.json",
        "test_plain.json",
        "test_param_plain-id.json",
    } <= set(names)
    cleaned = [n for n in names if n.startswith("test_param_O_Brien-")]
    assert len(cleaned) == 3  # three ids, one cleaned name, three hashes
    (long,) = [n for n in names if n.startswith("test_long_id_SELECT_Id_FROM_Contact")]
    assert len(long.encode()) <= 140
    # The names are stable: a second run replays every file it recorded.
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=8)


def test_a_cassette_under_its_earlier_name_is_pointed_at(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_names=NAMES_TEST)
    folder = pytester.path / "cassettes" / "test_names"
    folder.mkdir(parents=True)
    (folder / "test_create.json").write_text(
        '{"sobjects_cassette": 1, "interactions": []}', encoding="utf-8"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "TestAccounts")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no cassette at*TestAccounts.test_create.json*exists at*test_create.json*rename it*"]
    )


def test_two_tests_naming_one_cassette_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_shared="""
        import pytest

        @pytest.mark.sobjects_cassette("shared.json")
        def test_one(sobjects_cassette):
            pass

        @pytest.mark.sobjects_cassette("shared.json")
        def test_two(sobjects_cassette):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--sobjects-record")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_two and *test_one would share the cassette*shared.json*"])


def test_the_marker_says_where_cassettes_go(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*sobjects_cassette(*under cassettes/<test module>/*"])
