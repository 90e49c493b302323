"""The ``Salesforce`` client: authentication, retries, limits and the request pipeline."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import anyio
import httpx

from sobjects.client._auth import Auth, Token
from sobjects.client._budget import (
    ApiCallMeter,
    ApiUsage,
    active_meters,
    api_cost,
    check_call_count,
    parse_limit_info,
)
from sobjects.client._events import (
    ApiUsageEvent,
    EventHooks,
    HookRunner,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from sobjects.client._json import dumps
from sobjects.client._retry import DEFAULT_RETRY, RetryPolicy, parse_retry_after
from sobjects.errors import (
    ApiBudgetError,
    ClientClosedError,
    ConfigurationError,
    OutcomeUnknownError,
    SalesforceError,
    SessionExpiredError,
    TransportError,
    error_for,
    parse_error_details,
)

if TYPE_CHECKING:
    from sobjects.client._bulk import BulkAPI
    from sobjects.client._collections import CollectionsAPI
    from sobjects.client._composite import CompositeAPI
    from sobjects.client._param_search import SearchIn, SearchObject
    from sobjects.client._query import QueryResult
    from sobjects.client._sobject import SObjectAPI

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_TIMEOUT", "Salesforce", "body_of"]

logger = logging.getLogger("sobjects")

DEFAULT_API_VERSION: Final = "62.0"
# Salesforce can take minutes on a composite call; connecting should never take long.
DEFAULT_TIMEOUT: Final = httpx.Timeout(120.0, connect=10.0)
DEFAULT_CONCURRENCY_LIMIT: Final = 25
# Salesforce stops a Composite Batch after 10 minutes; wait a little longer than that.
COMPOSITE_READ_TIMEOUT: Final = 630.0

# Failures before the request left this machine: nothing can have been applied.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def _check_base_url(url: str, *, what: str = "base_url") -> str:
    """Require https, except for loopback hosts (a local org on 127.0.0.1)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an absolute http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{what} {url!r} uses plain http; Salesforce needs https "
            "(http is only allowed for loopback hosts such as 127.0.0.1 or localhost)"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{what} must not carry a query string or fragment: {url!r}")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+")


def _check_version(version: str) -> str:
    version = version.removeprefix("v")
    # ASCII digits only: str.isdigit() also accepts superscripts and non-ASCII digits.
    if not _VERSION_RE.fullmatch(version):
        raise ConfigurationError(f"version must look like '62.0', got {version!r}")
    return version


def _check_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    # None would silently disable every timeout (httpx.Timeout(None)).
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigurationError(
            f"timeout must be a positive number of seconds or an httpx.Timeout, got {timeout!r}"
        )
    return httpx.Timeout(timeout)


class Salesforce:
    """An async client for one Salesforce org.

    Give it the org's URL (My Domain) and an authentication strategy. The instance URL in the
    token reply wins over ``base_url``. A caller's ``httpx_client`` is used as is (and never
    closed); otherwise the client owns a pooled one, closed by ``async with`` or ``aclose()``.
    Either way a client is done once closed: any later request raises ``ClientClosedError``.
    Every request has a timeout; at most ``concurrency_limit`` requests are in flight at once.
    With ``api_reserve=N`` the client refuses (``ApiBudgetError``, before any HTTP) a request
    that would leave the org fewer than N calls of its daily allowance, going by the last
    ``Sforce-Limit-Info`` reading and the calls still in flight.

    >>> from sobjects.auth import StaticToken
    >>> sf = Salesforce("https://acme.my.salesforce.com", auth=StaticToken("00D!token"))
    >>> sf.version
    '62.0'
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth,
        version: str = DEFAULT_API_VERSION,
        httpx_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT,
        retry: RetryPolicy = DEFAULT_RETRY,
        event_hooks: EventHooks | None = None,
        api_reserve: int | None = None,
    ) -> None:
        if not isinstance(auth, Auth):
            raise ConfigurationError(
                f"auth must be an sobjects.auth strategy, got {type(auth).__name__}"
            )
        if concurrency_limit < 1:
            raise ConfigurationError("concurrency_limit must be at least 1")
        self.base_url = _check_base_url(base_url)
        self.version = _check_version(version)
        self.auth = auth
        self.retry = retry
        self.timeout = _check_timeout(timeout)
        self.concurrency_limit = concurrency_limit
        self._api_reserve = check_call_count(api_reserve, "api_reserve")
        # API calls of requests sent and not yet answered: the last reading does not count
        # them yet, so the reserve check does.
        self._calls_in_flight = 0
        self._owns_http = httpx_client is None
        self._closed = False
        self._http = httpx_client or httpx.AsyncClient(
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=concurrency_limit),
        )
        self._hooks = HookRunner(dict(event_hooks) if event_hooks else None)  # type: ignore[arg-type]
        self._token: Token | None = None
        self._instance_url: str | None = None
        self._token_lock: anyio.Lock | None = None
        self._token_fetches = 0
        self._token_failure: SalesforceError | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._api_usage: ApiUsage | None = None
        self._describe_cache: dict[str, dict[str, Any]] = {}
        self._sobject: SObjectAPI | None = None
        self._composite: CompositeAPI | None = None
        self._collections: CollectionsAPI | None = None
        self._bulk: BulkAPI | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Salesforce:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client: later requests raise ``ClientClosedError``.

        The pooled HTTP client is closed if this client created it; a caller's
        ``httpx_client`` is left open for its owner. Closing twice is harmless.
        """
        # Marked closed whoever owns the httpx client: the same code must not work or fail
        # depending on how the client was built.
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` was called (or the caller's ``httpx_client`` was closed)."""
        return self._closed or self._http.is_closed

    def _check_open(self) -> None:
        """Refuse to work once closed, before any HTTP (httpx would raise a bare
        ``RuntimeError`` from deep inside the send)."""
        if self._closed:
            raise ClientClosedError(
                "this Salesforce client is closed (aclose() was called or its `async with` "
                "block ended); create a new Salesforce to send more requests"
            )
        if self._http.is_closed:
            raise ClientClosedError(
                "the httpx.AsyncClient given as httpx_client is closed; pass an open one "
                "to a new Salesforce"
            )

    def __repr__(self) -> str:
        return f"Salesforce({self.instance_url!r}, version={self.version!r}, auth={self.auth!r})"

    # -- state -----------------------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        """The URL requests go to: the token's instance URL once known, else ``base_url``."""
        return self._instance_url or self.base_url

    @property
    def api_usage(self) -> ApiUsage | None:
        """The last ``Sforce-Limit-Info`` reading, or ``None`` before any response carried one."""
        return self._api_usage

    @property
    def api_reserve(self) -> int | None:
        """API calls of the org's daily allowance this client leaves alone (``None``: off).

        May be changed at any time; the next request is checked against the new value.
        """
        return self._api_reserve

    @api_reserve.setter
    def api_reserve(self, value: int | None) -> None:
        self._api_reserve = check_call_count(value, "api_reserve")

    @property
    def api_calls_in_flight(self) -> int:
        """API calls of the requests sent and not answered yet (not in ``api_usage`` yet)."""
        return self._calls_in_flight

    @property
    def api_calls_available(self) -> int | None:
        """Calls this client may still spend before the reserve: the last reading's
        ``remaining``, less the calls in flight and ``api_reserve`` (0 when off), at least 0.
        ``None`` before any reading: then nothing is refused.

        A planner asks ``available is None or available >= cost`` (``api_cost`` tells a
        request's cost).
        """
        usage = self._api_usage
        if usage is None:
            return None
        return max(0, usage.remaining - self._calls_in_flight - (self._api_reserve or 0))

    @property
    def long_timeout(self) -> httpx.Timeout:
        """The timeout for composite calls, which Salesforce may run for up to 10 minutes."""
        read = self.timeout.read
        return httpx.Timeout(
            connect=self.timeout.connect,
            read=max(read, COMPOSITE_READ_TIMEOUT) if read is not None else None,
            write=self.timeout.write,
            pool=self.timeout.pool,
        )

    @property
    def data_path(self) -> str:
        """``/services/data/vNN.N``, the prefix of versioned resources."""
        return f"/services/data/v{self.version}"

    # -- sub-APIs --------------------------------------------------------------------------

    @property
    def sobject(self) -> SObjectAPI:
        """Single-record operations: create, get, update, delete, upsert."""
        if self._sobject is None:
            from sobjects.client._sobject import SObjectAPI

            self._sobject = SObjectAPI(self)
        return self._sobject

    @property
    def composite(self) -> CompositeAPI:
        """Composite (``sf.composite(...)``) and Composite Batch (``sf.composite.batch(...)``)."""
        if self._composite is None:
            from sobjects.client._composite import CompositeAPI

            self._composite = CompositeAPI(self)
        return self._composite

    @property
    def bulk(self) -> BulkAPI:
        """Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete) streamed as
        CSV, and query jobs read page by page."""
        if self._bulk is None:
            from sobjects.client._bulk import BulkAPI

            self._bulk = BulkAPI(self)
        return self._bulk

    @property
    def collections(self) -> CollectionsAPI:
        """sObject Collections: up to 200 records per call, chunked for you."""
        if self._collections is None:
            from sobjects.client._collections import CollectionsAPI

            self._collections = CollectionsAPI(self)
        return self._collections

    # -- resources -------------------------------------------------------------------------

    def query(
        self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None
    ) -> QueryResult:
        """Run a SOQL query; iterate the result with ``async for`` across every page.

        >>> async def names(sf: Salesforce) -> list[str]:
        ...     return [r["Name"] async for r in sf.query("SELECT Name FROM Account")]
        """
        from sobjects.client._query import QueryResult

        return QueryResult(self, soql, include_deleted=include_deleted, batch_size=batch_size)

    async def search(self, sosl: str) -> list[dict[str, Any]]:
        """Run a SOSL search and return its ``searchRecords`` (one list across all objects).

        Each record has ``attributes`` (``type``, ``url``) and the RETURNING fields (just
        ``Id`` when none are listed). Escape user text with ``escape_sosl``.

        >>> async def find_acme(sf: Salesforce) -> list[str]:
        ...     sosl = "FIND {Acme*} IN NAME FIELDS RETURNING Account(Name ORDER BY Name)"
        ...     return [r["Name"] for r in await sf.search(sosl)]
        """
        from sobjects.client._sosl import search

        return await search(self, sosl)

    async def parameterized_search(
        self,
        q: str,
        *,
        sobjects: Sequence[str | SearchObject] = (),
        fields: Sequence[str] | None = None,
        in_: SearchIn | None = None,
        default_limit: int | None = None,
        overall_limit: int | None = None,
        offset: int | None = None,
        spell_correction: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Search without SOSL (the ``parameterizedSearch`` resource); ``searchRecords``.

        ``q`` is the search string (words, ``*``/``?`` wildcards, ``"phrases"``, ``AND``/
        ``OR``/``AND NOT``; no escaping into ``FIND {...}`` needed). ``sobjects`` lists the
        objects to search, by name or as ``SearchObject(name, fields=..., where=...,
        limit=...)``; ``fields`` is what each returns unless it says otherwise (just ``Id``
        when neither does); ``in_`` is the field group searched (``"ALL"`` by default,
        ``"NAME"``, ``"EMAIL"``, ``"PHONE"``); ``default_limit`` caps each object,
        ``overall_limit`` the whole result (both at most 2000), ``offset`` skips rows of a
        one-object search. Sent as a JSON body (POST), retried like a read.

        >>> async def acme_accounts(sf: Salesforce) -> list[str]:
        ...     found = await sf.parameterized_search(
        ...         "Acme*",
        ...         sobjects=[SearchObject("Account", where="Industry = 'Energy'")],
        ...         fields=["Id", "Name"],
        ...         in_="NAME",
        ...     )
        ...     return [r["Name"] for r in found]
        """
        from sobjects.client._param_search import build_body, parameterized_search

        body = build_body(
            q,
            sobjects=sobjects,
            fields=fields,
            in_=in_,
            default_limit=default_limit,
            overall_limit=overall_limit,
            offset=offset,
            spell_correction=spell_correction,
        )
        return await parameterized_search(self, body)

    async def describe(
        self, sobject: str | None = None, *, refresh: bool = False
    ) -> dict[str, Any]:
        """The global describe, or one sObject's describe (cached per client).

        ``refresh=True`` bypasses and replaces the cached describe.
        """
        self._check_open()  # even for a cached describe: a closed client answers nothing
        if sobject is None:
            return await self.request_json("GET", "sobjects")  # type: ignore[no-any-return]
        from sobjects.client._sobject import check_sobject_name

        key = check_sobject_name(sobject).lower()
        if refresh or key not in self._describe_cache:
            self._describe_cache[key] = await self.request_json(
                "GET", f"sobjects/{sobject}/describe"
            )
        return self._describe_cache[key]

    async def limits(self) -> dict[str, Any]:
        """The org's limits (``DailyApiRequests`` and the rest) as Salesforce reports them.

        Never refused by ``api_reserve`` (it is how a client that refused learns that the
        rolling 24 hours freed calls); an ``ApiCallMeter``'s budget still applies.
        """
        response = await self._request("GET", "limits", reserve_exempt=True)
        return body_of(response)  # type: ignore[no-any-return]

    async def versions(self) -> list[dict[str, Any]]:
        """The API versions the org serves, oldest first."""
        return await self.request_json("GET", "/services/data/")  # type: ignore[no-any-return]

    # -- the request pipeline --------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Absolute URL for ``path``: ``/services/...`` is taken from the instance root,
        anything else is relative to ``/services/data/vNN.N/``."""
        if path.startswith(("http://", "https://")):
            parts, own = urlsplit(path), urlsplit(self.instance_url)
            if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
                raise ConfigurationError(
                    f"refusing to send the org's token to another host: {path!r}"
                )
            return path
        if path.startswith("/"):
            return self.instance_url + path
        return f"{self.instance_url}{self.data_path}/{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        raise_for_status: bool = True,
        # An httpx per-phase timeout (connect, read, ...), not a cancel scope.
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109
        cost: int | None = None,
    ) -> httpx.Response:
        """Send one authenticated request to any REST resource (the escape hatch).

        ``path`` is relative to ``/services/data/vNN.N/`` unless it starts with ``/``.
        Error statuses raise the matching ``sobjects.errors`` exception unless
        ``raise_for_status=False``. ``idempotent`` overrides the method-based guess used by
        the retry rules. ``timeout`` replaces the client's timeout for this request.
        ``cost`` is the API calls Salesforce will count for it, checked against
        ``api_reserve`` and the active meters (default: ``api_cost(method, path, json)``).

        A non-idempotent request that was sent but got no answer raises
        ``OutcomeUnknownError`` and is never repeated.

        >>> async def recent(sf: Salesforce) -> Any:
        ...     return (await sf.request("GET", "recent")).json()
        """
        return await self._request(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            raise_for_status=raise_for_status,
            timeout=timeout,
            cost=cost,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        raise_for_status: bool = True,
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109
        cost: int | None = None,
        reserve_exempt: bool = False,
        content: bytes | None = None,
    ) -> httpx.Response:
        method = method.upper()
        spend = api_cost(method, path, json) if cost is None else check_call_count(cost, "cost")
        assert spend is not None
        if content is None:  # raw content (Bulk API CSV) comes with its own Content-Type
            content = None if json is None else dumps(json)
        request_headers = {"Accept": "application/json"}
        if json is not None:
            request_headers["Content-Type"] = "application/json"
        if headers:
            request_headers.update(headers)
        response = await self._send(
            method,
            path,
            params=params,
            content=content,
            headers=request_headers,
            idempotent=method in _IDEMPOTENT_METHODS if idempotent is None else idempotent,
            timeout=self.timeout if timeout is None else _check_timeout(timeout),
            cost=spend,
            reserve_exempt=reserve_exempt,
        )
        if raise_for_status and response.status_code >= 300 and response.status_code != 304:
            raise error_for(
                response.status_code,
                body_of(response),
                method=method,
                url=str(response.request.url.copy_with(query=None)),
            )
        return response

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and return the decoded JSON body (``None`` for an empty body)."""
        response = await self.request(method, path, **kwargs)
        return body_of(response)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        headers: dict[str, str],
        idempotent: bool,
        timeout: httpx.Timeout,  # noqa: ASYNC109 (httpx per-phase timeout)
        cost: int,
        reserve_exempt: bool,
    ) -> httpx.Response:
        def build(token: Token | None) -> httpx.Request:
            assert token is not None
            return self._http.build_request(
                method,
                self.url_for(path),
                params=params,
                content=content,
                headers={**headers, "Authorization": f"Bearer {token.access_token}"},
                timeout=timeout,
            )

        return await self._send_with_retries(
            build,
            idempotent=idempotent,
            authenticated=True,
            spending=_Spending(method, path, cost, reserve_exempt),
        )

    async def _send_with_retries(
        self,
        build: Callable[[Token | None], httpx.Request],
        *,
        idempotent: bool,
        authenticated: bool,
        spending: _Spending | None = None,
    ) -> httpx.Response:
        policy = self.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        may_reauthenticate = authenticated and self.auth.can_refresh
        sent = 0  # attempts that went out, 401 replays included
        expired: Token | None = None  # the token a 401 refused, replaced before the replay
        while True:
            # Checked before every attempt: the client may be closed during a backoff wait.
            self._check_open()
            attempt += 1
            # Every attempt spends calls, so each is checked (and its calls held) before any
            # HTTP, the token fetch included.
            meters = self._hold_calls(spending, sent) if spending else ()
            reached = False  # until the attempt goes out: no token, closed, ...
            try:
                if expired is not None:
                    await self._refresh_token(stale=expired)
                    expired = None
                token = await self._current_token() if authenticated else None
                request = build(token)
                method, shown_url = request.method, str(request.url)
                cost = spending.cost if spending else 0
                reached = True  # from here it may reach Salesforce (cancelled or not)
                sent += 1
                response, failure = await self._attempt(request, shown_url, attempt, cost)
                reached = not isinstance(failure, _NEVER_SENT)
            finally:
                if spending:
                    self._release_calls(spending.cost, meters, reached=reached)
            if response is not None and response.status_code == 401 and may_reauthenticate:
                # An expired session: fetch one new token (shared with concurrent requests)
                # and replay once. The replay does not count against the retry budget; its
                # budget check comes before the new token is fetched.
                may_reauthenticate = False
                attempt -= 1
                expired = token
                continue
            reason, delay = self._retry_decision(
                policy, response, failure, attempt=attempt, idempotent=idempotent
            )
            if reason is not None and delay is not None and time.monotonic() + delay <= deadline:
                logger.info(
                    "sobjects: retrying %s %s in %.2fs (%s)", method, shown_url, delay, reason
                )
                await self._hooks.emit(
                    "retry", RetryEvent(method, shown_url, attempt, delay, reason)
                )
                await anyio.sleep(delay)
                continue
            if failure is not None:
                message = (
                    f"{method} {shown_url} failed after {attempt} attempt(s): "
                    f"{type(failure).__name__}: {failure}"
                )
                if idempotent or isinstance(failure, _NEVER_SENT):
                    raise TransportError(message) from failure
                raise OutcomeUnknownError(
                    message + "; it may have been applied, so it is not sent again"
                ) from failure
            assert response is not None
            # How many attempts the answer took: a replayed DELETE that finds its record
            # already deleted was probably applied by an attempt whose answer was lost.
            response.extensions["sobjects_attempts"] = attempt
            return response

    async def _attempt(
        self, request: httpx.Request, shown_url: str, attempt: int, cost: int
    ) -> tuple[httpx.Response | None, Exception | None]:
        await self._hooks.emit("request", RequestEvent(request.method, shown_url, attempt, cost))
        started = time.monotonic()
        try:
            async with self._capacity():
                response = await self._http.send(request)
                await response.aread()
        except RuntimeError as exc:
            # httpx refuses to send on a closed client (closed while this request waited for
            # a token or a slot): nothing left this machine.
            if self._http.is_closed:
                raise ClientClosedError(
                    f"{request.method} {shown_url} was not sent: the HTTP client was closed"
                ) from exc
            raise
        except httpx.RequestError as exc:
            # TransportError (connect, read, timeout...) and the rest of httpx's request
            # failures (DecodingError, TooManyRedirects): no usable response either way.
            logger.debug("sobjects: %s %s -> %s", request.method, shown_url, type(exc).__name__)
            return None, exc
        elapsed = time.monotonic() - started
        logger.debug(
            "sobjects: %s %s -> %d (%.0f ms)",
            request.method,
            shown_url,
            response.status_code,
            elapsed * 1000,
        )
        await self._hooks.emit(
            "response",
            ResponseEvent(
                request.method, shown_url, attempt, response.status_code, elapsed, response.headers
            ),
        )
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self._api_usage = usage
            await self._hooks.emit("api_usage", ApiUsageEvent(usage))
        return response, None

    def _retry_decision(
        self,
        policy: RetryPolicy,
        response: httpx.Response | None,
        failure: Exception | None,
        *,
        attempt: int,
        idempotent: bool,
    ) -> tuple[str | None, float | None]:
        if attempt >= policy.max_attempts:
            return None, None
        if failure is not None:
            if policy.rule_for_exception(failure, idempotent=idempotent) is None:
                return None, None
            return type(failure).__name__, policy.backoff(attempt)
        assert response is not None
        status = response.status_code
        if status < 400:
            return None, None
        code = _first_error_code(response)
        if policy.rule_for_response(status, code, idempotent=idempotent) is None:
            return None, None
        delay = policy.backoff(attempt)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return f"HTTP {status}" + (f" {code}" if code else ""), delay

    # -- the API budget --------------------------------------------------------------------

    def _hold_calls(self, spending: _Spending, sent: int) -> tuple[ApiCallMeter, ...]:
        """Refuse an attempt that would break the reserve or a meter's budget, else count its
        calls as in flight and charge them to the active meters. No await in here: a
        concurrent request sees these calls held before it decides."""
        cost = spending.cost
        meters = active_meters()
        if cost == 0:
            return meters
        for meter in meters:
            if meter.budget is not None and meter.calls + cost > meter.budget:
                raise ApiBudgetError(
                    f"refusing to send {spending.describe(self, sent)}: it costs "
                    f"{_calls(cost)} and the API call "
                    f"meter's budget of {meter.budget} has {meter.budget - meter.calls} left "
                    f"({meter.calls} spent); {spending.not_sent(sent)}",
                    cost=cost,
                    usage=self._api_usage,
                    budget=meter.budget,
                    spent=meter.calls,
                )
        reserve, usage = self._api_reserve, self._api_usage
        if reserve is not None and usage is not None and not spending.reserve_exempt:
            left = usage.remaining - self._calls_in_flight
            if left - cost < reserve:
                in_flight = self._calls_in_flight
                raise ApiBudgetError(
                    f"refusing to send {spending.describe(self, sent)}: it costs "
                    f"{_calls(cost)} and the org has "
                    f"{usage.remaining} of {usage.limit} daily API calls left "
                    f"(api-usage={usage.used}/{usage.limit}"
                    + (f", {in_flight} more in flight" if in_flight else "")
                    + f"), which would eat into the api_reserve of {reserve}; "
                    + spending.not_sent(sent),
                    cost=cost,
                    usage=usage,
                    reserve=reserve,
                )
        self._calls_in_flight += cost
        for meter in meters:
            meter.calls += cost
        return meters

    def _release_calls(self, cost: int, meters: tuple[ApiCallMeter, ...], *, reached: bool) -> None:
        """The attempt is over: its calls are no longer in flight (the reading its answer
        carried counts them); refund the meters if it never reached Salesforce."""
        if cost == 0:
            return
        self._calls_in_flight -= cost
        if not reached:
            for meter in meters:
                meter.calls -= cost

    # -- tokens and concurrency ------------------------------------------------------------

    def _capacity(self) -> anyio.CapacityLimiter:
        # Created on first use: anyio primitives belong to the running event loop.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency_limit)
        return self._limiter

    async def _current_token(self) -> Token:
        token = self._token
        if token is not None:
            return token
        return await self._refresh_token(stale=None)

    async def _refresh_token(self, *, stale: Token | None) -> Token:
        """Fetch a token unless another task already replaced ``stale`` (single flight).

        Tasks that queued behind a fetch that failed get that failure instead of asking again:
        a wrong password must cost one token request, not one per waiting request (Salesforce
        locks users out after repeated failed logins).
        """
        if self._token_lock is None:
            self._token_lock = anyio.Lock()
        fetches_seen = self._token_fetches
        async with self._token_lock:
            current = self._token
            if current is not None and current is not stale:
                return current
            failure = self._token_failure
            if failure is not None and self._token_fetches != fetches_seen:
                raise failure
            if stale is not None and not self.auth.can_refresh:
                raise SessionExpiredError(401, [])
            self._token_failure = None
            try:
                token = await self.auth.fetch_token(self._post_token_form, self.base_url)
                if token.instance_url:
                    self._instance_url = _check_base_url(token.instance_url, what="instance_url")
            except SalesforceError as exc:
                self._token_failure = exc
                raise
            finally:
                # Counts finished fetches: tasks that started waiting before this one ended
                # see the count move and share its outcome.
                self._token_fetches += 1
            self._token = token
            return token

    async def _post_token_form(self, url: str, form: Mapping[str, str]) -> httpx.Response:
        _check_base_url(url, what="token_url")

        def build(_: Token | None) -> httpx.Request:
            return self._http.build_request(
                "POST",
                url,
                data=dict(form),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )

        # Asking for a token has no side effect worth protecting: treat it as idempotent.
        return await self._send_with_retries(build, idempotent=True, authenticated=False)


class _Spending:
    """What one request spends: its cost, and whether ``api_reserve`` applies to it."""

    __slots__ = ("cost", "method", "path", "reserve_exempt")

    def __init__(self, method: str, path: str, cost: int, reserve_exempt: bool) -> None:
        self.method = method
        self.path = path
        self.cost = cost
        self.reserve_exempt = reserve_exempt

    def describe(self, client: Salesforce, sent: int) -> str:
        # No query string: it may hold a SOQL query's values.
        url = client.url_for(self.path).split("?", 1)[0]
        return f"{self.method} {url}" + (f" again (after {sent} attempt(s))" if sent else "")

    @staticmethod
    def not_sent(sent: int) -> str:
        return "nothing was sent" if not sent else "this attempt was not sent"


def _calls(count: int) -> str:
    return f"{count} API call" + ("" if count == 1 else "s")


def body_of(response: httpx.Response) -> Any:
    """The decoded JSON body of a response, its text when not JSON, ``None`` when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _first_error_code(response: httpx.Response) -> str | None:
    if not response.content:
        return None
    try:
        details = parse_error_details(response.json())
    except ValueError:
        return None
    return details[0].code if details else None
