"""A claim as the API and the portal show it: lines, numbered evidence, timeline."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.claim_schemas import ClaimDetail, ClaimEvent, ClaimEvidence, ClaimLine, ClaimRead
from models.claims import Claim
from services.actor_names import audit_actor_names


def read(claim: Claim) -> ClaimRead:
    return ClaimRead.model_validate(claim, from_attributes=True)


def evidence_of(claim: Claim) -> list[ClaimEvidence]:
    out = []
    for n, item in enumerate(claim.evidence):
        data: dict[str, Any] = {}
        if isinstance(item.get("counts"), dict):
            data = {"counts": item["counts"]}
        elif isinstance(item.get("data"), dict):
            data = item["data"]
        out.append(
            ClaimEvidence(
                n=n,
                kind=str(item.get("kind", "")),
                label=str(item.get("label", "")),
                sha256=str(item.get("sha256", "")),
                content_type=str(item.get("content_type", "")),
                filename=str(item.get("filename", "")),
                amount_minor=item.get("amount_minor"),
                description=str(item.get("description", "")),
                data=data,
            )
        )
    return out


def timeline(session: Session, claim: Claim) -> list[ClaimEvent]:
    rows = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.brand_id == claim.brand_id,
            AuditEvent.entity_type == "claim",
            AuditEvent.entity_id == str(claim.id),
        )
        .order_by(col(AuditEvent.seq))
    ).all()
    names = audit_actor_names(session, (e.actor for e in rows), claim.brand_id)
    return [
        ClaimEvent(
            at=e.at, action=e.action, actor=e.actor, actor_name=names[e.actor], comment=e.comment
        )
        for e in rows
    ]


def detail(session: Session, claim: Claim) -> ClaimDetail:
    return ClaimDetail(
        **read(claim).model_dump(),
        lines=[ClaimLine.model_validate(line) for line in claim.lines],
        evidence=evidence_of(claim),
        timeline=timeline(session, claim),
    )
