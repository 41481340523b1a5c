"""One source row → one cleaned record: mapped to Tonari's fields, every value checked.

Nothing is dropped in silence: a value a cleaner refuses stays in ``raw`` and gets a flag with
its reason, and only usable values reach the matching columns (``email_key``, ``phone``...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from tonari.identity.sources import PROFILE_FIELDS, DateOrder, SourceDefinition
from tonari.kit.errors import ValidationFailed
from tonari.profiles.cleaning import (
    CleanedValue,
    FlagCode,
    Gender,
    clean_birth_date,
    clean_city,
    clean_email,
    clean_gender,
    clean_name,
    clean_phone,
    infer_gender_from_russian_name,
    split_full_name,
)
from tonari.profiles.text import collapse_whitespace

MAX_RECORD_ID = 200
# Flags that only describe a harmless tidy-up; the report lists them for nobody.
QUIET_FLAGS = frozenset({FlagCode.EMPTY, FlagCode.CANONICAL_NAME_APPLIED})
VALID, INVALID, DISPOSABLE, TYPO, LANDLINE = "valid", "invalid", "disposable", "typo", "landline"
UNREACHABLE = "unreachable"


@dataclass(slots=True)
class CleanRecord:
    """The columns of one ``source_records`` row."""

    record_id: str
    content_hash: str
    raw: dict[str, str | None]
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    email: str | None = None
    email_key: str | None = None
    email_status: str | None = None
    phone: str | None = None
    phone_status: str | None = None
    city: str | None = None
    address: str | None = None
    postcode: str | None = None
    region: str | None = None
    card_number: str | None = None
    external_id: str | None = None
    anonymous_id: str | None = None
    source_updated_at: datetime | None = None
    flags: list[dict[str, Any]] = field(default_factory=list)


def field_mapping(definition: SourceDefinition, header: list[str]) -> dict[str, str]:
    """Tonari field → the file's column; columns named like Tonari's fields map themselves.

    Fails, before anything is read, when the file lacks the record id or a mapped column.
    """
    mapping = {target: column for column, target in definition.columns.items()}
    for column in header:
        if column in PROFILE_FIELDS and column not in mapping and column not in definition.columns:
            mapping[column] = column
    missing = sorted(column for column in definition.columns if column not in header)
    if missing:
        raise ValidationFailed(
            f"the file has no column {', '.join(missing)}, which source {definition.name!r} "
            f"maps; its columns are: {', '.join(header)}",
            field="columns",
            code="missing_column",
        )
    if "record_id" not in mapping:
        raise ValidationFailed(
            "no column gives the record id: name one record_id, or map the source's id column "
            f"to record_id; the file's columns are: {', '.join(header)}",
            field="record_id",
            code="missing_column",
        )
    return mapping


def content_hash(values: dict[str, str | None]) -> str:
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _flag(record: CleanRecord, name: str, cleaned: CleanedValue[Any]) -> None:
    for flag in cleaned.flags:
        if flag.code in QUIET_FLAGS:
            continue
        original = cleaned.original if isinstance(cleaned.original, str) else None
        record.flags.append(
            {"field": name, "code": str(flag.code), "reason": flag.reason, "value": original}
        )


@lru_cache(maxsize=65_536)
def _name(raw: str) -> Any:
    return clean_name(raw)


@lru_cache(maxsize=65_536)
def _full_name(raw: str) -> Any:
    return split_full_name(raw)


@lru_cache(maxsize=8_192)
def _city(raw: str) -> Any:
    return clean_city(raw)


@lru_cache(maxsize=1_024)
def _gender(raw: str) -> Any:
    return clean_gender(raw)


@lru_cache(maxsize=65_536)
def _inferred_gender(patronymic: str | None, family_name: str | None) -> Any:
    return infer_gender_from_russian_name(patronymic=patronymic, family_name=family_name)


def _tidy(raw: str | None, limit: int) -> str | None:
    if raw is None:
        return None
    text = collapse_whitespace(raw)
    return text[:limit] if text else None


def clean_row(
    values: dict[str, str | None],
    mapping: dict[str, str],
    definition: SourceDefinition,
    *,
    today: date,
) -> CleanRecord | str:
    """The cleaned record, or the reason the row cannot be a record at all."""
    mapped = {target: values.get(column) for target, column in mapping.items()}
    record_id = _tidy(mapped.get("record_id"), MAX_RECORD_ID + 1)
    if not record_id:
        return f"no record id (column {mapping['record_id']!r} is empty)"
    if len(record_id) > MAX_RECORD_ID:
        return f"the record id is longer than {MAX_RECORD_ID} characters"
    record = CleanRecord(record_id=record_id, content_hash=content_hash(values), raw=values)
    _names(record, mapped)
    _contacts(record, mapped, definition)
    _person(record, mapped, definition, today)
    record.address = _tidy(mapped.get("address"), 300)
    record.postcode = _tidy(mapped.get("postcode"), 20)
    record.region = _tidy(mapped.get("region"), 120)
    card = mapped.get("card_number")
    record.card_number = ("".join(card.split())[:64] or None) if card else None
    record.external_id = _tidy(mapped.get("external_id"), 128)
    record.anonymous_id = _tidy(mapped.get("anonymous_id"), 128)
    updated = mapped.get("updated_at")
    if updated:
        try:
            stamp = datetime.fromisoformat(updated.strip())
            record.source_updated_at = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        except ValueError:
            record.flags.append(
                {
                    "field": "updated_at",
                    "code": str(FlagCode.UNRECOGNISED_FORMAT),
                    "reason": "Not an ISO date and time (2024-05-01T10:00:00).",
                    "value": updated,
                }
            )
    return record


def _names(record: CleanRecord, mapped: dict[str, str | None]) -> None:
    for name in ("first_name", "last_name", "middle_name"):
        raw = mapped.get(name)
        if raw is None:
            continue
        cleaned = _name(raw)
        _flag(record, name, cleaned)
        if cleaned.value is not None:
            setattr(record, name, cleaned.value[:120])
    full = mapped.get("full_name")
    if full is not None and not (record.first_name or record.last_name):
        split = _full_name(full)
        _flag(record, "full_name", split)
        if split.value is not None:
            record.first_name = (split.value.given_name or "")[:120] or None
            record.last_name = (split.value.family_name or "")[:120] or None
            record.middle_name = record.middle_name or split.value.patronymic


def _contacts(
    record: CleanRecord, mapped: dict[str, str | None], definition: SourceDefinition
) -> None:
    email_raw = mapped.get("email")
    if email_raw is not None:
        email = clean_email(email_raw)
        _flag(record, "email", email)
        if email.value is None:
            record.email_status = INVALID
        else:
            record.email = email.value[:320]
            record.email_key = email.matching_key if email.usable_for_matching else None
            if email.has_flag(FlagCode.DISPOSABLE_DOMAIN):
                record.email_status = DISPOSABLE
            elif email.has_flag(FlagCode.TYPO_DOMAIN_CORRECTED):
                record.email_status = TYPO
            else:
                record.email_status = VALID
    phone_raw = mapped.get("phone")
    if phone_raw is not None:
        phone = clean_phone(phone_raw, default_region=definition.region)
        _flag(record, "phone", phone)
        if phone.value is None:
            record.phone_status = INVALID
        else:
            record.phone = phone.value
            record.phone_status = VALID if phone.usable_for_messaging else LANDLINE


def _person(
    record: CleanRecord,
    mapped: dict[str, str | None],
    definition: SourceDefinition,
    today: date,
) -> None:
    birth_raw = mapped.get("birth_date")
    if birth_raw is not None:
        day_first = {DateOrder.DMY: True, DateOrder.MDY: False}.get(definition.date_order)
        birth = clean_birth_date(birth_raw, today=today, day_first=day_first)
        _flag(record, "birth_date", birth)
        record.birth_date = birth.value
    gender_raw = mapped.get("gender")
    if gender_raw is not None:
        gender = _gender(gender_raw)
        _flag(record, "gender", gender)
        if gender.value is not None:
            record.gender = str(gender.value)
    if record.gender is None and (record.middle_name or record.last_name):
        inferred = _inferred_gender(record.middle_name, record.last_name)
        if isinstance(inferred.value, Gender):
            record.gender = str(inferred.value)
            _flag(record, "gender", inferred)
    city_raw = mapped.get("city")
    if city_raw is not None:
        city = _city(city_raw)
        _flag(record, "city", city)
        record.city = city.value[:120] if city.value else None


def is_inferred(record_flags: list[dict[str, Any]], name: str) -> bool:
    return any(flag["field"] == name and flag["code"] == FlagCode.INFERRED for flag in record_flags)
