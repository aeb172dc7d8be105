"""Audit events as the partner campaign projection writes them (activities.campaigns)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.org import User
from services import audit

# (event, from, to, extra "after" fields) of a partner campaign from invitation to sent.
LIFECYCLE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("open", "invited", "drafting", {}),
    ("save", "drafting", "drafting", {}),  # not a state change: no webhook event
    ("submit", "drafting", "pending_approval", {"stage": "gm"}),
    ("approve", "pending_approval", "approved", {"stage": "gm"}),
    ("schedule", "approved", "scheduled", {}),
    ("start_sending", "scheduled", "sending", {}),
    ("finish", "sending", "sent", {}),
]


def brand_of(engine: Engine, email: str) -> int:
    with Session(engine) as session:
        return session.exec(select(User.brand_id).where(User.email == email)).one()


def transition(
    engine: Engine,
    brand_id: int,
    partner_campaign_id: int,
    seq: int,
    step: tuple[str, str, str, dict[str, Any]],
) -> AuditEvent:
    event, before, after, extra = step
    return audit.append(
        lambda: Session(engine, expire_on_commit=False),
        audit.NewEvent(
            brand_id=brand_id,
            actor=audit.SYSTEM_ACTOR,
            action=f"partner_campaign.{event}",
            entity_type="partner_campaign",
            entity_id=str(partner_campaign_id),
            event_key=f"test-wh:{partner_campaign_id}:{seq}:{event}",
            before={"state": before},
            after={"state": after, **extra},
        ),
    )
