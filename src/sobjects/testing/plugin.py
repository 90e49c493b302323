"""pytest plugin (entry point ``pytest11``): a fresh local Salesforce org for each test, and
cassettes of a real org's answers.

Installed with sobjects, so any project gets three fixtures:

- ``local_org``: a new :class:`sobjects.emulator.LocalOrg` (standard schema, no data);
- ``salesforce``: a :class:`sobjects.Salesforce` client wired to it in-process;
- ``sobjects_cassette``: replays the test's recorded exchanges with a real org, or records
  them with ``pytest --sobjects-record`` (see ``CassetteFixture`` and docs/testing.md).

::

    import pytest

    @pytest.mark.anyio
    async def test_create(salesforce):
        contact_id = await salesforce.sobject.create("Contact", {"LastName": "Doe"})
        assert (await salesforce.sobject.get("Contact", contact_id))["LastName"] == "Doe"

The emulator's dependencies (``pip install 'sobjects[emulator]'``) are imported only when a
fixture is used, so projects that never ask for them are not affected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from sobjects.client import Salesforce
    from sobjects.emulator import LocalOrg


@pytest.fixture
def local_org() -> LocalOrg:
    """A fresh in-memory local org with the standard schema."""
    try:
        from sobjects.emulator import LocalOrg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.fail(f"the local_org fixture needs pip install 'sobjects[emulator]': {exc}")
    return LocalOrg()


@pytest.fixture
async def salesforce(local_org: LocalOrg) -> AsyncIterator[Salesforce]:
    """A ``Salesforce`` client for ``local_org``, in-process (no sockets)."""
    async with local_org.client() as client:
        yield client


# -- cassettes: a real org's answers, recorded once and replayed ----------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sobjects")
    group.addoption(
        "--sobjects-record",
        action="store_true",
        default=False,
        help="tests using sobjects_cassette talk to the real org they are given (a sandbox) "
        "and record its answers to their cassettes, instead of replaying them",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sobjects_cassette(name=None, *, redact_host=False): the cassette of a test using the "
        "sobjects_cassette fixture (a file name under cassettes/<test module>/ beside the test "
        "module), and whether recording also hides the org's host",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


_PASSED = pytest.StashKey[bool]()


class CassetteFixture:
    """What the ``sobjects_cassette`` fixture gives a test: clients whose requests the test's
    cassette answers, or, under ``pytest --sobjects-record``, that reach the real org and
    record its answers to the cassette (written, redacted, when the test passes). A test may
    make any number of clients, async or sync, one after the other or at once.

    ::

        async def test_contacts(sobjects_cassette):
            auth = ClientCredentials(os.environ.get("SF_CLIENT_ID", "id"),
                                     os.environ.get("SF_CLIENT_SECRET", "secret"))
            async with sobjects_cassette.client(SANDBOX_URL, auth=auth) as sf:
                ...
    """

    def __init__(self, path: Path, *, record: bool, redact_host: bool) -> None:
        from sobjects.testing.cassette import Cassette, Recording, ReplayTransport

        self.path = path
        self.recording = record
        # Record mode: one log for the test, a transport per client (see ``transport``).
        self._log = Recording(redact_host=redact_host) if record else None
        self._replay = None if record else ReplayTransport(Cassette.load(path))

    def __repr__(self) -> str:
        return f"<sobjects cassette {self.path} ({'record' if self.recording else 'replay'})>"

    def transport(self) -> httpx.AsyncBaseTransport:
        """A transport for one ``httpx.AsyncClient``: the cassette's replay, or under
        ``--sobjects-record`` a new transport to the real org recording to the test's one
        cassette. Each has its own connections, closed once an answer is read (none kept
        alive): a client that is never closed, or whose event loop has stopped (a sync
        client's), leaves nothing open and nothing for another client to trip over."""
        from sobjects.testing.cassette import RecordingTransport

        if self._replay is not None:
            return self._replay
        real = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        return RecordingTransport(real, recording=self._log)

    def httpx_client(self) -> httpx.AsyncClient:
        """A new ``httpx.AsyncClient`` on its own ``transport()`` (yours to close)."""
        return httpx.AsyncClient(transport=self.transport())

    def client(self, base_url: str, **kwargs: Any) -> Salesforce:
        """A ``Salesforce`` (keyword arguments as for it) on its own ``transport()``; its
        ``aclose()`` closes the transport. For blocking code, wrap it:
        ``sobjects.sync.Salesforce.wrap(sobjects_cassette.client(...))``."""
        from sobjects.client import Salesforce

        sf = Salesforce(base_url, httpx_client=self.httpx_client(), **kwargs)
        sf._owns_http = True  # made for this client alone: its aclose() closes it
        return sf

    def save(self) -> Path | None:
        """Write what was recorded (record mode only); returns the path written."""
        if self._log is None:
            return None
        return self._log.cassette(self.path).save()


@pytest.fixture
def sobjects_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteFixture]:
    """Replays the test's cassette (``cassettes/<module>/<name>.json`` beside the test module,
    named by ``cassette_name``); with ``pytest --sobjects-record``, records it from the real
    org instead."""
    marker = request.node.get_closest_marker("sobjects_cassette")
    name = marker.args[0] if marker and marker.args else None
    redact_host = bool(marker.kwargs.get("redact_host", False)) if marker else False
    module = Path(str(request.node.fspath))
    folder = module.parent / "cassettes" / module.stem
    path = folder / (name or cassette_name(request.node))
    owners = request.config.stash.setdefault(_OWNERS, {})
    owner = owners.setdefault(path, request.node.nodeid)
    if owner != request.node.nodeid:
        pytest.fail(
            f"{request.node.nodeid} and {owner} would share the cassette {path} (each "
            "recording overwrites the other's): give one its own name with "
            "@pytest.mark.sobjects_cassette('<name>.json')",
            pytrace=False,
        )
    record = bool(request.config.getoption("--sobjects-record"))
    from sobjects.testing.cassette import CassetteError

    try:
        fixture = CassetteFixture(path, record=record, redact_host=redact_host)
    except CassetteError as exc:
        legacy = folder / _earlier_name(request.node)
        if name is None and not path.exists() and legacy != path and legacy.exists():
            exc = CassetteError(
                f"{exc}. A cassette under the name cassettes had before class names and "
                f"hashes were added exists at {legacy}: if it is this test's, rename it "
                f"to {path.name}"
            )
        pytest.fail(str(exc), pytrace=False)
    yield fixture
    if record and request.node.stash.get(_PASSED, False):
        fixture.save()


# The test that first asked for each cassette path in this run.
_OWNERS = pytest.StashKey[dict[Path, str]]()
# Longest name (in UTF-8 bytes) before the hash: file systems stop at 255.
_MAX_STEM = 120


def cassette_name(item: pytest.Item) -> str:
    """The file name of a test's cassette: the test's classes and name, then its parameter
    id, e.g. ``TestAccounts.test_create.json``, ``test_x_asyncio.json``. Where the id had to
    be cleaned to make a file name (``O'Brien``, ``O/Brien``) or the name cut short, a hash of
    the full test id follows, so two tests never share a file: ``test_x_O_Brien-1a2b3c4d.json``.

    >>> from types import SimpleNamespace as Node
    >>> def item(name):
    ...     callspec = Node(id=name.partition("[")[2][:-1]) if "[" in name else None
    ...     return Node(name=name, originalname=name.partition("[")[0],
    ...                 callspec=callspec, listchain=lambda: [])
    >>> cassette_name(item("test_x")), cassette_name(item("test_x[asyncio]"))
    ('test_x.json', 'test_x_asyncio.json')
    >>> cassette_name(item("test_x[O'Brien]"))
    'test_x_O_Brien-6e95430d.json'
    """
    classes = [node.name for node in item.listchain() if isinstance(node, pytest.Class)]
    stem = ".".join([*classes, getattr(item, "originalname", None) or item.name])
    callspec = getattr(item, "callspec", None)
    changed = False
    if callspec is not None:
        cleaned = re.sub(r"[^\w.-]+", "_", callspec.id).strip("_")
        changed = cleaned != callspec.id
        stem += f"_{cleaned}" if cleaned else ""
    if len(stem.encode()) > _MAX_STEM:
        stem = stem.encode()[:_MAX_STEM].decode(errors="ignore")
        changed = True
    if changed:
        full = "::".join([*classes, item.name])
        stem += "-" + hashlib.sha256(full.encode()).hexdigest()[:8]
    return stem + ".json"


def _earlier_name(item: pytest.Item) -> str:
    """The name cassettes had before classes and hashes were part of it."""
    return re.sub(r"[^\w.-]+", "_", item.name).strip("_") + ".json"
