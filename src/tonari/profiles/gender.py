"""Cleaning gender values, and suggesting one from Russian name endings.

Sources code gender in their own ways ("м", "Female", "مرد", 1/2 — and what 1 means differs),
so each source may bring its own mapping on top of the common words. A value nobody can read
becomes None with a flag, never a guess. Inference from a patronymic or family name is only a
*suggestion*: it is flagged ``inferred`` and never used as identity evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from tonari.profiles.flags import CleanedValue, Flag, FlagCode, empty_flag
from tonari.profiles.text import matching_form


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


# Words that mean the same in every source. Numbers follow ISO/IEC 5218 (1 male, 2 female,
# 0 and 9 "not known"/"not applicable") unless the source's own mapping says otherwise.
COMMON_GENDER_WORDS: dict[str, Gender | None] = {
    **dict.fromkeys(
        ("m", "male", "man", "mr", "м", "муж", "мужской", "мужчина", "مرد", "آقا", "1"),
        Gender.MALE,
    ),
    **dict.fromkeys(
        (
            "f",
            "female",
            "woman",
            "w",
            "mrs",
            "ms",
            "ж",
            "жен",
            "женский",
            "женщина",
            "زن",
            "خانم",
            "2",
        ),
        Gender.FEMALE,
    ),
    **dict.fromkeys(("0", "9", "u", "unknown", "не указан", "нет данных", "-"), None),
}


@dataclass(frozen=True, kw_only=True)
class CleanedGender(CleanedValue[Gender]):
    """``value`` is male, female or None (unknown, with the reason in ``flags``)."""


def _gender_key(raw: str | int) -> str:
    return matching_form(str(raw)).strip(".")


def clean_gender(
    raw: str | int | None, *, source_mapping: Mapping[str, Gender | None] | None = None
) -> CleanedGender:
    """Read a gender value; ``source_mapping`` (e.g. ``{"0": Gender.MALE, "1": Gender.FEMALE}``)
    overrides and extends the common words for one source."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return CleanedGender(value=None, original=raw, flags=(empty_flag("gender"),))
    key = _gender_key(raw)
    mapping: dict[str, Gender | None] = dict(COMMON_GENDER_WORDS)
    mapping.update({_gender_key(word): gender for word, gender in (source_mapping or {}).items()})
    gender = mapping.get(key)
    if gender is None:
        reason = (
            f'"{raw}" says the gender is not known.'
            if key in mapping
            else f'"{raw}" is not a gender value this source is known to use.'
        )
        return CleanedGender(
            value=None, original=raw, flags=(Flag(FlagCode.UNKNOWN_VALUE, reason),)
        )
    return CleanedGender(
        value=gender, original=raw, usable_for_matching=True, usable_for_messaging=True
    )


_PATRONYMIC_ENDINGS: tuple[tuple[re.Pattern[str], Gender], ...] = (
    (re.compile(r"(вич|ьич|ич|\sоглы|-оглы)$"), Gender.MALE),
    (re.compile(r"(вна|чна|\sкызы|-кызы)$"), Gender.FEMALE),
)
_FAMILY_NAME_ENDINGS: tuple[tuple[re.Pattern[str], Gender], ...] = (
    (re.compile(r"(ова|ева|ёва|ина|ына|ская|цкая)$"), Gender.FEMALE),
    (re.compile(r"(ов|ев|ёв|ин|ын|ский|цкий)$"), Gender.MALE),
)


def infer_gender_from_russian_name(
    *, patronymic: str | None = None, family_name: str | None = None
) -> CleanedGender:
    """Suggest a gender from a Russian patronymic (reliable) or family name (less so).

    The patronymic wins when both are given. Family names that do not change with gender
    ("Черных", "Шевченко", "Ким") give no suggestion.
    """
    original = {"patronymic": patronymic, "family_name": family_name}
    for clue, endings, what in (
        (patronymic, _PATRONYMIC_ENDINGS, "patronymic"),
        (family_name, _FAMILY_NAME_ENDINGS, "family name"),
    ):
        if not clue:
            continue
        text = matching_form(clue)
        for pattern, gender in endings:
            if pattern.search(text):
                reason = f'Suggested {gender.value} from the {what} "{clue.strip()}".'
                return CleanedGender(
                    value=gender,
                    original=original,
                    flags=(Flag(FlagCode.INFERRED, reason),),
                    usable_for_matching=False,
                    usable_for_messaging=True,
                )
    return CleanedGender(
        value=None,
        original=original,
        flags=(Flag(FlagCode.UNKNOWN_VALUE, "The name gives no clue to the gender."),),
    )
