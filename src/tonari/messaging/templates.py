"""Message templates: checked when saved, rendered in a sandbox with the customer's data at send.

Jinja2's ``SandboxedEnvironment`` keeps a marketer's template from reaching Python internals;
the HTML part autoescapes, subject and text do not (they are not HTML). A template is rejected
when saved if it does not parse or uses a top-level name no render would provide, with the part
(``subject`` / ``html`` / ``text``) and the line, so a typo never reaches a customer. Rendering
uses ``StrictUndefined``: a missing attribute is an error, not an empty string in a live mail.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.config import get_settings
from tonari.kit.errors import Conflict, NotFound, ValidationFailed
from tonari.messaging.consents import check_channel, check_topic, unsubscribe_url
from tonari.messaging.template_context import (
    CUSTOMER_VARIABLES,
    KNOWN_VARIABLES,
    QUEUED_VARIABLES,
    customer_context,
    money_text,
)
from tonari.messaging.tracking import add_open_pixel, rewrite_links
from tonari.models.customers import Customer
from tonari.models.messaging import MessageTemplate

TEMPLATE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,79}$")
MAX_PART_LENGTH = 200_000
# Compiled templates kept per process (a few milliseconds of Jinja compilation per part saved on
# every message); least recently used ones are dropped beyond this many.
COMPILED_CACHE_SIZE = 512

_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_plain_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def _money(amount: Any, currency: str = "") -> str:
    """``{{ 150000 | money("RUB") }}`` → ``1500.00 RUB``."""
    return money_text(int(amount), currency).strip()


for _env in (_html_env, _plain_env):
    _env.filters["money"] = _money


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    html: str | None
    text: str
    topic: str
    transactional: bool


def _env_for(part: str) -> SandboxedEnvironment:
    return _html_env if part == "html" else _plain_env


def check_template_part(part: str, source: str | None) -> None:
    """Raise ``ValidationFailed(field=part)`` naming the line when the template is unusable."""
    if source is None:
        return
    if len(source) > MAX_PART_LENGTH:
        raise ValidationFailed(f"{part} is longer than {MAX_PART_LENGTH} characters", field=part)
    env = _env_for(part)
    try:
        tree = env.parse(source)
        # Compiling finds what parsing does not: unknown filters and tests.
        env.compile(tree)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(
            f"{part}, line {exc.lineno}: {exc.message}",
            field=part,
            code="template_syntax",
            details={"line": exc.lineno},
        ) from None
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        # There is no template loader: a message is one self-contained template.
        raise ValidationFailed(
            f"{part}, line {node.lineno}: templates cannot extend, include or import others",
            field=part,
            code="template_syntax",
            details={"line": node.lineno},
        )
    unknown = meta.find_undeclared_variables(tree) - KNOWN_VARIABLES
    if unknown:
        first = min(
            (node for node in tree.find_all(nodes.Name) if node.name in unknown),
            key=lambda node: node.lineno,
        )
        raise ValidationFailed(
            f"{part}, line {first.lineno}: unknown variable {first.name!r}",
            field=part,
            code="template_unknown_variable",
            details={
                "line": first.lineno,
                "variable": first.name,
                "known": sorted(KNOWN_VARIABLES),
            },
        )


def check_template(*, channel: str, subject: str | None, html: str | None, text: str) -> None:
    check_channel(channel)
    if channel == "email" and not (subject or "").strip():
        raise ValidationFailed("an email template needs a subject", field="subject")
    if not text.strip():
        raise ValidationFailed("every template needs a text part", field="text")
    if channel != "email" and html is not None:
        raise ValidationFailed("only email templates have an html part", field="html")
    for part, source in (("subject", subject), ("html", html), ("text", text)):
        check_template_part(part, source)


def check_key(key: str) -> str:
    if not TEMPLATE_KEY.match(key):
        raise ValidationFailed(
            "a template key is 1-80 lowercase letters, digits, '_', '-' or '.'", field="key"
        )
    return key


async def create_template(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    channel: str,
    topic: str,
    transactional: bool,
    subject: str | None,
    html: str | None,
    text: str,
    at: datetime,
) -> MessageTemplate:
    check_key(key)
    check_topic(topic)
    check_template(channel=channel, subject=subject, html=html, text=text)
    template = MessageTemplate(
        tenant_id=tenant_id,
        key=key,
        channel=channel,
        topic=topic,
        transactional=transactional,
        subject=subject,
        html=html,
        text=text,
        version=1,
        created_at=at,
        updated_at=at,
    )
    try:
        async with session.begin_nested():
            session.add(template)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"template {key!r} already exists for channel {channel}; update it instead",
            field="key",
        ) from None
    return template


async def get_template(
    session: AsyncSession, *, tenant_id: int, key: str, channel: str
) -> MessageTemplate:
    template = await session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.tenant_id == tenant_id,
            MessageTemplate.key == key,
            MessageTemplate.channel == channel,
        )
    )
    if template is None:
        raise NotFound(
            f"no template {key!r} for channel {channel}",
            field="template_key",
            code="unknown_template",
        )
    return template


async def list_templates(
    session: AsyncSession, *, tenant_id: int, key: str | None = None
) -> list[MessageTemplate]:
    query = select(MessageTemplate).where(MessageTemplate.tenant_id == tenant_id)
    if key is not None:
        query = query.where(MessageTemplate.key == key)
    return list(await session.scalars(query.order_by(MessageTemplate.key, MessageTemplate.channel)))


async def update_template(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    channel: str,
    changes: dict[str, Any],
    at: datetime,
) -> MessageTemplate:
    """Apply the given fields, check the result as a whole, and bump the version."""
    template = await get_template(session, tenant_id=tenant_id, key=key, channel=channel)
    merged: dict[str, Any] = {
        "topic": template.topic,
        "transactional": template.transactional,
        "subject": template.subject,
        "html": template.html,
        "text": template.text,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    for required in ("topic", "transactional", "text"):
        if merged[required] is None:
            raise ValidationFailed(f"{required} cannot be removed", field=required)
    check_topic(merged["topic"])
    check_template(
        channel=channel, subject=merged["subject"], html=merged["html"], text=merged["text"]
    )
    await session.execute(
        update(MessageTemplate)
        .where(MessageTemplate.id == template.id)
        .values(**merged, version=MessageTemplate.version + 1, updated_at=at)
    )
    await session.refresh(template)
    return template


async def delete_template(session: AsyncSession, *, tenant_id: int, key: str, channel: str) -> None:
    template = await get_template(session, tenant_id=tenant_id, key=key, channel=channel)
    await session.delete(template)
    await session.flush()


@dataclass(frozen=True)
class CompiledTemplate:
    """A template's parts compiled once, and the top-level names they read."""

    sources: tuple[str | None, str | None, str]
    subject: Template | None
    html: Template | None
    text: Template
    variables: frozenset[str]


_compiled: OrderedDict[tuple[int, str, str, int], CompiledTemplate] = OrderedDict()


def _compile_part(part: str, source: str) -> tuple[Template, frozenset[str]]:
    env = _env_for(part)
    try:
        tree = env.parse(source)
        return env.from_string(tree), frozenset(meta.find_undeclared_variables(tree))
    except TemplateError as exc:
        raise ValidationFailed(
            f"{part} could not be rendered: {exc}", field=part, code="template_render"
        ) from None


def compiled_template(template: MessageTemplate) -> CompiledTemplate:
    """The template's compiled parts, cached by (tenant, key, channel, version).

    Every update bumps the version, so an updated template is compiled again. A hit also needs
    the very same sources: a template deleted and created again starts at version 1 again, and
    a rolled-back update may reuse a version number with other text.
    """
    key = (template.tenant_id, template.key, template.channel, template.version)
    sources = (template.subject, template.html, template.text)
    cached = _compiled.get(key)
    if cached is not None and cached.sources == sources:
        _compiled.move_to_end(key)
        return cached
    subject = html = None
    names: set[str] = set()
    if template.subject is not None:
        subject, used = _compile_part("subject", template.subject)
        names |= used
    if template.html is not None:
        html, used = _compile_part("html", template.html)
        names |= used
    text, used = _compile_part("text", template.text)
    names |= used
    compiled = CompiledTemplate(sources, subject, html, text, frozenset(names))
    _compiled[key] = compiled
    _compiled.move_to_end(key)
    while len(_compiled) > COMPILED_CACHE_SIZE:
        _compiled.popitem(last=False)
    return compiled


def _render_compiled(part: str, compiled: Template, variables: dict[str, Any]) -> str:
    try:
        return compiled.render(variables)
    except TemplateError as exc:
        raise ValidationFailed(
            f"{part} could not be rendered: {exc}", field=part, code="template_render"
        ) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ValidationFailed(
            f"{part} could not be rendered: {exc}", field=part, code="template_render"
        ) from None


def render_part(part: str, source: str, variables: dict[str, Any]) -> str:
    try:
        return _env_for(part).from_string(source).render(variables)
    except TemplateError as exc:
        raise ValidationFailed(
            f"{part} could not be rendered: {exc}", field=part, code="template_render"
        ) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise ValidationFailed(
            f"{part} could not be rendered: {exc}", field=part, code="template_render"
        ) from None


def template_variables(customer: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Queued names (None when absent), then the queued context, then the customer's data."""
    variables: dict[str, Any] = dict.fromkeys(QUEUED_VARIABLES)
    variables.update({k: v for k, v in context.items() if k not in CUSTOMER_VARIABLES})
    variables["context"] = context
    variables.update(customer)
    return variables


async def render_message(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    template_key: str,
    channel: str,
    context: dict[str, Any],
    at: datetime,
    base_url: str | None = None,
    send_id: int | None = None,
    customer: Customer | None = None,
) -> RenderedMessage:
    """Render the template for this customer now (``render_with`` on what it reads).

    Raises ``NotFound(field="template_key")`` for a missing template and ``ValidationFailed``
    (field = the part) when rendering fails. Only the customer data the template reads is
    loaded; ``customer`` is the profile when the caller has already read it in this
    transaction.
    """
    template = await get_template(session, tenant_id=tenant_id, key=template_key, channel=channel)
    compiled = compiled_template(template)
    customer_data = await customer_context(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        at=at,
        only=compiled.variables,
        customer=customer,
    )
    return render_with(
        template,
        compiled,
        customer_data,
        context,
        customer_id=customer_id,
        at=at,
        base_url=base_url,
        send_id=send_id,
    )


def render_with(
    template: MessageTemplate,
    compiled: CompiledTemplate,
    customer_data: dict[str, Any],
    context: dict[str, Any],
    *,
    customer_id: int,
    at: datetime,
    base_url: str | None = None,
    send_id: int | None = None,
) -> RenderedMessage:
    """Render a loaded template with the customer's variables (``customer_contexts``); no I/O.

    With ``base_url`` (email): links go through the click redirect, an open pixel is added
    when the send id is known (``send_id``, or ``context["send_id"]``), and ``unsubscribe_url``
    is set for marketing mail. Raises ``ValidationFailed`` (field = the part) when rendering
    fails.
    """
    tenant_id, channel, used = template.tenant_id, template.channel, compiled.variables
    variables = template_variables(customer_data, context)
    if send_id is None and isinstance(context.get("send_id"), int):
        send_id = int(context["send_id"])
    if (
        base_url
        and not template.transactional
        and "unsubscribe_url" in used
        and variables.get("unsubscribe_url") is None
    ):
        variables["unsubscribe_url"] = unsubscribe_url(
            tenant_id=tenant_id,
            customer_id=customer_id,
            channel=channel,
            topic=template.topic,
            base_url=base_url,
            secret=get_settings().messaging_secret,
        )
    if base_url and "magic_link" in used and variables.get("magic_link") is None:
        from tonari.messaging.magic_links import magic_link_url

        variables["magic_link"] = magic_link_url(
            tenant_id=tenant_id, customer_id=customer_id, base_url=base_url, at=at
        )
    subject = (
        _render_compiled("subject", compiled.subject, variables).strip()
        if compiled.subject is not None
        else None
    )
    html = _render_compiled("html", compiled.html, variables) if compiled.html is not None else None
    text = _render_compiled("text", compiled.text, variables)
    if html is not None and base_url and channel == "email":
        html = rewrite_links(
            html, base_url=base_url, tenant_id=tenant_id, customer_id=customer_id, send_id=send_id
        )
        if send_id is not None:
            html = add_open_pixel(
                html,
                base_url=base_url,
                tenant_id=tenant_id,
                customer_id=customer_id,
                send_id=send_id,
            )
    return RenderedMessage(
        subject=subject,
        html=html,
        text=text,
        topic=template.topic,
        transactional=template.transactional,
    )
