"""Gender cleaning: common words in three languages, per-source codes, suggestions from names."""

from __future__ import annotations

import pytest

from tonari.profiles.cleaning import (
    FlagCode,
    Gender,
    clean_gender,
    infer_gender_from_russian_name,
)


@pytest.mark.parametrize(
    "raw",
    [
        "m",
        "M",
        "male",
        "Male",
        "MAN",
        "м",
        "М",
        "м.",
        "муж",
        "Муж.",
        "мужской",
        "Мужчина",
        "مرد",
        "آقا",
        1,
        "1",
        " male ",
    ],
)
def test_male_in_its_many_spellings(raw: str | int) -> None:
    cleaned = clean_gender(raw)
    assert cleaned.value is Gender.MALE
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching and cleaned.usable_for_messaging


@pytest.mark.parametrize(
    "raw",
    [
        "f",
        "F",
        "female",
        "Woman",
        "ж",
        "Ж",
        "жен",
        "Жен.",
        "женский",
        "ЖЕНЩИНА",
        "زن",
        "خانم",
        2,
        "2",
    ],
)
def test_female_in_its_many_spellings(raw: str | int) -> None:
    assert clean_gender(raw).value is Gender.FEMALE


@pytest.mark.parametrize("raw", ["x", "другое", "3", "мж", "?"])
def test_unknown_words_become_none_with_a_flag(raw: str) -> None:
    cleaned = clean_gender(raw)
    assert cleaned.value is None
    assert cleaned.original == raw
    assert cleaned.flag_codes == {FlagCode.UNKNOWN_VALUE}
    assert "not a gender value" in cleaned.flags[0].reason
    assert not cleaned.usable_for_matching


@pytest.mark.parametrize("raw", [0, "9", "не указан", "unknown"])
def test_explicit_not_known_codes_say_so(raw: str | int) -> None:
    cleaned = clean_gender(raw)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.UNKNOWN_VALUE}
    assert "not known" in cleaned.flags[0].reason


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_gender_is_flagged_empty(raw: str | None) -> None:
    assert clean_gender(raw).flag_codes == {FlagCode.EMPTY}


def test_a_source_with_its_own_codes_overrides_the_common_ones() -> None:
    zero_one_source = {"0": Gender.MALE, "1": Gender.FEMALE}
    assert clean_gender(0, source_mapping=zero_one_source).value is Gender.MALE
    assert clean_gender("1", source_mapping=zero_one_source).value is Gender.FEMALE
    assert clean_gender("ж", source_mapping=zero_one_source).value is Gender.FEMALE


def test_a_source_can_add_words_and_declare_words_unknown() -> None:
    mapping = {"Господин": Gender.MALE, "Г-жа": Gender.FEMALE, "m": None}
    assert clean_gender("господин", source_mapping=mapping).value is Gender.MALE
    assert clean_gender("г-жа", source_mapping=mapping).value is Gender.FEMALE
    assert clean_gender("M", source_mapping=mapping).value is None


def test_cleaning_a_cleaned_gender_changes_nothing() -> None:
    for gender in Gender:
        assert clean_gender(gender).value is gender
        assert clean_gender(gender.value).value is gender


@pytest.mark.parametrize(
    ("patronymic", "family_name", "expected"),
    [
        ("Сергеевич", None, Gender.MALE),
        ("Ильич", None, Gender.MALE),
        ("Кузьмич", None, Gender.MALE),
        ("Гусейн оглы", None, Gender.MALE),
        ("Сергеевна", None, Gender.FEMALE),
        ("Ильинична", None, Gender.FEMALE),
        ("Никитична", None, Gender.FEMALE),
        ("Гусейн кызы", None, Gender.FEMALE),
        (None, "Иванов", Gender.MALE),
        (None, "Соловьёв", Gender.MALE),
        (None, "Пушкин", Gender.MALE),
        (None, "Достоевский", Gender.MALE),
        (None, "Иванова", Gender.FEMALE),
        (None, "ПУШКИНА", Gender.FEMALE),
        (None, "Вяземская", Gender.FEMALE),
        ("Сергеевна", "Иванов", Gender.FEMALE),  # the patronymic is the stronger clue
    ],
)
def test_gender_is_suggested_from_russian_names_with_an_inferred_flag(
    patronymic: str | None, family_name: str | None, expected: Gender
) -> None:
    suggestion = infer_gender_from_russian_name(patronymic=patronymic, family_name=family_name)
    assert suggestion.value is expected
    assert suggestion.flag_codes == {FlagCode.INFERRED}
    assert suggestion.original == {"patronymic": patronymic, "family_name": family_name}
    # A suggestion may address the person but is never evidence of who they are.
    assert not suggestion.usable_for_matching
    assert suggestion.usable_for_messaging


@pytest.mark.parametrize("family_name", ["Черных", "Шевченко", "Ким", "Smith", "رضایی", None])
def test_names_without_a_gender_clue_suggest_nothing(family_name: str | None) -> None:
    suggestion = infer_gender_from_russian_name(family_name=family_name)
    assert suggestion.value is None
    assert suggestion.flag_codes == {FlagCode.UNKNOWN_VALUE}
