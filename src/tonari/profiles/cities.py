"""Cleaning city names: the "г." prefix, letter case, and the many names of one city.

"г. Москва", "Moscow" and "мск" are one place; matching and the quality report must see them
as one value. Known cities come from a small synonyms table (one line per city, easy to grow);
any other city is only tidied (spacing, prefix, case), never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag
from tonari.profiles.text import collapse_whitespace, matching_form, remove_junk, title_case_words

# Canonical name -> other names people write. A city's canonical name is its own local name.
CITY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "Москва": ("moscow", "moskva", "мск", "msk"),
    "Санкт-Петербург": (
        "спб",
        "питер",
        "с-петербург",
        "с.-петербург",
        "санкт петербург",
        "с.петербург",
        "saint petersburg",
        "saint-petersburg",
        "st. petersburg",
        "st petersburg",
        "spb",
    ),
    "Екатеринбург": ("екб", "екат", "ekaterinburg", "yekaterinburg"),
    "Нижний Новгород": ("н. новгород", "н.новгород", "н новгород", "nizhny novgorod"),
    "Новосибирск": ("novosibirsk", "нск"),
    "Ростов-на-Дону": ("ростов на дону", "rostov-on-don", "rostov-na-donu"),
    "Казань": ("kazan",),
    "تهران": ("tehran", "teheran", "тегеран"),
    "اصفهان": ("isfahan", "esfahan", "исфахан"),
    "مشهد": ("mashhad", "мешхед"),
}

# "г. Москва", "г Москва", "гор. Москва", "город Москва", "Moscow city". The prefix needs a dot
# or a space after it, so that the "г" of "Гагра" stays.
_CITY_PREFIX = re.compile(
    r"^(?:город\s+|гор\.\s*|г\.\s*|г\s+|city of\s+|شهر\s+)(?=\S)", re.IGNORECASE
)
_CITY_SUFFIX = re.compile(r"\s+(?:г\.?|city)$", re.IGNORECASE)


def _lookup_form(text: str) -> str:
    return collapse_whitespace(matching_form(text).replace("-", " - ")).replace(" - ", "-")


CANONICAL_CITY_BY_NAME: dict[str, str] = {
    _lookup_form(name): canonical
    for canonical, others in CITY_SYNONYMS.items()
    for name in (canonical, *others)
}


@dataclass(frozen=True, kw_only=True)
class CleanedCity(CleanedValue[str]):
    """``value`` is the city's canonical name if known, else the tidied name as written."""


def _strip_city_prefix(text: str) -> str:
    return _CITY_SUFFIX.sub("", _CITY_PREFIX.sub("", text)).strip()


def clean_city(raw: str | None) -> CleanedCity:
    """Tidy a city name and replace a known synonym or abbreviation by the canonical name."""
    if raw is None or not raw.strip():
        return CleanedCity(value=None, original=raw, flags=(empty_flag("city"),))
    flags: list[Flag] = []
    text = _strip_city_prefix(collapse_whitespace(raw))
    canonical = CANONICAL_CITY_BY_NAME.get(_lookup_form(text))
    if canonical is None:
        kept, dropped = remove_junk(text)
        if dropped:
            flags.append(
                Flag(
                    FlagCode.JUNK_REMOVED,
                    f'Removed characters that are not part of a city name: "{dropped}".',
                )
            )
        # Junk can hide a prefix ("г.1 Тула"), so strip it again on what is left.
        text = _strip_city_prefix(kept)
        canonical = CANONICAL_CITY_BY_NAME.get(_lookup_form(text))
    if canonical is not None:
        if _lookup_form(canonical) != _lookup_form(text):
            flags.append(
                Flag(FlagCode.CANONICAL_NAME_APPLIED, f'"{text}" is another name for {canonical}.')
            )
        city = canonical
    else:
        city = title_case_words(text)
    if not city:
        flags.append(Flag(FlagCode.INVALID_SYNTAX, "Nothing that looks like a city name is left."))
        return CleanedCity(value=None, original=raw, flags=tuple(flags))
    return CleanedCity(
        value=city,
        original=raw,
        flags=tuple(flags),
        usable_for_matching=True,
        usable_for_messaging=True,
    )
