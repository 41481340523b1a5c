"""Cleaning birth dates written in the many ways seven different databases write them.

Rules that keep wrong dates out rather than guess: a day/month order that cannot be told
("03/04/1990" from a source that did not say) is flagged ``ambiguous_date`` and left unread;
dates that do not exist (31.02), lie in the future or make someone older than
:data:`MAX_AGE_YEARS` are flagged and kept out. "Today" is passed in, never read from the
clock, so a re-import of the same file gives the same answer on any day of the same run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag
from tonari.profiles.text import collapse_whitespace

MAX_AGE_YEARS = 110

# Excel counts days from 1899-12-30 (its 1900 leap-year bug moves the epoch back one day for
# every date after February 1900, which covers all living people).
EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIAL_RANGE = range(1, 100_000)

MONTHS_BY_NAME: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "январь января янв january jan",
        "февраль февраля фев февр february feb",
        "март марта мар march mar",
        "апрель апреля апр april apr",
        "май мая may",
        "июнь июня июн june jun",
        "июль июля июл july jul",
        "август августа авг august aug",
        "сентябрь сентября сен сент september sep sept",
        "октябрь октября окт october oct",
        "ноябрь ноября ноя нояб november nov",
        "декабрь декабря дек december dec",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS_BY_NAME[_name] = _number

_YEAR_SUFFIX = r"(?:\s*(?:г|года?)\.?)?"  # Russian "1990 г.", "1990 года"
_TIME_SUFFIX = r"(?:[T\s]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_YEAR_FIRST = re.compile(rf"^(\d{{4}})([-./])(\d{{1,2}})\2(\d{{1,2}}){_TIME_SUFFIX}$")
_DAY_OR_MONTH_FIRST = re.compile(
    rf"^(\d{{1,2}})([-./])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_YEAR_SUFFIX}{_TIME_SUFFIX}$"
)
_DAY_MONTH_NAME_YEAR = re.compile(
    rf"^(\d{{1,2}})[\s./-]*([^\W\d_]+)\.?[\s,./-]*(\d{{4}}|\d{{2}}){_YEAR_SUFFIX}$"
)
_MONTH_NAME_DAY_YEAR = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_COMPACT_YEAR_FIRST = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})$")


@dataclass(frozen=True, kw_only=True)
class CleanedBirthDate(CleanedValue[date]):
    """``value`` is a real, past, plausible birth date, or None with the reason in ``flags``."""


@dataclass(frozen=True)
class _Reading:
    """Year, month and day as read from the text, before checking that the date exists."""

    year: int
    month: int
    day: int
    notes: tuple[Flag, ...] = ()


def expand_two_digit_year(two_digits: int, *, today: date, pivot: int | None = None) -> int:
    """Choose the century of "90" in "31.12.90".

    With no ``pivot`` a birth year is taken as the latest one not after today ("25" is 2025
    in 2026, "30" is 1930). With a pivot, years up to it are 20xx and the rest 19xx.
    """
    if pivot is not None:
        return 2000 + two_digits if two_digits <= pivot else 1900 + two_digits
    return 2000 + two_digits if 2000 + two_digits <= today.year else 1900 + two_digits


def _year(text: str, *, today: date, pivot: int | None) -> tuple[int, tuple[Flag, ...]]:
    if len(text) == 4:
        return int(text), ()
    year = expand_two_digit_year(int(text), today=today, pivot=pivot)
    note = Flag(FlagCode.TWO_DIGIT_YEAR, f'The two-digit year "{text}" was read as {year}.')
    return year, (note,)


def _read_day_or_month_first(
    match: re.Match[str], *, day_first: bool | None, today: date, pivot: int | None
) -> _Reading | Flag:
    first, separator, second = int(match[1]), match[2], int(match[3])
    year, notes = _year(match[4], today=today, pivot=pivot)
    if first > 12 and second > 12:
        return Flag(FlagCode.IMPOSSIBLE_DATE, f"Neither {first} nor {second} can be a month.")
    if first > 12 or first == second:
        return _Reading(year, second, first, notes)
    if second > 12:
        note = Flag(FlagCode.MONTH_FIRST, "Read month first: the second number cannot be a month.")
        return _Reading(year, first, second, (*notes, note))
    if day_first is None and separator == ".":
        day_first = True  # dotted dates are written day first wherever dots are used
    if day_first is None:
        return Flag(
            FlagCode.AMBIGUOUS_DATE,
            f'"{match[0]}" could be {first:02d}.{second:02d} or {second:02d}.{first:02d} '
            "(day.month); the source does not say which order it uses.",
        )
    if day_first:
        return _Reading(year, second, first, notes)
    return _Reading(year, first, second, notes)


def _read_month_name(name: str) -> int | None:
    return MONTHS_BY_NAME.get(name.casefold().rstrip("."))


def _read_text(
    text: str, *, day_first: bool | None, today: date, pivot: int | None
) -> _Reading | Flag:
    if match := _YEAR_FIRST.match(text):
        return _Reading(int(match[1]), int(match[3]), int(match[4]))
    if match := _DAY_OR_MONTH_FIRST.match(text):
        return _read_day_or_month_first(match, day_first=day_first, today=today, pivot=pivot)
    if (match := _DAY_MONTH_NAME_YEAR.match(text)) and (month := _read_month_name(match[2])):
        year, notes = _year(match[3], today=today, pivot=pivot)
        return _Reading(year, month, int(match[1]), notes)
    if (match := _MONTH_NAME_DAY_YEAR.match(text)) and (month := _read_month_name(match[1])):
        return _Reading(int(match[3]), month, int(match[2]))
    if match := _COMPACT_YEAR_FIRST.match(text):
        return _Reading(int(match[1]), int(match[2]), int(match[3]))
    if re.fullmatch(r"\d{4}", text) and 1800 <= int(text) <= today.year:
        return Flag(FlagCode.INCOMPLETE_DATE, f"Only a year ({text}) was given, no day.")
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):
        return _read_excel_serial(float(text))
    return Flag(FlagCode.UNRECOGNISED_FORMAT, f'"{text}" is not a date format Tonari reads.')


def _read_excel_serial(serial: float) -> _Reading | Flag:
    whole_days = int(serial)
    if whole_days not in _EXCEL_SERIAL_RANGE:
        return Flag(FlagCode.UNRECOGNISED_FORMAT, f"{serial} is not an Excel date number.")
    day = EXCEL_EPOCH + timedelta(days=whole_days)
    note = Flag(FlagCode.EXCEL_SERIAL, f"Excel date number {whole_days} read as {day}.")
    return _Reading(day.year, day.month, day.day, (note,))


def _age_on(day: date, birth_date: date) -> int:
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def _check_plausible(reading: _Reading, *, today: date) -> date | Flag:
    try:
        birth_date = date(reading.year, reading.month, reading.day)
    except ValueError:
        return Flag(
            FlagCode.IMPOSSIBLE_DATE,
            f"There is no day {reading.day:02d}.{reading.month:02d}.{reading.year:04d}.",
        )
    if birth_date > today:
        return Flag(FlagCode.FUTURE_DATE, f"{birth_date} is in the future.")
    if _age_on(today, birth_date) > MAX_AGE_YEARS:
        return Flag(
            FlagCode.TOO_OLD,
            f"Born {birth_date} would make the person older than {MAX_AGE_YEARS}.",
        )
    return birth_date


def clean_birth_date(
    raw: str | int | float | date | None,
    *,
    today: date,
    day_first: bool | None = None,
    two_digit_year_pivot: int | None = None,
) -> CleanedBirthDate:
    """Read one birth date.

    ``day_first`` is the source's own convention for "03/04/1990" (None: unknown, so such
    values are flagged ambiguous). Numbers (and five-digit strings) are Excel date serials.
    A ``datetime`` gives its calendar date as written, without any time zone shift.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return CleanedBirthDate(value=None, original=raw, flags=(empty_flag("birth date"),))
    reading: _Reading | Flag
    if isinstance(raw, date):  # a datetime is a date too: its calendar day, no zone shift
        reading = _Reading(raw.year, raw.month, raw.day)
    elif isinstance(raw, bool):
        reading = Flag(FlagCode.UNRECOGNISED_FORMAT, "A true/false value is not a date.")
    elif isinstance(raw, int | float):
        reading = _read_excel_serial(raw)
    else:
        reading = _read_text(
            collapse_whitespace(raw), day_first=day_first, today=today, pivot=two_digit_year_pivot
        )
    if isinstance(reading, Flag):
        return CleanedBirthDate(value=None, original=raw, flags=(reading,))
    checked = _check_plausible(reading, today=today)
    if isinstance(checked, Flag):
        return CleanedBirthDate(value=None, original=raw, flags=(*reading.notes, checked))
    return CleanedBirthDate(
        value=checked,
        original=raw,
        flags=reading.notes,
        usable_for_matching=True,
        usable_for_messaging=True,
    )
