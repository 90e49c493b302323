"""A canned Salesforce behind ``httpx.MockTransport``, shared by sobjects and aiosalesforce.

The handler does as little as it can, and the same for both clients: it parses no request
body as JSON (but for a fallback, should a Composite body be laid out unexpectedly).

- Composite Batch: the precomputed per-subrequest results, joined (subrequests counted with
  ``body.count(b'"method"')``).
- Composite carrying sObject Collections: for each collection subrequest one success per
  record (records counted with ``count(b'"attributes"')`` between ``"referenceId"``
  markers); a bare Collections create likewise.
- A query: the one precomputed page.

Every created record gets its own id. Measured, the handler costs about 0.6 us per record
on the Composite Batch paths (either client) and 0.1 us on the Collections path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from _data import API_VERSION, PREFIXES, record_id
from aiosalesforce import Salesforce as AioSalesforce
from aiosalesforce.auth import Auth as AioAuth

from sobjects import Salesforce
from sobjects.auth import StaticToken

BASE_URL = "https://bench.my.salesforce.com"  # aiosalesforce accepts only *.my.salesforce.com
TOKEN = "00D5e0000000001!bench"
_HEADERS = [(b"content-type", b"application/json;charset=UTF-8")]

_BATCH_ITEM = b'{"statusCode":201,"result":{"id":"%s","success":true,"errors":[]}}'
_COLLECTION_ITEM = b'{"id":"%s","success":true,"errors":[]}'
_COMPOSITE_ITEM = b'{"body":[%s],"httpHeaders":{},"httpStatusCode":200,"referenceId":"%s"}'


class CannedOrg:
    """Answers writes and one query page; counts requests.

    ``records`` is how many created ids to precompute (``prebuilt=False`` formats them per
    request instead: for the RSS children, where the CPU is not measured and a slab of
    precomputed answers would only inflate the resident set). ``delay`` makes every request
    take that long (an async handler sleeping with anyio).
    """

    def __init__(
        self,
        records: int = 0,
        *,
        page: bytes | None = None,
        prebuilt: bool = True,
        delay: float = 0.0,
    ) -> None:
        self.page = page
        self.delay = delay
        self.requests = 0
        self.subrequests = 0
        self._cursor = 0
        self._capacity = records
        self._ids: list[bytes] | None = None
        self._batch: list[bytes] = []
        self._collection: list[bytes] = []
        if prebuilt and records:
            self._ids = [record_id(PREFIXES["Contact"], i).encode() for i in range(records)]
            self._batch = [_BATCH_ITEM % i for i in self._ids]
            self._collection = [_COLLECTION_ITEM % i for i in self._ids]

    def reset(self) -> None:
        self.requests = 0
        self.subrequests = 0
        self._cursor = 0

    def _take(self, n: int, items: list[bytes], template: bytes) -> bytes:
        start = self._cursor
        self._cursor = end = start + n
        if self._ids is not None and end <= len(items):
            return b",".join(items[start:end])
        return b",".join(
            template % record_id(PREFIXES["Contact"], i).encode() for i in range(start, end)
        )

    def _composite(self, body: bytes) -> bytes:
        parts = body.split(b'"referenceId":"')
        if len(parts) < 2 or b'"attributes"' in parts[0]:
            return self._composite_parsed(body)  # an unexpected layout: parse it after all
        answers = []
        for part in parts[1:]:
            ref = part[: part.index(b'"')]
            n = part.count(b'"attributes"')
            self.subrequests += n
            answers.append(
                _COMPOSITE_ITEM % (self._take(n, self._collection, _COLLECTION_ITEM), ref)
            )
        return b'{"compositeResponse":[%s]}' % b",".join(answers)

    def _composite_parsed(self, body: bytes) -> bytes:
        answers = []
        for sub in json.loads(body)["compositeRequest"]:
            n = len((sub.get("body") or {}).get("records") or [])
            self.subrequests += n
            answers.append(
                _COMPOSITE_ITEM
                % (self._take(n, self._collection, _COLLECTION_ITEM), sub["referenceId"].encode())
            )
        return b'{"compositeResponse":[%s]}' % b",".join(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        path = request.url.path
        if path.endswith("/composite/batch"):
            n = request.content.count(b'"method"')
            self.subrequests += n
            content = b'{"hasErrors":false,"results":[%s]}' % self._take(
                n, self._batch, _BATCH_ITEM
            )
        elif path.endswith("/composite"):
            content = self._composite(request.content)
        elif path.endswith("/composite/sobjects") and request.method == "POST":
            n = request.content.count(b'"attributes"')  # a bare sObject Collections create
            self.subrequests += n
            content = b"[%s]" % self._take(n, self._collection, _COLLECTION_ITEM)
        elif path.rstrip("/").endswith(("/query", "/queryAll")) and self.page is not None:
            content = self.page
        else:
            return httpx.Response(
                404,
                headers=_HEADERS,
                content=b'[{"errorCode":"NOT_FOUND","message":"not canned: %s"}]' % path.encode(),
            )
        return httpx.Response(200, headers=_HEADERS, content=content)

    async def handle_slowly(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.delay)
        return self.handle(request)

    def transport(self) -> httpx.MockTransport:
        handler: Callable[[httpx.Request], Any] = self.handle_slowly if self.delay else self.handle
        return httpx.MockTransport(handler)


@asynccontextmanager
async def sobjects_client(canned: CannedOrg) -> AsyncIterator[Salesforce]:
    """``sobjects.Salesforce`` on the canned transport (StaticToken: no token request)."""
    async with httpx.AsyncClient(transport=canned.transport(), base_url=BASE_URL) as http:
        yield Salesforce(BASE_URL, auth=StaticToken(TOKEN), httpx_client=http)


class _StaticAuth(AioAuth):
    """aiosalesforce with a fixed token (its Auth base class caches it after one call)."""

    async def _acquire_new_access_token(self, client: AioSalesforce) -> str:
        return TOKEN


@asynccontextmanager
async def aio_client(canned: CannedOrg) -> AsyncIterator[AioSalesforce]:
    """aiosalesforce on the same canned transport (its documented ``httpx_client=``)."""
    async with httpx.AsyncClient(transport=canned.transport()) as http:
        yield AioSalesforce(
            httpx_client=http, base_url=BASE_URL, auth=_StaticAuth(), version=API_VERSION
        )
