"""A partner bank's daily file: who bought what with the co-branded card, credited as points.

Columns (a header row names them; ``--map target=source`` renames): ``transaction_id`` (the
bank's id, the idempotency key with the partner), ``card_number`` and/or ``phone``,
``amount`` (integer minor units), ``purchase_type`` (``anywhere`` or ``brand_site``) and
``date`` (a date meaning local midnight in the programme's zone, or an ISO timestamp).

Every row is checked before anything is written; a bad row is reported with its reason and
creates nothing. Good rows are credited in chunks, each one transaction, each row at most
once ever (unique partner + transaction id), so the same file twice credits once and a run
that stops half-way is finished by running it again.
"""

from __future__ import annotations

import re
import time as clock
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import normalise_phone
from tonari.imports.reader import FileFormat, RowError, iter_records, parse_amount
from tonari.kit.limits import MAX_CART_TOTAL
from tonari.kit.money import BASIS_POINTS, divide
from tonari.kit.outbox import record_event
from tonari.ledger import service as ledger
from tonari.models.base import table_of
from tonari.models.ledger import LedgerAccount, LedgerEntry, LedgerPosting, PointLot
from tonari.models.partners import PartnerAccrual, PartnerHolder
from tonari.partners.holders import (
    RowProblem,
    Target,
    claim_partner_holdings,
    find_targets,
    lock_accounts,
)
from tonari.partners.schemas import PURCHASE_TYPES, Partner
from tonari.programs.schemas import Programme
from tonari.rules.lots import expires_at

COLUMNS = ("transaction_id", "card_number", "phone", "amount", "purchase_type", "date")
PARTNER_SOURCE = "partner"
_CARD = re.compile(r"^[0-9A-Za-z\-]{1,64}$")

Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class AccrualRow:
    row: int
    transaction_id: str
    card_number: str | None
    phone: str | None
    amount: int
    purchase_type: str
    purchased_at: datetime


@dataclass(frozen=True, slots=True)
class AccrualReject:
    row: int
    reason: str
    transaction_id: str | None = None


@dataclass(slots=True)
class AccrualReport:
    rows: int = 0
    credited: int = 0
    skipped: int = 0
    points: int = 0
    points_to_profiles: int = 0
    points_to_side_accounts: int = 0
    side_accounts_created: int = 0
    rejects: list[AccrualReject] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "credited": self.credited,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "points": self.points,
            "points_to_profiles": self.points_to_profiles,
            "points_to_side_accounts": self.points_to_side_accounts,
            "side_accounts_created": self.side_accounts_created,
            "rejects": [
                {"row": r.row, "transaction_id": r.transaction_id, "reason": r.reason}
                for r in self.rejects
            ],
        }


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["amount=sum", ...]`` → ``{"amount": "sum"}``: which file column feeds which field."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        target, sep, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ValueError(f"--map {pair!r}: write it as target=source, e.g. amount=sum")
        if target not in COLUMNS:
            raise ValueError(f"--map {pair!r}: {target!r} is not one of {', '.join(COLUMNS)}")
        mapping[target] = source
    return mapping


def _cell(record: dict[str, Any], name: str, mapping: dict[str, str]) -> str | None:
    value = record.get(mapping.get(name, name))
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_moment(text: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """A date is local midnight in the programme's zone; a timestamp without offset is local."""
    if text is None:
        raise RowError("date is missing")
    if len(text) == 10:
        try:
            moment = datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
        except ValueError:
            raise RowError(f"date {text!r} is not a date (YYYY-MM-DD)") from None
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise RowError(f"date {text!r} is not an ISO date or timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
    if moment > now + timedelta(days=1):
        raise RowError(f"date {text!r} is in the future")
    return moment.astimezone(UTC)


def parse_row(
    record: dict[str, Any], *, row: int, mapping: dict[str, str], zone: ZoneInfo, now: datetime
) -> AccrualRow:
    transaction_id = _cell(record, "transaction_id", mapping)
    if transaction_id is None:
        raise RowError("transaction_id is missing")
    if len(transaction_id) > 128:
        raise RowError("transaction_id is longer than 128 characters")
    card = _cell(record, "card_number", mapping)
    if card is not None:
        card = re.sub(r"\s", "", card)
        if not _CARD.match(card):
            raise RowError("card_number must be 1-64 letters, digits or dashes")
    phone = _cell(record, "phone", mapping)
    if phone is not None:
        try:
            phone = normalise_phone(phone)
        except ValueError as exc:
            raise RowError(f"phone {phone!r}: {exc}") from None
    if card is None and phone is None:
        raise RowError("no card number and no phone: cannot tell whose points these are")
    raw_amount = _cell(record, "amount", mapping)
    if raw_amount is None:
        raise RowError("amount is missing")
    amount = parse_amount(raw_amount, from_text=True)
    if amount == 0:
        raise RowError("amount is zero: nothing to credit")
    if amount > MAX_CART_TOTAL:
        raise RowError(f"amount is above {MAX_CART_TOTAL}")
    purchase_type = (_cell(record, "purchase_type", mapping) or "").lower()
    if purchase_type not in PURCHASE_TYPES:
        raise RowError(
            f"unknown purchase type {purchase_type!r}: use {' or '.join(PURCHASE_TYPES)}"
        )
    moment = parse_moment(_cell(record, "date", mapping), zone, now)
    return AccrualRow(row, transaction_id, card, phone, amount, purchase_type, moment)


def read_accruals(
    path: Path, *, mapping: dict[str, str], zone: ZoneInfo, now: datetime
) -> tuple[list[AccrualRow], list[AccrualReject]]:
    """Every row checked; a transaction id that repeats in the file is refused after its first."""
    rows: list[AccrualRow] = []
    rejects: list[AccrualReject] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for number, record in iter_records(stream, FileFormat.CSV):
            if isinstance(record, RowError):
                rejects.append(AccrualReject(number, str(record)))
                continue
            try:
                parsed = parse_row(record, row=number, mapping=mapping, zone=zone, now=now)
            except RowError as exc:
                rejects.append(
                    AccrualReject(number, str(exc), _cell(record, "transaction_id", mapping))
                )
                continue
            first = seen.setdefault(parsed.transaction_id, number)
            if first != number:
                rejects.append(
                    AccrualReject(
                        number,
                        f"transaction id repeats row {first}: a transaction is credited once",
                        parsed.transaction_id,
                    )
                )
                continue
            rows.append(parsed)
    return rows, rejects


def accrual_points(partner: Partner, programme: Programme, row: AccrualRow) -> tuple[int, int]:
    """(rate, points) for one purchase, rounded once by the programme's rule."""
    rate = partner.accrual_rate_bp(row.purchase_type)
    points = divide(
        row.amount * rate, BASIS_POINTS * programme.point_value_minor, programme.rounding
    )
    return rate, points


async def import_partner_accruals(
    transactions: Transactions,
    *,
    tenant_id: int,
    partner: Partner,
    programme: Programme,
    path: Path,
    actor: str,
    now: datetime,
    mapping: dict[str, str] | None = None,
    chunk_rows: int = 500,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> AccrualReport:
    """Credit a partner's file; returns what was credited, skipped and refused, and why."""
    started = clock.perf_counter()
    rows, rejects = read_accruals(path, mapping=mapping or {}, zone=programme.zone, now=now)
    report = AccrualReport(rows=len(rows) + len(rejects), rejects=rejects)
    if dry_run:
        report.seconds = clock.perf_counter() - started
        return report
    done = 0
    claimers: set[int] = set()
    chunk_rows = max(chunk_rows, 1)
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start : start + chunk_rows]
        async with transactions() as session:
            writer = _ChunkWriter(session, tenant_id, partner, programme, path.name, actor)
            await writer.credit(chunk, report)
            claimers |= writer.claimed_meanwhile
        done += len(chunk)
        if progress is not None:
            progress(done, len(rows))
    for customer_id in sorted(claimers):
        async with transactions() as session:
            await claim_partner_holdings(
                session, tenant_id=tenant_id, customer_id=customer_id, at=now
            )
    if report.credited:
        async with transactions() as session:
            await record_event(
                session,
                tenant_id=tenant_id,
                event_type="partner.accruals_imported",
                subject=partner.code,
                payload={
                    "partner": partner.code,
                    "file": path.name,
                    **{key: value for key, value in report.as_dict().items() if key != "rejects"},
                },
                occurred_at=now,
            )
    report.rejects.sort(key=lambda reject: reject.row)
    report.seconds = clock.perf_counter() - started
    return report


class _ChunkWriter:
    """Credits one chunk inside one transaction, locking accounts in id order first.

    The accrual rows go in first (``ON CONFLICT DO NOTHING``): a row another run already
    holds is skipped, so two runs of one file never credit a transaction twice. Then one
    ledger entry per account, one lot per row (with its purchase's date and expiry).
    """

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: int,
        partner: Partner,
        programme: Programme,
        source_file: str,
        actor: str,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.partner = partner
        self.programme = programme
        self.source_file = source_file[:300]
        self.actor = actor
        self.claimed_meanwhile: set[int] = set()

    async def credit(self, chunk: list[AccrualRow], report: AccrualReport) -> None:
        known = set(
            await self.session.scalars(
                select(PartnerAccrual.transaction_id).where(
                    PartnerAccrual.tenant_id == self.tenant_id,
                    PartnerAccrual.partner_code == self.partner.code,
                    PartnerAccrual.transaction_id.in_([row.transaction_id for row in chunk]),
                )
            )
        )
        fresh = [row for row in chunk if row.transaction_id not in known]
        report.skipped += len(chunk) - len(fresh)
        found = await find_targets(
            self.session,
            tenant_id=self.tenant_id,
            partner_code=self.partner.code,
            identities=[(row.card_number, row.phone) for row in fresh],
            first_tier=self.programme.tiers[0].code,
        )
        targets: list[tuple[AccrualRow, Target]] = []
        for row, target in zip(fresh, found, strict=True):
            if isinstance(target, RowProblem):
                report.rejects.append(AccrualReject(row.row, str(target), row.transaction_id))
                continue
            report.side_accounts_created += int(target.created_holder)
            targets.append((row, target))
        if not targets:
            return
        accounts = await lock_accounts(
            self.session, self.tenant_id, [target.customer_id for _, target in targets]
        )
        await self._note_claims(targets)
        owned = await self._insert_accruals(targets)
        report.skipped += len(targets) - len(owned)
        groups: dict[int, list[tuple[AccrualRow, Target, int]]] = {}
        for row, target in targets:
            if row.transaction_id not in owned:
                continue  # another run of the same file got there first
            report.credited += 1
            _, points = accrual_points(self.partner, self.programme, row)
            if points:
                groups.setdefault(target.customer_id, []).append((row, target, points))
        if not groups:
            return
        lot_ids = iter(await self._earn_all(groups, accounts))
        links: list[dict[str, int]] = []
        for items in groups.values():
            for row, target, points in items:
                links.append({"id": owned[row.transaction_id], "lot_id": next(lot_ids)})
                report.points += points
                if target.to_profile:
                    report.points_to_profiles += points
                else:
                    report.points_to_side_accounts += points
        await self.session.execute(update(PartnerAccrual), links)

    async def _note_claims(self, targets: list[tuple[AccrualRow, Target]]) -> None:
        """Side accounts claimed after we looked: credit them now, move the points after."""
        holder_ids = [t.holder_id for _, t in targets if t.holder_id and not t.to_profile]
        if not holder_ids:
            return
        claimed = await self.session.scalars(
            select(PartnerHolder.claimed_by_customer_id).where(
                PartnerHolder.id.in_(holder_ids),
                PartnerHolder.claimed_by_customer_id.is_not(None),
            )
        )
        self.claimed_meanwhile |= {int(customer_id) for customer_id in claimed if customer_id}

    async def _insert_accruals(self, targets: list[tuple[AccrualRow, Target]]) -> dict[str, int]:
        """Insert the rows nobody holds yet; returns transaction id → accrual id of ours."""
        values = []
        for row, target in targets:
            rate, points = accrual_points(self.partner, self.programme, row)
            values.append(
                {
                    "tenant_id": self.tenant_id,
                    "partner_code": self.partner.code,
                    "transaction_id": row.transaction_id,
                    "card_number": row.card_number,
                    "phone": row.phone,
                    "amount": row.amount,
                    "purchase_type": row.purchase_type,
                    "purchased_at": row.purchased_at,
                    "rate_bp": rate,
                    "points": points,
                    "customer_id": target.customer_id,
                    "holder_id": target.holder_id,
                    "source_file": self.source_file,
                }
            )
        rows = await self.session.execute(
            pg_insert(PartnerAccrual)
            .values(values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "partner_code", "transaction_id"])
            .returning(PartnerAccrual.transaction_id, PartnerAccrual.id)
        )
        return {row.transaction_id: int(row.id) for row in rows}

    async def _earn_all(
        self,
        groups: dict[int, list[tuple[AccrualRow, Target, int]]],
        accounts: dict[int, ledger.LockedAccount],
    ) -> list[int]:
        """Earn every group's lots at once: one entry per account, one lot and posting per row.

        The same rows ``ledger.earn_lots`` writes, in four statements for the whole chunk
        instead of four per account; a daily file names thousands of different cards.
        Returns the lot ids in the order of the groups' rows.
        """
        session, tenant_id = self.session, self.tenant_id
        days = self.partner.points_expiry_days
        entry_ids = list(
            await session.scalars(
                insert(table_of(LedgerEntry)).returning(
                    table_of(LedgerEntry).c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "tenant_id": tenant_id,
                        "kind": "earn",
                        "customer_id": customer_id,
                        "order_id": None,
                        "reason": self._reason(items),
                        "actor": self.actor,
                        "idempotency_key": None,
                        "occurred_at": max(row.purchased_at for row, _, _ in items),
                    }
                    for customer_id, items in groups.items()
                ],
            )
        )
        lot_rows: list[dict[str, Any]] = [
            {
                "tenant_id": tenant_id,
                "account_id": accounts[customer_id].id,
                "customer_id": customer_id,
                "source": PARTNER_SOURCE,
                "amount": points,
                "remaining": points,
                "state": ledger.AVAILABLE,
                "earned_at": row.purchased_at,
                "pending_until": row.purchased_at,
                "expires_at": (
                    row.purchased_at + timedelta(days=days)
                    if days
                    else expires_at(self.programme, row.purchased_at)
                ),
            }
            for customer_id, items in groups.items()
            for row, _, points in items
        ]
        lot_ids = list(
            await session.scalars(
                insert(table_of(PointLot)).returning(
                    table_of(PointLot).c.id, sort_by_parameter_order=True
                ),
                lot_rows,
            )
        )
        issued = await ledger.system_account(session, tenant_id, "points_issued")
        postings: list[dict[str, Any]] = []
        balances: list[dict[str, int]] = []
        lots = iter(zip(lot_rows, lot_ids, strict=True))
        for (customer_id, items), entry_id in zip(groups.items(), entry_ids, strict=True):
            account = accounts[customer_id]
            mine = [next(lots) for _ in items]
            total = sum(row["amount"] for row, _ in mine)
            postings += [
                {
                    "tenant_id": tenant_id,
                    "entry_id": entry_id,
                    "account_id": account.id,
                    "bucket": ledger.AVAILABLE,
                    "amount": row["amount"],
                    "lot_id": lot_id,
                }
                for row, lot_id in mine
            ]
            postings.append(
                {
                    "tenant_id": tenant_id,
                    "entry_id": entry_id,
                    "account_id": issued,
                    "bucket": ledger.SYSTEM,
                    "amount": -total,
                    "lot_id": None,
                }
            )
            account.available += total
            balances.append({"account": account.id, "new_available": account.available})
            if account.debt > 0:
                await ledger.settle_debt_from_lots(
                    session, account, [(lot_id, row["amount"]) for row, lot_id in mine]
                )
        await session.execute(insert(table_of(LedgerPosting)), postings)
        accounts_table = table_of(LedgerAccount)
        await session.execute(
            update(accounts_table)
            .where(accounts_table.c.id == bindparam("account"))
            .values(available=bindparam("new_available"))
            .execution_options(synchronize_session=False),
            balances,
        )
        return lot_ids

    def _reason(self, items: list[tuple[AccrualRow, Target, int]]) -> str:
        rate = self.partner.accrual_rate_bp
        purchases = ", ".join(
            f"{row.purchase_type} {row.amount} at {rate(row.purchase_type) / 100:g}%"
            for row, _, _ in items[:5]
        ) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        return f"{self.partner.name}: {purchases}"[:500]
