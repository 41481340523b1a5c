"""``/panel/campaigns``: mass mailings with progress, creating one to a segment with a
template, start / pause / resume / cancel, and the holdout report as a chart."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tonari.kit.clock import utcnow
from tonari.kit.errors import TonariError, ValidationFailed
from tonari.messaging.campaigns import (
    CampaignCreate,
    CampaignProgress,
    campaign_progress,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from tonari.messaging.holdouts import holdout_report
from tonari.messaging.queue import notify_dispatcher
from tonari.messaging.templates import list_templates
from tonari.segments.service import list_segments
from tonari.tenants.service import audit
from tonari.web import charts
from tonari.web.auth import PanelSessionDep, PanelUser, PanelUserDep, checked_form
from tonari.web.dashboard import currency_of
from tonari.web.rendering import money, render, svg

router = APIRouter(prefix="/campaigns")
CampaignKey = Annotated[str, Path(min_length=1, max_length=80)]
Action = Literal["start", "pause", "resume", "cancel"]
MANAGE = "programme:write"
ACTIONS = {
    "start": start_campaign,
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
}
# Which buttons a campaign in each status shows.
AVAILABLE = {
    "draft": ("start", "cancel"),
    "scheduled": ("start", "cancel"),
    "running": ("pause", "cancel"),
    "paused": ("resume", "cancel"),
}
REPORT_WINDOW_DAYS = 14


def progress_svg(progress: CampaignProgress) -> Any:
    return svg(
        charts.progress_bar(
            [
                charts.Part("sent", progress.sent, "#2e9d5b"),
                charts.Part("skipped", progress.skipped, "#e0782f"),
                charts.Part("failed", progress.failed, "#c8443c"),
                charts.Part("sending", progress.sending, "#2f6fde"),
            ],
            total=max(progress.audience, progress.done + progress.queued + progress.sending),
            title="Progress",
        )
    )


@router.get("", response_class=HTMLResponse, summary="Campaigns")
async def campaigns(request: Request, session: PanelSessionDep, user: PanelUserDep) -> HTMLResponse:
    user.principal.require(MANAGE)
    rows = []
    for campaign in await list_campaigns(session, tenant_id=user.tenant_id):
        progress = await campaign_progress(session, campaign=campaign)
        rows.append({"campaign": campaign, "progress": progress, "bar": progress_svg(progress)})
    return render(
        request, "campaigns.html", user=user, active="campaigns", title="Campaigns", rows=rows
    )


async def _form(
    request: Request,
    session: PanelSessionDep,
    user: PanelUser,
    *,
    values: dict[str, str],
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    segments = await list_segments(session, tenant_id=user.tenant_id)
    templates = await list_templates(session, tenant_id=user.tenant_id)
    return render(
        request,
        "campaign_new.html",
        user=user,
        active="campaigns",
        title="New campaign",
        segments=segments,
        templates=[t for t in templates if not t.transactional],
        values=values,
        error=error,
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse, summary="The form for a new campaign")
async def new_campaign(
    request: Request, session: PanelSessionDep, user: PanelUserDep
) -> HTMLResponse:
    user.principal.require(MANAGE)
    values = {"segment_key": request.query_params.get("segment", "")}
    return await _form(request, session, user, values=values)


def _campaign_create(form: dict[str, str]) -> CampaignCreate:
    template, _, channel = form.get("template", "").partition("|")
    holdout = form.get("holdout_percent", "").strip() or "0"
    rate = form.get("send_rate_per_minute", "").strip()
    try:
        holdout_bp = round(float(holdout) * 100)
    except ValueError:
        raise ValidationFailed(
            "holdout_percent: a number of percent, e.g. 10", field="holdout_percent"
        ) from None
    try:
        return CampaignCreate(
            key=form.get("key", "").strip(),
            name=form.get("name", "").strip() or form.get("key", "").strip() or "?",
            segment_key=form.get("segment_key") or None,
            template_key=template,
            channel=channel or "email",
            holdout_bp=holdout_bp,
            send_rate_per_minute=int(rate) if rate.isdigit() else None,
        )
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "form"
        raise ValidationFailed(f"{place}: {first['msg']}", field=place) from None


@router.post("/new", summary="Create a campaign")
async def create(request: Request, session: PanelSessionDep, user: PanelUserDep) -> Response:
    user.principal.require(MANAGE)
    form = await checked_form(request, user)
    try:
        if not form.get("segment_key"):
            raise ValidationFailed(
                "segment_key: choose the segment to send to (create one under Segments first)",
                field="segment_key",
            )
        if not form.get("template"):
            raise ValidationFailed(
                "template: choose a message template (enabling a journey creates some; "
                "POST /v1/messaging/templates adds your own)",
                field="template",
            )
        data = _campaign_create(form)
        async with session.begin_nested():
            campaign = await create_campaign(
                session, tenant_id=user.tenant_id, data=data, at=utcnow()
            )
            await audit(
                session,
                user.principal,
                action="campaign.create",
                subject=campaign.key,
                details={**data.model_dump(mode="json"), "via": "panel"},
            )
    except TonariError as error:
        return await _form(
            request,
            session,
            user,
            values=form,
            error={"message": error.message, "field": error.field},
            status_code=error.status_code,
        )
    return RedirectResponse(f"/panel/campaigns/{campaign.key}?notice=created", status_code=303)


@router.get("/{key}", response_class=HTMLResponse, summary="One campaign and its report")
async def campaign(
    key: CampaignKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> HTMLResponse:
    user.principal.require(MANAGE)
    found = await get_campaign(session, tenant_id=user.tenant_id, key=key)
    progress = await campaign_progress(session, campaign=found)
    report = await holdout_report(
        session,
        tenant_id=user.tenant_id,
        campaign_key=key,
        window_days=REPORT_WINDOW_DAYS,
        at=utcnow(),
    )
    currency, minor_units = await currency_of(session, user.tenant_id)
    scale = 10**minor_units

    def in_currency(value: float) -> str:
        return money(round(value * scale), minor_units, currency)

    def signed(value: float) -> str:
        return f"{value:+,.2f}"

    conversion, arpu = report["conversion_difference"], report["arpu_difference"]

    # Until both groups have two customers the interval is unbounded: draw nothing yet.
    comparable = bool(report["comparable"])

    def major(value: float | None) -> float | None:
        return None if value is None or not comparable else value / scale

    def pp(value: float | None) -> float | None:
        return None if value is None or not comparable else value * 100

    groups = ("treated", "holdout")
    return render(
        request,
        "campaign.html",
        user=user,
        active="campaigns",
        title=f"Campaign {found.name}",
        campaign=found,
        progress=progress,
        bar=progress_svg(progress),
        actions=AVAILABLE.get(found.status, ()),
        report=report,
        currency=currency,
        minor_units=minor_units,
        conversion_chart=svg(
            charts.bar_chart(
                ["Treated", "Holdout"],
                [report[g]["conversion_rate"] * 100 for g in groups],
                title="Conversion rate, %",
                width=320,
                height=200,
                value_format=lambda v: f"{v:.1f}%",
            )
        ),
        arpu_chart=svg(
            charts.bar_chart(
                ["Treated", "Holdout"],
                [report[g]["arpu"] / scale for g in groups],
                title=f"Revenue per customer ({currency or 'major units'})",
                width=320,
                height=200,
                value_format=in_currency,
                colour="#2e9d5b",
            )
        ),
        difference_chart=svg(
            charts.interval_chart(
                [
                    charts.IntervalRow(
                        "Conversion, pp",
                        pp(conversion["difference"]),
                        pp(conversion["low"]),
                        pp(conversion["high"]),
                    ),
                    charts.IntervalRow(
                        f"ARPU, {currency or 'major units'}",
                        major(arpu["difference"]),
                        major(arpu["low"]),
                        major(arpu["high"]),
                    ),
                ],
                title="Treated minus holdout, with 95% confidence intervals",
                value_format=signed,
            )
        ),
    )


@router.post("/{key}/{action}", summary="Start, pause, resume or cancel a campaign")
async def transition(
    key: CampaignKey, action: Action, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    user.principal.require(MANAGE)
    await checked_form(request, user)
    await ACTIONS[action](session, tenant_id=user.tenant_id, key=key, at=utcnow())
    await audit(
        session, user.principal, action=f"campaign.{action}", subject=key, details={"via": "panel"}
    )
    if action in ("start", "resume"):
        await notify_dispatcher(session)
    return RedirectResponse(f"/panel/campaigns/{key}?notice={action}", status_code=303)
