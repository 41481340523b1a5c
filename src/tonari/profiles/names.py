"""Cleaning personal names: spacing, letter case, junk, and full names typed into one field.

Names are compared across Russian, Persian and English sources, so the cleaner only fixes what
is certainly noise (extra spaces, digits, shouting in capitals) and never transliterates or
guesses spelling. Splitting "Иванова Анна Сергеевна" into parts is done only when asked,
because a two-word given name ("Анна Мария", "محمد رضا") is common and legitimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag
from tonari.profiles.text import (
    collapse_whitespace,
    matching_form,
    remove_junk,
    title_case_words,
)

# Endings of Russian family names and patronymics: the clues that tell which word is which.
_RUSSIAN_FAMILY_NAME = re.compile(
    r"(ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|цкий|ская|цкая|ой|ая|ых|их)$", re.IGNORECASE
)
_RUSSIAN_PATRONYMIC = re.compile(r"(вич|ьич|ич|вна|ична|инична|оглы|кызы)$", re.IGNORECASE)
# Common given names that happen to end like family names ("Ирина", "Константин", "Лев").
_GIVEN_NAMES_WITH_FAMILY_ENDINGS = frozenset(
    {
        "алина",
        "ангелина",
        "арина",
        "валентина",
        "галина",
        "дина",
        "екатерина",
        "ирина",
        "карина",
        "кристина",
        "марина",
        "нина",
        "полина",
        "регина",
        "зарина",
        "элина",
        "константин",
        "валентин",
        "вениамин",
        "мартин",
        "лев",
        "яков",
    }
)
# Persian family names commonly end in these (Hosseinzadeh, Rezapour, Ahmadinejad, Karimian).
_PERSIAN_FAMILY_NAME = re.compile(r"(زاده|پور|نژاد|یان|ی‌فر|فر)$")


class NameOrder(StrEnum):
    """How a source writes a full name in one field, when it knows."""

    AUTO = "auto"
    GIVEN_FIRST = "given_first"
    FAMILY_FIRST = "family_first"


@dataclass(frozen=True)
class PersonName:
    given_name: str | None
    family_name: str | None
    patronymic: str | None = None


@dataclass(frozen=True, kw_only=True)
class CleanedName(CleanedValue[str]):
    """One name part (a given name or a family name)."""


@dataclass(frozen=True, kw_only=True)
class CleanedFullName(CleanedValue[PersonName]):
    """A full name from one field, split into its parts."""


def _is_family_name(word: str) -> bool:
    if word.casefold().replace("ё", "е") in _GIVEN_NAMES_WITH_FAMILY_ENDINGS:
        return False
    return bool(_RUSSIAN_FAMILY_NAME.search(word) or _PERSIAN_FAMILY_NAME.search(word))


def _is_patronymic(word: str) -> bool:
    return bool(_RUSSIAN_PATRONYMIC.search(word))


def looks_like_full_name(name: str) -> bool:
    """True when one field seems to hold a whole name, e.g. "Иванова Анна" in "first name".

    Two words are a full name only when one of them has a family-name or patronymic ending;
    three or more words almost always are.
    """
    words = collapse_whitespace(name).split(" ")
    if len(words) >= 3:
        return True
    return len(words) == 2 and any(_is_family_name(w) or _is_patronymic(w) for w in words)


def _tidy(raw: str, what: str) -> tuple[str, list[Flag]]:
    flags: list[Flag] = []
    kept, dropped = remove_junk(collapse_whitespace(raw))
    if dropped:
        flags.append(
            Flag(
                FlagCode.JUNK_REMOVED,
                f'Removed characters that are not part of a {what}: "{dropped}".',
            )
        )
    return title_case_words(kept), flags


def clean_name(raw: str | None) -> CleanedName:
    """Trim, collapse spaces, drop digits and symbols, and title-case each word.

    A full name found in one field is flagged, not split: :func:`split_full_name` does that
    when the caller knows the field should hold one part only.
    """
    if raw is None or not raw.strip():
        return CleanedName(value=None, original=raw, flags=(empty_flag("name"),))
    name, flags = _tidy(raw, "name")
    if not name:
        flags.append(Flag(FlagCode.INVALID_SYNTAX, "Nothing that looks like a name is left."))
        return CleanedName(value=None, original=raw, flags=tuple(flags))
    if looks_like_full_name(name):
        flags.append(
            Flag(
                FlagCode.FULL_NAME_IN_ONE_FIELD,
                f'"{name}" looks like a whole name (family name, given name) in one field.',
            )
        )
    return CleanedName(
        value=name,
        original=raw,
        flags=tuple(flags),
        usable_for_matching=True,
        usable_for_messaging=True,
    )


def _family_name_comes_first(words: list[str], order: NameOrder) -> bool:
    if order is not NameOrder.AUTO:
        return order is NameOrder.FAMILY_FIRST
    if len(words) == 3 and _is_patronymic(words[2]):
        return True  # "Иванова Анна Сергеевна": the formal Russian order
    if len(words) == 3 and _is_patronymic(words[1]):
        return False  # "Анна Сергеевна Иванова"
    return _is_family_name(words[0]) and not _is_family_name(words[-1])


def split_full_name(raw: str | None, *, order: NameOrder = NameOrder.AUTO) -> CleanedFullName:
    """Split a full name typed in one field into given name, family name and patronymic.

    With ``order=AUTO`` the Russian endings decide ("Иванова Анна" is family first); without
    a clue the Western and Persian order, given name first, is assumed. Words between the
    given and family name that are not a patronymic stay with the given name ("Анна Мария").
    """
    if raw is None or not raw.strip():
        return CleanedFullName(value=None, original=raw, flags=(empty_flag("name"),))
    name, flags = _tidy(raw, "name")
    words = name.split(" ") if name else []
    if not words:
        flags.append(Flag(FlagCode.INVALID_SYNTAX, "Nothing that looks like a name is left."))
        return CleanedFullName(value=None, original=raw, flags=tuple(flags))
    if len(words) == 1:
        flags.append(Flag(FlagCode.SINGLE_WORD_FULL_NAME, "Only one word: kept as the given name."))
        person = PersonName(given_name=words[0], family_name=None)
    elif _family_name_comes_first(words, order):
        family, rest = words[0], words[1:]
        patronymic = rest.pop() if len(rest) >= 2 and _is_patronymic(rest[-1]) else None
        person = PersonName(" ".join(rest), family, patronymic)
    else:
        rest, family = words[:-1], words[-1]
        patronymic = rest.pop() if len(rest) >= 2 and _is_patronymic(rest[-1]) else None
        person = PersonName(" ".join(rest), family, patronymic)
    return CleanedFullName(
        value=person,
        original=raw,
        flags=tuple(flags),
        usable_for_matching=True,
        usable_for_messaging=True,
    )


def name_matching_key(name: str) -> str:
    """Compare names ignoring case, "ё"/"е" and Arabic/Persian letter variants."""
    return matching_form(name)


def are_swapped_names(
    first: tuple[str | None, str | None], second: tuple[str | None, str | None]
) -> bool:
    """True when two (given name, family name) pairs are one person with the parts swapped.

    ("Анна", "Иванова") and ("Иванова", "Анна") are; a pair that is equal as written is not
    a swap (it is simply the same), and neither is one with a missing part.
    """
    given_a, family_a = first
    given_b, family_b = second
    if not (given_a and family_a and given_b and family_b):
        return False
    key = name_matching_key
    if key(given_a) == key(family_a):
        return False
    return key(given_a) == key(family_b) and key(family_a) == key(given_b)
