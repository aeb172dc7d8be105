"""From audit events to webhook events: the one table, and the capture in the same transaction.

`services.audit.append_in` calls `capture_in` right after it writes an event, so the webhook
event rows commit (or roll back) with the change and its audit event, and a retried write,
which `append_in` answers with the existing audit event, captures nothing twice. Each row is
one event for one endpoint that was enabled and subscribed at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.delivery import Delivery
from models.webhooks import WebhookEndpoint, WebhookEvent

PAYLOAD_VERSION = 1

CAMPAIGN_LAUNCHED = "campaign.launched"
CAMPAIGN_COMPLETED = "campaign.completed"
PARTNER_CAMPAIGN_STATE_CHANGED = "partner_campaign.state_changed"
APPROVAL_TASK_CREATED = "approval_task.created"
APPROVAL_TASK_OVERDUE = "approval_task.overdue"
DELIVERY_FINISHED = "delivery.finished"
DELIVERY_PAUSED = "delivery.paused"
CLAIM_DECIDED = "claim.decided"  # reserved: claims do not exist yet, nothing emits it
TEST = "webhook.test"  # the ping of POST /webhooks/{id}/test, to that endpoint only

EVENT_TYPES: tuple[str, ...] = (
    CAMPAIGN_LAUNCHED,
    CAMPAIGN_COMPLETED,
    PARTNER_CAMPAIGN_STATE_CHANGED,
    APPROVAL_TASK_CREATED,
    APPROVAL_TASK_OVERDUE,
    DELIVERY_FINISHED,
    DELIVERY_PAUSED,
    CLAIM_DECIDED,
)

Predicate = Callable[[AuditEvent], bool]


def _always(_: AuditEvent) -> bool:
    return True


def _state_or_stage_changed(event: AuditEvent) -> bool:
    before, after = event.before or {}, event.after or {}
    return before.get("state") != after.get("state") or "next_stage" in after


def waiting_stage(event: AuditEvent) -> str | None:
    """The approval stage that waits after this event: the one submitted to, or the next one
    after an advance (activities.campaigns._after says what the audit event records)."""
    after = event.after or {}
    if after.get("state") != "pending_approval":
        return None
    if "next_stage" in after:
        return str(after["next_stage"])
    if event.action == "partner_campaign.submit" and after.get("stage"):
        return str(after["stage"])
    return None


def _stage_waits(event: AuditEvent) -> bool:
    return waiting_stage(event) is not None


# Partner campaign lifecycle events (workflows/partner_campaign_lifecycle.py) and notes.
_TRANSITIONS = (
    "open",
    "save",
    "submit",
    "advance",
    "approve",
    "request_changes",
    "reject",
    "decline",
    "expire",
    "go_ahead",
    "schedule",
    "start_sending",
    "asset_blocked",
    "finish",
    "finish_partially",
    "cancel",
)

# audit action -> the webhook event types it emits, in order, each with its condition.
ACTION_EVENTS: dict[str, tuple[tuple[str, Predicate], ...]] = {
    "campaign.launched": ((CAMPAIGN_LAUNCHED, _always),),
    "campaign.completed": ((CAMPAIGN_COMPLETED, _always),),
    **{
        f"partner_campaign.{name}": ((PARTNER_CAMPAIGN_STATE_CHANGED, _state_or_stage_changed),)
        for name in _TRANSITIONS
    },
    "partner_campaign.submit": (
        (PARTNER_CAMPAIGN_STATE_CHANGED, _state_or_stage_changed),
        (APPROVAL_TASK_CREATED, _stage_waits),
    ),
    "partner_campaign.advance": (
        (PARTNER_CAMPAIGN_STATE_CHANGED, _state_or_stage_changed),
        (APPROVAL_TASK_CREATED, _stage_waits),
    ),
    "partner_campaign.escalate": ((APPROVAL_TASK_OVERDUE, _always),),
    "partner_campaign.finish": (
        (PARTNER_CAMPAIGN_STATE_CHANGED, _state_or_stage_changed),
        (DELIVERY_FINISHED, _always),
    ),
    "partner_campaign.finish_partially": (
        (PARTNER_CAMPAIGN_STATE_CHANGED, _state_or_stage_changed),
        (DELIVERY_FINISHED, _always),
    ),
    "partner_campaign.send_paused": ((DELIVERY_PAUSED, _always),),
}


def event_types_of(event: AuditEvent) -> list[str]:
    return [kind for kind, applies in ACTION_EVENTS.get(event.action, ()) if applies(event)]


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _campaign_data(session: Session, event: AuditEvent) -> dict[str, Any]:
    campaign = session.get(Campaign, int(event.entity_id))
    data: dict[str, Any] = {"campaign_id": int(event.entity_id)}
    if campaign is not None:
        data.update(
            name=campaign.name,
            state=str(campaign.state),
            mode=campaign.mode,
            launched_at=_iso(campaign.launched_at),
            personalise_until=_iso(campaign.personalise_until),
            send_by=_iso(campaign.send_by),
        )
    if event.action == "campaign.completed":
        data["counts"] = dict((event.after or {}).get("counts") or {})
    return data


def _partner_campaign_data(session: Session, event: AuditEvent, kind: str) -> dict[str, Any]:
    pc_id = int(event.entity_id)
    row = session.get(PartnerCampaign, pc_id)
    before, after = event.before or {}, event.after or {}
    data: dict[str, Any] = {
        "partner_campaign_id": pc_id,
        "campaign_id": row.campaign_id if row is not None else None,
        "partner_id": event.partner_id,
        "region_id": event.region_id,
        "event": event.action.removeprefix("partner_campaign."),
    }
    if kind == PARTNER_CAMPAIGN_STATE_CHANGED:
        data.update(
            from_state=before.get("state"),
            to_state=after.get("state"),
            stage=after.get("stage"),
            next_stage=after.get("next_stage"),
        )
    elif kind in (APPROVAL_TASK_CREATED, APPROVAL_TASK_OVERDUE):
        task = session.exec(
            select(ApprovalTask).where(
                ApprovalTask.partner_campaign_id == pc_id, col(ApprovalTask.kind) == "approve"
            )
        ).first()
        data.update(
            stage=waiting_stage(event) or (task.stage if task else None),
            stage_label=task.stage_label if task else None,
            due_at=_iso(task.due_at) if task else None,
            escalation_level=task.escalation_level if task else 0,
        )
    elif kind == DELIVERY_FINISHED:
        counts = session.exec(
            select(Delivery.status, func.count())
            .where(Delivery.partner_campaign_id == pc_id)
            .group_by(col(Delivery.status))
        ).all()
        data.update(state=after.get("state"), counts={str(k): n for k, n in counts})
    elif kind == DELIVERY_PAUSED:
        data.update(reason=event.comment)
    return data


def payload_of(session: Session, event: AuditEvent, kind: str) -> dict[str, Any]:
    if event.entity_type == "campaign":
        data = _campaign_data(session, event)
        subject = f"campaign:{event.entity_id}"
    else:
        data = _partner_campaign_data(session, event, kind)
        subject = f"partner_campaign:{event.entity_id}"
    return {
        "type": kind,
        "version": PAYLOAD_VERSION,
        "timestamp": _iso(event.at),
        "brand_id": event.brand_id,
        "subject": subject,
        "data": data,
    }


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


@dataclass(frozen=True)
class Captured:
    endpoint_id: int
    event_type: str


def capture_in(session: Session, event: AuditEvent) -> list[Captured]:
    """Webhook event rows for `event`, in the caller's transaction."""
    kinds = event_types_of(event)
    if not kinds:
        return []
    endpoints = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.brand_id == event.brand_id, col(WebhookEndpoint.enabled))
        .order_by(col(WebhookEndpoint.id))
    ).all()
    out: list[Captured] = []
    for kind in kinds:
        wanted = [e for e in endpoints if kind in (e.event_types or [])]
        if not wanted:
            continue
        payload = payload_of(session, event, kind)
        for endpoint in wanted:
            assert endpoint.id is not None
            session.add(
                WebhookEvent(
                    endpoint_id=endpoint.id,
                    brand_id=event.brand_id,
                    message_id=new_message_id(),
                    source_key=f"{event.event_key}:{kind}"[:260],
                    event_type=kind,
                    subject=str(payload["subject"]),
                    payload=payload,
                    next_attempt_at=event.at,
                    created_at=event.at,
                    window_started_at=event.at,
                )
            )
            out.append(Captured(endpoint.id, kind))
    if out:
        session.flush()
    return out
