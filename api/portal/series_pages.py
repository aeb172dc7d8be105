"""Campaign series in the portal: the brand's series, and a series' page with its past
occurrences (each a campaign), the next ones (computed from the recurrence in the series'
zone, as the Schedule fires them), HQ's buttons (pause, resume, skip the next, end) and, for
whoever decides for a partner, the partner's approved occurrences to stand by. The same
services as the API (services/series)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from babel.dates import get_day_names
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from core.policy import Permission, Principal, Target, allows
from i18n.catalogues import language_of
from i18n.context import current_locale
from i18n.formats import day
from i18n.translate import N_, gettext
from models.campaigns import PartnerCampaign
from models.org import Partner
from models.recurrence import Recurrence
from models.series import CampaignSeries
from services.access import scope_filter
from services.org import Actor
from services.series import actions, standing, store

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PortalSeriesReader = Annotated[Principal, portal_guard(Permission.series_read)]
PortalSeriesManager = Annotated[Principal, portal_guard(Permission.series_manage)]
DONE = {
    "pause": N_("Paused: nothing goes out until you resume the series."),
    "resume": N_("Resumed: the next occurrence goes out as planned."),
    "skip-next": N_("The next occurrence will be skipped."),
    "end": N_("Ended: no more occurrences. Past campaigns stay as they are."),
    "stand-by": N_("Standing approval saved: unchanged occurrences go ahead without asking you."),
}
SHOWN_PARTNER_CAMPAIGNS = 50


MONTHLY = (
    N_("the first %(weekday)s of every month at %(time)s"),
    N_("the second %(weekday)s of every month at %(time)s"),
    N_("the third %(weekday)s of every month at %(time)s"),
    N_("the fourth %(weekday)s of every month at %(time)s"),
)
# Babel's day names are indexed from Monday.
WEEKDAY_INDEX = {
    d: i
    for i, d in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}


def describe(recurrence: Recurrence) -> str:
    """'the first Monday of every month at 09:00' in the reader's language; a cron line as is."""
    monthly = recurrence.monthly
    if monthly is None:
        return gettext("cron %(line)s", line=recurrence.cron or "")
    lang = language_of(current_locale())
    names = get_day_names("wide", locale="en_GB" if lang == "en" else lang)
    return gettext(
        MONTHLY[monthly.nth - 1],
        weekday=names[WEEKDAY_INDEX[monthly.weekday.value]],
        time=monthly.at.strftime("%H:%M"),
    )


def _day_of(text: str) -> str:
    """A stored ISO date as the reader writes dates (as it is if it is not one)."""
    try:
        return day(date.fromisoformat(text))
    except ValueError:
        return text


def _done(table: dict[str, str], key: str) -> str:
    return gettext(table[key]) if key in table else ""


def _partner_rows(
    session: Session, principal: Principal, series: CampaignSeries, campaign_ids: list[int]
) -> list[tuple[PartnerCampaign, str]]:
    """For people who decide for a few partners (GMs, region managers): their partners'
    campaigns of this series, newest first, to stand by. HQ sees none here (thousands)."""
    brand_wide = allows(principal, Permission.partner_campaign_read, Target(series.brand_id))
    decides = allows(principal, Permission.partner_campaign_decide, Target(series.brand_id))
    if brand_wide or decides or not campaign_ids:
        return []
    rows = session.exec(
        select(PartnerCampaign, Partner.display_name)
        .join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
        .where(
            col(PartnerCampaign.campaign_id).in_(campaign_ids),
            scope_filter(
                principal,
                PartnerCampaign.brand_id,
                PartnerCampaign.region_id,
                PartnerCampaign.partner_id,
                Permission.partner_campaign_read,
            ),
        )
        .order_by(col(PartnerCampaign.campaign_id).desc(), col(Partner.display_name))
        .limit(SHOWN_PARTNER_CAMPAIGNS)
    ).all()
    return [(pc, name) for pc, name in rows]


@router.get("/series", response_class=HTMLResponse)
def series_list_page(
    principal: PortalSeriesReader, request: Request, session: SessionDep
) -> HTMLResponse:
    rows = store.list_series(session, principal)
    return render(
        request,
        "series_list.html",
        title=gettext("Campaign series"),
        rows=[(s, describe(Recurrence.model_validate(s.recurrence))) for s in rows],
    )


@router.get("/series/{series_id:int}", response_class=HTMLResponse)
def series_page(
    principal: PortalSeriesReader, request: Request, session: SessionDep, series_id: int
) -> HTMLResponse:
    series = store.load_series(session, principal, series_id)
    past = store.past_occurrences(session, series_id)
    campaign_ids = [o.campaign_id for o in past if o.campaign_id is not None]
    context: dict[str, Any] = {
        "series": series,
        "recurrence": describe(Recurrence.model_validate(series.recurrence)),
        "past": past,
        "skipped": [_day_of(text) for text in series.skip_dates],
        "coming": store.coming(series, 6),
        "standing": standing.visible(session, principal, series_id),
        "partner_rows": _partner_rows(session, principal, series, campaign_ids),
        "approved": {s.value for s in standing.APPROVED},
        "manages": allows(principal, Permission.series_manage, Target(series.brand_id)),
        "flash": _done(DONE, request.query_params.get("done", "")),
    }
    return render(request, "series.html", title=series.name, **context)


@router.post("/series/{series_id:int}/change", response_class=RedirectResponse)
async def change_series(
    principal: PortalSeriesManager,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    series_id: int,
    action: Annotated[Literal["pause", "resume", "skip-next", "end"], Form()],
) -> Response:
    series = store.load_series(session, principal, series_id, Permission.series_manage)
    what = actions.Change(action)
    await actions.change(
        session, temporal.get, Actor(principal, rid), series, what, settings.temporal_task_queue
    )
    return RedirectResponse(f"/series/{series_id}?done={action}", status_code=303)


@router.post("/series/{series_id:int}/stand-by", response_class=RedirectResponse)
def stand_by_series(
    principal: PortalSeriesReader,
    session: SessionDep,
    rid: RequestIdDep,
    series_id: int,
    partner_campaign_id: Annotated[int, Form(ge=1)],
) -> Response:
    series = store.load_series(session, principal, series_id)
    standing.grant(session, Actor(principal, rid), series, partner_campaign_id)
    session.commit()
    return RedirectResponse(f"/series/{series_id}?done=stand-by", status_code=303)
