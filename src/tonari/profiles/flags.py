"""What every cleaner returns: the value it settled on, what it was given, and why.

A cleaner never throws a value away in silence. When it cannot use a value it still returns the
original, a flag with a stable machine code and a sentence a person can read, and says whether
the value may serve as identity evidence (matching) and whether it may be used to reach or
address the person (messaging). Import reports, the quality report and the panel all read these
same flags, so the codes are an enum and never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar


class FlagCode(StrEnum):
    """Stable machine codes of everything a cleaner can say about a value."""

    # Anything
    EMPTY = "empty"
    INVALID_SYNTAX = "invalid_syntax"
    JUNK_REMOVED = "junk_removed"
    # Emails
    DISPOSABLE_DOMAIN = "disposable_domain"
    TYPO_DOMAIN_CORRECTED = "typo_domain_corrected"
    # Phones
    INVALID_NUMBER = "invalid_number"
    NO_REGION = "no_region"
    NOT_MOBILE = "not_mobile"
    # Names
    FULL_NAME_IN_ONE_FIELD = "full_name_in_one_field"
    SINGLE_WORD_FULL_NAME = "single_word_full_name"
    # Dates
    UNRECOGNISED_FORMAT = "unrecognised_format"
    IMPOSSIBLE_DATE = "impossible_date"
    FUTURE_DATE = "future_date"
    TOO_OLD = "too_old"
    AMBIGUOUS_DATE = "ambiguous_date"
    INCOMPLETE_DATE = "incomplete_date"
    TWO_DIGIT_YEAR = "two_digit_year"
    MONTH_FIRST = "month_first"
    EXCEL_SERIAL = "excel_serial"
    # Gender
    UNKNOWN_VALUE = "unknown_value"
    INFERRED = "inferred"
    # City
    CANONICAL_NAME_APPLIED = "canonical_name_applied"


@dataclass(frozen=True)
class Flag:
    """One remark about a value: a machine ``code`` and a human ``reason``."""

    code: FlagCode
    reason: str


CleanedT = TypeVar("CleanedT", covariant=True)


@dataclass(frozen=True, kw_only=True)
class CleanedValue(Generic[CleanedT]):
    """The outcome of cleaning one raw value.

    ``value`` is the normalised value, or None when nothing usable could be read; ``original``
    is exactly what the cleaner was given, kept so that nothing is ever lost.
    """

    value: CleanedT | None
    original: object
    flags: tuple[Flag, ...] = ()
    usable_for_matching: bool = False
    usable_for_messaging: bool = False

    @property
    def flag_codes(self) -> frozenset[FlagCode]:
        return frozenset(flag.code for flag in self.flags)

    def has_flag(self, code: FlagCode) -> bool:
        return any(flag.code is code for flag in self.flags)


def empty_flag(what: str) -> Flag:
    return Flag(FlagCode.EMPTY, f"No {what} was given.")
