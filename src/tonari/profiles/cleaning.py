"""The profile cleaning library in one import: every cleaner and its result type.

Each cleaner is a pure function of its input (and of "today" and the source's conventions,
passed in), so imports, the API and tests all get the same answer. The cleaners live in one
module per kind of value; this module only gathers them.
"""

from __future__ import annotations

from tonari.profiles.cities import CITY_SYNONYMS, CleanedCity, clean_city
from tonari.profiles.dates import (
    MAX_AGE_YEARS,
    CleanedBirthDate,
    clean_birth_date,
    expand_two_digit_year,
)
from tonari.profiles.email_domains import PROVIDER_RULES, TYPO_DOMAINS, ProviderRule
from tonari.profiles.emails import (
    CleanedEmail,
    clean_email,
    correct_typo_domain,
    email_matching_key,
    is_disposable_domain,
)
from tonari.profiles.flags import CleanedValue, Flag, FlagCode
from tonari.profiles.gender import (
    COMMON_GENDER_WORDS,
    CleanedGender,
    Gender,
    clean_gender,
    infer_gender_from_russian_name,
)
from tonari.profiles.names import (
    CleanedFullName,
    CleanedName,
    NameOrder,
    PersonName,
    are_swapped_names,
    clean_name,
    looks_like_full_name,
    name_matching_key,
    split_full_name,
)
from tonari.profiles.phones import CleanedPhone, PhoneLineType, clean_phone

__all__ = [
    "CITY_SYNONYMS",
    "COMMON_GENDER_WORDS",
    "MAX_AGE_YEARS",
    "PROVIDER_RULES",
    "TYPO_DOMAINS",
    "CleanedBirthDate",
    "CleanedCity",
    "CleanedEmail",
    "CleanedFullName",
    "CleanedGender",
    "CleanedName",
    "CleanedPhone",
    "CleanedValue",
    "Flag",
    "FlagCode",
    "Gender",
    "NameOrder",
    "PersonName",
    "PhoneLineType",
    "ProviderRule",
    "are_swapped_names",
    "clean_birth_date",
    "clean_city",
    "clean_email",
    "clean_gender",
    "clean_name",
    "clean_phone",
    "correct_typo_domain",
    "email_matching_key",
    "expand_two_digit_year",
    "infer_gender_from_russian_name",
    "is_disposable_domain",
    "looks_like_full_name",
    "name_matching_key",
    "split_full_name",
]
