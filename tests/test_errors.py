"""Mapping Salesforce error responses to exception classes."""

from __future__ import annotations

from typing import Any

import pytest

from sobjects.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    DuplicateValueError,
    EntityIsDeletedError,
    ErrorDetail,
    FieldValidationError,
    ForbiddenError,
    InvalidFieldError,
    InvalidTypeError,
    MalformedQueryError,
    MethodNotAllowedError,
    MultipleRecordsError,
    NotFoundError,
    PreconditionFailedError,
    ProcessingHaltedError,
    RequestLimitExceededError,
    RequiredFieldMissingError,
    ResponseError,
    RowLockError,
    SalesforceError,
    ServerError,
    SessionExpiredError,
    SubrequestErrorGroup,
    error_for,
    parse_error_details,
)


def rest_error(code: str, message: str = "msg", **extra: Any) -> list[dict[str, Any]]:
    return [{"errorCode": code, "message": message, **extra}]


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "NOT_FOUND", NotFoundError),
        (404, "ENTITY_IS_DELETED", EntityIsDeletedError),
        (400, "MALFORMED_QUERY", MalformedQueryError),
        (400, "INVALID_QUERY_FILTER_OPERATOR", MalformedQueryError),
        (400, "INVALID_FIELD", InvalidFieldError),
        (400, "INVALID_FIELD_FOR_INSERT_UPDATE", InvalidFieldError),
        (400, "INVALID_TYPE", InvalidTypeError),
        (400, "REQUIRED_FIELD_MISSING", RequiredFieldMissingError),
        (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", FieldValidationError),
        (400, "STRING_TOO_LONG", FieldValidationError),
        (400, "MALFORMED_ID", FieldValidationError),
        (400, "DUPLICATE_VALUE", DuplicateValueError),
        (400, "DUPLICATES_DETECTED", DuplicateValueError),
        (400, "UNABLE_TO_LOCK_ROW", RowLockError),
        (400, "PROCESSING_HALTED", ProcessingHaltedError),
        (400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", ProcessingHaltedError),
        (412, "BATCH_PROCESSING_HALTED", ProcessingHaltedError),
        (401, "INVALID_SESSION_ID", SessionExpiredError),
        (403, "REQUEST_LIMIT_EXCEEDED", RequestLimitExceededError),
        (403, "INSUFFICIENT_ACCESS", ForbiddenError),
        (405, "METHOD_NOT_ALLOWED", MethodNotAllowedError),
        (412, "PRECONDITION_FAILED", PreconditionFailedError),
        (500, "UNKNOWN_EXCEPTION", ServerError),
        (503, "SERVER_UNAVAILABLE", ServerError),
        (400, "SOME_NEW_CODE", BadRequestError),
        (418, "TEAPOT", ResponseError),
    ],
)
def test_error_for_maps_codes_and_statuses(
    status: int, code: str, cls: type[ResponseError]
) -> None:
    exc = error_for(status, rest_error(code, "it failed"))
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.code == code
    assert exc.errors == [ErrorDetail(code, "it failed")]


def test_class_tree() -> None:
    assert issubclass(EntityIsDeletedError, NotFoundError)
    assert issubclass(RequestLimitExceededError, ForbiddenError)
    cls: type[ResponseError]
    for cls in (
        MalformedQueryError,
        InvalidFieldError,
        InvalidTypeError,
        RequiredFieldMissingError,
        FieldValidationError,
        DuplicateValueError,
        RowLockError,
        ProcessingHaltedError,
    ):
        assert issubclass(cls, BadRequestError)
    for cls in (MultipleRecordsError, BadRequestError, SessionExpiredError, ServerError):
        assert issubclass(cls, ResponseError)
    assert issubclass(ResponseError, SalesforceError)
    assert issubclass(AuthenticationError, SalesforceError)
    assert issubclass(ConfigurationError, ValueError)
    # Still the RuntimeError httpx raised before sobjects had its own class for it.
    assert issubclass(ClientClosedError, SalesforceError)
    assert issubclass(ClientClosedError, RuntimeError)


@pytest.mark.parametrize(
    ("status", "body"),
    [(429, None), (429, ""), (429, rest_error("SOME_THROTTLE")), (429, "<html>slow</html>")],
)
def test_429_is_request_limit_exceeded(status: int, body: Any) -> None:
    assert type(error_for(status, body)) is RequestLimitExceededError


def test_status_alone_picks_the_class() -> None:
    assert type(error_for(404, None)) is NotFoundError
    assert type(error_for(401, None)) is SessionExpiredError
    assert type(error_for(502, b"")) is ServerError
    assert error_for(404, None).errors == []
    assert error_for(404, None).code is None


def test_a_4xx_code_does_not_turn_a_5xx_into_a_client_error() -> None:
    exc = error_for(500, rest_error("UNABLE_TO_LOCK_ROW"))
    assert type(exc) is ServerError
    assert exc.code == "UNABLE_TO_LOCK_ROW"


def test_duplicates_detected_keeps_the_duplicate_result() -> None:
    duplicate_result = {
        "allowSave": True,
        "duplicateRule": "Standard_Contact_Duplicate_Rule",
        "duplicateRuleEntityType": "Contact",
        "errorMessage": "Use one of these records?",
        "matchResults": [
            {
                "entityType": "Contact",
                "matchRecords": [
                    {"matchConfidence": 100.0, "record": {"Id": "003aj000002oTldAAE"}}
                ],
                "size": 1,
                "success": True,
            }
        ],
    }
    body = [
        {
            "errorCode": "DUPLICATES_DETECTED",
            "message": "Use one of these records?",
            "duplicateResult": duplicate_result,
        }
    ]
    exc = error_for(400, body)
    assert isinstance(exc, DuplicateValueError)
    assert exc.errors[0].extra == {"duplicateResult": duplicate_result}
    assert exc.errors[0].fields == ()


def test_every_error_is_kept_in_order() -> None:
    body = [
        {"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required: [Name]", "fields": ["Name"]},
        {"errorCode": "STRING_TOO_LONG", "message": "too long", "fields": ["Site", "Phone"]},
        {"errorCode": "INVALID_EMAIL_ADDRESS", "message": "bad email", "fields": ["Email"]},
    ]
    exc = error_for(400, body)
    assert isinstance(exc, RequiredFieldMissingError)  # the first error picks the class
    assert [(e.code, e.fields) for e in exc.errors] == [
        ("REQUIRED_FIELD_MISSING", ("Name",)),
        ("STRING_TOO_LONG", ("Site", "Phone")),
        ("INVALID_EMAIL_ADDRESS", ("Email",)),
    ]
    assert str(exc) == (
        "HTTP 400: REQUIRED_FIELD_MISSING: Required: [Name] (fields: Name); "
        "STRING_TOO_LONG: too long (fields: Site, Phone); "
        "INVALID_EMAIL_ADDRESS: bad email (fields: Email)"
    )


@pytest.mark.parametrize(
    "body",
    [
        "<html><head><title>502 Bad Gateway</title></head></html>",
        b"<html><head><title>502 Bad Gateway</title></head></html>",
    ],
)
def test_non_json_body_is_kept_as_text(body: str | bytes) -> None:
    exc = error_for(502, body)
    assert type(exc) is ServerError
    assert exc.errors == [
        ErrorDetail("UNKNOWN_ERROR", "<html><head><title>502 Bad Gateway</title></head></html>")
    ]
    assert "502 Bad Gateway" in str(exc)


def test_very_long_text_body_is_truncated() -> None:
    exc = error_for(503, "x" * 10_000)
    assert exc.errors[0].message == "x" * 2000


def test_json_text_is_decoded() -> None:
    exc = error_for(404, '[{"errorCode":"NOT_FOUND","message":"gone"}]')
    assert isinstance(exc, NotFoundError)
    assert exc.errors == [ErrorDetail("NOT_FOUND", "gone")]


def test_per_record_status_code_shape() -> None:
    result = {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            },
            {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Phone is required",
                "fields": [],
                "extendedErrorDetails": None,
            },
        ],
    }
    details = parse_error_details(result)
    assert details == [
        ErrorDetail("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",)),
        ErrorDetail(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Phone is required",
            (),
            {"extendedErrorDetails": None},
        ),
    ]
    assert isinstance(error_for(400, result), RequiredFieldMissingError)
    # A bare error object, too.
    single = {"statusCode": "DUPLICATE_VALUE", "message": "dup", "fields": ["Ext__c"]}
    assert parse_error_details(single) == [ErrorDetail("DUPLICATE_VALUE", "dup", ("Ext__c",))]


def test_sobject_tree_failure_shape() -> None:
    # salesforce-rest.md section 7: every record named keeps its errors and its referenceId.
    body = {
        "hasErrors": True,
        "results": [
            {
                "referenceId": "ref2",
                "errors": [
                    {
                        "statusCode": "INVALID_EMAIL_ADDRESS",
                        "message": "Email: invalid email address: 123",
                        "fields": ["Email"],
                    }
                ],
            },
            {"referenceId": "ref3", "errors": [{"statusCode": "INVALID_INPUT", "message": "x"}]},
        ],
    }
    assert parse_error_details(body) == [
        ErrorDetail(
            "INVALID_EMAIL_ADDRESS",
            "Email: invalid email address: 123",
            ("Email",),
            {"referenceId": "ref2"},
        ),
        ErrorDetail("INVALID_INPUT", "x", (), {"referenceId": "ref3"}),
    ]
    assert isinstance(error_for(400, body), FieldValidationError)


def test_oauth_error_shape() -> None:
    body = {"error": "invalid_grant", "error_description": "authentication failure"}
    assert parse_error_details(body) == [ErrorDetail("invalid_grant", "authentication failure")]


def test_odd_bodies() -> None:
    assert parse_error_details(None) == []
    assert parse_error_details("") == []
    assert parse_error_details("  ") == []
    assert parse_error_details(["boom", {"message": "no code"}]) == [
        ErrorDetail("UNKNOWN_ERROR", "boom"),
        ErrorDetail("UNKNOWN_ERROR", "no code"),
    ]
    assert parse_error_details(42) == [ErrorDetail("UNKNOWN_ERROR", "42")]


def test_multiple_records_error() -> None:
    urls = [
        "/services/data/v62.0/sobjects/Account/001xx000003DGb2AAG",
        "/services/data/v62.0/sobjects/Account/001xx000003DGb3AAG",
    ]
    exc = error_for(300, urls, method="GET", url="https://x/services/data/v62.0/sobjects/A/E/1")
    assert isinstance(exc, MultipleRecordsError)
    assert exc.status_code == 300
    assert exc.urls == urls
    assert exc.ids == ["001xx000003DGb2AAG", "001xx000003DGb3AAG"]
    assert exc.code == "MULTIPLE_RECORDS"
    assert exc.method == "GET"
    assert "matched 2 records" in str(exc)
    # A body that is not a list still gives a usable error.
    assert error_for(300, "<html/>").urls == []  # type: ignore[attr-defined]


def test_method_and_url_are_in_the_message() -> None:
    url = "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Account/001"
    exc = error_for(404, rest_error("NOT_FOUND", "gone"), method="DELETE", url=url)
    assert exc.method == "DELETE"
    assert exc.url == url
    assert str(exc) == f"DELETE {url} -> HTTP 404: NOT_FOUND: gone"
    assert str(error_for(404, None, method="GET", url=url)) == f"GET {url} -> HTTP 404"


def test_authentication_error() -> None:
    exc = AuthenticationError("invalid_grant", "authentication failure", status_code=400)
    assert (exc.error, exc.description, exc.status_code) == (
        "invalid_grant",
        "authentication failure",
        400,
    )
    assert str(exc) == "invalid_grant: authentication failure"
    assert str(AuthenticationError("invalid_client")) == "invalid_client"


def test_error_detail_str() -> None:
    assert str(ErrorDetail("INVALID_FIELD", "No such column 'x'")) == (
        "INVALID_FIELD: No such column 'x'"
    )
    assert str(ErrorDetail("REQUIRED_FIELD_MISSING", "m", ("A", "B"))) == (
        "REQUIRED_FIELD_MISSING: m (fields: A, B)"
    )


def test_subrequest_error_group_parts_keep_the_request_counts() -> None:
    failed = error_for(404, rest_error("NOT_FOUND"))
    halted = error_for(412, rest_error("BATCH_PROCESSING_HALTED"))
    assert failed.failed_subrequests == () and failed.halted_subrequests == ()  # not a composite's
    group = SubrequestErrorGroup("2 subrequests: 1 failed, 1 not run", [failed, halted])
    marker_failed, marker_halted = object(), object()
    group.failed_subrequests = (marker_failed,)  # type: ignore[assignment]
    group.halted_subrequests = (marker_halted,)  # type: ignore[assignment]
    match, rest = group.split(ProcessingHaltedError)
    assert match is not None and rest is not None
    for part in (match, rest):
        assert isinstance(part, SubrequestErrorGroup)
        assert part.message == group.message
        assert part.failed_subrequests == (marker_failed,)
        assert part.halted_subrequests == (marker_halted,)
    assert match.exceptions == (halted,) and rest.exceptions == (failed,)
