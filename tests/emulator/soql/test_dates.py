"""Date literal ranges and the comparison keys of dates, datetimes and times."""

from __future__ import annotations

from datetime import date

import pytest

from sobjects.emulator.soql._dates import (
    DATE_LITERALS,
    N_DATE_LITERALS,
    date_range,
    datetime_key,
    time_key,
)

WEDNESDAY = date(2024, 5, 15)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("name", "n", "start", "end"),
    [
        ("TODAY", None, "2024-05-15", "2024-05-16"),
        ("YESTERDAY", None, "2024-05-14", "2024-05-15"),
        ("TOMORROW", None, "2024-05-16", "2024-05-17"),
        ("THIS_WEEK", None, "2024-05-12", "2024-05-19"),
        ("LAST_WEEK", None, "2024-05-05", "2024-05-12"),
        ("NEXT_WEEK", None, "2024-05-19", "2024-05-26"),
        ("THIS_MONTH", None, "2024-05-01", "2024-06-01"),
        ("LAST_MONTH", None, "2024-04-01", "2024-05-01"),
        ("NEXT_MONTH", None, "2024-06-01", "2024-07-01"),
        ("LAST_90_DAYS", None, "2024-02-15", "2024-05-16"),
        ("NEXT_90_DAYS", None, "2024-05-16", "2024-08-14"),
        ("THIS_QUARTER", None, "2024-04-01", "2024-07-01"),
        ("LAST_QUARTER", None, "2024-01-01", "2024-04-01"),
        ("NEXT_QUARTER", None, "2024-07-01", "2024-10-01"),
        ("THIS_YEAR", None, "2024-01-01", "2025-01-01"),
        ("LAST_YEAR", None, "2023-01-01", "2024-01-01"),
        ("NEXT_YEAR", None, "2025-01-01", "2026-01-01"),
        ("THIS_FISCAL_QUARTER", None, "2024-04-01", "2024-07-01"),
        ("LAST_FISCAL_YEAR", None, "2023-01-01", "2024-01-01"),
        ("LAST_N_DAYS", 7, "2024-05-08", "2024-05-16"),
        ("NEXT_N_DAYS", 7, "2024-05-16", "2024-05-23"),
        ("N_DAYS_AGO", 3, "2024-05-12", "2024-05-13"),
        ("LAST_N_WEEKS", 2, "2024-04-28", "2024-05-12"),
        ("NEXT_N_WEEKS", 2, "2024-05-19", "2024-06-02"),
        ("N_WEEKS_AGO", 1, "2024-05-05", "2024-05-12"),
        ("LAST_N_MONTHS", 2, "2024-03-01", "2024-05-01"),
        ("NEXT_N_MONTHS", 2, "2024-06-01", "2024-08-01"),
        ("N_MONTHS_AGO", 5, "2023-12-01", "2024-01-01"),
        ("LAST_N_QUARTERS", 2, "2023-10-01", "2024-04-01"),
        ("NEXT_N_QUARTERS", 1, "2024-07-01", "2024-10-01"),
        ("N_QUARTERS_AGO", 2, "2023-10-01", "2024-01-01"),
        ("LAST_N_YEARS", 2, "2022-01-01", "2024-01-01"),
        ("NEXT_N_YEARS", 1, "2025-01-01", "2026-01-01"),
        ("N_YEARS_AGO", 1, "2023-01-01", "2024-01-01"),
        ("LAST_N_FISCAL_YEARS", 1, "2023-01-01", "2024-01-01"),
        ("NEXT_N_FISCAL_QUARTERS", 2, "2024-07-01", "2025-01-01"),
        ("N_FISCAL_QUARTERS_AGO", 1, "2024-01-01", "2024-04-01"),
    ],
)
def test_ranges_on_a_wednesday(name: str, n: int | None, start: str, end: str) -> None:
    assert date_range(name, n, WEDNESDAY) == (d(start), d(end))


def test_every_listed_literal_has_a_range() -> None:
    for name in DATE_LITERALS:
        start, end = date_range(name, None, WEDNESDAY)
        assert start < end
    for name in N_DATE_LITERALS:
        start, end = date_range(name, 3, WEDNESDAY)
        assert start < end


@pytest.mark.parametrize("today", ["2024-05-12", "2024-05-18"])
def test_weeks_run_sunday_to_saturday(today: str) -> None:
    assert date_range("THIS_WEEK", None, d(today)) == (d("2024-05-12"), d("2024-05-19"))


def test_month_quarter_and_year_rollover() -> None:
    assert date_range("LAST_MONTH", None, d("2024-01-10")) == (d("2023-12-01"), d("2024-01-01"))
    assert date_range("NEXT_QUARTER", None, d("2024-11-30")) == (d("2025-01-01"), d("2025-04-01"))
    assert date_range("NEXT_N_MONTHS", 13, d("2024-12-31")) == (d("2025-01-01"), d("2026-02-01"))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05.000"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000"),
        ("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05.123"),
        ("2024-01-02T01:04:05-02:00", "2024-01-02T03:04:05.000"),
        ("2024-01-02T03:04:05+0530", "2024-01-01T21:34:05.000"),
        ("2024-01-02", "2024-01-02T00:00:00.000"),
        ("2024-13-02T03:04:05Z", None),
        ("9999-12-31T23:59:59-14:00", None),  # after year 9999 in UTC
        ("0001-01-01T00:00:00+14:00", None),  # before year 1 in UTC
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000"),
        ("garbage", None),
    ],
)
def test_datetime_keys(text: str, key: str | None) -> None:
    assert datetime_key(text) == key


def test_time_keys() -> None:
    assert time_key("10:00:00.000Z") == "10:00:00.000"
    assert time_key("10:00:00Z") == "10:00:00.000"
    assert time_key("10:00") == "10:00:00.000"
    assert time_key("ten") is None
