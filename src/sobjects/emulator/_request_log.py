"""An opt-in log of the requests a local org answers: one JSON line each.

``{"time", "method", "path", "status", "duration_ms", "api_calls"}``: never bodies, headers
or the query string (a SOQL query, a body or a token may hold personal data or secrets).
``api_calls`` is how much the org's API usage grew while the request ran (with concurrent
requests it may include another's).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import IO, TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from sobjects.emulator._org import LocalOrg

__all__ = ["RequestLog"]


class RequestLog:
    """ASGI wrapper of ``org.app`` writing a line to ``out`` per HTTP request."""

    def __init__(self, org: LocalOrg, app: ASGIApp, out: IO[str]) -> None:
        self.org = org
        self.app = app
        self.out = out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        usage = self.org.api_usage
        status = 500  # what the client sees if the app raises before answering
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            line = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "api_calls": max(0, self.org.api_usage - usage),
            }
            self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.out.flush()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Written before the answer's last byte: a client that has its answer finds
                # the line in the log.
                log()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not logged:  # the app raised or dropped the connection mid-answer
                log()
