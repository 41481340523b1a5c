"""The brand's customer databases: how each one's files are read and how far it is trusted.

A source is declared once (YAML file or API) with a mapping from its column names to Tonari's
profile fields. A file whose columns already carry Tonari's field names needs no mapping.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound, ValidationFailed
from tonari.models.identity import CustomerSource

# Tonari's profile fields a source column can feed, in the order documents list them.
PROFILE_FIELDS = (
    "record_id",
    "external_id",
    "card_number",
    "first_name",
    "last_name",
    "middle_name",
    "full_name",
    "birth_date",
    "gender",
    "email",
    "phone",
    "city",
    "address",
    "postcode",
    "region",
    "updated_at",
    "anonymous_id",
)
# Created on first use: customers sent through the API are records of this source.
API_SOURCE = "api"
SOURCE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


class DateOrder(StrEnum):
    DMY = "DMY"
    MDY = "MDY"
    YMD = "YMD"


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


class SourceDefinition(BaseModel):
    """One source as the brand declares it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Machine name, [a-z0-9_], unique per brand")
    title: str | None = Field(default=None, max_length=200)
    trust: int = Field(default=50, ge=0, le=100, description="Higher wins conflicting values")
    region: str | None = Field(
        default=None, description="Default phone region, ISO 3166 alpha-2 (RU, IR, DE...)"
    )
    date_order: DateOrder = Field(
        default=DateOrder.DMY, description="How to read an ambiguous date like 03/04/1980"
    )
    encoding: str | None = Field(default=None, description="File encoding; detected if absent")
    format: FileFormat | None = Field(default=None, description="Default: by file extension")
    record_ids_are_people: bool = Field(
        default=False,
        description="Two different record ids of this source are never merged automatically",
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="Source column name -> Tonari field"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SOURCE_NAME.match(value):
            raise ValueError("use 1-64 lower-case letters, digits or underscores")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("a two-letter country code such as RU or IR")
        return value.upper()

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import codecs

        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({target for target in value.values() if target not in PROFILE_FIELDS})
        if unknown:
            raise ValueError(
                f"unknown Tonari field(s) {', '.join(unknown)}; use one of "
                + ", ".join(PROFILE_FIELDS)
            )
        targets = list(value.values())
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise ValueError(f"several columns feed {', '.join(twice)}: keep one")
        return value


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceDefinition] = Field(min_length=1)


def parse_sources_yaml(text: str) -> list[SourceDefinition]:
    """Read a sources file; a mistake names the source and field it is in."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"not valid YAML: {exc}", code="invalid_yaml") from None
    try:
        parsed = SourcesFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(
            f"{where}: {first['msg']}", field=where, code="invalid_source"
        ) from None
    names = [source.name for source in parsed.sources]
    if len(set(names)) != len(names):
        raise ValidationFailed("a source name appears twice", field="sources.name")
    return parsed.sources


def _values(definition: SourceDefinition) -> dict[str, Any]:
    return {
        "title": definition.title or definition.name.replace("_", " ").capitalize(),
        "trust": definition.trust,
        "region": definition.region,
        "date_order": str(definition.date_order),
        "encoding": definition.encoding,
        "file_format": str(definition.format) if definition.format else None,
        "record_ids_are_people": definition.record_ids_are_people,
        "columns": definition.columns,
    }


async def put_source(
    session: AsyncSession, *, tenant_id: int, definition: SourceDefinition
) -> CustomerSource:
    """Create or replace a source by name (its records stay)."""
    values = _values(definition)
    statement = (
        pg_insert(CustomerSource)
        .values(tenant_id=tenant_id, name=definition.name, **values)
        .on_conflict_do_update(
            index_elements=[CustomerSource.tenant_id, CustomerSource.name],
            set_={**values, "updated_at": func.now()},
        )
        .returning(CustomerSource)
    )
    return (await session.scalars(statement)).one()


async def list_sources(session: AsyncSession, *, tenant_id: int) -> list[CustomerSource]:
    return list(
        await session.scalars(
            select(CustomerSource)
            .where(CustomerSource.tenant_id == tenant_id)
            .order_by(CustomerSource.name)
        )
    )


async def get_source(session: AsyncSession, *, tenant_id: int, name: str) -> CustomerSource:
    source = await session.scalar(
        select(CustomerSource).where(
            CustomerSource.tenant_id == tenant_id, CustomerSource.name == name
        )
    )
    if source is None:
        raise NotFound(
            f"no source named {name!r}: declare it first (tonari sources apply FILE)",
            field="source",
            code="unknown_source",
        )
    return source


async def api_source(session: AsyncSession, *, tenant_id: int) -> CustomerSource:
    """The built-in source for customers sent through the API (trusted most: it is live)."""
    existing = await session.scalar(
        select(CustomerSource).where(
            CustomerSource.tenant_id == tenant_id, CustomerSource.name == API_SOURCE
        )
    )
    if existing is not None:
        return existing
    return await put_source(
        session,
        tenant_id=tenant_id,
        definition=SourceDefinition(
            name=API_SOURCE, title="API", trust=100, record_ids_are_people=True
        ),
    )


def source_definition(source: CustomerSource) -> SourceDefinition:
    return SourceDefinition(
        name=source.name,
        title=source.title,
        trust=source.trust,
        region=source.region,
        date_order=DateOrder(source.date_order),
        encoding=source.encoding,
        format=FileFormat(source.file_format) if source.file_format else None,
        record_ids_are_people=source.record_ids_are_people,
        columns=dict(source.columns),
    )
