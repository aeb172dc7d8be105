"""A partner's segments in the portal: the list with a form to create one, and one segment's
rules with a live count of who they reach (htmx asks /segments/count as the rules change,
as the campaign form's audience picker does).

Thin pages over services.segments, the API's own functions: the same filter model, the same
access check and the same count a send's audience is taken with.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import SessionDep
from api.portal.contact_form import rules_form, rules_values, segment_name_errors
from api.portal.contact_pages import may_manage
from api.portal.contact_partners import Choice, PortalContactReader, choose
from api.portal.paging import IdFilter
from api.portal.web import PortalRoute, render
from core.errors import NotFound, Problem
from core.policy import Permission, Principal
from i18n.translate import N_, gettext
from models.contact_schemas import AudienceBreakdown, SegmentCreate, SegmentFilter, SegmentUpdate
from models.contacts import Segment
from models.org import Partner
from services import segments as svc
from services.contacts import contact_partner

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {"created": N_("Segment created."), "saved": N_("Segment saved.")}
NAME_MAX = 200


def _name(raw: object) -> tuple[str, dict[str, str]]:
    name = str(raw or "").strip()
    if not name:
        return name, {"name": gettext("Give the segment a name.")}
    if len(name) > NAME_MAX:
        return name, {"name": gettext("At most %(num)d characters.", num=NAME_MAX)}
    return name, {}


def _segment(
    session: Session, principal: Principal, segment_id: int, permission: Permission
) -> tuple[Partner, Segment]:
    """The segment and its partner, checked as the API checks them; another partner's segment
    is "not found", exactly like one that does not exist."""
    found = session.get(Segment, segment_id)
    if found is None:
        raise NotFound("segment", segment_id)
    try:
        partner = contact_partner(session, principal, found.partner_id, permission)
    except NotFound:
        raise NotFound("segment", segment_id) from None
    return partner, svc.load_segment(session, partner, segment_id)


def _count(partner: Partner, session: Session, rules: SegmentFilter) -> AudienceBreakdown:
    assert partner.id is not None
    return svc.audience_breakdown(session, partner.brand_id, partner.id, rules)


def _list_page(
    request: Request,
    session: Session,
    principal: Principal,
    choice: Choice,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    partner = choice.partner
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "segments.html",
        status=status,
        title=gettext("Segments"),
        choice=choice,
        segments=svc.list_segments(session, partner) if partner is not None else [],
        may_manage=partner is not None and may_manage(principal, partner),
        values=values or {},
        errors=errors or {},
        audience=_count(partner, session, SegmentFilter()) if partner is not None else None,
        flash=gettext(done) if done else "",
    )


@router.get("/segments", response_class=HTMLResponse)
def segments_page(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    partner_id: IdFilter = None,
) -> HTMLResponse:
    choice = choose(session, principal, partner_id, Permission.contact_count)
    return _list_page(request, session, principal, choice)


@router.post("/segments", response_class=HTMLResponse, response_model=None)
async def create_segment(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    partner_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> Response:
    form = await request.form()
    choice = choose(session, principal, partner_id, Permission.contact_manage)
    assert choice.partner is not None
    name, errors = _name(form.get("name"))
    values, rules, rule_errors = rules_form(form)
    errors = {**errors, **rule_errors}
    if rules is not None and not errors:
        try:
            made = svc.create_segment(
                session,
                choice.partner,
                SegmentCreate(name=name, filter=rules),
                principal.user_id,
            )
        except Problem as err:
            errors = segment_name_errors(err)
        else:
            return RedirectResponse(f"/segments/{made.id}?done=created", status_code=303)
    return _list_page(
        request,
        session,
        principal,
        choice,
        values={**values, "name": name},
        errors=errors,
        status=422,
    )


@router.get("/segments/count", response_class=HTMLResponse)
async def segment_count(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    partner_id: IdFilter = None,
) -> HTMLResponse:
    """The live count (htmx) for the rules as typed, saved or not: always 200, so the count
    area shows what is wrong with the rules instead of keeping an old number."""
    choice = choose(session, principal, partner_id, Permission.contact_count)
    if choice.partner is None:
        raise NotFound("partner", partner_id)
    _values, rules, errors = rules_form(request.query_params)
    audience = _count(choice.partner, session, rules) if rules is not None else None
    return render(request, "_segment_count.html", audience=audience, invalid=bool(errors))


def _segment_page(
    request: Request,
    session: Session,
    principal: Principal,
    partner: Partner,
    segment: Segment,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    saved = rules_values(segment.filter)
    shown = {**saved, "name": segment.name, **(values or {})}
    _v, rules, _e = rules_form(shown, segment.filter)
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "segment.html",
        status=status,
        title=segment.name,
        partner=partner,
        segment=segment,
        values=shown,
        errors=errors or {},
        may_manage=may_manage(principal, partner),
        audience=_count(partner, session, rules) if rules is not None else None,
        flash=gettext(done) if done else "",
    )


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    segment_id: int,
) -> HTMLResponse:
    partner, segment = _segment(session, principal, segment_id, Permission.contact_count)
    return _segment_page(request, session, principal, partner, segment)


@router.post("/segments/{segment_id}", response_class=HTMLResponse, response_model=None)
async def save_segment(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    segment_id: int,
) -> Response:
    form = await request.form()
    partner, segment = _segment(session, principal, segment_id, Permission.contact_manage)
    name, errors = _name(form.get("name"))
    values, rules, rule_errors = rules_form(form, segment.filter)
    errors = {**errors, **rule_errors}
    if rules is not None and not errors:
        try:
            svc.update_segment(session, segment, SegmentUpdate(name=name, filter=rules))
        except Problem as err:
            errors = segment_name_errors(err)
        else:
            return RedirectResponse(f"/segments/{segment_id}?done=saved", status_code=303)
    shown: dict[str, Any] = {**values, "name": name}
    return _segment_page(
        request, session, principal, partner, segment, values=shown, errors=errors, status=422
    )
