"""Name cleaning: spacing, case, junk, full names in one field, swapped names."""

from __future__ import annotations

import pytest

from tonari.profiles.cleaning import (
    FlagCode,
    NameOrder,
    PersonName,
    are_swapped_names,
    clean_name,
    looks_like_full_name,
    name_matching_key,
    split_full_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("анна", "Анна"),
        ("  АННА  ", "Анна"),
        ("анна-мария", "Анна-Мария"),
        ("РИМСКИЙ-КОРСАКОВ", "Римский-Корсаков"),
        ("john", "John"),
        ("o'brien", "O'Brien"),
        ("McDonald", "McDonald"),
        ("mary   ann", "Mary Ann"),
        ("ЁЛКИН", "Ёлкин"),
        ("мария\u00a0луиза", "Мария Луиза"),
        ("محمد رضا", "محمد رضا"),
        (" فاطمه ", "فاطمه"),
        ("نرگس\u200cالسادات", "نرگس\u200cالسادات"),  # the zero-width non-joiner is spelling
    ],
)
def test_names_are_trimmed_collapsed_and_title_cased(raw: str, expected: str) -> None:
    cleaned = clean_name(raw)
    assert cleaned.value == expected
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching and cleaned.usable_for_messaging


def test_persian_text_is_never_changed_by_casing() -> None:
    for name in ["زهرا", "علی", "حسین‌زاده", "محمدرضا"]:
        assert clean_name(name).value == name


@pytest.mark.parametrize(
    ("raw", "expected", "dropped"),
    [
        ("Иван123", "Иван", "123"),
        ("анна!!!", "Анна", "!!!"),
        ("*Пётр*", "Пётр", "**"),
        ("John_2", "John", "_2"),
        ("علی۱۲", "علی", "۱۲"),
        ("(Мария)", "Мария", "()"),
    ],
)
def test_digits_and_symbols_are_stripped_with_a_flag(raw: str, expected: str, dropped: str) -> None:
    cleaned = clean_name(raw)
    assert cleaned.value == expected
    assert cleaned.flag_codes == {FlagCode.JUNK_REMOVED}
    assert f'"{dropped}"' in cleaned.flags[0].reason


@pytest.mark.parametrize("raw", ["123", "---", "№5", "?"])
def test_nothing_left_after_junk_is_invalid(raw: str) -> None:
    cleaned = clean_name(raw)
    assert cleaned.value is None
    assert cleaned.original == raw
    assert FlagCode.INVALID_SYNTAX in cleaned.flag_codes
    assert not cleaned.usable_for_matching


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_name_is_flagged_empty(raw: str | None) -> None:
    assert clean_name(raw).flag_codes == {FlagCode.EMPTY}


@pytest.mark.parametrize(
    "raw",
    [
        "Иванова Анна",
        "Анна Иванова",
        "Петров Сергей",
        "Иванова Анна Сергеевна",
        "Сергей Петрович",
        "Мамедов Эльдар Гусейн оглы",
        "Анастасия Толстая",
        "Reza Hosseinzadeh Tehrani",
        "علی حسین‌زاده",
    ],
)
def test_a_full_name_in_one_field_is_flagged_but_kept_whole(raw: str) -> None:
    assert looks_like_full_name(raw)
    cleaned = clean_name(raw)
    assert cleaned.value == raw
    assert cleaned.flag_codes == {FlagCode.FULL_NAME_IN_ONE_FIELD}
    assert cleaned.usable_for_matching


@pytest.mark.parametrize("raw", ["Анна Мария", "Mary Ann", "محمد رضا", "Анна-Мария", "Анна"])
def test_two_given_names_are_not_taken_for_a_full_name(raw: str) -> None:
    assert not looks_like_full_name(raw)
    assert clean_name(raw).flags == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Иванова Анна", PersonName("Анна", "Иванова")),
        ("Анна Иванова", PersonName("Анна", "Иванова")),
        ("ПЕТРОВА ИРИНА", PersonName("Ирина", "Петрова")),
        ("Ирина Петрова", PersonName("Ирина", "Петрова")),
        ("Толстой Лев", PersonName("Лев", "Толстой")),
        ("Иванова Анна Сергеевна", PersonName("Анна", "Иванова", "Сергеевна")),
        ("Анна Сергеевна Иванова", PersonName("Анна", "Иванова", "Сергеевна")),
        ("Черных Ольга Ивановна", PersonName("Ольга", "Черных", "Ивановна")),
        ("John Smith", PersonName("John", "Smith")),
        ("mary ann smith", PersonName("Mary Ann", "Smith")),
        ("علی حسین‌زاده", PersonName("علی", "حسین‌زاده")),
        ("حسین‌زاده علی", PersonName("علی", "حسین‌زاده")),
        ("Sara Ahmadi", PersonName("Sara", "Ahmadi")),
    ],
)
def test_full_names_are_split_when_asked(raw: str, expected: PersonName) -> None:
    cleaned = split_full_name(raw)
    assert cleaned.value == expected
    assert cleaned.flags == ()


def test_the_source_can_say_which_order_it_uses() -> None:
    assert split_full_name("Smith John", order=NameOrder.FAMILY_FIRST).value == PersonName(
        "John", "Smith"
    )
    assert split_full_name("Иванова Анна", order=NameOrder.GIVEN_FIRST).value == PersonName(
        "Иванова", "Анна"
    )


def test_a_single_word_is_kept_as_the_given_name_with_a_flag() -> None:
    cleaned = split_full_name("мадонна")
    assert cleaned.value == PersonName("Мадонна", None)
    assert cleaned.flag_codes == {FlagCode.SINGLE_WORD_FULL_NAME}


def test_splitting_also_cleans_junk() -> None:
    cleaned = split_full_name("Иванова 1 Анна")
    assert cleaned.value == PersonName("Анна", "Иванова")
    assert cleaned.flag_codes == {FlagCode.JUNK_REMOVED}


@pytest.mark.parametrize("raw", [None, "", "12 34"])
def test_splitting_nothing_gives_no_name(raw: str | None) -> None:
    cleaned = split_full_name(raw)
    assert cleaned.value is None
    assert cleaned.flag_codes & {FlagCode.EMPTY, FlagCode.INVALID_SYNTAX}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("Анна", "Иванова"), ("Иванова", "Анна")),
        (("анна", "ИВАНОВА"), ("Иванова", "Анна")),
        (("Пётр", "Семёнов"), ("Семенов", "Петр")),
        (("John", "Smith"), ("smith", "john")),
        (("علي", "رضايي"), ("رضایی", "علی")),  # Arabic and Persian yeh
    ],
)
def test_swapped_first_and_last_names_are_recognised(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert are_swapped_names(first, second)
    assert are_swapped_names(second, first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("Анна", "Иванова"), ("Анна", "Иванова")),
        (("Анна", "Иванова"), ("Иванова", "Мария")),
        (("Анна", None), ("Иванова", "Анна")),
        (("Ким", "Ким"), ("Ким", "Ким")),
        (("John", "Smith"), ("Smith", "Jon")),
    ],
)
def test_names_that_are_not_a_swap(
    first: tuple[str | None, str | None], second: tuple[str | None, str | None]
) -> None:
    assert not are_swapped_names(first, second)


def test_matching_key_ignores_case_yo_and_arabic_letters() -> None:
    assert name_matching_key("Семёнов") == name_matching_key("СЕМЕНОВ")
    assert name_matching_key("كريمي") == name_matching_key("کریمی")


def test_cleaning_a_cleaned_name_changes_nothing() -> None:
    for raw in ["  иванова   анна ", "o'brien", "Иван123", "ludwig van beethoven", "علی"]:
        first = clean_name(raw)
        assert first.value is not None
        second = clean_name(first.value)
        assert second.value == first.value
        assert FlagCode.JUNK_REMOVED not in second.flag_codes
