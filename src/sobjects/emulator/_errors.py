"""Errors the local org answers with, in Salesforce's shapes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

__all__ = ["ApiError", "error_item", "unknown_exception"]


def error_item(code: str, message: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """One REST error object: ``{"message", "errorCode"[, "fields"]}``."""
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = list(fields)
    return item


def unknown_exception() -> tuple[str, str]:
    """Salesforce's answer to its own bugs: UNKNOWN_EXCEPTION with a fresh ErrorId."""
    return (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        f"{secrets.randbelow(10**10)}-{secrets.randbelow(10**5)} ({secrets.randbelow(10**10)})",
    )


class ApiError(Exception):
    """A request the org refuses: an HTTP status and a REST error array.

    ``as_save_errors()`` gives the per-record shape (``statusCode`` instead of ``errorCode``)
    used inside sObject Collections results.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Sequence[str] | None = None,
        *,
        extra: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.status = status
        self.errors = [error_item(code, message, fields), *extra]
        super().__init__(f"{status} {code}: {message}")

    @property
    def code(self) -> str:
        return str(self.errors[0]["errorCode"])

    def as_save_errors(self) -> list[dict[str, Any]]:
        return [
            {
                "statusCode": e["errorCode"],
                "message": e["message"],
                "fields": list(e.get("fields") or []),
            }
            for e in self.errors
        ]

    @classmethod
    def not_found(cls) -> ApiError:
        return cls(404, "NOT_FOUND", "The requested resource does not exist")
