"""The org's controls over HTTP: ``/__emulator__/faults``, ``/__emulator__/latency``,
``/__emulator__/usage`` and ``/__emulator__/schema`` (define objects and fields).

They change how the org misbehaves, so they are guarded:

- the org's admin token (``org.admin_token``, printed by ``sobjects emulator``) as a Bearer
  token, never an API token: the token endpoint hands those to anyone;
- ``Content-Type: application/json`` on every POST (415 otherwise): a web page can send a
  form or ``text/plain`` POST to 127.0.0.1 without asking, but not JSON;
- a JSON object with known keys only, each value checked by the Python API itself (a
  rehearsal on a scratch ``Faults`` first, so a body with one bad value changes nothing).

Errors answer ``{"error": "..."}``: these endpoints are the emulator's own, not Salesforce's.
"""

from __future__ import annotations

import inspect
import json
import math
import secrets
from collections.abc import Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sobjects.emulator._faults import Faults

if TYPE_CHECKING:
    from sobjects.emulator._org import LocalOrg

__all__ = ["FAULT_KINDS", "admin_endpoint"]

MAX_BODY = 64 * 1024  # a control body is a few keys
MAX_SCHEMA_BODY = 4 * 1024 * 1024  # describes of a few dozen objects with all their fields
MAX_LATENCY_MS = 60_000

_FAULT_METHODS = (
    "delay_next",
    "drop_next",
    "throttle_next",
    "fail_next",
    "lock_record",
    "lock_creates",
    "fail_subrequests",
    "drop_answer_next",
    "fail_token_next",
)


def _kind(name: str) -> tuple[str, frozenset[str], frozenset[str]]:
    """(the argument a bare value stands for, the arguments, the required ones) of a
    ``Faults`` method, read from its signature so HTTP and Python never drift apart."""
    parameters = list(inspect.signature(getattr(Faults, name)).parameters.values())[1:]
    return (
        parameters[0].name,
        frozenset(p.name for p in parameters),
        frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty),
    )


# HTTP name (the Python method's) -> its bare argument, its arguments, the required ones.
FAULT_KINDS = {name: _kind(name) for name in _FAULT_METHODS}
# Names of the first version of this API, still taken: "lock" is lock_record, and the flat
# options "status" (of a bare fail_next) and "times" (of a bare lock).
_ALIASES = {"lock": "lock_record"}
_FLAT_OPTIONS = {"status": ("fail_next", "status"), "times": ("lock_record", "times")}


async def admin_endpoint(org: LocalOrg, request: Request, path: str) -> Response:
    if not _is_admin(org, request.headers.get("authorization")):
        return _error(
            401,
            "the emulator's controls need the org's admin token: 'Authorization: Bearer "
            "<admin_token>' (printed by `sobjects emulator`; org.admin_token in Python)",
            {"WWW-Authenticate": 'Bearer realm="sobjects local org controls"'},
        )
    name = path.removeprefix("/__emulator__").strip("/")
    method = request.method
    if (name, method) == ("usage", "GET"):
        return _json(200, {"used": org.api_usage, "limit": org.daily_api_limit})
    if (name, method) == ("faults", "GET"):
        return _json(200, org.faults.pending())
    if (name, method) not in (("faults", "POST"), ("latency", "POST"), ("schema", "POST")):
        return _error(404, f"no control {method} {path}")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "the controls take 'Content-Type: application/json' bodies only")
    limit = MAX_SCHEMA_BODY if name == "schema" else MAX_BODY
    length = request.headers.get("content-length", "")
    if (
        length.isascii() and length.isdigit() and int(length) > limit
    ):  # refused before reading a byte of it
        return _error(413, f"a {name} body is at most {limit} bytes")
    raw = b""
    async with aclosing(request.stream()) as chunks:
        async for chunk in chunks:
            raw += chunk
            if len(raw) > limit:
                return _error(413, f"a {name} body is at most {limit} bytes")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return _error(400, "the body must be a JSON object")
    if not isinstance(data, dict):
        return _error(400, f"the body must be a JSON object, got {type(data).__name__}")
    if name == "schema":
        return _schema(org, data)
    try:
        if name == "latency":
            _unknown_keys(data, {"ms"})
            if "ms" not in data:
                raise ValueError('latency takes {"ms": milliseconds}')
            org.faults.latency = _milliseconds(data["ms"]) / 1000
            return _json(200, {"ok": True, "latency_ms": org.faults.latency * 1000})
        clear, calls = fault_calls(data)
        rehearsal = Faults(org.schema)
        for method_name, kwargs in calls:
            getattr(rehearsal, method_name)(**kwargs)
    except ValueError as exc:
        return _error(400, str(exc))
    if clear:
        org.faults.clear()
    for method_name, kwargs in calls:
        getattr(org.faults, method_name)(**kwargs)
    return _json(200, {"ok": True})


def _schema(org: LocalOrg, data: Mapping[str, Any]) -> Response:
    """``{"objects": [describe, ...], "fields": {"Account": [field, ...]}}``, all or nothing."""
    from sobjects.emulator._shape import apply_schema_body
    from sobjects.emulator._store import StoreClosed

    try:
        defined = apply_schema_body(org, data)
    except ValueError as exc:
        return _error(400, str(exc))
    except StoreClosed as exc:
        return _error(503, str(exc))
    return _json(200, {"ok": True, **defined})


def fault_calls(data: Mapping[str, Any]) -> tuple[bool, list[tuple[str, dict[str, Any]]]]:
    """``(clear, [(Faults method, keyword arguments), ...])`` for a ``/faults`` body.

    Each fault is ``"name": value`` (the count, or what the method's first argument is) or
    ``"name": {arguments by their Python names}``. Only the shape is checked here; values
    are checked by the methods.
    """
    known = {*FAULT_KINDS, *_ALIASES, *_FLAT_OPTIONS, "clear"}
    _unknown_keys(data, known)
    clear = data.get("clear", False)
    if not isinstance(clear, bool):
        raise ValueError(f"clear must be true or false, got {clear!r}")
    calls: list[tuple[str, dict[str, Any]]] = []
    given: dict[str, str] = {}  # kind -> the key that set it
    for key, value in data.items():
        if key == "clear" or key in _FLAT_OPTIONS:
            continue
        kind = _ALIASES.get(key, key)
        if kind in given:
            raise ValueError(f"{given[kind]} and {key} are the same fault: give one")
        given[kind] = key
        bare, allowed, required = FAULT_KINDS[kind]
        if isinstance(value, dict):
            _unknown_keys(value, allowed, where=f"{key}: ")
            kwargs = dict(value)
        else:
            kwargs = {bare: value}
        for option, (owner, argument) in _FLAT_OPTIONS.items():
            if option in data and owner == kind:
                if isinstance(value, dict):
                    raise ValueError(f"give {option} inside the {key} object")
                kwargs[argument] = data[option]
        missing = sorted(required - set(kwargs))
        if missing:
            raise ValueError(f"{key} needs {', '.join(missing)}")
        calls.append((kind, kwargs))
    for option, (owner, _) in _FLAT_OPTIONS.items():
        if option in data and owner not in given:
            raise ValueError(f"{option} goes with {owner}")
    return clear, calls


def _is_admin(org: LocalOrg, header: str | None) -> bool:
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        token.strip().encode(), org.admin_token.encode()
    )


def _unknown_keys(
    data: Mapping[str, Any], known: set[str] | frozenset[str], where: str = ""
) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ValueError(
            f"{where}unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _milliseconds(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= MAX_LATENCY_MS
    ):
        raise ValueError(f"ms must be a number from 0 to {MAX_LATENCY_MS}, got {value!r}")
    return float(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard token '{name}'")


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json(status, {"error": message}, headers)
