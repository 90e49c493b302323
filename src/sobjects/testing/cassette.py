"""Cassettes: a real org's answers, recorded once to a readable JSON file and replayed in tests.

``RecordingTransport`` sits under the client's ``httpx.AsyncClient`` and writes down every
request and response; ``ReplayTransport`` answers from the file, matching a request by its
method, path (with the query string) and body. Secrets never reach the file: see ``redact``.

>>> cassette = Cassette()
>>> sorted(cassette.to_json())
['interactions', 'sobjects_cassette']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

__all__ = [
    "REDACTED",
    "Cassette",
    "CassetteError",
    "CassetteMissError",
    "Interaction",
    "RecordingTransport",
    "ReplayTransport",
]

FORMAT = 1
REDACTED = "REDACTED"
# Where the instance's origin stood, once redacted (``redact_host=True``).
REDACTED_ORIGIN = "https://instance.example.invalid"
TOKEN_PATH = "/services/oauth2/token"

# Keys whose values are secrets wherever they appear: JSON bodies, forms, query strings.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "client_id",
        "password",
        "username",
        "assertion",
        "code",
        "code_verifier",
        "signature",
        "sessionid",
        "session_id",
    }
)
# A token reply's ``id`` is a URL naming the org and the user.
TOKEN_REPLY_SECRET_KEYS = SECRET_KEYS | {"id"}
# Request headers worth keeping (the rest, Authorization and cookies first, are dropped).
KEPT_REQUEST_HEADERS = ("content-type", "sforce-")
KEPT_RESPONSE_HEADERS = ("content-type", "sforce-limit-info", "retry-after", "location")
# Login hosts are public; only the org's own host is redacted.
PUBLIC_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


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


# -- redaction ----------------------------------------------------------------------------------


class Redactor:
    """Turns live requests and responses into what a cassette may hold.

    Known secret keys are replaced by ``REDACTED`` in bodies, forms and query strings; request
    headers other than ``Content-Type`` and ``Sforce-*`` (so ``Authorization``) are dropped;
    and, as a net under all that, every secret value seen (tokens, passwords, secrets) is
    replaced wherever else it appears. With ``redact_host`` the org's origin becomes
    ``https://instance.example.invalid`` everywhere.
    """

    def __init__(self, *, redact_host: bool = False) -> None:
        self.redact_host = redact_host
        self.secrets: set[str] = set()
        self.origins: set[str] = set()

    def request(self, request: httpx.Request) -> tuple[str, str, Any, dict[str, str]]:
        """(method, path, body, headers) of a request, redacted."""
        url = request.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        if url.host not in PUBLIC_HOSTS:
            self.origins.add(origin)
        auth = request.headers.get("authorization", "")
        if " " in auth:
            self._secret(auth.split(" ", 1)[1])
        path = url.path
        if url.query:
            path += "?" + self._query(url.query.decode("ascii"))
        body = self._request_body(request)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower().startswith(KEPT_REQUEST_HEADERS)
        }
        return request.method, path, body, headers

    def _request_body(self, request: httpx.Request) -> Any:
        content = request.content
        if not content:
            return None
        kind = request.headers.get("content-type", "")
        text = content.decode("utf-8", errors="replace")
        if kind.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(text, keep_blank_values=True))
            return {"form": self._mapping(form, SECRET_KEYS)}
        try:
            return self._value(json.loads(text), SECRET_KEYS)
        except ValueError:
            return text

    def response(self, path: str, response: httpx.Response) -> tuple[dict[str, str], Any]:
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() in KEPT_RESPONSE_HEADERS
        }
        if not response.content:
            return headers, None
        keys = TOKEN_REPLY_SECRET_KEYS if path.startswith(TOKEN_PATH) else SECRET_KEYS
        try:
            body = json.loads(response.content)
        except ValueError:
            return headers, response.text
        if isinstance(body, dict) and isinstance(body.get("instance_url"), str):
            parts = urlsplit(body["instance_url"])
            if parts.hostname not in PUBLIC_HOSTS:
                self.origins.add(f"{parts.scheme}://{parts.netloc}")
        return headers, self._value(body, keys)

    def _query(self, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, self._leaf(k, v, SECRET_KEYS)) for k, v in pairs])

    def _mapping(self, data: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
        return {k: self._leaf(k, v, keys) for k, v in data.items()}

    def _leaf(self, key: str, value: Any, keys: frozenset[str]) -> Any:
        if key.lower() in keys and value not in (None, ""):
            if isinstance(value, str):
                self._secret(value)
            return REDACTED
        return self._value(value, keys)

    def _value(self, value: Any, keys: frozenset[str]) -> Any:
        if isinstance(value, dict):
            return self._mapping(value, keys)
        if isinstance(value, list):
            return [self._value(item, keys) for item in value]
        return value

    def _secret(self, value: str) -> None:
        # Short values (a username "a") would blank out unrelated text; they are still
        # redacted under their own key.
        if len(value) >= 6:
            self.secrets.add(value)

    def scrub(self, cassette: Cassette) -> Cassette:
        """The cassette with every secret value seen (and the origin, if asked) replaced,
        wherever it appears."""
        text = json.dumps(cassette.to_json())
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(json.dumps(secret)[1:-1], REDACTED)
        if self.redact_host:
            for origin in sorted(self.origins, key=len, reverse=True):
                text = text.replace(json.dumps(origin)[1:-1], REDACTED_ORIGIN)
                host = urlsplit(origin).netloc
                text = re.sub(
                    rf"(?<![\w.-]){re.escape(host)}(?![\w-])", "instance.example.invalid", text
                )
        data = json.loads(text)
        return Cassette(
            [Interaction.from_json(item) for item in data["interactions"]], path=cassette.path
        )


# -- transports ---------------------------------------------------------------------------------


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through ``transport`` (by default a real HTTPS transport) and records each
    exchange; ``cassette()`` returns what may be written (redacted, scrubbed)."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport | None = None, *, redact_host: bool = False
    ) -> None:
        self._transport = transport or httpx.AsyncHTTPTransport()
        self._redactor = Redactor(redact_host=redact_host)
        self._recorded: list[Interaction] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        method, path, body, headers = self._redactor.request(request)
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
        response_headers, response_body = self._redactor.response(request.url.path, replay)
        self._recorded.append(
            Interaction(
                method, path, body, response.status_code, response_headers, response_body, headers
            )
        )
        return replay

    def cassette(self, path: Path | None = None) -> Cassette:
        return self._redactor.scrub(Cassette(self._recorded, path=path))

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
