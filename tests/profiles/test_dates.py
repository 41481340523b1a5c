"""Birth date cleaning: formats, impossible/future/too-old dates, ambiguous day-month order."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tonari.profiles.cleaning import (
    MAX_AGE_YEARS,
    FlagCode,
    clean_birth_date,
    expand_two_digit_year,
)

TODAY = date(2026, 11, 24)
NEW_YEARS_EVE_1990 = date(1990, 12, 31)


@pytest.mark.parametrize(
    "raw",
    [
        "1990-12-31",
        " 1990-12-31 ",
        "1990/12/31",
        "1990.12.31",
        "1990-12-31T00:00:00",
        "1990-12-31T00:00:00Z",
        "1990-12-31T23:59:59+03:00",
        "1990-12-31 00:00:00.000",
        "31.12.1990",
        "31.12.1990 г.",
        "31/12/1990",
        "31-12-1990",
        "31.12.1990 0:00",
        "31 декабря 1990",
        "31 декабря 1990 г.",
        "31 дек. 1990",
        "31 Декабрь 1990",
        "31 December 1990",
        "31 Dec 1990",
        "31-Dec-1990",
        "December 31, 1990",
        "Dec 31st, 1990",
        "19901231",
        date(1990, 12, 31),
        datetime(1990, 12, 31, 23, 30),
    ],
)
def test_the_same_day_in_many_formats(raw: str | date) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value == NEW_YEARS_EVE_1990
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching and cleaned.usable_for_messaging


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 мая 1985", date(1985, 5, 1)),
        ("8 марта 1979 года", date(1979, 3, 8)),
        ("15 сентября 2001", date(2001, 9, 15)),
        ("5 сент 2001", date(2001, 9, 5)),
        ("Sept 5, 1990", date(1990, 9, 5)),
        ("03.04.1990", date(1990, 4, 3)),  # dots are always day first
        ("5.6.1977", date(1977, 6, 5)),
        ("07/07/1977", date(1977, 7, 7)),  # same either way
    ],
)
def test_more_real_dates(raw: str, expected: date) -> None:
    assert clean_birth_date(raw, today=TODAY).value == expected


def test_month_first_is_read_when_it_is_the_only_possible_reading() -> None:
    cleaned = clean_birth_date("12/31/1990", today=TODAY)
    assert cleaned.value == NEW_YEARS_EVE_1990
    assert cleaned.flag_codes == {FlagCode.MONTH_FIRST}
    assert cleaned.usable_for_matching


@pytest.mark.parametrize("raw", ["03/04/1990", "03-04-1990", "11/12/1985"])
def test_ambiguous_day_month_order_is_flagged_and_not_guessed(raw: str) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.original == raw
    assert cleaned.flag_codes == {FlagCode.AMBIGUOUS_DATE}
    assert not cleaned.usable_for_matching


def test_a_source_that_declares_its_order_resolves_the_ambiguity() -> None:
    assert clean_birth_date("03/04/1990", today=TODAY, day_first=True).value == date(1990, 4, 3)
    assert clean_birth_date("03/04/1990", today=TODAY, day_first=False).value == date(1990, 3, 4)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (33238, NEW_YEARS_EVE_1990),
        (33238.0, NEW_YEARS_EVE_1990),
        (33238.75, NEW_YEARS_EVE_1990),  # a time of day
        ("33238", NEW_YEARS_EVE_1990),
        (25569, date(1970, 1, 1)),
        (36526, date(2000, 1, 1)),
    ],
)
def test_excel_serial_numbers(raw: int | float | str, expected: date) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value == expected
    assert cleaned.flag_codes == {FlagCode.EXCEL_SERIAL}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31.12.90", date(1990, 12, 31)),
        ("01.01.05", date(2005, 1, 1)),
        ("01.01.26", date(2026, 1, 1)),
        ("01.01.27", date(1927, 1, 1)),
        ("31-Dec-90", date(1990, 12, 31)),
    ],
)
def test_two_digit_years_take_the_latest_century_not_in_the_future(
    raw: str, expected: date
) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value == expected
    assert cleaned.flag_codes == {FlagCode.TWO_DIGIT_YEAR}
    assert str(expected.year) in cleaned.flags[0].reason


def test_two_digit_year_pivot_can_be_set_per_source() -> None:
    assert expand_two_digit_year(10, today=TODAY, pivot=5) == 1910
    assert expand_two_digit_year(5, today=TODAY, pivot=5) == 2005
    assert clean_birth_date("01.06.20", today=TODAY, two_digit_year_pivot=5).value == date(
        1920, 6, 1
    )


@pytest.mark.parametrize(
    "raw", ["31.02.1990", "30.02.2000", "29.02.1991", "31.04.1990", "32.01.1990", "00.01.1990"]
)
def test_days_that_do_not_exist_are_impossible(raw: str) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.IMPOSSIBLE_DATE}
    assert not cleaned.usable_for_matching and not cleaned.usable_for_messaging


def test_leap_day_in_a_leap_year_is_fine() -> None:
    assert clean_birth_date("29.02.1992", today=TODAY).value == date(1992, 2, 29)


@pytest.mark.parametrize("raw", ["1990-13-01", "31 /13/1990", "45/13/1990"])
def test_months_that_do_not_exist_are_impossible_or_unreadable(raw: str) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.flag_codes & {FlagCode.IMPOSSIBLE_DATE, FlagCode.UNRECOGNISED_FORMAT}


@pytest.mark.parametrize("raw", ["25.11.2026", "01.01.2030", "2099-01-01"])
def test_future_dates_are_flagged(raw: str) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.FUTURE_DATE}


def test_born_today_is_not_the_future() -> None:
    assert clean_birth_date(TODAY, today=TODAY).value == TODAY


@pytest.mark.parametrize("raw", ["01.01.1900", "1800-05-05", "24.11.1915"])
def test_people_over_the_age_limit_are_flagged_too_old(raw: str) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.TOO_OLD}
    assert str(MAX_AGE_YEARS) in cleaned.flags[0].reason


def test_exactly_at_the_age_limit_is_accepted() -> None:
    assert clean_birth_date("25.11.1915", today=TODAY).value == date(1915, 11, 25)


def test_informational_notes_are_kept_next_to_the_rejection() -> None:
    cleaned = clean_birth_date("31.02.90", today=TODAY)
    assert cleaned.flag_codes == {FlagCode.TWO_DIGIT_YEAR, FlagCode.IMPOSSIBLE_DATE}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1990", FlagCode.INCOMPLETE_DATE),
        ("декабрь 1990", FlagCode.UNRECOGNISED_FORMAT),
        ("неизвестно", FlagCode.UNRECOGNISED_FORMAT),
        ("31 абвгд 1990", FlagCode.UNRECOGNISED_FORMAT),
        ("1369/10/10", FlagCode.TOO_OLD),  # a Persian calendar date read as Gregorian
        (True, FlagCode.UNRECOGNISED_FORMAT),
        (0, FlagCode.UNRECOGNISED_FORMAT),
        (None, FlagCode.EMPTY),
        ("  ", FlagCode.EMPTY),
    ],
)
def test_unreadable_values_are_flagged_with_the_reason(
    raw: str | int | None, code: FlagCode
) -> None:
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value is None
    assert cleaned.original is raw or cleaned.original == raw
    assert cleaned.flag_codes == {code}


def test_cleaning_a_cleaned_date_changes_nothing() -> None:
    raws: list[str | int] = ["31 декабря 1990", "12/31/1990", "31.12.90", 33238]
    for raw in raws:
        first = clean_birth_date(raw, today=TODAY)
        assert first.value is not None
        assert clean_birth_date(first.value, today=TODAY).value == first.value
        assert clean_birth_date(first.value.isoformat(), today=TODAY).value == first.value
