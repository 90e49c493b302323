"""``LocalOrg``: a Salesforce-compatible org in memory, as an ASGI app, a client or a server."""

from __future__ import annotations

import asyncio
import base64
import copy
import ipaddress
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

import anyio
import anyio.to_thread
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sobjects._ids import to_18
from sobjects.emulator._admin import admin_endpoint
from sobjects.emulator._body import BadJson, BodyTooLarge, parse_json, read_body
from sobjects.emulator._bulk import MAX_UPLOAD_BYTES, BulkJobs
from sobjects.emulator._errors import error_item, unknown_exception
from sobjects.emulator._faults import Faults, injected_error
from sobjects.emulator._identity import identity, userinfo
from sobjects.emulator._limits import limits
from sobjects.emulator._rest import API_VERSIONS, MAX_BATCH, Reply, RestApi
from sobjects.emulator._schema import Schema
from sobjects.emulator._standard import standard_sobjects
from sobjects.emulator._store import Store, StoreClosed

__all__ = ["DEFAULT_DAILY_API_LIMIT", "LocalOrg"]

logger = logging.getLogger("sobjects.emulator")

DEFAULT_API_VERSION = "62.0"
DEFAULT_DAILY_API_LIMIT = 15_000
_VERSIONS = API_VERSIONS
_JSON = "application/json;charset=UTF-8"
# How long serve() waits for its server thread: a graceful stop, then a forced one.
_STOP_TIMEOUT = 5.0


def _version_label(version: str) -> str:
    """Release name of an API version: 20.0 was Winter '11, then three releases a year."""
    index = int(float(version)) - 20
    return f"{('Winter', 'Spring', 'Summer')[index % 3]} '{11 + index // 3:02d}"


class ConnectionDropped(Exception):
    """Raised inside the app to drop a connection on purpose (a scripted fault)."""


class LocalOrg:
    """A local Salesforce org: standard schema, in-memory data, optional persistence.

    >>> org = LocalOrg()
    >>> org.schema.get("Account").key_prefix
    '001'

    - ``org.app`` is the ASGI app (Starlette), ``org.client()`` a ``sobjects.Salesforce``
      wired to it in-process, ``org.serve()`` the same org on uvicorn at 127.0.0.1.
    - ``org.access_token`` is a valid bearer token; the token endpoint issues more.
      ``org.admin_token`` is the one the ``/__emulator__`` controls take over HTTP.
    - ``org.define(describe)`` and ``org.define_field(sobject, field)`` extend the schema;
      ``org.define_models(Model, ...)`` does so for ``SObject`` models.
    - ``org.faults`` injects latency and failures; ``daily_api_limit`` caps API usage.
    - With ``data=PATH`` the records live in the SQLite file PATH: every acknowledged write is
      committed (fsynced) first, so it survives a ``kill -9``. One org at a time may hold PATH
      (it is locked); ``close()`` (or ``with LocalOrg(data=PATH) as org:``) releases it, and
      the org then refuses writes (503) rather than acknowledge what it cannot keep.
    - A ``Schema`` passed in is copied: orgs never share their metadata.
    """

    def __init__(
        self,
        schema: Schema | Iterable[Mapping[str, Any]] | None = None,
        *,
        api_version: str = DEFAULT_API_VERSION,
        data: str | os.PathLike[str] | None = None,
        daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
    ) -> None:
        if api_version not in _VERSIONS:
            raise ValueError(f"api_version must be one of {_VERSIONS[0]}..{_VERSIONS[-1]}")
        self.schema = (
            copy.deepcopy(schema)
            if isinstance(schema, Schema)
            else Schema(standard_sobjects() if schema is None else schema)
        )
        self.api_version = api_version
        self.store = Store(self.schema, journal=data)
        self.faults = Faults(self.schema)
        self.daily_api_limit = daily_api_limit
        self.api_usage = 0
        self.org_id = to_18("00D5e0000000001")
        self._tokens: dict[str, str] = {}  # access token -> refresh token it came with
        self._refresh_tokens: set[str] = set()
        # Logins the token endpoint checks (see add_user, add_connected_app); while none is
        # added, any well-formed login is granted, as before.
        self.users: dict[str, str] = {}  # username -> password
        self.connected_apps: dict[str, str] = {}  # client id -> client secret
        # One lock for the org and its store: a request and a direct store call never overlap.
        self._lock = self.store.lock
        self.rest = RestApi(self)
        self.bulk = BulkJobs(self)  # Bulk API 2.0 jobs, processed on a worker thread
        self.access_token = self.issue_token()
        # Guards the /__emulator__ controls; never an API token (see _admin).
        self.admin_token = secrets.token_urlsafe(32)
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._endpoint,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )

    def __repr__(self) -> str:
        return f"LocalOrg(api_version={self.api_version!r}, sobjects={len(list(self.schema))})"

    # -- schema ----------------------------------------------------------------------------

    def define(self, describe: Mapping[str, Any]) -> None:
        """Add a custom sObject from a describe-shaped dict (``name``, ``label``, ``fields``).

        Defining it again with the same dict does nothing (an app can declare its schema on
        every start); with another dict, its fields are replaced and its key prefix kept.
        """
        with self._lock:
            self._check_open()
            name = describe.get("name")
            if isinstance(name, str) and self.schema.defined_as(name) == dict(describe):
                return
            self.schema.add(describe)
            self.schema.link_children()
            self.store.journal_schema({"define": dict(describe)})

    def define_field(self, sobject: str, field: Mapping[str, Any]) -> None:
        """Add one describe-shaped field (``{"name": "Ext_Id__c", "type": "string",
        "externalId": True}``) to an existing sObject."""
        with self._lock:
            self._check_open()
            self.schema.add_field(sobject, field)
            self.store.journal_schema({"define_field": [sobject, dict(field)]})

    def define_models(self, *models: Any) -> None:
        """Define ``SObject`` model classes (or every model of a module) on this org: an
        unknown sObject is added, a known one gains the fields it lacks (``external_id=True``
        fields become external ids), so ``upsert`` works against them."""
        import types

        from sobjects.emulator._shape import model_definitions, models_in

        classes = [
            m
            for item in models
            for m in (models_in(item) if isinstance(item, types.ModuleType) else [item])
        ]
        for sobject, fields in model_definitions(classes):
            existing = self.schema.get(sobject)
            if existing is None:
                self.define({"name": sobject, "fields": fields})
                continue
            for field in fields:
                if existing.field(field["name"]) is None:
                    self.define_field(existing.name, field)

    def _check_open(self) -> None:
        if self.store.closed:  # refuse before the schema changes, not after
            raise StoreClosed("the local org is closed: schema changes are refused")

    # -- tokens ----------------------------------------------------------------------------

    def add_user(self, username: str, password: str) -> None:
        """A user the token endpoint's password flow accepts. Once one is added, other
        usernames or a wrong password get ``invalid_grant`` ("authentication failure")."""
        if not username or not password:
            raise ValueError("add_user takes a username and a password")
        with self._lock:
            self.users[username] = password

    def add_connected_app(self, client_id: str, client_secret: str) -> None:
        """A connected app the token endpoint accepts. Once one is added, another client id
        gets ``invalid_client_id`` ("client identifier invalid") and a wrong secret
        ``invalid_client`` ("invalid client credentials")."""
        if not client_id or not client_secret:
            raise ValueError("add_connected_app takes a client id and a client secret")
        with self._lock:
            self.connected_apps[client_id] = client_secret

    def _check_login(self, form: Mapping[str, str], grant: str) -> Response | None:
        """The OAuth error Salesforce answers for credentials it does not know, or None."""
        with self._lock:
            apps, users = dict(self.connected_apps), dict(self.users)
        client_id = form.get("client_id", "")
        if apps and grant in ("client_credentials", "password"):
            if client_id not in apps:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            secret = form.get("client_secret")
            if (secret is not None or grant == "client_credentials") and not secrets.compare_digest(
                secret or "", apps[client_id]
            ):
                return _oauth_error("invalid_client", "invalid client credentials")
        if users and grant == "password":
            password = users.get(form.get("username", ""))
            if password is None or not secrets.compare_digest(form.get("password", ""), password):
                return _oauth_error("invalid_grant", "authentication failure")
        return None

    def issue_token(self, *, refresh_token: str | None = None) -> str:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = refresh_token or ""
        return token

    def expire_tokens(self) -> None:
        """Invalidate every access token (clients must re-authenticate)."""
        with self._lock:
            self._tokens.clear()

    def _authorised(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        return scheme.lower() in ("bearer", "oauth") and token.strip() in self._tokens

    # -- clients ---------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> Any:
        """A ``sobjects.Salesforce`` talking to this org in-process (no sockets).

        Keyword arguments go to ``Salesforce`` (``retry``, ``event_hooks``, ...).
        """
        from sobjects.auth import StaticToken
        from sobjects.client import Salesforce

        transport = _DroppingASGITransport(app=self.app)
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        kwargs.setdefault("auth", StaticToken(self.access_token))
        kwargs.setdefault("version", self.api_version)
        sf = Salesforce("http://127.0.0.1", httpx_client=http, **kwargs)
        # The in-process httpx client was made for this Salesforce alone: let it close it.
        sf._owns_http = True
        return sf

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        """Serve the org on ``http://127.0.0.1:<port>`` (a free port with 0); yields the URL.

        Only requests addressed to a loopback host (``Host: 127.0.0.1``, ``localhost`` or
        ``[::1]``, any port) are answered, others get 421: a web page that rebinds its own
        domain name to 127.0.0.1 (DNS rebinding) cannot reach the org.

        uvicorn runs on its own thread and event loop, so this works under asyncio and trio.
        On the way out (even when cancelled) the server is stopped and its thread joined:
        gracefully, then forcibly after a few seconds; ``RuntimeError`` if it still runs.
        """
        import uvicorn

        config = uvicorn.Config(
            _LoopbackHostOnly(self.app),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve()), name="sobjects-local-org", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the local org could not start on 127.0.0.1:{port}")
                await anyio.sleep(0.01)
            bound = server.servers[0].sockets[0].getsockname()[1]
            yield f"http://127.0.0.1:{bound}"
        finally:
            server.should_exit = True
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(thread.join, _STOP_TIMEOUT)
                if thread.is_alive():
                    server.force_exit = True  # stop waiting for in-flight requests
                    await anyio.to_thread.run_sync(thread.join, _STOP_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(
                    f"the local org's server thread did not stop within {2 * _STOP_TIMEOUT:g}s"
                )

    def close(self) -> None:
        """Close the journal file (data stays on disk) and release it; later writes are
        refused. Stop ``serve()`` first: requests it answers after this fail with 503."""
        self.bulk.close()
        self.store.close()

    def __enter__(self) -> LocalOrg:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> LocalOrg:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- limits ------------------------------------------------------------------------------

    def limits_body(self) -> dict[str, Any]:
        return limits(
            self.store,
            daily_api_limit=self.daily_api_limit,
            api_usage=self.api_usage,
            used={
                "DailyBulkV2QueryJobs": self.bulk.query_jobs,
                "DailyBulkApiBatches": self.bulk.batches,
            },
        )

    # -- HTTP ------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        # The raw path keeps percent-encoded slashes inside values (an external id "A/1").
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        path = path.split("?", 1)[0]
        if path.startswith("/__emulator__"):  # the fault controls themselves never fail
            return await admin_endpoint(self, request, path)
        if path.rstrip("/") == "/services/oauth2/token":  # only faulted when asked for
            status = self.faults.take_token_failure()
            if status is not None:
                return _token_failure(status)
            try:
                form = await read_body(request)
            except BodyTooLarge as exc:
                return _json(413, {"error": "invalid_request", "error_description": exc.message})
            return self._token(request, form)
        if path.rstrip("/") == "/services/oauth2/userinfo" or _IDENTITY_RE.match(path):
            return self._who(request, path)
        response = await self._api(request, path)
        # Only a request that was carried out loses its answer: one refused on the way in
        # (throttled, failed, unauthorised) leaves drop_answer_next for the next one.
        if getattr(request.state, "dispatched", False) and self.faults.take_answer_drop():
            return _DropResponse()  # applied (and journaled), but the answer is lost
        return response

    async def _api(self, request: Request, path: str) -> Response:
        delay = self.faults.take_delay()
        if delay:
            await anyio.sleep(delay)
        if self.faults.take_drop():
            return _DropResponse()
        retry_after = self.faults.take_throttle()
        if retry_after is not None:  # what a gateway in front of Salesforce may answer
            return _json(
                429,
                [
                    error_item(
                        "REQUEST_LIMIT_EXCEEDED", f"Too many requests: retry after {retry_after} s"
                    )
                ],
                {"Retry-After": str(retry_after)},
            )
        if path.rstrip("/") == "/services/data":
            versions = [
                {"label": _version_label(v), "url": f"/services/data/v{v}", "version": v}
                for v in _VERSIONS
            ]
            return _json(200, versions)
        match = re.match(r"^/services/data/v(\d+\.\d)(?:/(.*))?$", path)
        if match is None or match.group(1) not in _VERSIONS:
            return _json(404, [error_item("NOT_FOUND", "The requested resource does not exist")])
        version, rest = match.group(1), match.group(2) or ""
        with self._lock:
            authorised = self._authorised(request.headers.get("authorization"))
        if not authorised:
            return _json(401, [error_item("INVALID_SESSION_ID", "Session expired or invalid")])
        status = self.faults.take_failure()
        if status is not None:
            return _json(status, [error_item(*injected_error(status))], self._usage_headers())
        # The body is read only now: a request without a valid token costs no buffering.
        upload = request.method == "PUT" and _BULK_UPLOAD_RE.match(rest) is not None
        try:
            raw = await read_body(request, MAX_UPLOAD_BYTES) if upload else await read_body(request)
        except BodyTooLarge as exc:
            message = _UPLOAD_TOO_LARGE if upload else exc.message
            return _json(413, [error_item("EXCEEDED_MAX_SIZE_REQUEST", message)])
        try:
            if upload:
                body: Any = raw  # Bulk API job data is CSV, handed over as bytes
            elif len(raw) > _PARSE_IN_THREAD:
                # Seconds of parsing for tens of megabytes: not on the loop every request uses.
                body = await anyio.to_thread.run_sync(parse_json, raw)
            else:
                body = parse_json(raw) if raw.strip() else None
        except BadJson as exc:
            return _json(400, [error_item("JSON_PARSER_ERROR", str(exc))], self._usage_headers())
        cost = 1
        if rest.strip("/") == "composite/batch" and isinstance(body, dict):
            requests = body.get("batchRequests")
            if isinstance(requests, list) and len(requests) <= MAX_BATCH:
                cost = max(1, len(requests))  # a batch refused for its size runs nothing
        pairs = parse_qs(request.url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in pairs.items()}
        if "sobject" in pairs:  # parameterizedSearch repeats it; object names have no commas
            query["sobject"] = ",".join(pairs["sobject"])
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            if self.api_usage + cost > self.daily_api_limit:
                return _json(
                    403,
                    [error_item("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")],
                    self._usage_headers(),
                )
            self.api_usage += cost
            request.state.dispatched = True
            try:
                reply = self.rest.dispatch(request.method, version, rest, query, body, headers)
            except StoreClosed:
                reply = Reply(
                    503,
                    [
                        error_item(
                            "SERVER_UNAVAILABLE", "The local org is closed: writes are refused"
                        )
                    ],
                )
            except Exception:
                # A bug of the emulator: answer as Salesforce does for its own, in JSON.
                logger.exception("local org: unexpected error on %s %s", request.method, path)
                reply = Reply(500, [error_item(*unknown_exception())])
            if cost > 1 and reply.status >= 400:
                self.api_usage -= cost - 1  # a batch refused as a whole ran nothing
        return _reply(reply, self._usage_headers())

    def _who(self, request: Request, path: str) -> Response:
        """The identity URL or UserInfo: the token's user (not metered, as Salesforce's)."""
        if request.method not in ("GET", "POST"):
            return _json(405, {"error": "method_not_allowed"})
        header = request.headers.get("authorization")
        token = request.query_params.get("oauth_token")  # the identity URL also takes this
        if header is None and token is None:
            return Response("Missing_OAuth_Token", 403, media_type="text/plain")
        with self._lock:
            authorised = self._authorised(header or f"Bearer {token}")
            user = self.store.get(self.store.admin_user_id or "")
        match = _IDENTITY_RE.match(path)
        if match is not None and (match.group(1), match.group(2)) != (
            self.org_id,
            self.store.admin_user_id,
        ):
            authorised = False  # a token answers for its own user only
        if not authorised or user is None:
            return Response("Bad_OAuth_Token", 403, media_type="text/plain")
        instance = f"{request.url.scheme}://{request.url.netloc}"
        shape = identity if match is not None else userinfo
        return _json(200, shape(user, instance, self.org_id))

    def _usage_headers(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.daily_api_limit}"}

    def _token(self, request: Request, raw: bytes) -> Response:
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        basic = _basic_credentials(request.headers.get("authorization"))
        if basic is not None:  # client id and secret may come as HTTP Basic instead
            form.setdefault("client_id", basic[0])
            form.setdefault("client_secret", basic[1])
        grant = form.get("grant_type", "")
        refresh: str | None = None
        if grant == "client_credentials":
            ok = bool(form.get("client_id") and form.get("client_secret"))
        elif grant == "password":
            ok = bool(form.get("client_id") and form.get("username") and form.get("password"))
            refresh = secrets.token_urlsafe(32)
        elif grant == "refresh_token":
            ok = form.get("refresh_token", "") in self._refresh_tokens
            if not ok:
                return _oauth_error("invalid_grant", "expired access/refresh token")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = _jwt_claims_ok(form.get("assertion", ""))
        else:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if not ok:
            return _oauth_error("invalid_grant", "authentication failure")
        refused = self._check_login(form, grant)
        if refused is not None:
            return refused
        if refresh is not None:
            with self._lock:
                self._refresh_tokens.add(refresh)
        token = self.issue_token(refresh_token=refresh)
        instance = f"{request.url.scheme}://{request.url.netloc}"
        issued = str(int(time.time() * 1000))
        body: dict[str, Any] = {
            "access_token": token,
            "instance_url": instance,
            "id": f"{instance}/id/{self.org_id}/{self.store.admin_user_id}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            "scope": "api",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return _json(200, body)


_IDENTITY_RE = re.compile(r"^/id/(00D[0-9A-Za-z]{15})/(005[0-9A-Za-z]{15})/?$")
_PARSE_IN_THREAD = 1 << 20  # bytes of JSON parsed off the event loop
_BULK_UPLOAD_RE = re.compile(r"^jobs/ingest/[^/]+/batches/?$")
_UPLOAD_TOO_LARGE = "The size of the job data exceeded 150 MB once base64 encoded."


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode("utf-8")
    except ValueError:
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


def _jwt_claims_ok(assertion: str) -> bool:
    """A structurally valid, unexpired JWT with iss and sub (the signature is not checked:
    the local org does not know the connected app's certificate)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return False
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = parse_json(base64.urlsafe_b64decode(padded))
    except ValueError:  # not base64, or not JSON (BadJson is a ValueError)
        return False
    if not isinstance(claims, dict):
        return False
    expiry = claims.get("exp")
    return (
        bool(claims.get("iss"))
        and bool(claims.get("sub"))
        and isinstance(expiry, (int, float))
        and not isinstance(expiry, bool)
        and expiry > time.time()
    )


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=_JSON,
        headers=dict(headers or {}),
    )


def _reply(reply: Reply, extra: Mapping[str, str]) -> Response:
    headers = {**reply.headers, **extra}
    if isinstance(reply.body, bytes):  # CSV (Bulk API results)
        media = headers.pop("Content-Type", "text/csv")
        return Response(reply.body, status_code=reply.status, headers=headers, media_type=media)
    if reply.status == 204 or (reply.body is None and reply.status < 300):
        return Response(status_code=reply.status, headers=headers)
    return _json(reply.status, reply.body, headers)


def _oauth_error(error: str, description: str) -> Response:
    return _json(400, {"error": error, "error_description": description})


def _token_failure(status: int) -> Response:
    """An injected token endpoint failure, in OAuth's error shape."""
    if status < 500:
        return _json(
            status, {"error": "invalid_grant", "error_description": "authentication failure"}
        )
    return _json(status, {"error": "unknown_error", "error_description": "retry your request"})


class _DropResponse(Response):
    """Starts a response, then drops the connection before the body (a scripted fault)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
            }
        )
        raise ConnectionDropped("connection dropped by a scripted fault")


class _LoopbackHostOnly:
    """ASGI wrapper of the served org: 421 for a ``Host`` that is not a loopback address.

    A page on evil.example whose name now resolves to 127.0.0.1 reaches the port with
    ``Host: evil.example``; a name cannot be rebound if it is not accepted. ``org.app`` itself
    does not check: in-process clients (``org.client()``, an ``httpx.ASGITransport``) may
    name any host, and nothing outside the process reaches them.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v for k, v in scope["headers"] if k == b"host"), b"")
            if not is_loopback_host(host.decode("latin-1")):
                response = _json(
                    421,
                    [
                        error_item(
                            "MISDIRECTED_REQUEST",
                            "The local org answers requests for 127.0.0.1, localhost or [::1] "
                            f"only, not Host {host.decode('latin-1')[:100]!r}",
                        )
                    ],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names a loopback address: ``localhost``, ``127.x.x.x`` or
    ``[::1]``, with or without a port."""
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 literal, maybe with a port after the bracket
        name, bracket, port = name[1:].partition("]")
        if not bracket or (
            port and not (port.startswith(":") and port[1:].isascii() and port[1:].isdigit())
        ):
            return False
    else:
        name, colon, port = name.partition(":")
        if colon and not (port.isascii() and port.isdigit()):
            return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _DroppingASGITransport(httpx.ASGITransport):
    """In-process transport that turns a scripted drop into what a socket would give."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
