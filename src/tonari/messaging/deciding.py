"""Deciding a chunk of claimed messages in one transaction: rules, holdout, render, outcome.

A chunk holds whole customers (all their claimed messages, highest priority first). Its
transaction takes the customers' decision locks, reads profiles and rules state in a fixed
number of statements (``tonari.messaging.delivery_rules``), renders every message that may
go with the templates and customer data read once for the chunk, and writes every outcome in
one UPDATE. The caps count what was committed before the locks plus what this chunk has
decided to send so far, so when a customer's caps leave room for only some of their
messages, the higher priority ones go and the rest are skipped ``capped``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import TonariError
from tonari.messaging.channels import OutgoingMessage
from tonari.messaging.consents import address_of, unsubscribe_headers
from tonari.messaging.delivery import TenantDelivery, load_tenant_delivery
from tonari.messaging.delivery_rules import (
    RulesQuery,
    RulesState,
    in_holdout,
    lock_customers,
    read_customers,
    read_rules_states,
)
from tonari.messaging.rules import SentCounts, decide, local_day_start, local_week_start
from tonari.messaging.template_context import customer_contexts
from tonari.messaging.templates import (
    CompiledTemplate,
    compiled_template,
    get_template,
    render_with,
)
from tonari.models.customers import Customer
from tonari.models.messaging import MessageTemplate

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    tenant_id: int
    customer_id: int
    channel: str
    template_key: str
    topic: str
    transactional: bool
    priority: int
    quiet_hours: str
    holdout_bp: int
    journey_id: int | None
    campaign_id: int | None
    context: dict[str, Any]
    attempts: int
    claimed_until: datetime


@dataclass(frozen=True, slots=True)
class ReadyMessage:
    """A decided message, rendered, waiting for its send (its lease renewed at the decision)."""

    claimed: ClaimedMessage
    outgoing: OutgoingMessage


@dataclass
class DecidedChunk:
    # One list per customer, in priority order: a lane sends a customer's messages in order.
    ready: list[list[ReadyMessage]] = field(default_factory=list)
    failed: int = 0
    deferred: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: int = 0  # messages left with their lease (a bug): taken again when it runs out


@dataclass(frozen=True, slots=True)
class _Outcome:
    id: int
    kind: str  # finish | defer | send
    status: str
    reason: str | None = None
    group: str | None = None
    not_before: datetime | None = None
    claimed_until: datetime | None = None
    attempt: int = 0
    error: str | None = None


_WRITE_OUTCOMES = text(
    """
    UPDATE message_sends m SET
        status = v.status,
        reason = v.reason,
        control_group = CASE WHEN v.kind = 'defer' THEN m.control_group ELSE v.grp END,
        decided_at = CASE WHEN v.kind = 'defer' THEN m.decided_at ELSE :at END,
        not_before = coalesce(v.not_before, m.not_before),
        claimed_until = v.claimed_until,
        attempts = m.attempts + v.attempt,
        error = CASE WHEN v.kind = 'finish' THEN v.error ELSE m.error END
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:kinds AS text[]), CAST(:statuses AS text[]),
        CAST(:reasons AS text[]), CAST(:groups AS text[]), CAST(:not_befores AS timestamptz[]),
        CAST(:leases AS timestamptz[]), CAST(:attempts AS integer[]), CAST(:errors AS text[])
    ) AS v(id, kind, status, reason, grp, not_before, claimed_until, attempt, error)
    WHERE m.id = v.id
    """
)


class TenantDeliveries:
    """Each tenant's channels, caps and quiet hours, read once per dispatch run."""

    def __init__(self) -> None:
        self._loaded: dict[int, TenantDelivery] = {}

    async def get(self, session: AsyncSession, tenant_id: int, at: datetime) -> TenantDelivery:
        delivery = self._loaded.get(tenant_id)
        if delivery is None:
            delivery = await load_tenant_delivery(session, tenant_id=tenant_id, at=at)
            self._loaded[tenant_id] = delivery
        return delivery

    def __getitem__(self, tenant_id: int) -> TenantDelivery:
        return self._loaded[tenant_id]


class _Templates:
    """The chunk's templates, read once each; a missing one is remembered as its error."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._found: dict[tuple[int, str, str], tuple[MessageTemplate, CompiledTemplate]] = {}
        self._errors: dict[tuple[int, str, str], TonariError] = {}

    async def load(self, tenant_id: int, key: str, channel: str) -> None:
        name = (tenant_id, key, channel)
        if name in self._found or name in self._errors:
            return
        try:
            template = await get_template(
                self.session, tenant_id=tenant_id, key=key, channel=channel
            )
            self._found[name] = (template, compiled_template(template))
        except TonariError as error:
            self._errors[name] = error

    def get(
        self, tenant_id: int, key: str, channel: str
    ) -> tuple[MessageTemplate, CompiledTemplate]:
        name = (tenant_id, key, channel)
        if name in self._errors:
            raise self._errors[name]
        return self._found[name]

    def variables(self, tenant_id: int) -> set[str]:
        return {
            name
            for (tenant, _, _), (_, compiled) in self._found.items()
            if tenant == tenant_id
            for name in compiled.variables
        }


class ChunkDecider:
    """Decides chunks for one dispatch run (tenant configuration cached across chunks)."""

    def __init__(
        self,
        *,
        deliveries: TenantDeliveries,
        max_attempts: int,
        base_url: str | None,
        secret: str,
    ) -> None:
        self.deliveries = deliveries
        self.max_attempts = max_attempts
        self.base_url = base_url
        self.secret = secret

    async def decide(
        self,
        session: AsyncSession,
        chunk: Sequence[Sequence[ClaimedMessage]],
        *,
        at: datetime,
        lease_until: datetime,
    ) -> DecidedChunk:
        """Decide ``chunk`` (one list of messages per customer) in ``session``'s transaction."""
        messages = [message for group in chunk for message in group]
        await lock_customers(session, {message.customer_id for message in messages})
        customers = await read_customers(session, {message.customer_id for message in messages})
        for tenant_id in sorted({message.tenant_id for message in messages}):
            await self.deliveries.get(session, tenant_id, at)
        states = await read_rules_states(
            session, [self._rules_query(m, customers.get(m.customer_id), at) for m in messages]
        )
        templates = _Templates(session)
        for message in messages:
            await templates.load(message.tenant_id, message.template_key, message.channel)
        contexts = await self._customer_data(session, messages, customers, templates, at)

        decided = DecidedChunk()
        outcomes: list[_Outcome] = []
        for group in chunk:
            ready: list[ReadyMessage] = []
            # What this chunk has decided to send to the customer so far, for the caps.
            decided_here = Counter[str]()
            for message in group:
                try:
                    outcome, item = self._one(
                        message,
                        customers.get(message.customer_id),
                        states.get(message.id),
                        decided_here,
                        templates,
                        contexts,
                        at=at,
                        lease_until=lease_until,
                    )
                except Exception:
                    logger.exception("deciding message %s failed", message.id)
                    decided.errors += 1
                    continue
                if outcome is None:
                    continue
                outcomes.append(outcome)
                if item is not None:
                    ready.append(item)
                    decided_here["*"] += 1
                    decided_here[message.channel] += 1
                elif outcome.kind == "defer":
                    decided.deferred += 1
                elif outcome.status == "failed":
                    decided.failed += 1
                elif outcome.reason is not None:
                    decided.skipped[outcome.reason] += 1
            if ready:
                decided.ready.append(ready)
        await self._write(session, outcomes, at)
        return decided

    def _rules_query(
        self, message: ClaimedMessage, customer: Customer | None, at: datetime
    ) -> RulesQuery:
        zone = self._zone(message, customer)
        counted = not message.transactional
        return RulesQuery(
            send_id=message.id,
            claimed_until=message.claimed_until,
            tenant_id=message.tenant_id,
            customer_id=message.customer_id,
            channel=message.channel,
            topic=message.topic,
            day_start=local_day_start(at, zone) if counted else at,
            week_start=local_week_start(at, zone) if counted else at,
        )

    def _zone(self, message: ClaimedMessage, customer: Customer | None) -> str:
        zone = customer.time_zone if customer is not None else None
        return zone or self.deliveries[message.tenant_id].zone

    async def _customer_data(
        self,
        session: AsyncSession,
        messages: Sequence[ClaimedMessage],
        customers: dict[int, Customer],
        templates: _Templates,
        at: datetime,
    ) -> dict[int, dict[str, Any] | TonariError]:
        """Each customer's template variables (one balances read per tenant), or the error."""
        data: dict[int, dict[str, Any] | TonariError] = {}
        for tenant_id in sorted({message.tenant_id for message in messages}):
            profiles = [
                customers[customer_id]
                for customer_id in sorted(
                    {m.customer_id for m in messages if m.tenant_id == tenant_id}
                )
                if customer_id in customers and customers[customer_id].tenant_id == tenant_id
            ]
            if not profiles:
                continue
            try:
                data.update(
                    await customer_contexts(
                        session,
                        tenant_id=tenant_id,
                        customers=profiles,
                        at=at,
                        only=templates.variables(tenant_id),
                    )
                )
            except TonariError as error:  # no programme in force: nothing of it renders
                data.update(dict.fromkeys((p.id for p in profiles), error))
        return data

    def _one(
        self,
        message: ClaimedMessage,
        customer: Customer | None,
        state: RulesState | None,
        decided_here: Counter[str],
        templates: _Templates,
        contexts: dict[int, dict[str, Any] | TonariError],
        *,
        at: datetime,
        lease_until: datetime,
    ) -> tuple[_Outcome | None, ReadyMessage | None]:
        if state is None or not state.ours:  # our lease ran out and another worker took it
            return None, None
        if customer is not None and customer.tenant_id != message.tenant_id:
            customer = None
        if message.attempts >= self.max_attempts:
            return _finish(message, "failed", "gave_up", "treated", "lease expired too often"), None
        delivery = self.deliveries[message.tenant_id]
        if message.channel not in delivery.channels:
            return _finish(message, "skipped", "no_channel"), None
        address = address_of(customer, message.channel)
        if address is None or customer is None:
            return _finish(message, "skipped", "no_address"), None
        zone = self._zone(message, customer)
        counts = state.counts
        if not message.transactional:
            counts = SentCounts(
                day=counts.day + decided_here["*"],
                week=counts.week + decided_here["*"],
                channel_day=counts.channel_day + decided_here[message.channel],
                channel_week=counts.channel_week + decided_here[message.channel],
            )
        # Transactional mail needs only the address, which we have; marketing also needs
        # the consent rule.
        decision = decide(
            consented=message.transactional or state.consented,
            transactional=message.transactional,
            at=at,
            zone=zone,
            caps=delivery.caps_for(message.channel),
            counts=SentCounts() if message.transactional else counts,
            quiet=delivery.quiet,
            quiet_policy=message.quiet_hours,
        )
        if decision.action == "skip":
            return _finish(message, "skipped", decision.reason), None
        if decision.action == "defer":
            return _Outcome(
                message.id, "defer", "queued", "deferred", not_before=decision.defer_until
            ), None
        # Held out only once every rule said "send": the holdout is "would have been sent",
        # so treated and holdout groups are comparable (same consent, caps and hours).
        if in_holdout(
            tenant_id=message.tenant_id,
            customer_id=message.customer_id,
            transactional=message.transactional,
            holdout_bp=message.holdout_bp,
            campaign_id=message.campaign_id,
            journey_id=message.journey_id,
            template_key=message.template_key,
            delivery=delivery,
        ):
            return _finish(message, "skipped", "holdout", "holdout"), None
        try:
            outgoing = self._render(message, customer, address, templates, contexts, at)
        except TonariError as error:
            return _finish(message, "failed", "render_error", None, f"{error.field}: {error}"), None
        decided = _Outcome(
            message.id, "send", "sending", None, "treated", claimed_until=lease_until, attempt=1
        )
        return decided, ReadyMessage(message, outgoing)

    def _render(
        self,
        message: ClaimedMessage,
        customer: Customer,
        address: str,
        templates: _Templates,
        contexts: dict[int, dict[str, Any] | TonariError],
        at: datetime,
    ) -> OutgoingMessage:
        template, compiled = templates.get(message.tenant_id, message.template_key, message.channel)
        customer_data = contexts[customer.id]
        if isinstance(customer_data, TonariError):
            raise customer_data
        rendered = render_with(
            template,
            compiled,
            customer_data,
            {**message.context, "send_id": message.id},
            customer_id=customer.id,
            at=at,
            base_url=self.base_url,
            send_id=message.id,
        )
        headers: dict[str, str] = {}
        if message.channel == "email" and not message.transactional and self.base_url:
            headers = unsubscribe_headers(
                tenant_id=message.tenant_id,
                customer_id=message.customer_id,
                channel=message.channel,
                topic=message.topic,
                base_url=self.base_url,
                secret=self.secret,
            )
        return OutgoingMessage(
            send_id=message.id,
            tenant_id=message.tenant_id,
            customer_id=message.customer_id,
            channel=message.channel,
            to=address,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            topic=message.topic,
            transactional=message.transactional,
            headers=headers,
        )

    async def _write(
        self, session: AsyncSession, outcomes: Sequence[_Outcome], at: datetime
    ) -> None:
        if not outcomes:
            return
        await session.execute(
            _WRITE_OUTCOMES,
            {
                "at": at,
                "ids": [o.id for o in outcomes],
                "kinds": [o.kind for o in outcomes],
                "statuses": [o.status for o in outcomes],
                "reasons": [o.reason for o in outcomes],
                "groups": [o.group for o in outcomes],
                "not_befores": [o.not_before for o in outcomes],
                "leases": [o.claimed_until for o in outcomes],
                "attempts": [o.attempt for o in outcomes],
                "errors": [o.error[:MAX_ERROR_LENGTH] if o.error else None for o in outcomes],
            },
        )


def _finish(
    message: ClaimedMessage,
    status: str,
    reason: str,
    group: str | None = None,
    error: str | None = None,
) -> _Outcome:
    return _Outcome(message.id, "finish", status, reason, group, error=error)
