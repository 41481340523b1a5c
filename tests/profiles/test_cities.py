"""City cleaning: prefixes, case, synonyms and abbreviations."""

from __future__ import annotations

import pytest

from tonari.profiles.cleaning import CITY_SYNONYMS, FlagCode, clean_city


@pytest.mark.parametrize(
    "raw",
    [
        "Москва",
        "москва",
        "МОСКВА",
        "г. Москва",
        "г.Москва",
        "г Москва",
        "гор. Москва",
        "город Москва",
        "Москва г.",
        "  г.   москва  ",
    ],
)
def test_prefixes_and_case_are_tidied_without_a_flag(raw: str) -> None:
    cleaned = clean_city(raw)
    assert cleaned.value == "Москва"
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Moscow", "Москва"),
        ("мск", "Москва"),
        ("СПб", "Санкт-Петербург"),
        ("спб", "Санкт-Петербург"),
        ("Питер", "Санкт-Петербург"),
        ("г. СПб", "Санкт-Петербург"),
        ("С.-Петербург", "Санкт-Петербург"),
        ("Санкт Петербург", "Санкт-Петербург"),
        ("St. Petersburg", "Санкт-Петербург"),
        ("Saint-Petersburg", "Санкт-Петербург"),
        ("екб", "Екатеринбург"),
        ("Yekaterinburg", "Екатеринбург"),
        ("Н. Новгород", "Нижний Новгород"),
        ("Rostov-on-Don", "Ростов-на-Дону"),
        ("Tehran", "تهران"),
        ("Тегеран", "تهران"),
        ("Isfahan", "اصفهان"),
    ],
)
def test_synonyms_and_abbreviations_become_the_canonical_name_with_a_flag(
    raw: str, expected: str
) -> None:
    cleaned = clean_city(raw)
    assert cleaned.value == expected
    assert cleaned.flag_codes == {FlagCode.CANONICAL_NAME_APPLIED}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ростов-на-дону", "Ростов-на-Дону"),
        ("САНКТ-ПЕТЕРБУРГ", "Санкт-Петербург"),
        ("تهران", "تهران"),
    ],
)
def test_canonical_names_in_another_case_need_no_flag(raw: str, expected: str) -> None:
    cleaned = clean_city(raw)
    assert cleaned.value == expected
    assert cleaned.flags == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("новый уренгой", "Новый Уренгой"),
        ("ТУЛА", "Тула"),
        ("Гагра", "Гагра"),  # starts with "г" but has no prefix
        ("Городец", "Городец"),
        ("комсомольск-на-амуре", "Комсомольск-на-Амуре"),
        ("london", "London"),
        ("شیراز", "شیراز"),
    ],
)
def test_unknown_cities_are_only_tidied(raw: str, expected: str) -> None:
    cleaned = clean_city(raw)
    assert cleaned.value == expected
    assert cleaned.flags == ()


def test_junk_is_removed_with_a_flag() -> None:
    cleaned = clean_city("Тула, 300000")
    assert cleaned.value == "Тула"
    assert cleaned.flag_codes == {FlagCode.JUNK_REMOVED}


def test_junk_removal_can_reveal_a_synonym() -> None:
    cleaned = clean_city("Питер!")
    assert cleaned.value == "Санкт-Петербург"
    assert cleaned.flag_codes == {FlagCode.JUNK_REMOVED, FlagCode.CANONICAL_NAME_APPLIED}


@pytest.mark.parametrize("raw", ["123456", "---"])
def test_nothing_left_is_invalid(raw: str) -> None:
    cleaned = clean_city(raw)
    assert cleaned.value is None
    assert FlagCode.INVALID_SYNTAX in cleaned.flag_codes


@pytest.mark.parametrize("raw", [None, "", " "])
def test_missing_city_is_flagged_empty(raw: str | None) -> None:
    assert clean_city(raw).flag_codes == {FlagCode.EMPTY}


def test_every_name_in_the_synonyms_table_cleans_to_its_canonical_city() -> None:
    for canonical, others in CITY_SYNONYMS.items():
        assert clean_city(canonical).value == canonical
        assert clean_city(canonical).flags == ()
        for other in others:
            assert clean_city(other).value == canonical, other


def test_no_name_belongs_to_two_cities() -> None:
    names = [name.casefold() for c, others in CITY_SYNONYMS.items() for name in (c, *others)]
    assert len(names) == len(set(names))
