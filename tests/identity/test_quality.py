"""The data quality report, checked number by number against a base small enough to count by hand.

Three sources, thirteen records, eight people. The model's fuzzy pairs are kept out (thresholds
above 1), so only shared identifiers join records and every count below follows from the files:

    person  records            joined by            gender  city    birth   email   mobile
    Anna    shop s1, stores t1, club c1  email key  F       Moscow  1988    valid   -
    Boris   shop s2, stores t3  phone               M       -       1975    disp.   valid
    Carla   shop s3                                 F       -       -       -       -
    Ed      shop s4                                 M       Kazan   1990    valid   landline
    Fay     shop s5, shop s6    phone               F       Moscow  -       -       valid
    Gus     stores t2, club c3  email               M       -       -       valid   -
    Hana    club c2                                 F       Sochi   1992    valid   valid
    Ivy     club c4 (Hana's phone; the club's members are distinct people)
                                                    F       -       -       -       valid
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture, make_tenant
from tonari.identity.evidence import MAX_SHARED_IDENTIFIER
from tonari.identity.importer import import_customers
from tonari.identity.quality import QualityReport, Share, basis_points, quality_report
from tonari.identity.quality_cli import print_quality_report
from tonari.identity.resolve import resolve_identities
from tonari.identity.sources import SourceDefinition, put_source
from tonari.models.customers import Customer
from tonari.models.identity import IdentityPair, IdentitySettings, SourceRecord

TODAY = date(2024, 6, 1)
AT = datetime(2024, 6, 1, 12, tzinfo=UTC)
NEAR_CERTAIN = 0.999999
# The people of the table above, by their records.
PEOPLE = sorted(
    [
        ["c1", "s1", "t1"],  # Anna
        ["s2", "t3"],  # Boris
        ["s3"],  # Carla
        ["s4"],  # Ed
        ["s5", "s6"],  # Fay
        ["c3", "t2"],  # Gus
        ["c2"],  # Hana
        ["c4"],  # Ivy
    ]
)

SHOP = """record_id,first_name,last_name,gender,birth_date,email,phone,city
s1,Anna,Lee,F,,anna.lee@gmail.com,,
s2,Boris,Kwan,,31.02.1980,boris@mailinator.com,+7 916 222 22 22,
s3,Carla,Diaz,F,,not-an-email,12345,
s4,Ed,Moss,M,01.05.1990,ed.moss@mail.ru,+7 495 123 45 67,Kazan
s5,Fay,Wong,,,,+7 916 555 55 55,
s6,Fay,Wong,F,,,+7 916 555 55 55,Moscow
"""
STORES = """record_id,first_name,last_name,gender,birth_date,email,phone,city
t1,Anna,Lee,,12.03.1988,anna.lee@gmial.com,,Moscow
t2,Gus,Hale,M,,gus.hale@yandex.ru,,
t3,Boris,Kwan,M,01.01.1975,,+7 916 222 22 22,
"""
# The club names its columns its own way, and each membership is a different person.
CLUB = """member,name,sex,birthday,mail,mobile,town
c1,Anna Lee,F,,anna.lee@gmail.com,,
c2,Hana Ito,F,20.07.1992,hana.ito@mail.ru,+7 916 777 77 77,Sochi
c3,Gus Hale,,,gus.hale@yandex.ru,,
c4,Ivy Cole,F,,,+7 916 777 77 77,
"""
CLUB_COLUMNS = {
    "member": "record_id",
    "name": "full_name",
    "sex": "gender",
    "birthday": "birth_date",
    "mail": "email",
    "mobile": "phone",
    "town": "city",
}


async def _import(
    session: AsyncSession, tenant_id: int, tmp_path: Path, definition: SourceDefinition, body: str
) -> None:
    path = tmp_path / f"{definition.name}.csv"
    path.write_text(body, encoding="utf-8")
    source = await put_source(session, tenant_id=tenant_id, definition=definition)
    await import_customers(
        session, tenant_id=tenant_id, source=source, definition=definition, path=path, today=TODAY
    )


async def _import_three_sources(session: AsyncSession, tenant_id: int, tmp_path: Path) -> None:
    await _import(session, tenant_id, tmp_path, SourceDefinition(name="shop", region="RU"), SHOP)
    await _import(
        session, tenant_id, tmp_path, SourceDefinition(name="stores", region="RU"), STORES
    )
    club = SourceDefinition(
        name="club", region="RU", record_ids_are_people=True, columns=CLUB_COLUMNS
    )
    await _import(session, tenant_id, tmp_path, club, CLUB)


async def _record_ids(session: AsyncSession, tenant_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(SourceRecord.record_id, SourceRecord.id).where(SourceRecord.tenant_id == tenant_id)
    )
    return {record_id: key for record_id, key in rows}


async def _people(session: AsyncSession, tenant_id: int) -> list[list[str]]:
    """The records of each profile, as record ids, sorted."""
    rows = await session.execute(
        select(SourceRecord.profile_id, SourceRecord.record_id).where(
            SourceRecord.tenant_id == tenant_id
        )
    )
    by_profile: dict[int | None, list[str]] = {}
    for profile_id, record_id in rows:
        by_profile.setdefault(profile_id, []).append(record_id)
    return sorted(sorted(records) for records in by_profile.values())


def _share(share: Share) -> tuple[int, int]:
    return share.numerator, share.denominator


def _completeness(report_part: object) -> dict[str, tuple[int, int]]:
    assert hasattr(report_part, "model_dump")
    return {name: _share(getattr(report_part, name)) for name in report_part.model_dump()}


async def _resolved_report(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> QualityReport:
    await _import_three_sources(session, tenant.id, tmp_path)
    # The model may follow only what it is all but certain of (Splink wants a probability
    # below 1): identifiers make the people here, and the grouping is checked below.
    await session.execute(
        pg_insert(IdentitySettings).values(
            tenant_id=tenant.id,
            auto_merge_probability=NEAR_CERTAIN,
            review_probability=NEAR_CERTAIN,
        )
    )
    await resolve_identities(session, tenant_id=tenant.id, at=AT)
    ids = await _record_ids(session, tenant.id)
    assert await _people(session, tenant.id) == PEOPLE
    # Whatever the model scored on thirteen records is replaced by pairs placed by hand.
    await session.execute(
        delete(IdentityPair).where(
            IdentityPair.tenant_id == tenant.id, IdentityPair.status.in_(("auto", "review"))
        )
    )
    # The decisions and model pairs a real base would have, placed by hand.
    for left, right, status in (
        ("c2", "s3", "review"),  # Hana and Carla, in two profiles: waiting for a person
        ("s1", "c1", "review"),  # both already Anna through her email: nothing to decide
        ("t2", "s4", "rejected"),  # a person said Gus and Ed are two people
        ("c2", "c4", "auto"),  # Hana and Ivy: the model says one, the club says two
        ("s5", "s6", "auto"),  # Fay twice, already one profile: nothing kept apart
    ):
        low, high = sorted((ids[left], ids[right]))
        session.add(
            IdentityPair(
                tenant_id=tenant.id, left_record_id=low, right_record_id=high, status=status
            )
        )
    # A live profile no record supports, and a technical side account the report ignores.
    session.add(Customer(tenant_id=tenant.id, external_id="made-by-hand"))
    session.add(
        Customer(tenant_id=tenant.id, external_id="holder-1", customer_type="partner_holder")
    )
    await session.flush()
    return await quality_report(session, tenant_id=tenant.id)


async def test_people_sources_and_duplicates(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    report = await _resolved_report(session, tenant, tmp_path)

    people = report.people
    assert people.records == 13  # 6 shop + 3 stores + 4 club
    assert people.resolved_records == 13
    assert people.waiting_for_resolution == 0
    assert people.people == 8  # the eight rows of the table in the module docstring
    assert people.in_several_sources == 3  # Anna (3 sources), Boris, Gus; Fay is twice in shop
    assert people.profiles_without_records == 1  # "made-by-hand"; the partner holder is not one
    assert _share(people.duplicate_rate) == (5, 13)  # 13 records, 8 people
    assert people.duplicate_rate.basis_points == 3846  # 38.46%

    by_name = {source.name: source for source in report.sources}
    assert sorted(by_name) == ["club", "shop", "stores"]
    assert [by_name[n].records for n in ("shop", "stores", "club")] == [6, 3, 4]
    # shop: Anna, Boris, Carla, Ed, Fay (twice); stores: Anna, Gus, Boris; club: 4 members.
    assert [by_name[n].people for n in ("shop", "stores", "club")] == [5, 3, 4]

    matrix = {(pair.source, pair.other_source): pair.people for pair in report.duplicates}
    assert matrix == {
        ("club", "club"): 0,  # Hana and Ivy share a phone but stay two people
        ("club", "shop"): 1,  # Anna
        ("club", "stores"): 2,  # Anna, Gus
        ("shop", "shop"): 1,  # Fay, s5 and s6
        ("shop", "stores"): 2,  # Anna, Boris
        ("stores", "stores"): 0,
    }


async def test_problems(session: AsyncSession, tenant: TenantFixture, tmp_path: Path) -> None:
    report = await _resolved_report(session, tenant, tmp_path)
    problems = report.problems

    assert problems.invalid_emails == 1  # s3 "not-an-email"
    assert problems.disposable_emails == 1  # s2 mailinator.com
    assert problems.typo_corrected_emails == 1  # t1 gmial.com, read as gmail.com
    assert problems.invalid_phones == 1  # s3 "12345"
    assert problems.landline_phones == 1  # s4, a Moscow (495) number
    assert problems.bad_birth_dates == 1  # s2: 31 February
    assert problems.bad_birth_dates_by_code == {
        "impossible_date": 1,
        "unrecognised_format": 0,
        "future_date": 0,
        "too_old": 0,
    }
    shop = next(source for source in report.sources if source.name == "shop")
    stores = next(source for source in report.sources if source.name == "stores")
    assert (shop.problems.invalid_emails, shop.problems.typo_corrected_emails) == (1, 0)
    assert (stores.problems.invalid_emails, stores.problems.typo_corrected_emails) == (0, 1)

    sharing = {entry.identifier: entry for entry in problems.identifiers}
    assert set(sharing) == {"card_number", "external_id", "email", "phone", "anonymous_id"}
    assert sharing["email"].resolution_limit == MAX_SHARED_IDENTIFIER
    assert all(entry.placeholder_values == 0 for entry in sharing.values())
    # Hana's phone is Ivy's too, but the club's members are distinct people.
    assert sharing["phone"].kept_apart_values == 1
    assert sum(entry.kept_apart_values for entry in sharing.values()) == 1

    assert problems.pairs_to_review == 1  # Hana/Carla; Anna's pair is already one profile
    assert problems.rejected_pairs == 1  # Gus/Ed
    assert problems.kept_apart_pairs == 1  # Hana/Ivy; Fay's pair is already one profile


async def test_completeness_before_and_after(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    report = await _resolved_report(session, tenant, tmp_path)

    # Before, over 13 records: gender s1 s3 s4 s6 t2 t3 c1 c2 c4; city s4 s6 t1 c2; gender and
    # birth date s4 t3 c2 (t1 has no gender, s2's date is impossible); valid email s1 s4 t2 c1
    # c2 c3 (t1 is a typo, s2 disposable, s3 invalid); mobile s2 s5 s6 t3 c2 c4 (s4 landline).
    assert _completeness(report.completeness.before) == {
        "gender": (9, 13),
        "city": (4, 13),
        "gender_and_age": (3, 13),
        "email_for_messaging": (6, 13),
        "mobile_phone": (6, 13),
    }
    # After, over 8 people: everyone's gender is known somewhere; cities Anna Ed Fay Hana;
    # Boris's gender (stores) now meets his birth date (stores), Anna's (shop) hers (stores);
    # Boris keeps a disposable address, so 4 can be emailed; mobiles Boris Fay Hana Ivy.
    assert _completeness(report.completeness.after) == {
        "gender": (8, 8),
        "city": (4, 8),
        "gender_and_age": (4, 8),  # Anna, Boris, Ed, Hana
        "email_for_messaging": (4, 8),  # Anna, Ed, Gus, Hana
        "mobile_phone": (4, 8),
    }
    assert report.completeness.before.gender.basis_points == 6923  # 9/13
    assert report.completeness.after.gender.basis_points == 10_000

    club = next(source for source in report.sources if source.name == "club")
    assert _completeness(club.completeness) == {
        "gender": (3, 4),  # c3 says nothing
        "city": (1, 4),
        "gender_and_age": (1, 4),
        "email_for_messaging": (3, 4),
        "mobile_phone": (2, 4),
    }
    # The command's tables: the figures a marketer compares with Panasonic's.
    console = Console(record=True, width=200)
    print_quality_report(console, report, title=tenant.slug)
    printed = console.export_text()
    assert "69.23%" in printed and "100.00%" in printed  # gender, 9/13 → 8/8
    assert "38.46%" in printed  # the duplicate rate
    # The report is JSON-ready, shares exact.
    dumped = report.model_dump(mode="json")
    assert dumped["completeness"]["after"]["gender"] == {
        "numerator": 8,
        "denominator": 8,
        "basis_points": 10_000,
    }


async def test_before_resolution_every_record_waits(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    await _import_three_sources(session, tenant.id, tmp_path)
    report = await quality_report(session, tenant_id=tenant.id)
    assert report.people.records == 13
    assert report.people.waiting_for_resolution == 13
    assert report.people.people == 0
    # Nothing resolved is nothing duplicated: the rate waits for resolution.
    assert _share(report.people.duplicate_rate) == (0, 0)
    assert report.people.duplicate_rate.basis_points is None
    assert all(pair.people == 0 for pair in report.duplicates)
    assert report.completeness.after.gender.basis_points is None


async def test_placeholders_and_tenant_isolation(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    # 11 records give "noemail@mail.ru" (one too many to be anyone's); 10 share a phone,
    # exactly as many as resolution still follows, so that phone is no placeholder.
    lines = ["record_id,email,phone"]
    lines += [f"e{n},noemail@mail.ru," for n in range(MAX_SHARED_IDENTIFIER + 1)]
    lines += [f"p{n},,+7 916 000 00 00" for n in range(MAX_SHARED_IDENTIFIER)]
    definition = SourceDefinition(name="pos", region="RU")
    await _import(session, tenant.id, tmp_path, definition, "\n".join(lines) + "\n")

    report = await quality_report(session, tenant_id=tenant.id)
    sharing = {entry.identifier: entry for entry in report.problems.identifiers}
    assert (sharing["email"].placeholder_values, sharing["email"].placeholder_records) == (1, 11)
    assert [(s.value, s.records) for s in sharing["email"].most_shared] == [("noemail@mail.ru", 11)]
    assert (sharing["phone"].placeholder_values, sharing["phone"].placeholder_records) == (0, 0)

    other = await make_tenant(session)
    empty = await quality_report(session, tenant_id=other.id)
    assert empty.sources == []
    assert empty.people.records == 0
    assert empty.duplicates == []
    assert all(entry.placeholder_values == 0 for entry in empty.problems.identifiers)
    assert empty.completeness.before.gender.basis_points is None


def test_basis_points_round_half_even() -> None:
    assert basis_points(1, 3) == 3333
    assert basis_points(2, 3) == 6667
    assert basis_points(1, 20_000) == 0  # 0.5 bp: to the even 0
    assert basis_points(3, 20_000) == 2  # 1.5 bp: to the even 2
    assert basis_points(0, 0) is None
