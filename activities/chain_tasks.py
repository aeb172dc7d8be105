"""Projecting an approval chain of a print order or claim (workflows.chain_runner): the open
stage as a ChainTask row, and the step as an audit event, in one transaction; and its emails
to approvers, at most once per notice and recipient (the sent marker is an audit event, as
for partner campaigns' notices: activities.notifications)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from mail.transport import MessageSender
from models.audit import AuditEvent
from models.base import utcnow
from models.chain_io import ChainNotice, ChainTaskProjection
from models.chain_tasks import ChainTask
from services import audit
from services.approvals.chain_notices import UnknownChainNotice, plan
from services.staff_mail import About, send_once

log = logging.getLogger(__name__)


def event_key(p: ChainTaskProjection) -> str:
    """A retry (or a second writer) finds the key and stops."""
    return f"{p.workflow_id}:chain:{p.seq}:{p.event}"


def write_projection(session: Session, p: ChainTaskProjection) -> ChainTask:
    task = session.exec(
        select(ChainTask).where(
            ChainTask.subject == p.subject, ChainTask.subject_id == p.subject_id
        )
    ).first()
    if task is None:
        task = ChainTask(
            subject=p.subject,
            subject_id=p.subject_id,
            brand_id=p.brand_id,
            region_id=p.region_id,
            partner_id=p.partner_id,
        )
    stage = p.stage
    task.open = stage is not None
    task.stage = stage.name if stage else None
    task.stage_label = stage.label if stage else ""
    task.approvers = (
        [a.model_dump(mode="json", exclude_none=True) for a in stage.approvers] if stage else []
    )
    task.excluded_user_ids = list(stage.excluded_user_ids) if stage else []
    task.required = stage.required if stage else 1
    task.approvals = stage.approvals if stage else 0
    task.escalation_level = 1 if stage is not None and stage.escalated else 0
    task.due_at = p.due_at
    task.updated_at = utcnow()
    session.add(task)
    after: dict[str, object] = {"open": task.open}
    if p.decided_stage:
        after["stage"] = p.decided_stage
    if stage is not None and stage.name != p.decided_stage:
        after["next_stage"] = stage.name
    if p.on_behalf_of is not None:
        after["on_behalf_of"] = p.on_behalf_of
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=p.brand_id,
            region_id=p.region_id,
            partner_id=p.partner_id,
            actor=str(p.actor_id) if p.actor_id else audit.SYSTEM_ACTOR,
            action=f"{p.subject.value}.{p.event}",
            entity_type=p.subject.value,
            entity_id=str(p.subject_id),
            event_key=event_key(p),
            after=after,
            comment=p.comment,
            workflow_id=p.workflow_id,
            run_id=p.run_id,
            at=p.at,
        ),
    )
    return task


def project(engine: Engine, p: ChainTaskProjection) -> None:
    key = event_key(p)
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first():
                    return
                write_projection(session, p)
                session.commit()
                return
            except IntegrityError:
                session.rollback()
    raise RuntimeError(f"could not project {key}: kept losing audit races")


class ChainTaskActivities:
    """Bound to the worker's engine; sync, so it runs on the worker's thread pool."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="project_chain_task")
    def project_chain_task(self, projection: ChainTaskProjection) -> None:
        project(self._engine, projection)


def send_chain_notice(
    engine: Engine, settings: Settings, transport: MessageSender, notice: ChainNotice
) -> int:
    """Send what the notice asks for and is not sent yet; the number of messages sent now."""
    with Session(engine) as session:
        mails = plan(session, settings, notice)
    about = About(
        notice.brand_id,
        notice.region_id,
        notice.partner_id,
        notice.subject.value,
        notice.subject_id,
    )
    sent = send_once(engine, transport, about, mails)
    log.info("chain notice %s: %d of %d messages sent now", notice.key, sent, len(mails))
    return sent


class ChainNoticeActivities:
    """Sync: SMTP and SES calls block, so they run on the worker's activity thread pool."""

    def __init__(self, engine: Engine, settings: Settings, transport: MessageSender) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport

    @activity.defn(name="notify_chain_approvers")
    def notify_chain_approvers(self, notice: ChainNotice) -> int:
        try:
            return send_chain_notice(self._engine, self._settings, self._transport, notice)
        except UnknownChainNotice as err:
            raise ApplicationError(str(err), type="unknown_notice", non_retryable=True) from err
