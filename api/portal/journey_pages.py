"""Journeys in the portal: HQ's list and journey page (the design in words and as a diagram,
its versions, the partners running it with their counts) and a partner's journey page (what it
does, the content form per send step, switch on/off, status and counts), made for a phone.
The inbox links a waiting switch-on request to its own page, where the GM decides it. Every
action goes through the same services as the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.web import PortalRoute, render
from api.portal.web import _guard as portal_guard
from content.spec import SlotKind
from core.errors import Problem
from core.policy import ROLE_PERMISSIONS, Permission, Principal, has_permission_somewhere
from core.settings import Settings
from domain.journeys import ActivationState, JourneyState
from domain.roles import ScopeType
from i18n.translate import N_, gettext
from models.journey_schemas import ActivationRead, Counts
from models.journey_spec import JourneySpec
from models.journeys import Journey, JourneyActivation
from models.org import Partner
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from services import previews
from services.approvals.chain_tasks import decider
from services.journeys import activation, definition, design, diagram, reads
from services.org import Actor
from services.templates import content_of

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PortalJourneyReader = Annotated[Principal, portal_guard(Permission.journey_read)]
PREFIX = "v__"  # v__<step>__<slot>: one step's slot in the content form
CONTROL = {
    SlotKind.rich_text: "textarea",
    SlotKind.date: "date",
    SlotKind.number: "number",
    SlotKind.url: "url",
    SlotKind.email: "email",
    SlotKind.phone: "tel",
    SlotKind.choice: "select",
}
DONE = {
    "requested": N_("Requested: your GM approves the content in the inbox."),
    "off": N_("Switched off: nobody new starts the journey; contacts on it leave."),
    "decided": N_("Decision recorded."),
}


@dataclass
class ContentField:
    input_name: str
    label: str
    control: str
    required: bool
    value: str
    default: str
    choices: list[str]
    max_length: int | None
    error: str = ""


@dataclass
class StepForm:
    step_id: str
    title: str
    fields: list[ContentField]
    error: str = ""
    preview: str = ""  # the email as the partner's contacts would get it
    preview_note: str = ""  # why there is no preview yet


def _done(table: dict[str, str], key: str) -> str:
    return gettext(table[key]) if key in table else ""


def previews_of(
    session: Session,
    settings: Settings,
    principal: Principal,
    spec: JourneySpec,
    partner: Partner,
    values: dict[str, Any],
) -> dict[str, tuple[str, str]]:
    """Per send step: the email drawn with the partner's content (the same renderer as a
    partner campaign's preview), or the reason it cannot be drawn yet."""
    out: dict[str, tuple[str, str]] = {}
    for _, step in definition.send_steps(spec):
        version = session.get(TemplateVersion, step.template_version_id)
        if version is None:
            continue
        given = values.get(step.id) or {}
        body = ValuesBody(values=dict(given), locale=partner.locale, partner_id=partner.id)
        try:
            shown = previews.render_preview(session, settings, principal, version, body, "html")
        except Problem as err:
            session.rollback()
            out[step.id] = ("", gettext("No preview yet: %(problem)s", problem=err.detail))
            continue
        html = shown.body if isinstance(shown.body, str) else shown.body.decode()
        out[step.id] = (html, "")
    return out


def my_partner(session: Session, principal: Principal) -> Partner | None:
    """The partner a partner user acts for (their partner grant); None for HQ and regions."""
    for g in principal.grants:
        if g.scope == ScopeType.partner and Permission.journey_read in ROLE_PERMISSIONS[g.role]:
            return session.get(Partner, g.partner_id)
    return None


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("en", next(iter(value.values()), "")))
    return "" if value is None else str(value)


def content_forms(
    session: Session,
    spec: JourneySpec,
    names: dict[int, str],
    values: dict[str, Any],
    errors: dict[str, str],
) -> list[StepForm]:
    """One form section per send step: the template version's editable slots."""
    forms = []
    for _, step in definition.send_steps(spec):
        version = session.get(TemplateVersion, step.template_version_id)
        if version is None:
            continue
        content = content_of(version)
        given = values.get(step.id) or {}
        fields = []
        for slot in content.slots:
            if slot.locked or (slot.kind == SlotKind.partner_field and not slot.allow_override):
                continue
            fields.append(
                ContentField(
                    input_name=f"{PREFIX}{step.id}__{slot.name}",
                    label=slot.label.get("en", slot.name),
                    control=CONTROL.get(slot.kind, "text"),
                    required=slot.required and not slot.default,
                    value=_text(given.get(slot.name)),
                    default=_text(slot.default),
                    choices=list(slot.choices or []),
                    max_length=slot.max_length,
                    error=errors.get(f"values.{step.id}.{slot.name}", ""),
                )
            )
        title = f"{step.id}: {diagram.step_words(step, names)}"
        forms.append(StepForm(step.id, title, fields, errors.get(f"values.{step.id}", "")))
    return forms


def posted_values(form: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The content form read back: blanks left out (the step takes HQ's default)."""
    out: dict[str, dict[str, str]] = {}
    for key, raw in form.items():
        if not key.startswith(PREFIX) or not isinstance(raw, str) or not raw.strip():
            continue
        step_id, sep, slot = key[len(PREFIX) :].partition("__")
        if sep:
            out.setdefault(step_id, {})[slot] = raw.strip()
    return out


def _spec_of(session: Session, journey: Journey, version: int) -> JourneySpec:
    assert journey.id is not None
    return JourneySpec.model_validate(design.version_of(session, journey.id, version).spec)


def _picture(session: Session, spec: JourneySpec) -> dict[str, Any]:
    names = reads.names_for(session, spec)
    return {
        "trigger": diagram.trigger_words(spec),
        "boxes": diagram.boxes(spec, names),
        "exit": diagram.exit_words(spec),
        "mermaid": diagram.mermaid(spec, names),
        "names": names,
    }


@router.get("/journeys", response_class=HTMLResponse)
def journeys_page(
    principal: PortalJourneyReader, request: Request, session: SessionDep
) -> HTMLResponse:
    found = reads.list_journeys(session, principal)
    active = reads.active_partners(session, [j.id for j in found if j.id is not None])
    partner = my_partner(session, principal)
    mine: dict[int, str] = {}
    if partner is not None:
        for j in found:
            row = activation.find(session, j.id or 0, partner.id or 0)
            mine[j.id or 0] = row.state.value if row else "off"
    return render(
        request,
        "journeys.html",
        title=gettext("Journeys"),
        journeys=found,
        active=active,
        partner=partner,
        mine=mine,
    )


def _partner_page(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    journey: Journey,
    partner: Partner,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    assert journey.id is not None and partner.id is not None
    row = activation.find(session, journey.id, partner.id)
    running = row is not None and row.state in (
        ActivationState.active,
        ActivationState.pending_approval,
    )
    version = row.version if row is not None and running else journey.current_version
    spec = _spec_of(session, journey, version)
    picture = _picture(session, spec)
    read: ActivationRead | None = reads.activation_reads(session, [row])[0] if row else None
    may_request = (
        activation.partner_grant(principal, partner.id, Permission.partner_campaign_edit)
        and journey.state == JourneyState.published
        and not running
    )
    may_off = running and activation.partner_grant(
        principal, partner.id, Permission.journey_activate
    )
    given = values if values is not None else (row.values if row else {})
    forms = content_forms(session, spec, picture["names"], given, errors or {})
    if not errors:
        drawn = previews_of(session, settings, principal, spec, partner, given)
        for f in forms:
            f.preview, f.preview_note = drawn.get(f.step_id, ("", ""))
    return render(
        request,
        "journey_partner.html",
        status=status,
        title=journey.name,
        journey=journey,
        partner=partner,
        activation=read,
        counts=read.counts if read else Counts(),
        version=version,
        forms=forms,
        may_request=may_request,
        may_off=may_off,
        is_gm=activation.partner_grant(principal, partner.id, Permission.journey_activate),
        flash=_done(DONE, request.query_params.get("done", "")),
        error=error,
        **picture,
    )


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
def journey_page(
    principal: PortalJourneyReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    journey_id: int,
) -> HTMLResponse:
    journey = design.load(session, principal, journey_id)
    partner = my_partner(session, principal)
    if partner is not None:
        return _partner_page(request, session, settings, principal, journey, partner)
    detail = reads.detail(session, journey)
    running = reads.activation_reads(session, reads.activations(session, principal, journey_id))
    totals = Counts()
    for r in running:
        totals.running += r.counts.running
        totals.completed += r.counts.completed
        totals.exited += r.counts.exited
        totals.sent += r.counts.sent
    return render(
        request,
        "journey.html",
        title=journey.name,
        journey=detail,
        partners=running,
        by_state=reads.state_counts(running),
        totals=totals,
        may_manage=has_permission_somewhere(principal, Permission.journey_manage),
        **_picture(session, _spec_of(session, journey, journey.current_version)),
    )


@router.post("/journeys/{journey_id}/switch-on", response_class=HTMLResponse)
async def switch_on(
    principal: PortalJourneyReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    journey_id: int,
) -> Response:
    journey = design.load(session, principal, journey_id)
    partner = my_partner(session, principal)
    if partner is None:
        raise Problem(
            gettext("Only a partner's own editor or GM switches a journey on"), status=403
        )
    values = posted_values(dict(await request.form()))
    try:
        await activation.switch_on(
            session, temporal.get, settings, Actor(principal, rid), journey, partner, values
        )
    except Problem as err:
        session.rollback()
        if err.status != 422:
            raise
        errors = {str(e["field"]): str(e["message"]) for e in err.errors or []}
        return _partner_page(
            request,
            session,
            settings,
            principal,
            journey,
            partner,
            values=values,
            errors=errors,
            error=gettext("The content has problems; each is shown next to its field."),
            status=422,
        )
    return RedirectResponse(f"/journeys/{journey_id}?done=requested", status_code=303)


@router.post("/journeys/{journey_id}/switch-off", response_class=RedirectResponse)
async def switch_off(
    principal: PortalJourneyReader,
    session: SessionDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    journey_id: int,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    journey = design.load(session, principal, journey_id)
    partner = my_partner(session, principal)
    if partner is None:
        raise Problem(gettext("Only the partner's GM switches a journey off"), status=403)
    await activation.switch_off(
        session, temporal.get, Actor(principal, rid), journey, partner, reason.strip()
    )
    return RedirectResponse(f"/journeys/{journey_id}?done=off", status_code=303)


def _may_decide(session: Session, principal: Principal, row: JourneyActivation) -> bool:
    task = activation.task_of(session, row)
    return task is not None and decider(session, principal, task) is not None


@router.get("/journey-activations/{activation_id}", response_class=HTMLResponse)
def activation_page(
    principal: PortalJourneyReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    activation_id: int,
) -> HTMLResponse:
    """A switch-on request as the approver sees it: the journey, the partner's content per
    send step, and the decision."""
    row, journey = activation.load(session, principal, activation_id)
    spec = _spec_of(session, journey, row.version)
    picture = _picture(session, spec)
    read = reads.activation_reads(session, [row])[0]
    steps = {s.id: diagram.step_words(s, picture["names"]) for _, s in definition.send_steps(spec)}
    partner = session.get(Partner, row.partner_id)
    assert partner is not None
    drawn = previews_of(session, settings, principal, spec, partner, row.values)
    return render(
        request,
        "journey_activation.html",
        title=gettext(
            "%(journey)s for %(partner)s", journey=journey.name, partner=read.partner_name
        ),
        journey=journey,
        activation=read,
        steps=steps,
        drawn=drawn,
        may_decide=row.state == ActivationState.pending_approval
        and _may_decide(session, principal, row),
        flash=_done(DONE, request.query_params.get("done", "")),
        **picture,
    )


@router.post("/journey-activations/{activation_id}/decide", response_class=RedirectResponse)
async def decide(
    principal: PortalJourneyReader,
    session: SessionDep,
    temporal: TemporalDep,
    activation_id: int,
    decision: Annotated[Literal["approve", "request_changes", "reject"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    row, _ = activation.load(session, principal, activation_id)
    await activation.decide(
        session, temporal.get, principal, row, decision, comment.strip() or None
    )
    return RedirectResponse(f"/journey-activations/{activation_id}?done=decided", status_code=303)
