"""Cassettes: a real org's answers, recorded once to a readable JSON file and replayed in tests.

``RecordingTransport`` sits under the client's ``httpx.AsyncClient`` and writes down every
request and response; ``ReplayTransport`` answers from the file, matching a request by its
method, path (with the query string) and body. Secrets never reach the file: see
``sobjects.testing._redact``.

>>> cassette = Cassette()
>>> sorted(cassette.to_json())
['interactions', 'sobjects_cassette']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sobjects.testing._redact import REDACTED, REDACTED_ORIGIN, Redactor

__all__ = [
    "REDACTED",
    "REDACTED_ORIGIN",
    "Cassette",
    "CassetteError",
    "CassetteMissError",
    "Interaction",
    "Recording",
    "RecordingTransport",
    "ReplayTransport",
]

FORMAT = 1
TOKEN_PATH = "/services/oauth2/token"


class CassetteError(Exception):
    """A cassette file that cannot be read (missing, not JSON, not a cassette)."""


class CassetteMissError(LookupError):
    """A request the cassette holds no answer for."""


@dataclass
class Interaction:
    """One request and its response, as stored (already redacted)."""

    method: str
    path: str  # with the query string, without the origin
    body: Any  # JSON value, {"form": {...}}, text, or None
    status: int
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None  # JSON value, text, or None
    request_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.request_headers:
            request["headers"] = self.request_headers
        if self.body is not None:
            request["body"] = self.body
        response: dict[str, Any] = {"status": self.status, "headers": self.response_headers}
        if self.response_body is not None:
            response["body"] = self.response_body
        return {"request": request, "response": response}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Interaction:
        request, response = data["request"], data["response"]
        return cls(
            method=str(request["method"]),
            path=str(request["path"]),
            body=request.get("body"),
            status=int(response["status"]),
            response_headers=dict(response.get("headers") or {}),
            response_body=response.get("body"),
            request_headers=dict(request.get("headers") or {}),
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method, self.path, _canonical(self.body))

    def describe(self) -> str:
        return f"{self.method} {self.path}" + (
            f" with body {_canonical(self.body)[:300]}" if self.body is not None else ""
        )

    def to_response(self) -> httpx.Response:
        body = self.response_body
        if body is None:
            content = b""
        elif isinstance(body, str) and not _is_json(self.response_headers):
            content = body.encode()
        else:
            content = json.dumps(body).encode()
        return httpx.Response(self.status, headers=self.response_headers, content=content)


class Cassette:
    """The interactions of one test (or one recording session), in the order they happened."""

    def __init__(self, interactions: Iterable[Interaction] = (), *, path: Path | None = None):
        self.interactions = list(interactions)
        self.path = path

    def __len__(self) -> int:
        return len(self.interactions)

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, {len(self)} interactions)"

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CassetteError(
                f"no cassette at {path}: record it against a sandbox first "
                "(pytest --sobjects-record)"
            ) from None
        except (OSError, ValueError) as exc:
            raise CassetteError(f"{path} is not a readable cassette: {exc}") from None
        if not isinstance(data, dict) or data.get("sobjects_cassette") != FORMAT:
            raise CassetteError(f"{path} is not an sobjects cassette (format {FORMAT})")
        try:
            interactions = [Interaction.from_json(item) for item in data["interactions"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise CassetteError(f"{path}: a malformed interaction ({exc!r})") from None
        return cls(interactions, path=path)

    def to_json(self) -> dict[str, Any]:
        return {
            "sobjects_cassette": FORMAT,
            "interactions": [item.to_json() for item in self.interactions],
        }

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save() needs a path: this cassette was not loaded from one")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        target.write_text(text, encoding="utf-8")
        return target


# -- transports ---------------------------------------------------------------------------------


class Recording:
    """The exchanges recorded by one or more ``RecordingTransport``s, in the order they were
    answered, and the redaction that learns from all of them: a test may make several
    clients, each on its own transport, and still get one cassette."""

    def __init__(self, *, redact_host: bool = False) -> None:
        self.redactor = Redactor(redact_host=redact_host)
        self.interactions: list[Interaction] = []

    def __len__(self) -> int:
        return len(self.interactions)

    def cassette(self, path: Path | None = None) -> Cassette:
        """What may be written: every learned secret (and the origin, if asked) scrubbed."""
        data = self.redactor.scrub([item.to_json() for item in self.interactions])
        return Cassette([Interaction.from_json(item) for item in data], path=path)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through ``transport`` (by default a real HTTPS transport) and records each
    exchange to ``recording`` (by default its own); ``cassette()`` returns what may be
    written (redacted, scrubbed)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        redact_host: bool = False,
        recording: Recording | None = None,
    ) -> None:
        if recording is not None and redact_host:
            raise ValueError("give redact_host to the Recording, not to its transports")
        self._transport = transport or httpx.AsyncHTTPTransport()
        self.recording = Recording(redact_host=redact_host) if recording is None else recording

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        redactor = self.recording.redactor
        method, path, body, headers = redactor.request(request)
        response = await self._transport.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        # The content is decoded already: the encoding headers no longer describe it.
        plain = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        replay = httpx.Response(
            response.status_code,
            headers=plain,
            content=content,
            request=request,
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )
        response_headers, response_body = redactor.response(request.url.path, replay)
        self.recording.interactions.append(
            Interaction(
                method, path, body, response.status_code, response_headers, response_body, headers
            )
        )
        return replay

    def cassette(self, path: Path | None = None) -> Cassette:
        return self.recording.cassette(path)

    async def aclose(self) -> None:
        await self._transport.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers from a cassette. Each request takes the first recorded exchange with the same
    method, path and body not used yet (once all are used, the last one again); a request the
    cassette lacks raises ``CassetteMissError`` naming it."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self._redactor = Redactor()
        self._used: set[int] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        method, path, body, _ = self._redactor.request(request)
        # Secrets this replay's own requests taught (its credentials) go as they went when
        # recording: a query naming the user matches the recorded one.
        path, body = self._redactor.scrub([path, body])
        key = (method, path, _canonical(body))
        matches = [i for i, item in enumerate(self.cassette.interactions) if item.key == key]
        if not matches:
            raise CassetteMissError(self._miss_message(method, path, body))
        unused = [i for i in matches if i not in self._used]
        index = unused[0] if unused else matches[-1]
        self._used.add(index)
        response = self.cassette.interactions[index].to_response()
        response.request = request
        return response

    def _miss_message(self, method: str, path: str, body: Any) -> str:
        shown = f"{method} {path}" + (
            f" with body {_canonical(body)[:300]}" if body is not None else ""
        )
        where = self.cassette.path or "the cassette"
        message = f"{where} has no answer for {shown}"
        same_path = [i for i in self.cassette.interactions if (i.method, i.path) == (method, path)]
        if same_path:
            message += (
                f"; it holds {len(same_path)} with other bodies, e.g. {same_path[0].describe()}"
            )
        return message + ". Record it again against a sandbox (pytest --sobjects-record)"


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _is_json(headers: Mapping[str, str]) -> bool:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return "json" in value
    return False
