"""Email cleaning: syntax, typo domains, disposable domains, provider matching keys."""

from __future__ import annotations

import pytest

from tonari.profiles.cleaning import (
    TYPO_DOMAINS,
    FlagCode,
    clean_email,
    email_matching_key,
    is_disposable_domain,
)


@pytest.mark.parametrize(
    ("raw", "expected_value"),
    [
        ("ivan.petrov@mail.ru", "ivan.petrov@mail.ru"),
        ("  Ivan.Petrov@MAIL.RU ", "Ivan.Petrov@mail.ru"),
        ("<anna@yandex.ru>", "anna@yandex.ru"),
        ("mailto:john.smith@example.com", "john.smith@example.com"),
        ("reza.ahmadi@Gmail.com", "reza.ahmadi@gmail.com"),
        ("иван@пример.рф", "иван@пример.рф"),
        ("user@xn--e1afmkfd.xn--p1ai", "user@пример.рф"),
    ],
)
def test_valid_addresses_keep_the_local_part_and_lower_case_the_domain(
    raw: str, expected_value: str
) -> None:
    cleaned = clean_email(raw)
    assert cleaned.value == expected_value
    assert cleaned.original == raw
    assert cleaned.flags == ()
    assert cleaned.usable_for_matching and cleaned.usable_for_messaging


@pytest.mark.parametrize(
    "raw",
    ["ivan.petrov", "ivan@", "@mail.ru", "ivan@@mail.ru", "ivan petrov@mail.ru", "ivan@mail..ru"],
)
def test_bad_syntax_is_flagged_and_kept_out_but_not_dropped(raw: str) -> None:
    cleaned = clean_email(raw)
    assert cleaned.value is None
    assert cleaned.matching_key is None
    assert cleaned.original == raw
    assert cleaned.flag_codes == {FlagCode.INVALID_SYNTAX}
    assert cleaned.flags[0].reason.startswith("Not a valid email address")
    assert not cleaned.usable_for_matching and not cleaned.usable_for_messaging


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_address_is_flagged_empty(raw: str | None) -> None:
    cleaned = clean_email(raw)
    assert cleaned.value is None
    assert cleaned.flag_codes == {FlagCode.EMPTY}


@pytest.mark.parametrize(
    ("raw", "expected_value"),
    [
        ("ivan@gmial.com", "ivan@gmail.com"),
        ("ivan@gmai.com", "ivan@gmail.com"),
        ("ivan@gmail.co", "ivan@gmail.com"),
        ("ivan@gamil.com", "ivan@gmail.com"),
        ("jane@hotmial.com", "jane@hotmail.com"),
        ("jane@yaho.com", "jane@yahoo.com"),
        ("petrov@mail.rh", "petrov@mail.ru"),
        ("petrov@mial.ru", "petrov@mail.ru"),
        ("petrov@mail.ry", "petrov@mail.ru"),
        ("petrov@yandex.ry", "petrov@yandex.ru"),
        ("petrov@yndex.ru", "petrov@yandex.ru"),
        ("petrov@list.r", "petrov@list.ru"),
        ("petrov@inbox.ry", "petrov@inbox.ru"),
        ("petrov@bk.rj", "petrov@bk.ru"),
        ("Petrov@MAIL.RH", "Petrov@mail.ru"),
    ],
)
def test_common_domain_typos_are_corrected_with_a_flag(raw: str, expected_value: str) -> None:
    cleaned = clean_email(raw)
    assert cleaned.value == expected_value
    assert cleaned.flag_codes == {FlagCode.TYPO_DOMAIN_CORRECTED}
    assert raw.rpartition("@")[2] in cleaned.flags[0].reason
    # Good evidence of who the person is, but a guess to send mail to.
    assert cleaned.usable_for_matching
    assert not cleaned.usable_for_messaging


def test_every_typo_in_the_table_maps_to_a_clean_domain_that_is_not_itself_a_typo() -> None:
    for typo, domain in TYPO_DOMAINS.items():
        assert typo == typo.casefold() and typo != domain
        assert domain not in TYPO_DOMAINS
        cleaned = clean_email(f"someone@{typo}")
        assert cleaned.value == f"someone@{domain}"
        assert clean_email(f"someone@{domain}").flags == ()


@pytest.mark.parametrize(
    "raw",
    ["test@mailinator.com", "x@10minutemail.com", "x@guerrillamail.com", "x@a.mailinator.com"],
)
def test_disposable_domains_are_kept_out_of_matching_and_messaging(raw: str) -> None:
    cleaned = clean_email(raw)
    assert cleaned.value == raw
    assert cleaned.flag_codes == {FlagCode.DISPOSABLE_DOMAIN}
    assert not cleaned.usable_for_matching and not cleaned.usable_for_messaging


def test_ordinary_domains_are_not_disposable() -> None:
    for domain in ["gmail.com", "mail.ru", "yandex.ru", "panasonic.ru", "chmail.ir"]:
        assert not is_disposable_domain(domain)


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (
            [
                "ivan.petrov@gmail.com",
                "IvanPetrov@gmail.com",
                "i.v.a.n.petrov+shop@gmail.com",
                "ivanpetrov@googlemail.com",
            ],
            "ivanpetrov@gmail.com",
        ),
        (
            [
                "ivan.petrov@yandex.ru",
                "ivan-petrov@ya.ru",
                "Ivan.Petrov+promo@yandex.com",
                "ivan-petrov@yandex.by",
            ],
            "ivan-petrov@yandex.ru",
        ),
        (["anna@mail.ru", "Anna+club@mail.ru", "ANNA@MAIL.RU"], "anna@mail.ru"),
        (["anna+x@bk.ru", "anna@bk.ru"], "anna@bk.ru"),
        (["john.smith+news@outlook.com", "John.Smith@outlook.com"], "john.smith@outlook.com"),
    ],
)
def test_provider_rules_fold_spellings_of_one_mailbox_into_one_key(
    spellings: list[str], key: str
) -> None:
    for spelling in spellings:
        cleaned = clean_email(spelling)
        assert cleaned.matching_key == key, spelling
        # The address to write to stays as written.
        assert cleaned.value is not None
        assert cleaned.value.partition("@")[0] == spelling.partition("@")[0]


def test_different_mail_ru_domains_stay_different_mailboxes() -> None:
    assert clean_email("anna@bk.ru").matching_key != clean_email("anna@mail.ru").matching_key


def test_dots_are_significant_outside_gmail() -> None:
    assert email_matching_key("ivan.petrov", "mail.ru") == "ivan.petrov@mail.ru"
    assert email_matching_key("ivan.petrov", "example.com") == "ivan.petrov@example.com"


def test_plus_tags_are_kept_for_unknown_providers() -> None:
    # Some company servers use "+" in real mailbox names.
    assert clean_email("sales+ru@panasonic.ru").matching_key == "sales+ru@panasonic.ru"


def test_international_domain_matches_its_punycode_form() -> None:
    assert (
        clean_email("user@пример.рф").matching_key
        == clean_email("user@xn--e1afmkfd.xn--p1ai").matching_key
    )


def test_cleaning_a_cleaned_address_changes_nothing() -> None:
    for raw in ["  Ivan.Petrov@MAIL.RH ", "reza@GMAIL.COM", "x@mailinator.com"]:
        first = clean_email(raw)
        assert first.value is not None
        second = clean_email(first.value)
        assert second.value == first.value
        assert second.matching_key == first.matching_key
