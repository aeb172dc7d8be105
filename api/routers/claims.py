"""Co-op claims: drafted by the ClaimWorkflow from real spend, confirmed by the partner's GM
(who may add invoices for local spend), decided by HQ, paid and exported for finance."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile

from api.deps import BlobStoreDep, RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import Authorize
from core.errors import NotFound
from core.policy import Permission, Principal
from domain.money import ClaimState
from models.claim_schemas import (
    ClaimDetail,
    ClaimRead,
    ConfirmBody,
    DecideBody,
    PaymentBody,
)
from models.schemas import Page
from services.claims import access, actions, export, invoices, views
from services.org import Actor
from storage.base import BlobNotFound, content_disposition

router = APIRouter(prefix="/api/v1/claims", tags=["claims"])
ClaimReader = Annotated[Principal, Depends(Authorize(Permission.claim_read))]
ClaimConfirmer = Annotated[Principal, Depends(Authorize(Permission.claim_confirm))]
ClaimPayer = Annotated[Principal, Depends(Authorize(Permission.claim_pay))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("", response_model=Page[ClaimRead], summary="List claims within your reach")
def list_claims(
    principal: ClaimReader,
    session: SessionDep,
    paging: PagingDep,
    state: ClaimState | None = None,
    sort: str = access.CLAIMS.sort_query(),
) -> Page[ClaimRead]:
    result = access.page_claims(session, principal, paging, sort, state)
    return page_of(result, paging, (views.read(c) for c in result.items))


@router.get(
    "/export",
    summary="Export approved or paid claims for finance (CSV or XLSX, one row per line)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def export_claims(
    principal: ClaimPayer,
    session: SessionDep,
    format: Literal["csv", "xlsx"] = "csv",
    state: Literal["approved", "paid"] | None = Query(
        None, description="approved or paid; both when omitted"
    ),
    period: Annotated[str | None, Query(max_length=16, description="the fund's period")] = None,
) -> Response:
    states = [ClaimState(state)] if state else [ClaimState.approved, ClaimState.paid]
    data = export.export(session, principal, format, states, period)
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": content_disposition(f"claims.{format}")},
    )


@router.get("/{claim_id}", response_model=ClaimDetail, summary="Read a claim")
def read_claim(principal: ClaimReader, session: SessionDep, claim_id: int) -> ClaimDetail:
    return views.detail(session, access.load(session, principal, claim_id))


@router.post(
    "/{claim_id}/invoices",
    response_model=ClaimDetail,
    status_code=201,
    summary="Add an invoice for local spend to a draft claim (the GM)",
)
async def add_claim_invoice(
    principal: ClaimConfirmer,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    rid: RequestIdDep,
    claim_id: int,
    file: Annotated[UploadFile, File(description="the invoice: PDF, PNG or JPEG")],
    amount: Annotated[str, Form(max_length=20, description='the amount, e.g. "120.00"')],
    description: Annotated[str, Form(max_length=500)],
) -> ClaimDetail:
    claim = access.load(session, principal, claim_id, Permission.claim_confirm)
    data = await file.read(settings.asset_max_bytes + 1)
    claim = invoices.add(
        session,
        store,
        Actor(principal, rid),
        claim,
        data=data,
        filename=file.filename or "",
        amount=amount,
        description=description,
        max_bytes=settings.asset_max_bytes,
    )
    return views.detail(session, claim)


@router.post("/{claim_id}/confirm", response_model=ClaimDetail, summary="Confirm a claim (GM)")
async def confirm_claim(
    principal: ClaimConfirmer,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
    body: ConfirmBody | None = None,
) -> ClaimDetail:
    comment = body.comment if body else None
    claim = await actions.confirm(session, temporal.get, principal, claim_id, comment)
    return views.detail(session, claim)


@router.post("/{claim_id}/decide", response_model=ClaimDetail, summary="Decide a claim (HQ)")
async def decide_claim(
    principal: ClaimReader,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
    body: DecideBody,
) -> ClaimDetail:
    claim = await actions.decide(
        session, temporal.get, principal, claim_id, body.decision, body.comment
    )
    return views.detail(session, claim)


@router.post("/{claim_id}/payment", response_model=ClaimDetail, summary="Record a claim's payment")
async def record_claim_payment(
    principal: ClaimPayer,
    session: SessionDep,
    temporal: TemporalDep,
    claim_id: int,
    body: PaymentBody,
) -> ClaimDetail:
    claim = await actions.pay(session, temporal.get, principal, claim_id, body.reference)
    return views.detail(session, claim)


@router.get(
    "/{claim_id}/evidence/{n}",
    response_class=Response,
    summary="Download one piece of a claim's evidence",
    responses={200: {"content": {"application/octet-stream": {}, "application/json": {}}}},
)
def read_claim_evidence(
    principal: ClaimReader, session: SessionDep, store: BlobStoreDep, claim_id: int, n: int
) -> Response:
    claim = access.load(session, principal, claim_id)
    if not 0 <= n < len(claim.evidence):
        raise NotFound("evidence", n)
    item = claim.evidence[n]
    key = item.get("key")
    if not key:
        body = {k: v for k, v in item.items() if k not in ("added_by",)}
        return Response(json.dumps(body), media_type="application/json")
    try:
        data = store.get(str(key))
    except BlobNotFound as err:
        raise NotFound("evidence", n) from err
    return Response(
        data,
        media_type=str(item.get("content_type") or "application/octet-stream"),
        headers={
            # Partner content: a download, never a page of this origin.
            "Content-Disposition": content_disposition(
                str(item.get("filename") or f"evidence-{n}")
            ),
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )
