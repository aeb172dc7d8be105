"""Campaign series in the portal: the brand's series, and a series' page with its past
occurrences (each a campaign), the next ones (computed from the recurrence in the series'
zone, as the Schedule fires them), HQ's buttons (pause, resume, skip the next, end) and, for
whoever decides for a partner, the partner's approved occurrences to stand by. The same
services as the API (services/series)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from core.policy import Permission, Principal, Target, allows
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
    "pause": "Paused: nothing goes out until you resume the series.",
    "resume": "Resumed: the next occurrence goes out as planned.",
    "skip-next": "The next occurrence will be skipped.",
    "end": "Ended: no more occurrences. Past campaigns stay as they are.",
    "stand-by": "Standing approval saved: unchanged occurrences go ahead without asking you.",
}
SHOWN_PARTNER_CAMPAIGNS = 50


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
        title="Campaign series",
        rows=[(s, Recurrence.model_validate(s.recurrence).describe()) for s in rows],
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
        "recurrence": Recurrence.model_validate(series.recurrence).describe(),
        "past": past,
        "coming": store.coming(series, 6),
        "standing": standing.visible(session, principal, series_id),
        "partner_rows": _partner_rows(session, principal, series, campaign_ids),
        "approved": {s.value for s in standing.APPROVED},
        "manages": allows(principal, Permission.series_manage, Target(series.brand_id)),
        "flash": DONE.get(request.query_params.get("done", ""), ""),
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
