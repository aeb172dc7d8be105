"""One partner campaign: the editor's form with live preview and the segment picker with its
live audience count, the GM's review of the same page (with the audience), send time, the
send's progress from the delivery ledger, and the timeline with the lifecycle diagram.

Every action goes through services.campaign_actions (perform, submit), the same calls the API
makes, so the workflow's validators decide here exactly as they do there.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlmodel import Session

from api.deps import EngineDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal import diagram, slot_form
from api.portal.inbox import named_approvers
from api.portal.web import (
    PortalPartnerCampaignEditor,
    PortalPartnerCampaignReader,
    PortalRoute,
    render,
)
from content.spec import TemplateContent
from core.errors import FieldError, NotFound, Problem
from core.policy import Permission, Principal, allows
from core.settings import Settings
from domain.states import DECLINABLE, PERSONALISING, SCHEDULABLE, SEND_STARTED
from i18n.catalogues import language_of
from i18n.context import current_locale, current_zone
from i18n.formats import input_value
from i18n.translate import N_
from i18n.translate import gettext as _
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contact_schemas import AudienceBreakdown
from models.contacts import Segment
from models.org import Brand, Partner, User
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from models.workflow_io import SendPause
from services import (
    actor_names,
    delivery,
    inbox,
    previews,
    segments,
    send_resume,
    send_tests,
    send_time,
)
from services import campaign_actions as flow
from services import campaigns as crud
from services import templates as template_svc
from services.accounts import display_names
from services.approvals.tasks import stage_read
from services.audience import audience_of, check_segment
from services.org import Actor
from services.send_resume import may_resume
from workflows.partner_campaign import PartnerCampaignWorkflow

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
DONE = {
    "saved": N_("Saved. Check the preview, then submit when you are ready."),
    "submitted": N_("Submitted. Your general manager has been asked to approve."),
    "approve": N_("Approved. The partner can now pick the send time."),
    "request_changes": N_("Changes requested. The editor has been told what to change."),
    "reject": N_("Rejected."),
    "scheduled": N_("Send time saved."),
    "sending_now": N_("Sending starts within a minute."),
    "resumed": N_("Sending resumes now."),
    "declined": N_("You declined this campaign."),
    "tested": N_("Test sent. It is marked as a test and is not counted as a delivery."),
}
STATES = {
    "invited": N_("invited"),
    "drafting": N_("drafting"),
    "changes_requested": N_("changes requested"),
    "pending_approval": N_("waiting for approval"),
    "approved": N_("approved"),
    "scheduled": N_("scheduled"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "partially_sent": N_("partially sent"),
    "rejected": N_("rejected"),
    "declined": N_("declined"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
}


def _parts(session: Session, row: PartnerCampaign) -> tuple[Campaign, TemplateVersion, Partner]:
    campaign = session.get(Campaign, row.campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    partner = session.get(Partner, row.partner_id)
    if campaign is None or version is None or partner is None:
        raise NotFound("partner campaign", row.id)
    return campaign, version, partner


def _preview_locale(content: TemplateContent, row: PartnerCampaign, raw: object) -> str:
    """The language the preview shows: the one asked for when the template has it, else the
    partner campaign's."""
    return raw if isinstance(raw, str) and raw in content.locales else row.locale


def _reasons(err: Problem) -> list[str]:
    if isinstance(err, previews.TemplateRefused):  # nothing the partner can fix: say whose
        return [_("HQ's template cannot be shown: %(reason)s", reason=err.detail)]
    return [e["message"] for e in (err.errors or [])] or [err.detail]


def _preview(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    row: PartnerCampaign,
    values: dict[str, Any],
    locale: str | None = None,
    *,
    live: bool = False,
) -> dict[str, Any]:
    """Every variant as recipients speaking `locale` get it (the email, the SMS with its
    counter, a link to the print proof), or the plain-words reasons it cannot be shown yet.
    `live`: the language tabs and the counter update while the partner types."""
    content = template_svc.content_of(version)
    locale = locale or row.locale
    body = ValuesBody(values=values, locale=locale, partner_id=row.partner_id)
    out: dict[str, Any] = {
        "html": "",
        "reasons": [],
        "locale": locale,
        "locales": [(loc, slot_form.LANGUAGES.get(loc, loc)) for loc in content.locales],
        "sms": None,
        "counter": "",
        "has_email": content.email is not None,
        "has_print": content.print is not None,
        "pc_id": row.id,
        "live": live,
    }
    try:
        if content.email is not None:
            email = previews.render_preview(
                session, settings, principal, version, body, "html", row.locale
            )
            out["html"] = email.body if isinstance(email.body, str) else email.body.decode()
        if content.sms is not None:
            sms = previews.sms_preview(session, settings, principal, version, body, row.locale)
            out["sms"] = sms
            out["counter"] = previews.counter_words(sms)
    except Problem as err:
        out["reasons"] = _reasons(err)
    return out


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    row: PartnerCampaign,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    problem: str = "",
    status: int = 200,
    segment_id: int | None = None,
    paused: SendPause | None = None,
    lang: str | None = None,
    send_at_typed: str | None = None,
) -> HTMLResponse:
    """The page; after a refusal `values`, `segment_id` and `send_at_typed` are what the
    partner typed (kept in the fields) and `errors` every message per field."""
    campaign, version, partner = _parts(session, row)
    brand = session.get(Brand, row.brand_id)
    content = template_svc.content_of(version)
    target = crud.partner_campaign_target(row)
    edit_allowed = allows(principal, Permission.partner_campaign_edit, target)
    defaults = slot_form.hq_defaults(content, campaign.defaults, row.locale)
    defaults.update(crud.start_values(content, campaign, partner))  # relative dates, resolved
    shown = dict(row.values if values is None else values)
    task = inbox.open_approval(session, row.id or 0)
    acting = inbox.acting_as(session, principal, task) if task is not None else None
    may_decide = acting is not None
    settings = request.app.state.settings
    may_edit = edit_allowed and row.state in PERSONALISING
    chosen = segment_id if values is not None else row.segment_id
    if chosen is not None and not _own_segment(session, row, chosen):
        chosen = None  # deleted since, or not the partner's: the picker falls back to everyone
    segment = session.get(Segment, row.segment_id) if row.segment_id else None
    fields = slot_form.fields_for(
        session,
        principal,
        content,
        values=shown,
        defaults=defaults,
        errors=errors or {},
        partner=partner,
        palette=list(brand.palette if brand else []),
        locale=language_of(current_locale()),
        today=utcnow().date(),
    )
    send_by = crud.aware(campaign.send_by)
    return render(
        request,
        "partner_campaign.html",
        status=status,
        title=_(
            "%(campaign)s for %(partner)s", campaign=campaign.name, partner=partner.display_name
        ),
        state_label=_(STATES.get(row.state, row.state)),
        errors=errors or {},
        summary=slot_form.summary(errors or {}, fields) if errors else [],
        send_at_value=_send_at_value(row, partner, send_by, send_at_typed),
        pc=crud.partner_campaign_reads(session, [row])[0],
        campaign=campaign,
        partner=partner,
        fields=fields,
        labels={f.name: f.label for f in fields},
        changes=slot_form.changes(row.values, defaults),
        preview=_preview(
            session,
            settings,
            principal,
            version,
            row,
            shown,
            _preview_locale(content, row, lang),
            live=may_edit,
        ),
        has_print=content.print is not None,
        may_edit=may_edit,
        segments=segments.list_segments(session, partner) if may_edit else [],
        segment_id=chosen,
        segment_name=segment.name if segment else _("Everyone"),
        audience=_breakdown(session, row, chosen).model_dump()
        if may_edit
        else audience_of(session, row),
        progress=_progress(session, row),
        paused=paused,
        may_resume=may_resume(principal, row),
        may_schedule=edit_allowed and row.state in SCHEDULABLE,
        may_decline=edit_allowed and row.state in DECLINABLE,
        may_test=edit_allowed,
        test_limit=send_tests.RATE_LIMIT,
        test_max=send_tests.MAX_RECIPIENTS,
        test_people=send_tests.people_of(session, row) if edit_allowed else [],
        tests_left=max(0, send_tests.RATE_LIMIT - send_tests.count_recent(session, row.id or 0))
        if edit_allowed
        else 0,
        may_decide=may_decide,
        stage=stage_read(task, named_approvers(session, [task])) if task is not None else None,
        on_behalf_of=acting.for_user if acting is not None else None,
        on_behalf_name=display_names(session, {acting.for_user}).get(acting.for_user, "")
        if acting is not None and acting.for_user
        else "",
        problem=problem,
        flash=_(DONE[done]) if (done := request.query_params.get("done", "")) in DONE else "",
        send_by=send_by,
    )


def _send_at_value(
    row: PartnerCampaign, partner: Partner, send_by: datetime, typed: str | None
) -> str:
    """The send-time field: what was typed (after a refusal), else the saved time, else the
    suggested slot (services.send_time.prefill), on the reader's wall clock."""
    if typed is not None:
        return typed
    if row.send_at is not None:
        return input_value(crud.aware(row.send_at))
    return input_value(send_time.prefill(utcnow(), send_by, partner.timezone or "UTC"))


def _segment_choice(raw: object) -> int | None:
    """The picker's value: empty is everyone."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        raise FieldError("segment_id", _("Pick one of the listed audiences.")) from None


def _own_segment(session: Session, row: PartnerCampaign, segment_id: int) -> bool:
    try:
        check_segment(session, row, segment_id)
    except FieldError:
        return False
    return True


def _breakdown(session: Session, row: PartnerCampaign, segment_id: int | None) -> AudienceBreakdown:
    """The live count for the picker: the partner's own segment, or everyone."""
    rules = dict(check_segment(session, row, segment_id).filter) if segment_id else {}
    sms = segments.has_sms_variant(session, row.campaign_id)
    return segments.audience_breakdown(session, row.brand_id, row.partner_id, rules, sms=sms)


def _progress(session: Session, row: PartnerCampaign) -> delivery.Progress | None:
    """The ledger's counts once the send has started."""
    assert row.id is not None
    found = delivery.progress_of(session, row.id)
    return found if found.total or row.state in SEND_STARTED else None


def _field_errors(err: Problem) -> dict[str, list[str]]:
    """Every message of a refusal per field (a field may break several rules at once)."""
    out: dict[str, list[str]] = {}
    for e in err.errors or []:
        found = out.setdefault(str(e.get("field", "")), [])
        message = str(e.get("message", ""))
        if message not in found:
            found.append(message)
    return out


def _refused(errors: dict[str, list[str]], err: Problem) -> str:
    """What the top of the page says about a refusal."""
    return _("Please correct the fields marked below.") if errors else err.detail


def _done(pc_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/partner-campaigns/{pc_id}?done={what}", status_code=303)


@router.get("/partner-campaigns/{partner_campaign_id}", response_class=HTMLResponse)
async def partner_campaign_page(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    lang: str = "",
) -> HTMLResponse:
    """`lang`: the language the preview shows (default: the campaign's)."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    paused = await delivery.current_pause(client.get, row)
    return _page(request, session, principal, row, paused=paused, lang=lang)


@router.get("/partner-campaigns/{partner_campaign_id}/audience", response_class=HTMLResponse)
def audience_count(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    partner_campaign_id: int,
    segment_id: str = "",
) -> HTMLResponse:
    """The picker's live count (htmx): who the chosen segment reaches, and who it cannot."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    found = _breakdown(session, row, _segment_choice(segment_id))
    return render(request, "_audience.html", audience=found.model_dump())


@router.get("/partner-campaigns/{partner_campaign_id}/progress", response_class=HTMLResponse)
async def send_progress(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> HTMLResponse:
    """The send's progress (htmx, polled while it runs), as GET .../delivery reports it."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    paused = await delivery.current_pause(client.get, row)
    return render(
        request,
        "_progress.html",
        pc=crud.partner_campaign_reads(session, [row])[0],
        progress=_progress(session, row),
        paused=paused,
        may_resume=may_resume(principal, row),
    )


@router.post("/partner-campaigns/{partner_campaign_id}/content", response_class=HTMLResponse)
async def save_content(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    action: Annotated[Literal["save", "submit"], Form()] = "save",
) -> Response:
    """Save the form; with "submit", submit right after. A refusal shows each message next to
    its field and keeps what was typed."""
    row = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.partner_campaign_edit
    )
    version = _parts(session, row)[1]
    form = await request.form()
    values = slot_form.values_from(form, template_svc.content_of(version))
    segment_id: int | None = None
    temporal = client.get
    segment_refused: FieldError | None = None
    try:
        segment_id = _segment_choice(form.get("segment_id"))
        if segment_id is not None:
            check_segment(session, row, segment_id)
    except FieldError as err:
        segment_refused = err
    try:
        if segment_refused is not None:  # every other field's message too, not just this one
            found = [e.model_dump() for e in flow.full_validation(session, row, values)]
            raise Problem(
                segment_refused.detail,
                status=422,
                errors=[*(segment_refused.errors or []), *found],
            )
        row = await flow.perform(
            session,
            temporal,
            principal,
            partner_campaign_id,
            Permission.partner_campaign_edit,
            PartnerCampaignWorkflow.save_content,
            validate=lambda _r: values,
            values=values,
        )
        if action == "submit":
            row = await flow.submit(session, temporal, principal, partner_campaign_id, segment_id)
    except Problem as err:
        errors = _field_errors(err)
        return _page(
            request,
            session,
            principal,
            row,
            values=values,
            errors=errors,
            status=err.status,
            problem=_refused(errors, err),
            segment_id=segment_id,
        )
    return _done(partner_campaign_id, "submitted" if action == "submit" else "saved")


@router.post("/partner-campaigns/{partner_campaign_id}/preview", response_class=HTMLResponse)
async def live_preview(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: int,
) -> HTMLResponse:
    """The preview of the values being typed (htmx), saved or not, in the language chosen
    (`preview_locale`)."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    version = _parts(session, row)[1]
    content = template_svc.content_of(version)
    form = await request.form()
    values = slot_form.values_from(form, content)
    locale = _preview_locale(content, row, form.get("preview_locale"))
    preview = _preview(session, settings, principal, version, row, values, locale, live=True)
    return render(request, "_preview.html", preview=preview)


@router.post("/partner-campaigns/{partner_campaign_id}/sms-preview")
async def live_sms_preview(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: int,
) -> JSONResponse:
    """The live counter's answer (static/sms_counter.js): the SMS of the values being typed
    and its size, as POST /api/v1/partner-campaigns/{id}/sms-preview answers; 422 with the
    reasons while a field is invalid."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    version = _parts(session, row)[1]
    content = template_svc.content_of(version)
    form = await request.form()
    body = ValuesBody(
        values=slot_form.values_from(form, content),
        locale=_preview_locale(content, row, form.get("preview_locale")),
        partner_id=row.partner_id,
    )
    try:
        sms = previews.sms_preview(session, settings, principal, version, body, row.locale)
    except Problem as err:
        return JSONResponse({"reasons": _reasons(err)}, status_code=err.status)
    return JSONResponse({**asdict(sms), "counter": previews.counter_words(sms)})


@router.get("/partner-campaigns/{partner_campaign_id}/print.pdf")
def print_pdf(
    principal: PortalPartnerCampaignReader,
    session: SessionDep,
    settings: SettingsDep,
    partner_campaign_id: int,
    lang: str = "",
) -> Response:
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    version = _parts(session, row)[1]
    locale = _preview_locale(template_svc.content_of(version), row, lang)
    body = ValuesBody(values=row.values, locale=locale, partner_id=row.partner_id)
    out = previews.render_preview(session, settings, principal, version, body, "pdf", row.locale)
    return Response(
        out.body,
        media_type=out.media_type,
        headers={"Content-Disposition": "inline; filename=print-proof.pdf"},
    )


async def _update_or_page(
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    principal: Principal,
    partner_campaign_id: int,
    permission: Permission,
    update: Any,
    done: str,
    **fields: Any,
) -> Response:
    """One action through the same service as the API; a refusal re-renders the page with
    the message, success redirects with a notice."""
    try:
        await flow.perform(
            session, client.get, principal, partner_campaign_id, permission, update, **fields
        )
    except Problem as err:
        row = crud.load_partner_campaign(session, principal, partner_campaign_id)
        return _page(request, session, principal, row, problem=err.detail, status=err.status)
    return _done(partner_campaign_id, done)


@router.post("/partner-campaigns/{partner_campaign_id}/decision", response_class=HTMLResponse)
async def decide(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    decision: Annotated[Literal["approve", "request_changes", "reject"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
    revision: Annotated[int | None, Form(ge=1, le=2**31)] = None,
) -> Response:
    """The submission the page showed travels with the decision: an approver who reviewed one
    version never approves another that arrived while the page was open. A stand-in decides
    for the approver who delegated to them, as the API does."""
    try:
        await flow.decide(
            session,
            client.get,
            principal,
            partner_campaign_id,
            decision=decision,
            comment=comment.strip() or None,
            revision=revision,
        )
    except Problem as err:
        row = crud.load_partner_campaign(session, principal, partner_campaign_id)
        return _page(request, session, principal, row, problem=err.detail, status=err.status)
    return _done(partner_campaign_id, decision)


@router.post("/partner-campaigns/{partner_campaign_id}/schedule", response_class=HTMLResponse)
async def schedule(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
    send_at: Annotated[str, Form(max_length=64)] = "",
    when: Annotated[Literal["at", "now"], Form()] = "at",
) -> Response:
    """The send time typed on the reader's wall clock (stored UTC), or "now": the earliest
    allowed time. A refusal shows its message at the field and keeps what was typed."""
    row = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.partner_campaign_edit
    )
    campaign, _version, _partner = _parts(session, row)
    send_by, now = crud.aware(campaign.send_by), utcnow()
    try:
        if when == "now":
            moment = send_time.send_now(now, send_by)
        else:
            moment = send_time.read_send_time(send_at, current_zone(), now, send_by)
        await flow.perform(
            session,
            client.get,
            principal,
            partner_campaign_id,
            Permission.partner_campaign_edit,
            PartnerCampaignWorkflow.schedule,
            send_at=moment,
        )
    except Problem as err:
        if err.status == 404:
            raise
        row = crud.load_partner_campaign(session, principal, partner_campaign_id)
        errors = _field_errors(err)
        return _page(
            request,
            session,
            principal,
            row,
            errors=errors,
            problem=_refused(errors, err),
            status=err.status,
            send_at_typed=send_at if when == "at" else None,
        )
    return _done(partner_campaign_id, "sending_now" if when == "now" else "scheduled")


@router.post("/partner-campaigns/{partner_campaign_id}/resume", response_class=HTMLResponse)
async def resume(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> Response:
    """Resume a paused send (HQ, as POST .../delivery/resume does)."""
    try:
        await send_resume.resume_send(session, client.get, principal, partner_campaign_id)
    except Problem as err:
        if err.status == 404:
            raise
        row = crud.load_partner_campaign(session, principal, partner_campaign_id)
        paused = await delivery.current_pause(client.get, row)
        return _page(
            request, session, principal, row, problem=err.detail, status=err.status, paused=paused
        )
    return _done(partner_campaign_id, "resumed")


@router.post("/partner-campaigns/{partner_campaign_id}/decline", response_class=HTMLResponse)
async def decline(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> Response:
    return await _update_or_page(
        request,
        session,
        client,
        principal,
        partner_campaign_id,
        Permission.partner_campaign_edit,
        PartnerCampaignWorkflow.decline,
        "declined",
    )


@router.post("/partner-campaigns/{partner_campaign_id}/test-send", response_class=HTMLResponse)
async def test_send(
    principal: PortalPartnerCampaignEditor,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_campaign_id: int,
) -> Response:
    """The current version to the people ticked (the caller by default), as the API sends it."""
    form = await request.form()
    ids = {int(v) for v in form.getlist("user_id") if isinstance(v, str) and v.isdigit()}
    try:
        row = crud.load_partner_campaign(
            session, principal, partner_campaign_id, Permission.partner_campaign_edit
        )
        people = {u.id: u.email for u in send_tests.people_of(session, row)}
        if any(i not in people and i != principal.user_id for i in ids):
            raise FieldError("to", "only you or an active user of this partner")
        mine = session.get(User, principal.user_id)
        to = [people.get(i, mine.email if mine else "") for i in sorted(ids)]
        await run_in_threadpool(
            send_tests.send_test,
            session,
            engine,
            settings,
            Actor(principal, rid),
            partner_campaign_id,
            to or None,
        )
    except Problem as err:
        if err.status == 404:
            raise
        session.rollback()
        row = crud.load_partner_campaign(session, principal, partner_campaign_id)
        page = _page(request, session, principal, row, problem=err.detail, status=err.status)
        for name, value in (err.headers or {}).items():
            page.headers[name] = value
        return page
    return _done(partner_campaign_id, "tested")


@router.get("/partner-campaigns/{partner_campaign_id}/timeline", response_class=HTMLResponse)
async def timeline(
    principal: PortalPartnerCampaignReader,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    partner_campaign_id: int,
) -> HTMLResponse:
    """What happened so far (from the workflow) beside the lifecycle with the current state
    highlighted (drawn from the state machine itself)."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id)
    status = await flow.status_of(await client.get(), row)
    state = status.state if status else row.state
    return render(
        request,
        "timeline.html",
        title="Timeline",
        pc=crud.partner_campaign_reads(session, [row])[0],
        state=state,
        entries=actor_names.named_timeline(
            session,
            send_tests.with_tests(session, row, status.timeline if status else []),
            row.brand_id,
        ),
        boxes=diagram.partner_campaign(state),
        mermaid=diagram.partner_campaign_mermaid(),
    )
