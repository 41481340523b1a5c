"""Cleaning phone numbers into E.164 with the source's own default region.

A number written without a country code ("8 (916) 123-45-67", "0912 345 6789") means something
only together with where it was collected, so each source names its region ("RU", "IR") and the
cleaner reads national formats — including the Russian trunk prefix 8 — the way a local would.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag


class PhoneLineType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    VOIP = "voip"
    TOLL_FREE = "toll_free"
    OTHER = "other"
    UNKNOWN = "unknown"


_LINE_TYPES: dict[int, PhoneLineType] = {
    PhoneNumberType.MOBILE: PhoneLineType.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneLineType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneLineType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP: PhoneLineType.VOIP,
    PhoneNumberType.TOLL_FREE: PhoneLineType.TOLL_FREE,
    PhoneNumberType.UNKNOWN: PhoneLineType.UNKNOWN,
}

# Some countries' plans cannot tell mobiles from landlines (the US); those may still get SMS.
_TEXTABLE_LINE_TYPES = frozenset({PhoneLineType.MOBILE, PhoneLineType.FIXED_LINE_OR_MOBILE})


@dataclass(frozen=True, kw_only=True)
class CleanedPhone(CleanedValue[str]):
    """``value`` is E.164 ("+79161234567"); ``region`` is the number's country (ISO 3166)."""

    line_type: PhoneLineType | None = None
    region: str | None = None


def _has_region(parsed: phonenumbers.PhoneNumber) -> bool:
    region = phonenumbers.region_code_for_number(parsed)
    return region is not None and region != phonenumbers.UNKNOWN_REGION


def clean_phone(raw: str | None, *, default_region: str | None) -> CleanedPhone:
    """Parse one number; a number in international form ("+98 …") ignores the default region.

    A valid landline still identifies a household, so it is used for matching, but it cannot
    receive text messages, so it is kept out of messaging with a ``not_mobile`` flag.
    """
    if raw is None or not raw.strip():
        return CleanedPhone(value=None, original=raw, flags=(empty_flag("phone number"),))
    region = default_region.upper() if default_region else None
    try:
        parsed = phonenumbers.parse(raw.strip(), region)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None:
            flag = Flag(
                FlagCode.NO_REGION,
                "The number has no country code and its source names no default region.",
            )
        else:
            flag = Flag(FlagCode.INVALID_SYNTAX, f"Not a phone number: {error}")
        return CleanedPhone(value=None, original=raw, flags=(flag,))
    # number_type answers UNKNOWN exactly when no pattern of the number's region fits, which
    # is what is_valid_number checks too: asking once halves the cost of a valid number.
    number_type = phonenumbers.number_type(parsed)
    if number_type == phonenumbers.PhoneNumberType.UNKNOWN or not _has_region(parsed):
        return CleanedPhone(
            value=None,
            original=raw,
            flags=(
                Flag(
                    FlagCode.INVALID_NUMBER,
                    "No such number exists in the numbering plan"
                    + (f" of {region}." if region and not raw.strip().startswith("+") else "."),
                ),
            ),
        )
    line_type = _LINE_TYPES.get(number_type, PhoneLineType.OTHER)
    flags: list[Flag] = []
    if line_type not in _TEXTABLE_LINE_TYPES:
        flags.append(
            Flag(
                FlagCode.NOT_MOBILE,
                f"A {line_type.value.replace('_', ' ')} number cannot receive text messages.",
            )
        )
    return CleanedPhone(
        value=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        original=raw,
        flags=tuple(flags),
        usable_for_matching=True,
        usable_for_messaging=line_type in _TEXTABLE_LINE_TYPES,
        line_type=line_type,
        region=phonenumbers.region_code_for_number(parsed),
    )
