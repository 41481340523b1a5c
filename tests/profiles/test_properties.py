"""Properties every cleaner keeps, whatever text it is fed.

- It never raises: an import of millions of rows must not stop at one odd value.
- It never drops silently: the original is kept, and no value means at least one flag.
- Cleaning a cleaned value changes nothing (idempotence), so re-imports are no-ops.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tonari.profiles.cleaning import (
    CleanedValue,
    clean_birth_date,
    clean_city,
    clean_email,
    clean_gender,
    clean_name,
    clean_phone,
)

TODAY = date(2026, 11, 24)

# Text that looks like what people type into forms: Latin, Cyrillic, Persian, digits, junk.
form_text = st.text(
    alphabet=st.sampled_from(
        list("abcxyzABCXYZабвгдеёжАБВЕЁЖЯяابپتثجحخدیيکك0123456789 -'’.,!@+_()\u200c\u00a0\t")
    ),
    max_size=30,
)
letters = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzабвгдежзиклмнопрстуфхцчшщэюя"))
word = st.text(alphabet=letters, min_size=1, max_size=10)


def assert_nothing_silently_dropped(cleaned: CleanedValue[object], raw: object) -> None:
    assert cleaned.original == raw
    if cleaned.value is None:
        assert cleaned.flags, "an unusable value must say why"
        assert not cleaned.usable_for_matching and not cleaned.usable_for_messaging
    for flag in cleaned.flags:
        assert flag.reason


@given(form_text)
def test_names_never_raise_never_drop_and_are_idempotent(raw: str) -> None:
    cleaned = clean_name(raw)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        again = clean_name(cleaned.value)
        assert again.value == cleaned.value
        assert again.flag_codes <= cleaned.flag_codes


@given(form_text)
def test_cities_never_raise_never_drop_and_are_idempotent(raw: str) -> None:
    cleaned = clean_city(raw)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        again = clean_city(cleaned.value)
        assert again.value == cleaned.value
        assert again.flags == ()


@given(form_text)
def test_genders_never_raise_and_are_idempotent(raw: str) -> None:
    cleaned = clean_gender(raw)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        assert clean_gender(cleaned.value).value is cleaned.value


@given(form_text, st.sampled_from(["RU", "IR", "US", None]))
def test_phones_never_raise_and_are_idempotent(raw: str, region: str | None) -> None:
    cleaned = clean_phone(raw, default_region=region)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        assert cleaned.value.startswith("+")
        assert clean_phone(cleaned.value, default_region=None).value == cleaned.value


@given(st.from_regex(r"[7-9]\d{9,10}", fullmatch=True), st.sampled_from(["RU", "IR"]))
def test_digit_strings_never_raise_and_valid_ones_are_idempotent(raw: str, region: str) -> None:
    cleaned = clean_phone(raw, default_region=region)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        assert clean_phone(cleaned.value, default_region=region).value == cleaned.value


@given(
    st.one_of(
        form_text,
        st.builds(
            lambda local, domain, tld: f"{local}@{domain}.{tld}",
            word,
            word,
            st.sampled_from(["ru", "com", "ir", "rh", "ry", "co", "r"]),
        ),
    )
)
def test_emails_never_raise_never_drop_and_are_idempotent(raw: str) -> None:
    cleaned = clean_email(raw)
    assert_nothing_silently_dropped(cleaned, raw)
    if cleaned.value is not None:
        again = clean_email(cleaned.value)
        assert again.value == cleaned.value
        assert again.matching_key == cleaned.matching_key


@given(form_text)
def test_birth_dates_never_raise_on_any_text(raw: str) -> None:
    assert_nothing_silently_dropped(clean_birth_date(raw, today=TODAY), raw)


@settings(max_examples=200)
@given(
    st.dates(min_value=date(1916, 1, 1), max_value=TODAY),
    st.sampled_from(
        ["{d:%Y-%m-%d}", "{d:%d.%m.%Y}", "{d:%Y-%m-%d}T00:00:00", "{d:%Y%m%d}", "{d:%Y/%m/%d}"]
    ),
)
def test_every_plausible_birth_date_reads_back_in_unambiguous_formats(
    birth_date: date, template: str
) -> None:
    raw = template.format(d=birth_date)
    cleaned = clean_birth_date(raw, today=TODAY)
    assert cleaned.value == birth_date
    assert clean_birth_date(cleaned.value, today=TODAY).value == birth_date


@given(st.dates(min_value=date(1916, 1, 1), max_value=TODAY))
def test_excel_serials_round_trip(birth_date: date) -> None:
    serial = (birth_date - date(1899, 12, 30)).days
    assert clean_birth_date(serial, today=TODAY).value == birth_date


@given(st.dates(min_value=TODAY + timedelta(days=1), max_value=date(2200, 1, 1)))
def test_every_future_date_is_rejected(birth_date: date) -> None:
    cleaned = clean_birth_date(birth_date.isoformat(), today=TODAY)
    assert cleaned.value is None
    assert cleaned.flags
