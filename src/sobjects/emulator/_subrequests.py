"""What the composite resources share: subrequest URLs and ``@{ref.path}`` references.

Composite, Composite Batch and Composite Graph take subrequests (a method, a URL under
``/services/data/vNN.N/`` and a body); Composite and Composite Graph also let a subrequest use
an earlier one's result through references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sobjects.emulator._errors import ApiError, error_item

__all__ = [
    "API_VERSIONS",
    "MIN_BATCH_VERSION",
    "REFERENCE_ID_RE",
    "REFERENCE_RE",
    "Rollback",
    "UnresolvedReference",
    "check_subrequest",
    "composite_item",
    "invalid_reference",
    "lookup",
    "parse_subrequest_url",
    "reference_root",
    "resolve",
    "resolve_text",
    "rolled_back",
]

# The API versions the org serves. Spring '26 is 66.0; every release adds one.
API_VERSIONS = [f"{n}.0" for n in range(31, 67)]
MIN_BATCH_VERSION = 34.0  # Composite Batch appeared in 34.0
REFERENCE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
REFERENCE_RE = re.compile(r"@\{([^}]*)\}")


class Rollback(Exception):
    """Internal: unwinds a transaction after a failure in an all-or-none request."""


def reference_root(expression: str) -> str:
    """The referenceId a reference expression starts with: ``acct`` in ``acct.Owner.Id``."""
    return re.split(r"[.\[]", expression, maxsplit=1)[0]


class UnresolvedReference(Exception):
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.ref = reference_root(expression)
        super().__init__(expression)

    def __str__(self) -> str:
        return self.expression


def rolled_back() -> list[dict[str, Any]]:
    """The error body of a subrequest undone because another one of its transaction failed."""
    return [
        error_item(
            "PROCESSING_HALTED",
            "The transaction was rolled back since another operation in the same transaction "
            "failed.",
        )
    ]


def invalid_reference(missing: UnresolvedReference) -> list[dict[str, Any]]:
    """The error body of a subrequest whose ``@{...}`` reference has no value."""
    return [
        error_item(
            "PROCESSING_HALTED",
            f"Invalid reference specified. No value for {missing} found in {missing.ref}. "
            f"Provided referenceId ('{missing.ref}') ...",
        )
    ]


def lookup(expression: str, results: Mapping[str, Any]) -> Any:
    """The value at ``ref.path[0].Field`` in earlier results (case-sensitive, like Salesforce)."""
    tokens = re.findall(r"[^.\[\]]+|\[\d+\]", expression)
    if not tokens or tokens[0] not in results:
        raise UnresolvedReference(expression)
    value: Any = results[tokens[0]]
    for token in tokens[1:]:
        if token.startswith("["):
            index = int(token[1:-1])
            if not isinstance(value, list) or index >= len(value):
                raise UnresolvedReference(expression)
            value = value[index]
        else:
            if not isinstance(value, Mapping) or token not in value:
                raise UnresolvedReference(expression)
            value = value[token]
    return value


def resolve_text(text: str, results: Mapping[str, Any], *, url_encode: bool = False) -> Any:
    whole = REFERENCE_RE.fullmatch(text)
    if whole and not url_encode:
        return lookup(whole.group(1), results)  # a whole-value reference keeps its type

    def substitute(match: re.Match[str]) -> str:
        value = lookup(match.group(1), results)
        text_value = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
        return quote(text_value, safe="") if url_encode else text_value

    return REFERENCE_RE.sub(substitute, text)


def resolve(value: Any, results: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return resolve_text(value, results) if "@{" in value else value
    if isinstance(value, Mapping):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    return value


def composite_item(
    ref: str, status: int, body: Any, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "body": body,
        "httpHeaders": dict(headers or {}),
        "httpStatusCode": status,
        "referenceId": ref,
    }


def parse_subrequest_url(url: str, *, batch: bool) -> tuple[str, str, dict[str, str]]:
    """``(version, path after vNN.N/, query)`` of a subrequest URL; 400 if it is not one.

    Batch takes ``vNN.N/...`` (or the full ``/services/data/vNN.N/...``); Composite only the
    full form.
    """
    parts = urlsplit(url)
    path = parts.path
    prefix = "/services/data/"
    if batch:
        path = path.lstrip("/")
        if path.startswith("services/data/"):
            path = path[len("services/data/") :]
    elif path.startswith(prefix):
        path = path[len(prefix) :]
    else:
        raise ApiError(400, "INVALID_URL", f"The subrequest URL must start with {prefix}vNN.N/")
    version_part, _, rest = path.partition("/")
    if not re.fullmatch(r"v\d+\.\d", version_part):
        raise ApiError(
            400, "INVALID_URL", f"The subrequest URL must name an API version (vNN.N): {url}"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return version_part[1:], rest.strip("/"), query


def check_subrequest(version: str, path: str, outer_version: str, *, batch: bool) -> None:
    """400 for a subrequest the envelope may not hold: an API version the org does not serve,
    above the outer request's (or below 34.0 in a batch), or a nested Composite / Batch
    (or, in a batch, an sObject Collections) request."""
    code = "INVALID_BATCH_REQUEST" if batch else "INVALID_API_INPUT"
    kind = "batch" if batch else "composite"
    lowest = MIN_BATCH_VERSION if batch else float(API_VERSIONS[0])
    if version not in API_VERSIONS or not lowest <= float(version) <= float(outer_version):
        raise ApiError(
            400,
            code,
            f"The API version of a {kind} subrequest (v{version}) must be between "
            f"v{lowest:.1f} and the {kind} request's own (v{outer_version})",
        )
    parts = [unquote(p) for p in path.split("/")]
    if parts[0] == "composite" and (batch or parts[1:2] != ["sobjects"]):
        raise ApiError(
            400,
            code,
            f"A {kind} subrequest cannot be a {'/'.join(parts[:2])} request",
        )
