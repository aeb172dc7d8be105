"""Approval policies for HQ: the brand's policies and the built-ins, and the editor (stages as
a form, the diagram of what is on the form, each refusal next to its field). Saving an existing
policy writes a new version: chains that pinned an older one keep running it.

Every read and write goes through services.approvals.policies, the same calls the API makes:
it decides who may read (any HQ role of the brand) and who may save or archive (brand admins),
and refuses a spec with a list of fields the page marks.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep
from api.portal import diagram
from api.portal import policy_form as pf
from api.portal.web import PortalPolicyReader, PortalRoute, render
from approvals.builtin import stage_title
from approvals.policy import ROLE_LABELS, PolicySpec
from approvals.validate import check_policy
from core.errors import Forbidden, NotFound, Problem
from core.policy import Permission, Principal, Target, allows
from i18n.translate import N_, gettext, translated
from models.approvals import ApprovalPolicyVersion
from services.accounts import active_users, display_name, display_names
from services.approvals import policies as svc
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
NAME_LIMIT = 100  # models.approvals.ApprovalPolicy.name
DONE = {
    "created": N_("Policy saved as version 1."),
    "versioned": N_(
        "Saved as a new version. Campaigns launched from now on use it; running "
        "approvals keep the version they started with."
    ),
    "archived": N_("Archived: new campaigns can no longer choose this policy."),
}


def _done(table: dict[str, str], key: str) -> str:
    return gettext(table[key]) if key in table else ""


def may_manage(principal: Principal) -> bool:
    return allows(principal, Permission.approval_policy_manage, Target(principal.brand_id))


def stages_summary(spec: PolicySpec) -> str:
    if not spec.stages:
        return gettext("No approval")
    conditional = " " + gettext("(conditional)")
    return " → ".join(
        translated(stage_title(s)) + (conditional if s.when else "") for s in spec.stages
    )


def _spec(version: ApprovalPolicyVersion) -> PolicySpec:
    return PolicySpec.model_validate(version.spec)


# The list -------------------------------------------------------------------------------------


@router.get("/approval-policies", response_class=HTMLResponse)
def policy_list(
    principal: PortalPolicyReader, request: Request, session: SessionDep
) -> HTMLResponse:
    views = svc.list_policies(session, principal, archived=True)
    rows = [
        {
            "id": v.policy.id,
            "name": v.policy.name,
            "version": v.current.number,
            "stages": stages_summary(_spec(v.current)),
            "archived": v.policy.archived_at is not None,
        }
        for v in views
    ]
    builtins = [
        {"key": b.value, "label": translated(label), "stages": stages_summary(spec)}
        for b, label, spec in svc.builtins()
    ]
    return render(
        request,
        "policies.html",
        title=gettext("Approval policies"),
        rows=rows,
        builtins=builtins,
        may_manage=may_manage(principal),
    )


@router.get("/approval-policies/built-in/{name}", response_class=HTMLResponse)
def builtin_page(
    principal: PortalPolicyReader, request: Request, session: SessionDep, name: str
) -> HTMLResponse:
    found = next(((b, label, spec) for b, label, spec in svc.builtins() if b.value == name), None)
    if found is None:
        raise NotFound("approval policy", name)
    builtin, label, spec = found
    label = translated(label)
    return render(
        request,
        "policy_builtin.html",
        title=label,
        label=label,
        key=builtin.value,
        boxes=diagram.policy(spec),
        mermaid=diagram.policy_mermaid(spec),
    )


# The editor -----------------------------------------------------------------------------------


def _editor(
    request: Request,
    session: Session,
    principal: Principal,
    form: pf.PolicyForm,
    *,
    view: svc.PolicyView | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
    spec: PolicySpec | None = None,
) -> HTMLResponse:
    users = active_users(session, principal.brand_id)
    names = {u.id or 0: display_name(u) for u in users}
    errors = errors or {}
    shown = spec
    if shown is None and view is not None and not errors:
        shown = _spec(view.current)
    archived = view is not None and view.policy.archived_at is not None
    history = []
    if view is not None:
        authors = display_names(session, {v.created_by for v in view.versions})
        history = [
            {
                "number": v.number,
                "at": v.created_at,
                "by": authors.get(v.created_by, ""),
                "stages": stages_summary(_spec(v)),
            }
            for v in reversed(view.versions)
        ]
    return render(
        request,
        "policy_edit.html",
        status=status,
        title=view.policy.name if view else gettext("New approval policy"),
        view=view,
        form=form,
        stages=form.rows(),
        errors=errors,
        summary=pf.summary(errors, form),
        anchor=pf.anchor,
        users=users,
        roles=[(k.value, translated(v)) for k, v in ROLE_LABELS.items()],
        choices=pf.choices(),
        boxes=diagram.policy(shown, names) if shown is not None else None,
        mermaid=diagram.policy_mermaid(shown, names) if shown is not None else "",
        may_save=may_manage(principal) and not archived,
        archived=archived,
        history=history,
        action=f"/approval-policies/{view.policy.id}" if view else "/approval-policies",
        flash=_done(DONE, request.query_params.get("done", "")),
    )


def _checked(
    session: Session, principal: Principal, form: pf.PolicyForm
) -> tuple[PolicySpec | None, dict[str, list[str]]]:
    """The spec of the form with every rule checked that needs no write (for previews)."""
    spec, errors = pf.to_spec(form)
    if spec is None:
        return None, errors
    reviewers = svc.brand_reviewer_count(session, principal.brand_id)
    found = check_policy(spec, brand_reviewers=reviewers)
    return spec, pf.errors_by_field([e.as_dict() for e in found])


@router.get("/approval-policies/new", response_class=HTMLResponse)
def new_policy(
    principal: PortalPolicyReader, request: Request, session: SessionDep
) -> HTMLResponse:
    if not may_manage(principal):
        raise Forbidden(f"Your roles do not allow {Permission.approval_policy_manage.value}")
    form = pf.blank_form()
    spec, _ = pf.to_spec(form)
    return _editor(request, session, principal, form, spec=spec)


@router.get("/approval-policies/{policy_id:int}", response_class=HTMLResponse)
def edit_policy(
    principal: PortalPolicyReader, request: Request, session: SessionDep, policy_id: int
) -> HTMLResponse:
    view = svc.load(session, principal, policy_id)
    form = pf.from_spec(_spec(view.current), view.policy.name, view.policy.description)
    return _editor(request, session, principal, form, view=view)


async def _save(
    request: Request,
    session: Session,
    principal: Principal,
    rid: str,
    view: svc.PolicyView | None,
) -> Response:
    posted = await request.form()
    form = pf.read_form(posted)
    if view is not None:
        form.name, form.description = view.policy.name, view.policy.description
    op = str(posted.get("op", "save"))
    if pf.apply_op(form, op) or op == "preview":
        spec, errors = _checked(session, principal, form)
        return _editor(request, session, principal, form, view=view, errors=errors, spec=spec)
    spec, errors = pf.to_spec(form)
    if view is None and not form.name:
        errors.setdefault("name", []).append(gettext("Give the policy a name."))
    if len(form.name) > NAME_LIMIT:
        errors.setdefault("name", []).append(
            gettext("at most %(count)s characters", count=NAME_LIMIT)
        )
    if spec is None or errors:
        return _editor(request, session, principal, form, view=view, errors=errors, status=422)
    actor = Actor(principal, rid)
    try:
        if view is None:
            saved = svc.create(session, actor, form.name, form.description, spec)
            done = "created"
        else:
            saved = svc.new_version(session, actor, view, spec)
            done = "versioned"
    except Problem as err:
        if err.status in (401, 403, 404):
            raise
        session.rollback()
        found = pf.errors_by_field(err.errors) or {"form": [err.detail]}
        return _editor(
            request, session, principal, form, view=view, errors=found, status=err.status, spec=spec
        )
    return RedirectResponse(f"/approval-policies/{saved.policy.id}?done={done}", status_code=303)


@router.post("/approval-policies", response_class=HTMLResponse)
async def create_policy(
    principal: PortalPolicyReader, request: Request, session: SessionDep, rid: RequestIdDep
) -> Response:
    return await _save(request, session, principal, rid, None)


@router.post("/approval-policies/{policy_id:int}", response_class=HTMLResponse)
async def save_policy(
    principal: PortalPolicyReader,
    request: Request,
    session: SessionDep,
    rid: RequestIdDep,
    policy_id: int,
) -> Response:
    view = svc.load(session, principal, policy_id)
    return await _save(request, session, principal, rid, view)


@router.post("/approval-policies/preview", response_class=HTMLResponse)
async def preview(
    principal: PortalPolicyReader, request: Request, session: SessionDep
) -> HTMLResponse:
    """The diagram of the posted form (htmx swaps it in while the user edits)."""
    form = pf.read_form(await request.form())
    spec, errors = _checked(session, principal, form)
    names = {u.id or 0: display_name(u) for u in active_users(session, principal.brand_id)}
    context: dict[str, Any] = {
        "boxes": diagram.policy(spec, names) if spec is not None else None,
        "mermaid": diagram.policy_mermaid(spec, names) if spec is not None else "",
        "problems": pf.summary(errors, form),
    }
    return render(request, "_policy_diagram.html", **context)


@router.post("/approval-policies/{policy_id:int}/archive", response_class=RedirectResponse)
def archive_policy(
    principal: PortalPolicyReader,
    session: SessionDep,
    rid: RequestIdDep,
    policy_id: int,
) -> RedirectResponse:
    view = svc.load(session, principal, policy_id)
    svc.archive(session, Actor(principal, rid), view)
    return RedirectResponse(f"/approval-policies/{policy_id}?done=archived", status_code=303)
