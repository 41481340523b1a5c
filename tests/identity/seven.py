"""The seven small source files: declared, written and imported for the identity tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.importer import ImportSummary, RowIssue, import_customers
from tonari.identity.sources import get_source, parse_sources_yaml, put_source, source_definition

FILES = Path(__file__).parent / "seven_sources"
TODAY = datetime(2026, 11, 24, tzinfo=UTC)
ORDER = (
    ("online_store", "online_store.csv"),
    ("offline_stores", "offline_stores.csv"),
    ("cooking_club", "cooking_club.jsonl"),
    ("camera_club", "camera_club.csv"),
    ("service_centre", "service_centre.parquet"),
    ("bank_cards", "bank_cards.csv"),
    ("mobile_app", "mobile_app.jsonl"),
)
# Who each record really is, worked out by hand from the files.
PEOPLE = {
    "anna": {"online_store:w1", "offline_stores:s1", "cooking_club:c1", "camera_club:k2"},
    "dmitry": {"online_store:w2", "offline_stores:s4", "camera_club:k1", "service_centre:r1"},
    "olga": {"online_store:w3", "bank_cards:b2"},
    "maria": {"online_store:w4"},
    "reza": {"online_store:w5", "service_centre:r2", "bank_cards:b1"},
    "sergey_7101": {"offline_stores:s2"},
    "sergey_7102": {"offline_stores:s3"},
    "elena": {"cooking_club:c2", "mobile_app:m1"},
    "nobody": {"cooking_club:c3"},
    "pavel": {"mobile_app:m2"},
}
# The bank writes Reza's names the other way round and knows nothing else about him but his
# birth date and city: the model is not sure enough on twenty records, so that pair waits for
# a person in the review queue instead of merging by itself.
AUTOMATIC = {
    **{name: records for name, records in PEOPLE.items() if name != "reza"},
    "reza": {"online_store:w5", "service_centre:r2"},
    "reza_at_the_bank": {"bank_cards:b1"},
}


def write_service_centre(folder: Path) -> Path:
    """The one Parquet source (binary, so written here rather than kept in the repo)."""
    path = folder / "service_centre.parquet"
    table = pa.table(
        {
            "record_id": ["r1", "r2"],
            "first_name": ["Дмитрий", "Reza"],
            "last_name": ["Смирнов", "Ahmadi"],
            "phone": ["+7 903 555 12 34", "+98 912 123 4567"],
            "city": ["Тула", "Tehran"],
            "address": ["ул. Ленина, 5", None],
        }
    )
    pq.write_table(table, path)
    return path


async def import_seven(
    session: AsyncSession, tenant_id: int, folder: Path
) -> tuple[dict[str, ImportSummary], list[RowIssue]]:
    for definition in parse_sources_yaml((FILES / "sources.yaml").read_text(encoding="utf-8")):
        await put_source(session, tenant_id=tenant_id, definition=definition)
    write_service_centre(folder)
    summaries: dict[str, ImportSummary] = {}
    issues: list[RowIssue] = []
    for name, file_name in ORDER:
        path = folder / file_name if file_name.endswith(".parquet") else FILES / file_name
        source = await get_source(session, tenant_id=tenant_id, name=name)
        summaries[name] = await import_customers(
            session,
            tenant_id=tenant_id,
            source=source,
            definition=source_definition(source),
            path=path,
            today=TODAY.date(),
            on_issue=issues.append,
        )
    return summaries, issues
