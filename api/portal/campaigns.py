"""HQ's campaigns: the list, creating one from a published template, launching, progress per
partner and region, cancelling and extending. Each action calls the service the API calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.paging import Blank, CursorQuery, IdFilter, pager, portal_page
from api.portal.web import (
    PortalCampaignManager,
    PortalCampaignReader,
    PortalRoute,
    done_flash,
    error_page,
    render,
)
from core.errors import Problem
from core.policy import Permission, Principal, has_permission_somewhere
from core.settings import Settings
from domain.states import (
    PARTNER_CAMPAIGN_FINAL,
    CampaignMode,
    CampaignState,
    PartnerCampaignState,
    TemplateState,
)
from i18n import formats
from i18n.translate import N_, gettext
from models.base import utcnow
from models.campaign_schemas import CampaignCreate
from models.org import Partner, Region
from models.templates import Template, TemplateVersion
from services import campaign_actions as flow
from services import campaigns as svc
from services import delivery
from services.approvals import policies as approval_policies
from services.org import Actor
from services.paging import Paged

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {
    "created": N_("Campaign created. Check it, then launch it."),
    "launched": N_("Launched: the partners are being invited."),
    "cancelled": N_("Campaign cancelled."),
    "extended": N_("Personalisation window extended."),
}


def _published(session: Session, brand_id: int) -> list[tuple[TemplateVersion, str]]:
    rows = session.exec(
        select(TemplateVersion, Template.name)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(
            TemplateVersion.brand_id == brand_id, TemplateVersion.state == TemplateState.published
        )
        .order_by(col(Template.name), col(TemplateVersion.number))
    ).all()
    return [(v, name) for v, name in rows]


PICKER_LIMIT = 500  # up to this many partners the form offers one checkbox each


def _org(session: Session, brand_id: int) -> tuple[list[Region], list[tuple[int, str]], int]:
    """The brand's regions, and its partners as (id, name) when there are at most
    PICKER_LIMIT of them (else none: a form of 10,000 checkboxes took 0.8 s to draw and
    nobody can use it), with their count."""
    regions = session.exec(
        select(Region).where(Region.brand_id == brand_id).order_by(col(Region.name))
    ).all()
    count = session.exec(select(func.count()).where(Partner.brand_id == brand_id)).one()
    partners: list[tuple[int, str]] = []
    if count <= PICKER_LIMIT:
        partners = [
            (int(pid or 0), name)
            for pid, name in session.exec(
                select(Partner.id, Partner.display_name)
                .where(Partner.brand_id == brand_id)
                .order_by(col(Partner.display_name))
            ).all()
        ]
    return list(regions), partners, int(count)


def _in_my_zone(raw: object) -> object:
    """The form's date-time fields are labelled with the person's time zone and the browser
    sends them without one: read them on that wall clock, never by the API's rule. Text that
    is no date goes on unchanged, for the model's message naming the field."""
    if isinstance(raw, str) and raw.strip():
        try:
            return formats.from_input(raw).isoformat()
        except ValueError:
            return raw
    return raw


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    principal: PortalCampaignReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[CampaignState | None, Blank, Query()] = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    """Newest first, filtered by name and state, one page at a time."""
    result = svc.list_campaigns(
        session,
        principal,
        portal_page(settings, cursor),
        state=state.value if state else None,
        q=q or None,
    )
    items = svc.campaign_reads(session, result.items)
    return render(
        request,
        "campaigns.html",
        title=gettext("Campaigns"),
        items=items,
        q=q or "",
        state=state.value if state else "",
        states=list(CampaignState),
        pager=pager(request, result, {"q": q, "state": state.value if state else None}),
        finished=PARTNER_CAMPAIGN_FINAL,
        may_manage=has_permission_somewhere(principal, Permission.campaign_manage),
    )


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    regions, partners, partner_count = _org(session, principal.brand_id)
    return render(
        request,
        "campaign_new.html",
        status=status,
        title=gettext("New campaign"),
        form=form,
        errors=errors,
        versions=_published(session, principal.brand_id),
        regions=regions,
        partners=partners,
        partner_count=partner_count,
        modes=list(CampaignMode),
        policies=[(b.value, label) for b, label, _ in approval_policies.builtins()]
        + [
            (
                str(v.policy.id),
                gettext(
                    "%(name)s (version %(number)s)",
                    name=v.policy.name,
                    number=v.current.number,
                ),
            )
            for v in approval_policies.list_policies(session, principal)
        ],
    )


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign_page(
    principal: PortalCampaignManager, request: Request, session: SessionDep
) -> HTMLResponse:
    now = utcnow().replace(second=0, microsecond=0)
    form = {
        "name": "",
        "template_version_id": "",
        "target_kind": "regions",
        "regions": [],
        "partners": [],
        "personalise_until": formats.input_value(now + timedelta(days=7)),
        "send_by": formats.input_value(now + timedelta(days=14)),
        "mode": "opt_in",
        "approval_policy": "gm",
        "remind_after": 2,
        "escalate_after": 4,
    }
    return _form_page(request, session, principal, form, {})


def _ints(values: list[str]) -> list[int]:
    """Ids from checkboxes, or typed into one field separated by commas or spaces."""
    return [int(v) for value in values for v in re.split(r"[\s,]+", value) if v.isdigit()]


@router.post("/campaigns", response_class=HTMLResponse)
async def create_campaign(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    rid: RequestIdDep,
) -> Response:
    posted = await request.form()
    form: dict[str, Any] = {
        k: posted.get(k, "")
        for k in (
            "name",
            "template_version_id",
            "target_kind",
            "personalise_until",
            "send_by",
            "mode",
            "approval_policy",
            "remind_after",
            "escalate_after",
        )
    }
    form["regions"] = _ints([str(v) for v in posted.getlist("regions")])
    form["partners"] = _ints([str(v) for v in posted.getlist("partners")])
    kind = str(form["target_kind"])
    target: dict[str, Any] = (
        {"all": True}
        if kind == "all"
        else {kind: form[kind]}
        if kind in ("regions", "partners")
        else {}
    )
    try:
        days = {
            k: timedelta(days=float(str(form[k]) or 0)) for k in ("remind_after", "escalate_after")
        }
    except ValueError:
        return _form_page(
            request,
            session,
            principal,
            form,
            {"remind_after": gettext("Enter a number of days.")},
            422,
        )
    try:
        body = CampaignCreate.model_validate(
            {
                "name": form["name"],
                "template_version_id": form["template_version_id"] or 0,
                "target": target,
                "personalise_until": _in_my_zone(form["personalise_until"]),
                "send_by": _in_my_zone(form["send_by"]),
                "mode": form["mode"],
                "approval_policy": form["approval_policy"],
                **days,
            }
        )
        campaign, _ = svc.create_campaign(session, Actor(principal, rid), body, None)
    except ValidationError as err:
        errors = {str(e["loc"][0]) if e["loc"] else "form": _plain(e["msg"]) for e in err.errors()}
        return _form_page(request, session, principal, form, errors, 422)
    except Problem as err:
        errors = {str(e.get("field")): str(e.get("message")) for e in err.errors or []}
        return _form_page(
            request, session, principal, form, errors or {"form": err.detail}, err.status
        )
    return RedirectResponse(f"/campaigns/{campaign.id}?done=created", status_code=303)


@dataclass
class PartnerListFilter:
    """The campaign page's per-partner table: filters (GET form) and its page."""

    state: Annotated[PartnerCampaignState | None, Blank, Query()] = None
    region_id: IdFilter = None
    q: Annotated[str | None, Query(max_length=200)] = None
    sort: Annotated[
        str, Query(pattern="^(partner_name|-updated_at|state)$", description="table order")
    ] = "partner_name"
    cursor: CursorQuery = None

    def page(
        self, session: Session, principal: Principal, settings: Settings, campaign_id: int
    ) -> Paged[Any]:
        return svc.list_partner_campaigns(
            session,
            principal,
            portal_page(settings, self.cursor),
            campaign_id=campaign_id,
            state=self.state.value if self.state else None,
            region_id=self.region_id,
            q=self.q or None,
            sort=self.sort,
        )

    def as_query(self) -> dict[str, object]:
        return {
            "state": self.state.value if self.state else None,
            "region_id": self.region_id,
            "q": self.q,
            "sort": self.sort if self.sort != "partner_name" else None,
        }


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ")


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    principal: PortalCampaignReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    campaign_id: int,
    shown: Annotated[PartnerListFilter, Depends()],
) -> HTMLResponse:
    """The campaign's facts, its progress per region (one grouped query over all its partner
    campaigns the caller may read) and one page of its partners (keyset paging, filters),
    each with its sending bar."""
    campaign = svc.load_campaign(session, principal, campaign_id)
    read = svc.campaign_read(campaign, svc.counts_by_state(session, campaign_id))
    by_region = svc.counts_by_region(session, principal, campaign_id)
    partner_page = shown.page(session, principal, settings, campaign_id)
    pcs = svc.partner_campaign_reads(session, partner_page.items)
    return render(
        request,
        "campaign.html",
        title=campaign.name,
        c=read,
        pcs=pcs,
        regions={r.region_id: r.region_name for r in by_region},
        by_region=by_region,
        sending=delivery.progress_by_partner_campaign(session, [pc.id for pc in pcs]),
        finished=PARTNER_CAMPAIGN_FINAL,
        may_manage=has_permission_somewhere(principal, Permission.campaign_manage),
        flash=done_flash(DONE, request),
        until=svc.aware(campaign.personalise_until),
        pc_filter=shown,
        pc_states=[s.value for s in PartnerCampaignState],
        pager=pager(request, partner_page, shown.as_query()),
    )


async def _act(
    request: Request,
    session: Session,
    principal: Principal,
    campaign_id: int,
    action: Any,
    what: str,
) -> Response:
    campaign = svc.load_campaign(session, principal, campaign_id, Permission.campaign_manage)
    try:
        await action(campaign)
    except Problem as err:
        return error_page(request, err.status, N_("Not done"), err.detail)
    return RedirectResponse(f"/campaigns/{campaign_id}?done={what}", status_code=303)


@router.post("/campaigns/{campaign_id}/launch", response_class=HTMLResponse)
async def launch(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
) -> Response:
    async def run(campaign: Any) -> None:
        await flow.launch(
            session,
            await client.get(),
            settings.temporal_task_queue,
            Actor(principal, rid),
            campaign,
            delivery_task_queue=settings.temporal_delivery_task_queue,
        )

    return await _act(request, session, principal, campaign_id, run, "launched")


@router.post("/campaigns/{campaign_id}/cancel", response_class=HTMLResponse)
async def cancel(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
) -> Response:
    async def run(campaign: Any) -> None:
        await flow.cancel(session, await client.get(), Actor(principal, rid), campaign)

    return await _act(request, session, principal, campaign_id, run, "cancelled")


@router.post("/campaigns/{campaign_id}/extend", response_class=HTMLResponse)
async def extend(
    principal: PortalCampaignManager,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    rid: RequestIdDep,
    campaign_id: int,
    personalise_until: Annotated[str, Form(max_length=40)],
) -> Response:
    """The new end is typed on the person's wall clock (the label names the zone)."""
    try:
        until = formats.from_input(personalise_until)
    except ValueError:
        return error_page(
            request,
            422,
            N_("Invalid input"),
            gettext("New end of the window: enter a date and time."),
        )

    async def run(campaign: Any) -> None:
        await flow.extend(session, await client.get(), Actor(principal, rid), campaign, until)

    return await _act(request, session, principal, campaign_id, run, "extended")
