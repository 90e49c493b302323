"""Request body encoding in Salesforce's value formats."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from sobjects.client._json import dumps, render_datetime
from sobjects.errors import ConfigurationError


def test_plain_values_are_compact_utf8() -> None:
    assert dumps({"Name": "Zoë", "n": 1, "ok": True, "none": None}) == (
        '{"Name":"Zoë","n":1,"ok":true,"none":null}'.encode()
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.1"), "0.1"),
        (Decimal("1234567890.123456789012345"), "1234567890.123456789012345"),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("0"), "0"),
    ],
)
def test_decimal_is_exact_number_text(value: Decimal, text: str) -> None:
    encoded = dumps({"Amount": value})
    assert encoded == b'{"Amount":' + text.encode() + b"}"
    # It is a JSON number, not a string, and the exact digits survive.
    assert json.loads(encoded, parse_float=Decimal, parse_int=Decimal)["Amount"] == value


def test_decimals_inside_lists_and_strings_that_look_like_decimals() -> None:
    body = {"a": [Decimal("1.10"), Decimal("2")], "s": "1.10", "n": 1.5}
    assert dumps(body) == b'{"a":[1.10,2],"s":"1.10","n":1.5}'


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimal_is_refused(value: Decimal) -> None:
    with pytest.raises(ConfigurationError):
        dumps({"x": value})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_float_is_refused(value: float) -> None:
    with pytest.raises(ConfigurationError):
        dumps({"x": value})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05.000+0000"),
        (datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2024-01-02T03:04:05.678+0000"),
        (
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05.000+0000",
        ),
        (
            datetime(2024, 1, 1, 22, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
            "2024-01-02T03:04:05.000+0000",
        ),
    ],
)
def test_aware_datetime_is_utc_wire_format(value: datetime, text: str) -> None:
    assert render_datetime(value) == text
    assert dumps({"When": value}) == f'{{"When":"{text}"}}'.encode()


def test_naive_datetime_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="naive datetime"):
        dumps({"When": datetime(2024, 1, 2, 3, 4, 5)})
    with pytest.raises(ConfigurationError, match="time zone"):
        render_datetime(datetime(2024, 1, 2, 3, 4, 5))


def test_date_and_time() -> None:
    assert dumps({"d": date(2024, 1, 2)}) == b'{"d":"2024-01-02"}'
    assert dumps({"t": time(13, 30)}) == b'{"t":"13:30:00.000Z"}'
    assert dumps({"t": time(13, 30, 5, 250000)}) == b'{"t":"13:30:05.250Z"}'


def test_sets_are_sorted_lists() -> None:
    assert dumps({"s": {"c", "a", "b"}}) == b'{"s":["a","b","c"]}'
    assert dumps({"s": frozenset({3, 1, 2})}) == b'{"s":[1,2,3]}'
    assert dumps({"s": {Decimal("2.0"), Decimal("1.5")}}) == b'{"s":[1.5,2.0]}'


def test_a_composite_reference_outside_a_composite_is_refused() -> None:
    # Sent as plain JSON, "@{ref0.id}" would be stored as text in the field: refuse instead.
    from sobjects.client._composite import Reference, Subrequest

    reference = Reference(Subrequest("POST", "sobjects/Account"), "ref0").id
    with pytest.raises(ConfigurationError, match=r"only work in sf\.composite"):
        dumps({"AccountId": reference})


def test_unknown_types_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="object"):
        dumps({"x": object()})
