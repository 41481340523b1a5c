"""Phone cleaning: E.164 with the source's default region, line types, invalid numbers."""

from __future__ import annotations

import pytest

from tonari.profiles.cleaning import FlagCode, PhoneLineType, clean_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("8 916 123-45-67", "RU", "+79161234567"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("+7 (916) 123 45 67", "RU", "+79161234567"),
        ("+7-916-123-45-67", None, "+79161234567"),
        ("9161234567", "RU", "+79161234567"),
        ("7 916 123 45 67", "RU", "+79161234567"),
        ("0912 345 6789", "IR", "+989123456789"),
        ("09123456789", "IR", "+989123456789"),
        ("+98 912 345 6789", "RU", "+989123456789"),
        ("0098 912 345 6789", "IR", "+989123456789"),
        ("+44 7911 123456", "RU", "+447911123456"),
    ],
)
def test_mobile_numbers_in_national_and_international_forms(
    raw: str, region: str | None, expected: str
) -> None:
    cleaned = clean_phone(raw, default_region=region)
    assert cleaned.value == expected
    assert cleaned.line_type is PhoneLineType.MOBILE
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching and cleaned.usable_for_messaging


def test_region_is_reported_from_the_number_not_the_source() -> None:
    cleaned = clean_phone("+98 912 345 6789", default_region="RU")
    assert cleaned.region == "IR"


def test_region_code_is_case_insensitive() -> None:
    assert clean_phone("8 916 123-45-67", default_region="ru").value == "+79161234567"


@pytest.mark.parametrize(
    ("raw", "region", "expected", "line_type"),
    [
        ("8 (495) 123-45-67", "RU", "+74951234567", PhoneLineType.FIXED_LINE),
        ("021 8888 1234", "IR", "+982188881234", PhoneLineType.FIXED_LINE),
        ("8-800-555-35-35", "RU", "+78005553535", PhoneLineType.TOLL_FREE),
    ],
)
def test_numbers_that_cannot_get_sms_are_matched_but_not_messaged(
    raw: str, region: str, expected: str, line_type: PhoneLineType
) -> None:
    cleaned = clean_phone(raw, default_region=region)
    assert cleaned.value == expected
    assert cleaned.line_type is line_type
    assert cleaned.flag_codes == {FlagCode.NOT_MOBILE}
    assert cleaned.usable_for_matching
    assert not cleaned.usable_for_messaging


def test_plans_that_do_not_tell_mobiles_from_landlines_may_get_sms() -> None:
    cleaned = clean_phone("(202) 555-0143", default_region="US")
    assert cleaned.value == "+12025550143"
    assert cleaned.line_type is PhoneLineType.FIXED_LINE_OR_MOBILE
    assert cleaned.usable_for_messaging


@pytest.mark.parametrize(
    ("raw", "region"),
    [("12345", "RU"), ("8 916 123", "RU"), ("+7 000 000 00 00", None), ("0912 345", "IR")],
)
def test_numbers_that_do_not_exist_are_flagged_invalid(raw: str, region: str | None) -> None:
    cleaned = clean_phone(raw, default_region=region)
    assert cleaned.value is None
    assert cleaned.original == raw
    assert cleaned.flag_codes == {FlagCode.INVALID_NUMBER}
    assert not cleaned.usable_for_matching and not cleaned.usable_for_messaging


@pytest.mark.parametrize("raw", ["нет", "abc", "+", "---"])
def test_text_that_is_not_a_number_is_flagged_invalid_syntax(raw: str) -> None:
    cleaned = clean_phone(raw, default_region="RU")
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.INVALID_SYNTAX}


def test_national_number_without_a_region_is_flagged_not_guessed() -> None:
    cleaned = clean_phone("8 916 123-45-67", default_region=None)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.NO_REGION}


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_number_is_flagged_empty(raw: str | None) -> None:
    assert clean_phone(raw, default_region="RU").flag_codes == {FlagCode.EMPTY}


@pytest.mark.parametrize("region", ["RU", "IR", "US", None])
def test_cleaning_a_cleaned_number_changes_nothing_whatever_the_region(region: str | None) -> None:
    first = clean_phone("8 (916) 123-45-67", default_region="RU")
    assert first.value is not None
    second = clean_phone(first.value, default_region=region)
    assert second.value == first.value
    assert second.line_type == first.line_type
