"""Text helpers shared by the name and city cleaners: spacing, junk, letter case, match keys."""

from __future__ import annotations

import re
import unicodedata

ZERO_WIDTH_NON_JOINER = "\u200c"

# Small words that stay lower-case inside a name unless they start it: "Ростов-на-Дону",
# "Ludwig van Beethoven", "Leonardo da Vinci", "Эльдар Гусейн оглы". Words that are also
# surnames ("Ван", "Ле") are left out on purpose.
LOWER_CASE_PARTICLES = frozenset(
    {"на", "под", "фон", "оглы", "кызы", "van", "von", "der", "de", "del", "da", "di"}
)

_WHITESPACE_RUN = re.compile(r"\s+")
_SEPARATOR_RUN = re.compile(r"\s*([-'’])\s*")

# Persian text is often typed on Arabic keyboards: the same name arrives with Arabic yeh/kaf.
_ARABIC_TO_PERSIAN_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه"})


def collapse_whitespace(text: str) -> str:
    """Trim, and turn every run of spaces, tabs and non-breaking spaces into one space."""
    return _WHITESPACE_RUN.sub(" ", text).strip()


def is_name_character(character: str) -> bool:
    """Letters and combining marks (Persian vowel signs), plus the joiners names really use."""
    if character in " -'’" or character == ZERO_WIDTH_NON_JOINER:
        return True
    return unicodedata.category(character)[0] in {"L", "M"}


def remove_junk(text: str) -> tuple[str, str]:
    """Drop digits, punctuation and symbols; returns the kept text and what was dropped."""
    kept = "".join(c for c in text if is_name_character(c))
    dropped = "".join(c for c in text if not is_name_character(c) and not c.isspace())
    kept = _SEPARATOR_RUN.sub(r"\1", collapse_whitespace(kept)).strip(" -'’")
    return kept, dropped


def _capitalise_segment(segment: str, *, is_first: bool) -> str:
    if not segment:
        return segment
    if not is_first and segment.casefold() in LOWER_CASE_PARTICLES:
        return segment.casefold()
    # Mixed case that already starts with a capital ("McDonald", "DeVito") was typed on purpose.
    if segment[0].isupper() and not segment.isupper():
        return segment
    return segment[0].upper() + segment[1:].lower()


def title_case_words(text: str) -> str:
    """Capitalise each word and each part of a hyphenated word ("анна-мария" -> "Анна-Мария").

    Scripts without letter case (Persian, Arabic) pass through unchanged, because ``upper`` and
    ``lower`` leave them alone. A one-letter part before an apostrophe keeps the next letter
    capital ("o'brien" -> "O'Brien").
    """
    words = []
    for word_index, word in enumerate(text.split(" ")):
        parts = re.split(r"([-'’])", word)
        cased: list[str] = []
        for part_index, part in enumerate(parts):
            if part in {"-", "'", "’"}:
                cased.append(part)
                continue
            is_first = word_index == 0 and part_index == 0
            cased.append(_capitalise_segment(part, is_first=is_first))
        words.append("".join(cased))
    return " ".join(words)


def matching_form(text: str) -> str:
    """A comparison key: case-folded, "ё" as "е", Arabic letters as their Persian twins."""
    folded = unicodedata.normalize("NFC", collapse_whitespace(text)).casefold()
    return folded.replace("ё", "е").translate(_ARABIC_TO_PERSIAN_LETTERS)
