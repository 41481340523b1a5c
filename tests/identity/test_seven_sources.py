"""Seven small source files with known duplicates resolve to the expected people."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tests.identity.seven import AUTOMATIC, PEOPLE, TODAY, import_seven
from tonari.identity.resolve import resolve_identities
from tonari.models.customers import Customer


async def _people(session: AsyncSession, tenant_id: int) -> dict[str, set[str]]:
    rows = await session.execute(
        text(
            "SELECT s.name || ':' || r.record_id AS record, r.profile_id FROM source_records r "
            "JOIN customer_sources s ON s.id = r.source_id WHERE r.tenant_id = :t "
            "AND s.name <> 'api'"
        ),
        {"t": tenant_id},
    )
    groups: dict[str, set[str]] = {}
    for record, profile_id in rows:
        groups.setdefault(str(profile_id), set()).add(record)
    return groups


async def test_imports_report_every_source_and_problem(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    summaries, issues = await import_seven(session, tenant.id, tmp_path)
    assert {name: s.created for name, s in summaries.items()} == {
        "online_store": 5,
        "offline_stores": 4,
        "cooking_club": 3,
        "camera_club": 2,
        "service_centre": 2,
        "bank_cards": 2,
        "mobile_app": 2,
    }
    # The camera club's file is cp1251 without saying so: detected, not garbled.
    assert summaries["camera_club"].encoding == "cp1251"
    assert summaries["offline_stores"].encoding == "cp1251"
    flagged = {(i.record_id, i.field, i.code) for i in issues if i.severity == "warning"}
    assert ("c1", "email", "typo_domain_corrected") in flagged
    assert ("c3", "email", "invalid_syntax") in flagged
    assert ("c3", "birth_date", "impossible_date") in flagged
    assert not [i for i in issues if i.severity == "rejected"]
    names = await session.execute(
        text(
            "SELECT record_id, first_name, last_name, middle_name, gender, phone FROM "
            "source_records WHERE tenant_id = :t AND record_id IN ('s1', 'k2')"
        ),
        {"t": tenant.id},
    )
    by_id = {row.record_id: row for row in names}
    # "Иванова Анна Сергеевна" in one field: family name first, patronymic split off.
    assert (by_id["s1"].first_name, by_id["s1"].last_name) == ("Анна", "Иванова")
    assert by_id["s1"].middle_name == "Сергеевна"
    assert by_id["s1"].gender == "female"
    assert by_id["k2"].phone == "+79161234567"  # 89161234567 read in the source's region


async def test_seven_sources_resolve_to_the_expected_people(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await import_seven(session, tenant.id, tmp_path)
    summary = await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    groups = sorted(sorted(group) for group in (await _people(session, tenant.id)).values())
    assert groups == sorted(sorted(group) for group in AUTOMATIC.values())
    assert summary.profiles == len(AUTOMATIC)
    assert summary.fuzzy_review == 1
    # The two Sergey Volkovs look alike but hold two cards; Olga and Maria share a home phone
    # but are two customers of the online store: both kept apart, and said so.
    assert summary.blocked >= 2


async def test_golden_record_takes_the_best_value_and_says_where_from(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await import_seven(session, tenant.id, tmp_path)
    await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    anna_profile = await session.scalar(
        text("SELECT profile_id FROM source_records WHERE tenant_id = :t AND record_id = 'w1'"),
        {"t": tenant.id},
    )
    anna = await session.get_one(Customer, anna_profile, populate_existing=True)
    assert (anna.first_name, anna.middle_name) == ("Анна", "Сергеевна")
    assert anna.email == "anna.ivanova@gmail.com"
    assert anna.email_status == "valid"  # the typo'd copy from the cooking club lost
    assert anna.phone == "+79161234567"
    assert anna.card_number == "7001"
    assert anna.birth_date is not None and anna.birth_date.isoformat() == "1985-03-12"
    assert anna.gender == "female"
    assert anna.provenance["email"]["source"] == "online_store"
    assert anna.provenance["card_number"]["source"] == "offline_stores"
    assert anna.provenance["birth_date"]["rule"] == "most_common"
    assert anna.provenance["birth_date"]["agreeing_records"] == 4


async def test_resolving_again_changes_nothing(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await import_seven(session, tenant.id, tmp_path)
    await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    before = await _people(session, tenant.id)
    again = await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    assert (again.new_profiles, again.merges, again.revived) == (0, 0, 0)
    assert await _people(session, tenant.id) == before
    quiet = await resolve_identities(session, tenant_id=tenant.id, at=TODAY, incremental=True)
    assert quiet.records == 0


async def test_reimporting_the_same_files_changes_nothing(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await import_seven(session, tenant.id, tmp_path)
    stamp = await session.scalar(text("SELECT max(changed_at) FROM source_records"))
    summaries, _ = await import_seven(session, tenant.id, tmp_path)
    assert all(s.created == 0 and s.updated == 0 for s in summaries.values())
    assert sum(s.unchanged for s in summaries.values()) == 20
    assert await session.scalar(text("SELECT max(changed_at) FROM source_records")) == stamp


async def test_a_new_record_joins_its_person_incrementally(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await import_seven(session, tenant.id, tmp_path)
    await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    profiles_before = await session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant.id).order_by(Customer.id.desc())
    )
    late = tmp_path / "late.csv"
    late.write_text(
        "customer_id,email,first_name,last_name,phone,birthday,city\n"
        "w6,elena.m@mail.ru,Елена,Морозова,,1975-09-09,Самара\n",
        encoding="utf-8",
    )
    from tonari.identity.importer import import_customers
    from tonari.identity.sources import get_source, source_definition

    source = await get_source(session, tenant_id=tenant.id, name="online_store")
    await import_customers(
        session,
        tenant_id=tenant.id,
        source=source,
        definition=source_definition(source),
        path=late,
        today=TODAY.date(),
    )
    summary = await resolve_identities(session, tenant_id=tenant.id, at=TODAY, incremental=True)
    assert summary.new_profiles == 0
    # Only Elena's records were looked at, not all twenty.
    assert summary.records == 3
    groups = await _people(session, tenant.id)
    assert {"cooking_club:c2", "mobile_app:m1", "online_store:w6"} in groups.values()
    newest = await session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant.id).order_by(Customer.id.desc())
    )
    assert newest == profiles_before


async def test_the_swapped_names_wait_for_review_and_a_confirmation_joins_them(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    from tonari.identity.decisions import decide_pair, list_pairs

    await import_seven(session, tenant.id, tmp_path)
    await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    [pair] = await list_pairs(session, tenant_id=tenant.id, status="review", limit=10, after=None)
    assert {pair.left.record_id, pair.right.record_id} == {"w5", "b1"}
    assert 0.5 <= (pair.probability or 0) < 0.95
    # Why: the names are each other's, the birth date and the city are the same.
    assert pair.levels["first_name"] == "Swapped with last_name"
    assert pair.levels["birth_date"] == "Exact match"
    summary = await decide_pair(
        session,
        tenant_id=tenant.id,
        pair_id=pair.pair_id,
        confirm=True,
        actor="test",
        at=TODAY,
        first_tier=None,
    )
    assert summary.merges == 1
    groups = sorted(sorted(group) for group in (await _people(session, tenant.id)).values())
    assert groups == sorted(sorted(group) for group in PEOPLE.values())
    assert (
        await list_pairs(session, tenant_id=tenant.id, status="review", limit=10, after=None) == []
    )


async def test_one_record_profiles_get_the_same_golden_record_from_sql_as_from_the_rules(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    """Profiles of one record take their values in SQL (fast); the rules must agree."""
    from tonari.identity.golden import GOLDEN_FIELDS, golden_record, rules_for
    from tonari.identity.profiles import _FACTS, _facts
    from tonari.kit.driver import driver_in_transaction

    await import_seven(session, tenant.id, tmp_path)
    await session.execute(
        text(
            "UPDATE source_records SET email_status = 'unreachable' "
            "WHERE tenant_id = :t AND record_id = 'w4'"
        ),
        {"t": tenant.id},
    )
    await resolve_identities(session, tenant_id=tenant.id, at=TODAY)
    driver = await driver_in_transaction(session)
    singles = [
        int(row["profile_id"])
        for row in await driver.fetch(
            "SELECT profile_id FROM source_records WHERE tenant_id = $1 "
            "GROUP BY profile_id HAVING count(*) = 1",
            tenant.id,
        )
    ]
    assert len(singles) >= 5
    rules = rules_for(None)
    for row in await driver.fetch(_FACTS, singles, tenant.id):
        values, provenance = golden_record([_facts(row)], rules)
        customer = await session.get_one(Customer, row["profile_id"], populate_existing=True)
        assert {name: getattr(customer, name) for name in GOLDEN_FIELDS} == values
        assert customer.provenance == provenance
    maria = await session.scalar(
        text("SELECT profile_id FROM source_records WHERE tenant_id = :t AND record_id = 'w4'"),
        {"t": tenant.id},
    )
    bounced = await session.get_one(Customer, maria, populate_existing=True)
    assert (bounced.email, bounced.email_status) == (None, None)
