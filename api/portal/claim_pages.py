"""Claims in the portal: the partner's list and claim page (lines, evidence, invoice upload,
confirm) and HQ's pending claims (decide, record payment, export). Every action goes through
the same services as the API (scope, workflow refusals, audit)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, col, select

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.portal.schema_errors import field_errors, schema_errors
from api.portal.web import PortalRoute, done_flash, render
from api.portal.web import _guard as portal_guard
from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, allows, has_permission_somewhere
from domain.money import ChainSubject, ClaimState
from domain.roles import ScopeType
from i18n.translate import N_, gettext
from models.claims import Claim
from models.org import Partner
from services.approvals.chain_tasks import awaiting, decider
from services.claims import access, actions, export, invoices, views
from services.claims.access import target_of
from services.claims.chain import task_of
from services.org import Actor
from storage.base import BlobNotFound, content_disposition

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])

PortalClaimReader = Annotated[Principal, portal_guard(Permission.claim_read)]
PortalClaimConfirmer = Annotated[Principal, portal_guard(Permission.claim_confirm)]
PortalClaimPayer = Annotated[Principal, portal_guard(Permission.claim_pay)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INVOICE_FIELDS = ("file", "amount", "description")
INVOICE_LABELS = {
    "file": N_("Invoice (PDF, PNG or JPEG)"),
    "amount": N_("Amount"),
    "description": N_("What it was for"),
}


class InvoiceForm(BaseModel):
    """The invoice form's own limits (the service checks the amount and the file)."""

    amount: str = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=500)


DONE = {
    "invoice": N_("Invoice added."),
    "confirmed": N_("Confirmed: HQ reviews the claim now."),
    "decided": N_("Decision recorded."),
    "paid": N_("Payment recorded."),
}


def _is_hq(principal: Principal) -> bool:
    """HQ and region managers: whoever holds a grant beyond one partner."""
    return any(g.scope != ScopeType.partner for g in principal.grants)


def _may_decide(session: Session, principal: Principal, claim: Claim) -> bool:
    task = task_of(session, claim)
    return task is not None and decider(session, principal, task) is not None


def _partner_names(session: Session, claims: list[Claim]) -> dict[int, str]:
    ids = {c.partner_id for c in claims}
    if not ids:
        return {}
    rows = session.exec(select(Partner).where(col(Partner.id).in_(ids))).all()
    return {p.id or 0: p.display_name for p in rows}


@router.get("/claims", response_class=HTMLResponse)
def claims_page(
    principal: PortalClaimReader,
    request: Request,
    session: SessionDep,
    state: ClaimState | None = None,
) -> HTMLResponse:
    return render(
        request,
        "claims.html",
        money=export.decimal_text,
        title=gettext("Claims"),
        claims=access.list_claims(session, principal, state, 200),
        state=state.value if state else "",
        states=[s.value for s in ClaimState],
        hq=_is_hq(principal),
    )


@router.get("/claims/pending", response_class=HTMLResponse)
def pending_claims_page(
    principal: PortalClaimReader, request: Request, session: SessionDep
) -> HTMLResponse:
    """Claims waiting for the viewer: a decision (brand reviewers and admins) or a payment
    (claim.pay)."""
    if not _is_hq(principal):
        raise Forbidden(N_("Pending claims are HQ's: brand reviewers decide, admins pay."))
    waiting = {t.subject_id for t in awaiting(session, principal, ChainSubject.claim)}
    deciding = [
        c
        for c in access.list_claims(session, principal, ClaimState.pending_approval, 500)
        if c.id in waiting
    ]
    paying = [
        c
        for c in access.list_claims(session, principal, ClaimState.approved, 200)
        if allows(principal, Permission.claim_pay, target_of(c))
    ]
    return render(
        request,
        "claims_pending.html",
        money=export.decimal_text,
        title=gettext("Pending claims"),
        deciding=deciding,
        paying=paying,
        partners=_partner_names(session, [*deciding, *paying]),
        can_export=has_permission_somewhere(principal, Permission.claim_pay),
        flash=done_flash(DONE, request),
    )


@router.get("/claims/export")
def claims_export(
    principal: PortalClaimPayer,
    session: SessionDep,
    format: Literal["csv", "xlsx"] = "csv",
    state: Literal["approved", "paid"] | None = None,
) -> Response:
    states = [ClaimState(state)] if state else [ClaimState.approved, ClaimState.paid]
    data = export.export(session, principal, format, states, None)
    return Response(
        data,
        media_type=XLSX if format == "xlsx" else "text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"claims.{format}")},
    )


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(
    principal: PortalClaimReader, request: Request, session: SessionDep, claim_id: int
) -> HTMLResponse:
    claim = access.load(session, principal, claim_id)
    target = target_of(claim)
    return render(
        request,
        "claim.html",
        money=export.decimal_text,
        title=gettext("Claim %(id)s", id=claim_id),
        claim=views.detail(session, claim),
        can_confirm=claim.state == ClaimState.draft
        and allows(principal, Permission.claim_confirm, target),
        can_decide=claim.state == ClaimState.pending_approval
        and _may_decide(session, principal, claim),
        can_pay=claim.state == ClaimState.approved
        and allows(principal, Permission.claim_pay, target),
        flash=done_flash(DONE, request),
        error=request.query_params.get("error", "")[:300],
    )


@router.get("/claims/{claim_id}/evidence/{n}")
def claim_evidence(
    principal: PortalClaimReader,
    session: SessionDep,
    store: BlobStoreDep,
    claim_id: int,
    n: int,
) -> Response:
    claim = access.load(session, principal, claim_id)
    if not 0 <= n < len(claim.evidence) or not claim.evidence[n].get("key"):
        raise NotFound("evidence", n)
    item = claim.evidence[n]
    try:
        data = store.get(str(item["key"]))
    except BlobNotFound as err:
        raise NotFound("evidence", n) from err
    return Response(
        data,
        media_type=str(item.get("content_type") or "application/octet-stream"),
        headers={
            "Content-Disposition": content_disposition(str(item.get("filename") or "evidence")),
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _back(claim_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/claims/{claim_id}?done={done}", status_code=303)


@router.post("/claims/{claim_id}/invoices", response_class=HTMLResponse)
async def add_invoice(
    principal: PortalClaimConfirmer,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    rid: RequestIdDep,
    claim_id: int,
    file: Annotated[UploadFile | None, File()] = None,
    amount: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Every problem is shown at its field in the reader's language (the form's limits are the
    portal's own, checked here, so a too-long value is a message, not an error page)."""
    claim = access.load(session, principal, claim_id, Permission.claim_confirm)
    shown = {"amount": amount[:40], "description": description[:600]}
    try:
        InvoiceForm.model_validate({"amount": amount, "description": description})
    except ValidationError as err:
        errors = schema_errors(err, INVOICE_FIELDS, INVOICE_LABELS)
        return _invoice_refused(request, session, principal, claim_id, 422, errors, shown)
    data = await file.read(settings.asset_max_bytes + 1) if file is not None else b""
    try:
        invoices.add(
            session,
            store,
            Actor(principal, rid),
            claim,
            data=data,
            filename=(file.filename if file is not None else "") or "",
            amount=amount,
            description=description,
            max_bytes=settings.asset_max_bytes,
        )
    except FieldError as err:
        session.rollback()
        errors = field_errors(err, INVOICE_FIELDS, INVOICE_LABELS)
        return _invoice_refused(request, session, principal, claim_id, err.status, errors, shown)
    return _back(claim_id, "invoice")


def _invoice_refused(
    request: Request,
    session: Session,
    principal: Principal,
    claim_id: int,
    status: int,
    errors: dict[str, str],
    shown: dict[str, str],
) -> HTMLResponse:
    return render(
        request,
        "claim.html",
        money=export.decimal_text,
        status=status,
        title=gettext("Claim %(id)s", id=claim_id),
        claim=views.detail(session, access.load(session, principal, claim_id)),
        can_confirm=True,
        can_decide=False,
        can_pay=False,
        flash="",
        error="",
        errors=errors,
        amount=shown["amount"],
        description=shown["description"],
    )


@router.post("/claims/{claim_id}/confirm", response_class=RedirectResponse)
async def confirm(
    principal: PortalClaimConfirmer,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
) -> Response:
    await actions.confirm(session, temporal.get, principal, claim_id, None)
    return _back(claim_id, "confirmed")


@router.post("/claims/{claim_id}/decide", response_class=RedirectResponse)
async def decide(
    principal: PortalClaimReader,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
    decision: Annotated[Literal["approve", "request_changes", "reject"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await actions.decide(
        session, temporal.get, principal, claim_id, decision, comment.strip() or None
    )
    return RedirectResponse("/claims/pending?done=decided", status_code=303)


@router.post("/claims/{claim_id}/payment", response_class=RedirectResponse)
async def record_payment(
    principal: PortalClaimPayer,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
    reference: Annotated[str, Form(min_length=1, max_length=120)],
) -> Response:
    await actions.pay(session, temporal.get, principal, claim_id, reference.strip())
    return RedirectResponse("/claims/pending?done=paid", status_code=303)
