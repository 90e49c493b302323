"""Request bodies under hostile input: a size cap enforced while reading, JSON with a depth cap.

* Size: Salesforce refuses a (non-multipart) REST message over 50 MB of text, with the
  ``EXCEEDED_MAX_SIZE_REQUEST`` exception code ("The size of the message sent to the API
  exceeded 50 MB."). The cap is checked against ``Content-Length`` first and then while the
  body streams in, so an oversized body is never buffered whole, whether it arrives over a
  socket (uvicorn) or in-process (httpx's ASGI transport).
* Depth: Python's JSON parser recurses, and a body nested ~1,000 deep raised
  ``RecursionError`` (a plain-text 500). Bodies nested deeper than :data:`MAX_JSON_DEPTH` are
  refused with ``JSON_PARSER_ERROR`` before any handler walks them (see docs/decisions.md).
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

from starlette.requests import Request

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "BadJson",
    "BodyTooLarge",
    "parse_json",
    "read_body",
]

MAX_BODY_BYTES = 50 * 1024 * 1024
# The deepest body Salesforce documents is an sObject Tree of 5 levels (about 16 JSON levels);
# 100 leaves room for anything legitimate and keeps every recursive walk of a body (reference
# resolution, copies, encoding) far from Python's recursion limit, on any thread.
MAX_JSON_DEPTH = 100


class BodyTooLarge(Exception):
    """The request body is over :data:`MAX_BODY_BYTES` (nothing past the cap was read)."""

    message = "The size of the message sent to the API exceeded 50 MB."


class BadJson(ValueError):
    """The body is not JSON Salesforce would parse; ``str(exc)`` is the message to answer."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or ``BodyTooLarge`` as soon as more than ``limit`` bytes are
    announced or received."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = bytearray()
    # Closed explicitly: a generator left open when the cap cuts the loop short is finalised
    # by the garbage collector, which trio reports as an error.
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            chunks += chunk
            if len(chunks) > limit:
                raise BodyTooLarge
    return bytes(chunks)


def parse_json(raw: bytes | str) -> Any:
    """A JSON document as Salesforce's parser takes it: no ``NaN``/``Infinity``, nesting at
    most :data:`MAX_JSON_DEPTH` deep; ``BadJson`` otherwise.

    >>> parse_json(b'{"a": [1, {"b": null}]}')
    {'a': [1, {'b': None}]}
    >>> parse_json("[" * 101 + "]" * 101)
    Traceback (most recent call last):
    ...
    sobjects.emulator._body.BadJson: JSON nesting depth exceeds the maximum allowed (100)
    """
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:  # far deeper than the cap: the parser itself gave up
        raise BadJson(_too_deep()) from None
    except ValueError as exc:
        raise BadJson(f"Unexpected character: {exc}") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise BadJson(_too_deep())
    return value


def _too_deep() -> str:
    return f"JSON nesting depth exceeds the maximum allowed ({MAX_JSON_DEPTH})"


def _reject_constant(name: str) -> Any:
    """``NaN`` / ``Infinity`` are not JSON: Salesforce's parser refuses them."""
    raise ValueError(f"non-standard token '{name}'")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (an explicit stack: no
    recursion on hostile input)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
