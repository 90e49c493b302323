"""The exceptions sobjects raises, keyed by Salesforce ``errorCode`` and HTTP status.

Every error raised for a Salesforce response keeps *all* the errors the response carried
(``exc.errors``: code, message, fields), not just the first; the class is picked from the
first error's code, falling back to the HTTP status.

::

    SalesforceError                         base of everything below
    ├── ConfigurationError (ValueError)     bad arguments, caught before any HTTP is spent
    │   ├── CompositeLimitError             too many subrequests / query subrequests
    │   └── ApiBudgetError                  a request would eat into api_reserve or a meter's budget
    ├── ResultNotReadyError (RuntimeError)  a subrequest's result read before execution
    ├── ClientClosedError (RuntimeError)    the client was used after aclose() / `async with`
    ├── TransportError                      no usable HTTP response (connect error, timeout, ...)
    │   └── OutcomeUnknownError             a POST was sent, no answer came: maybe applied
    ├── CollectionsRequestError             a later Collections request failed; .results, .error
    ├── AuthenticationError                 the OAuth token endpoint refused (invalid_grant, ...)
    └── ResponseError                       Salesforce answered with an error; .status_code, .errors
        ├── MultipleRecordsError            300: an external id matched several records; .urls
        ├── BadRequestError                 400 not listed below
        │   ├── MalformedQueryError         MALFORMED_QUERY, INVALID_QUERY_FILTER_OPERATOR, ...
        │   ├── InvalidFieldError           INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE
        │   ├── InvalidTypeError            INVALID_TYPE (unknown sObject in SOQL)
        │   ├── RequiredFieldMissingError   REQUIRED_FIELD_MISSING
        │   ├── FieldValidationError        FIELD_CUSTOM_VALIDATION_EXCEPTION, STRING_TOO_LONG,
        │   │                               INVALID_EMAIL_ADDRESS, MALFORMED_ID, picklist ...
        │   ├── DuplicateValueError         DUPLICATE_VALUE, DUPLICATES_DETECTED
        │   ├── RowLockError                UNABLE_TO_LOCK_ROW (retryable)
        │   └── ProcessingHaltedError       PROCESSING_HALTED, BATCH_PROCESSING_HALTED,
        │                                   ALL_OR_NONE_OPERATION_ROLLED_BACK (collateral failures)
        ├── SessionExpiredError             401 INVALID_SESSION_ID
        ├── ForbiddenError                  403
        │   └── RequestLimitExceededError   REQUEST_LIMIT_EXCEEDED, HTTP 429
        ├── NotFoundError                   404 NOT_FOUND
        │   └── EntityIsDeletedError        ENTITY_IS_DELETED
        ├── MethodNotAllowedError           405
        ├── PreconditionFailedError         412 (If-Match / If-Unmodified-Since)
        └── ServerError                     5xx (UNKNOWN_EXCEPTION, unavailable, ...)

``SubrequestErrorGroup`` (an ``ExceptionGroup`` of ``ResponseError``) is what a composite's
``autoraise`` with ``group_errors`` raises: one error per subrequest that did not succeed.

Example::

    try:
        await sf.sobject.create("Contact", {"FirstName": "Jon"})
    except RequiredFieldMissingError as exc:
        print(exc.errors[0].fields)  # ['LastName']
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sobjects.client._budget import ApiUsage
    from sobjects.client._composite import Subrequest

__all__ = [
    "ApiBudgetError",
    "AuthenticationError",
    "BadRequestError",
    "BulkJobError",
    "BulkJobTimeoutError",
    "ClientClosedError",
    "CollectionsRequestError",
    "CompositeLimitError",
    "ConfigurationError",
    "DuplicateValueError",
    "EntityIsDeletedError",
    "ErrorDetail",
    "FieldValidationError",
    "ForbiddenError",
    "InvalidFieldError",
    "InvalidTypeError",
    "MalformedQueryError",
    "MethodNotAllowedError",
    "MultipleRecordsError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PreconditionFailedError",
    "ProcessingHaltedError",
    "RequestLimitExceededError",
    "RequiredFieldMissingError",
    "ResponseError",
    "ResultNotReadyError",
    "RowLockError",
    "SalesforceError",
    "ServerError",
    "SessionExpiredError",
    "SubrequestErrorGroup",
    "TransportError",
    "error_for",
    "parse_error_details",
]


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One error object of a Salesforce error response or per-record result.

    Salesforce names the code ``errorCode`` in REST error arrays and ``statusCode`` in
    per-record save results; both land in ``code``. Keys beyond code, message and fields
    (``duplicateResult``, ``extendedErrorDetails``) are kept in ``extra``.
    """

    code: str
    message: str
    fields: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ErrorDetail:
        code = obj.get("errorCode") or obj.get("statusCode") or "UNKNOWN_ERROR"
        fields = obj.get("fields") or ()
        extra = {
            k: v
            for k, v in obj.items()
            if k not in ("errorCode", "statusCode", "message", "fields")
        }
        return cls(
            code=str(code),
            message=str(obj.get("message", "")),
            fields=tuple(str(f) for f in fields),
            extra=extra,
        )

    def __str__(self) -> str:
        where = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        return f"{self.code}: {self.message}{where}"


def parse_error_details(body: Any) -> list[ErrorDetail]:
    """Every error carried by an error body, whatever its shape.

    Handles the REST error array, a single error object, the OAuth ``{"error": ...}`` shape,
    per-record results (``{"success": false, "errors": [...]}``) and sObject Tree failures
    (``{"hasErrors": true, "results": [{"referenceId", "errors"}]}``: every error, its record's
    referenceId in ``extra``). Anything else (an HTML page from an edge proxy, say) becomes one
    ``UNKNOWN_ERROR`` holding the raw text.
    """
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            return [ErrorDetail("UNKNOWN_ERROR", text.strip()[:2000])]
    if body is None:
        return []
    if isinstance(body, Mapping):
        if isinstance(body.get("results"), list) and "hasErrors" in body:
            # An sObject Tree failure: each record's errors, naming it (extra["referenceId"]).
            return [
                ErrorDetail.from_json({**error, "referenceId": result.get("referenceId")})
                for result in body["results"]
                if isinstance(result, Mapping)
                for error in result.get("errors") or ()
                if isinstance(error, Mapping)
            ]
        if "errors" in body and isinstance(body["errors"], list):
            return [ErrorDetail.from_json(e) for e in body["errors"] if isinstance(e, Mapping)]
        if "error" in body and isinstance(body["error"], str):
            return [ErrorDetail(body["error"], str(body.get("error_description", "")))]
        return [ErrorDetail.from_json(body)]
    if isinstance(body, list):
        return [
            ErrorDetail.from_json(e)
            if isinstance(e, Mapping)
            else ErrorDetail("UNKNOWN_ERROR", str(e))
            for e in body
        ]
    return [ErrorDetail("UNKNOWN_ERROR", str(body))]


class SalesforceError(Exception):
    """Base class of every exception sobjects raises on purpose.

    ``objects``: for an error a ``Session`` flush raised, the model objects it concerns (the
    records a failed request carried, the record a subrequest error belongs to); empty
    otherwise.
    """

    objects: Sequence[Any] = ()


class ConfigurationError(SalesforceError, ValueError):
    """An argument is wrong; raised before any HTTP request is made."""


class CompositeLimitError(ConfigurationError):
    """A composite request breaks a documented limit (subrequest counts)."""


class ApiBudgetError(ConfigurationError):
    """A request was refused before any HTTP: it would eat into the client's ``api_reserve``
    (the last calls of the org's daily allowance) or take an ``ApiCallMeter`` past its budget.

    Nothing was sent, so nothing was applied. ``cost`` is what the request would have spent;
    ``usage`` the org's last reading and ``reserve`` the client's reserve (when the reserve
    refused); ``budget`` and ``spent`` the meter's (when a meter refused).
    """

    def __init__(
        self,
        message: str,
        *,
        cost: int,
        usage: ApiUsage | None = None,
        reserve: int | None = None,
        budget: int | None = None,
        spent: int | None = None,
    ) -> None:
        self.cost = cost
        self.usage = usage
        self.reserve = reserve
        self.budget = budget
        self.spent = spent
        super().__init__(message)


class ResultNotReadyError(SalesforceError, RuntimeError):
    """A subrequest's result was read before its batch was executed."""


class ClientClosedError(SalesforceError, RuntimeError):
    """The client was used after ``aclose()`` or the end of its ``async with`` block (or the
    ``httpx.AsyncClient`` passed as ``httpx_client`` was closed by its owner).

    Raised before anything is sent, so nothing was applied; a closed client cannot be reopened:
    make a new ``Salesforce``.
    """


class BulkJobError(SalesforceError):
    """A Bulk API 2.0 job ended ``Failed`` or ``Aborted`` (by someone else), as a whole.

    ``code`` is Salesforce's exception code from the job's ``errorMessage``
    (``InvalidBatch``, ``ClientInputError``, ...; ``Aborted`` for an aborted job), ``job`` the
    job's info (a ``BulkJob``) and ``result`` what the operation gathered before it gave up
    (a ``BulkIngestResult`` for ingest: every record's outcome, the failed job's records as
    not processed), or ``None``.
    """

    def __init__(self, message: str, *, code: str, job: Any, result: Any = None) -> None:
        self.code = code
        self.job = job
        self.result = result
        super().__init__(message)


class BulkJobTimeoutError(BulkJobError):
    """A Bulk API 2.0 job did not finish before the operation's ``timeout``; the client
    aborted it (``code`` is ``Timeout``)."""


class TransportError(SalesforceError):
    """No usable HTTP response: connection refused, timeout, protocol error, retries exhausted."""


class OutcomeUnknownError(TransportError):
    """A non-idempotent request (a create, a composite call) was sent but no answer came back.

    Salesforce may or may not have applied it, so sobjects does not send it again: check the
    org (query by an external id, say) before retrying by hand.
    """


class CollectionsRequestError(SalesforceError):
    """A Collections request failed as a whole after earlier requests had been applied.

    ``results`` holds the per-record results of the requests that were applied (a prefix of
    the input, in order); ``error`` is the failure of the next request. Records after
    ``len(results)`` were not applied, except perhaps those of the failed request, whose
    outcome ``error`` tells (a transport error leaves it unknown).
    """

    def __init__(self, results: Sequence[Any], error: Exception) -> None:
        self.results = list(results)
        self.error = error
        super().__init__(
            f"{len(self.results)} record(s) were processed before a Collections request "
            f"failed: {error}"
        )


class AuthenticationError(SalesforceError):
    """The OAuth token endpoint refused to issue a token.

    ``error`` and ``description`` are Salesforce's ``error`` / ``error_description``; no secret
    of the request is ever part of the message.
    """

    def __init__(self, error: str, description: str = "", *, status_code: int | None = None):
        self.error = error
        self.description = description
        self.status_code = status_code
        super().__init__(f"{error}: {description}" if description else error)


class ResponseError(SalesforceError):
    """Salesforce answered a request (or a subrequest) with an error status.

    ``errors`` holds every error of the response; ``status_code`` is the HTTP status (of the
    subrequest, for composite results); ``method`` and ``url`` say which request failed.

    When a composite's ``autoraise`` raised it for a subrequest, ``failed_subrequests`` and
    ``halted_subrequests`` tell what happened to the whole request, as on
    ``SubrequestErrorGroup``; otherwise both are empty.
    """

    failed_subrequests: tuple[Subrequest, ...] = ()
    halted_subrequests: tuple[Subrequest, ...] = ()

    def __init__(
        self,
        status_code: int,
        errors: Sequence[ErrorDetail],
        *,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.errors: list[ErrorDetail] = list(errors)
        self.method = method
        self.url = url
        super().__init__(self._describe())

    @property
    def code(self) -> str | None:
        """The first error's code, or ``None`` when the response carried none."""
        return self.errors[0].code if self.errors else None

    def _describe(self) -> str:
        where = f"{self.method} {self.url} -> " if self.method and self.url else ""
        if not self.errors:
            return f"{where}HTTP {self.status_code}"
        text = "; ".join(str(e) for e in self.errors)
        return f"{where}HTTP {self.status_code}: {text}"


class MultipleRecordsError(ResponseError):
    """HTTP 300: an external id value matched more than one record; ``urls`` lists them."""

    def __init__(self, urls: Sequence[str], *, method: str | None = None, url: str | None = None):
        self.urls = [str(u) for u in urls]
        detail = ErrorDetail(
            "MULTIPLE_RECORDS",
            f"external id matched {len(self.urls)} records: {', '.join(self.urls)}",
        )
        super().__init__(300, [detail], method=method, url=url)

    @property
    def ids(self) -> list[str]:
        """The record ids at the end of each candidate URL."""
        return [u.rstrip("/").rsplit("/", 1)[-1] for u in self.urls]


class BadRequestError(ResponseError):
    """HTTP 400 not covered by a more precise class."""


class MalformedQueryError(BadRequestError):
    """The SOQL was rejected (syntax, operator, range)."""


class InvalidFieldError(BadRequestError):
    """A field name is unknown or cannot be written."""


class InvalidTypeError(BadRequestError):
    """An sObject type named in SOQL is unknown."""


class RequiredFieldMissingError(BadRequestError):
    """A required field was not supplied."""


class FieldValidationError(BadRequestError):
    """A value was rejected by a field's type, length, picklist or a validation rule."""


class DuplicateValueError(BadRequestError):
    """A unique field or a duplicate rule rejected the record."""


class RowLockError(BadRequestError):
    """``UNABLE_TO_LOCK_ROW``: another transaction holds the record; safe to retry later."""


class ProcessingHaltedError(BadRequestError):
    """Collateral failure: the subrequest was halted or rolled back because another one failed."""


class SessionExpiredError(ResponseError):
    """HTTP 401 ``INVALID_SESSION_ID``, after the client's one re-authentication also failed."""


class ForbiddenError(ResponseError):
    """HTTP 403: permissions, or a disabled API."""


class RequestLimitExceededError(ForbiddenError):
    """``REQUEST_LIMIT_EXCEEDED`` (or HTTP 429): the org's API allowance is used up."""


class NotFoundError(ResponseError):
    """HTTP 404: no such record, resource or external id field."""


class EntityIsDeletedError(NotFoundError):
    """The record is in the recycle bin."""


class MethodNotAllowedError(ResponseError):
    """HTTP 405."""


class PreconditionFailedError(ResponseError):
    """HTTP 412 for a precondition header.

    Halted batch subrequests (also 412) raise ``ProcessingHaltedError`` instead.
    """


class ServerError(ResponseError):
    """HTTP 5xx."""


class SubrequestErrorGroup(ExceptionGroup[ResponseError]):
    """The errors of a composite's subrequests, raised by ``autoraise`` with ``group_errors``.

    ``exceptions`` holds one error per subrequest that did not succeed, in order.
    ``failed_subrequests`` are those that failed for their own reason; ``halted_subrequests``
    are those that did not run, or were rolled back, because another one failed (a batch's
    ``halt_on_error``, a composite's ``all_or_none``): their error is a
    ``ProcessingHaltedError``. The message counts both: ``60 subrequests: 1 failed, 59 not
    run``.
    """

    failed_subrequests: tuple[Subrequest, ...] = ()
    halted_subrequests: tuple[Subrequest, ...] = ()

    # The part of the group an ``except*`` clause or ``split()`` hands out keeps the counts:
    # they describe the request, not the part.
    def derive(self, excs: Sequence[ResponseError]) -> SubrequestErrorGroup:  # type: ignore[override]
        group = SubrequestErrorGroup(self.message, excs)
        group.failed_subrequests = self.failed_subrequests
        group.halted_subrequests = self.halted_subrequests
        return group


_BY_CODE: dict[str, type[ResponseError]] = {
    "INVALID_SESSION_ID": SessionExpiredError,
    "NOT_FOUND": NotFoundError,
    "ENTITY_IS_DELETED": EntityIsDeletedError,
    "MALFORMED_QUERY": MalformedQueryError,
    "MALFORMED_SEARCH": MalformedQueryError,
    "INVALID_QUERY_FILTER_OPERATOR": MalformedQueryError,
    "INVALID_QUERY_LOCATOR": MalformedQueryError,
    "NUMBER_OUTSIDE_VALID_RANGE": MalformedQueryError,
    "INVALID_FIELD": InvalidFieldError,
    "INVALID_FIELD_FOR_INSERT_UPDATE": InvalidFieldError,
    "INVALID_TYPE": InvalidTypeError,
    "REQUIRED_FIELD_MISSING": RequiredFieldMissingError,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": FieldValidationError,
    "FIELD_INTEGRITY_EXCEPTION": FieldValidationError,
    "STRING_TOO_LONG": FieldValidationError,
    "INVALID_EMAIL_ADDRESS": FieldValidationError,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": FieldValidationError,
    "INVALID_CROSS_REFERENCE_KEY": FieldValidationError,
    "MALFORMED_ID": FieldValidationError,
    "JSON_PARSER_ERROR": FieldValidationError,
    "DUPLICATE_VALUE": DuplicateValueError,
    "DUPLICATES_DETECTED": DuplicateValueError,
    "UNABLE_TO_LOCK_ROW": RowLockError,
    "PROCESSING_HALTED": ProcessingHaltedError,
    "BATCH_PROCESSING_HALTED": ProcessingHaltedError,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": ProcessingHaltedError,
    "REQUEST_LIMIT_EXCEEDED": RequestLimitExceededError,
    "METHOD_NOT_ALLOWED": MethodNotAllowedError,
}

_BY_STATUS: dict[int, type[ResponseError]] = {
    400: BadRequestError,
    401: SessionExpiredError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    412: PreconditionFailedError,
    429: RequestLimitExceededError,
}

# Codes whose class depends on nothing but the code, whatever the status (a halted batch
# subrequest is 412, a rolled-back composite subrequest 400: both are collateral failures).
_CODE_WINS_OVER_STATUS = frozenset(
    {"BATCH_PROCESSING_HALTED", "PROCESSING_HALTED", "ALL_OR_NONE_OPERATION_ROLLED_BACK"}
)


def error_for(
    status_code: int,
    body: Any,
    *,
    method: str | None = None,
    url: str | None = None,
) -> ResponseError:
    """Build the exception for an error response (status and parsed or raw body).

    >>> error_for(404, [{"errorCode": "NOT_FOUND", "message": "gone"}]).__class__.__name__
    'NotFoundError'
    """
    if status_code == 300:
        urls = body if isinstance(body, list) else []
        return MultipleRecordsError([str(u) for u in urls], method=method, url=url)
    details = parse_error_details(body)
    code = details[0].code if details else None
    cls: type[ResponseError] | None = None
    if code is not None:
        cls = _BY_CODE.get(code)
        # A code only refines the status class; it never moves a 5xx into a 4xx class.
        if cls is not None and code not in _CODE_WINS_OVER_STATUS:
            status_cls = _status_class(status_code)
            if not issubclass(cls, status_cls) and status_cls is not ResponseError:
                cls = status_cls if status_code >= 500 else cls
    if cls is None:
        cls = _status_class(status_code)
    return cls(status_code, details, method=method, url=url)


def _status_class(status_code: int) -> type[ResponseError]:
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, ResponseError)
