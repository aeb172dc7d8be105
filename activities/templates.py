"""Projecting template lifecycle transitions into the database (version row + audit event)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from domain.states import TEMPLATE_EDITABLE, TemplateState
from models.audit import AuditEvent
from models.templates import TemplateVersion
from models.workflow_io import TemplateTransition
from services import audit, brand_blocks


class TemplateActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="project_template_transition")
    def project_template_transition(self, t: TemplateTransition) -> None:
        """Idempotent: the audit event key marks a transition already written."""
        key = f"{t.workflow_id}:{t.entry.seq}:{t.entry.event}"
        for _ in range(20):
            with Session(self._engine, expire_on_commit=False) as session:
                try:
                    audit.begin_write(session)
                    if session.exec(
                        select(AuditEvent.id).where(AuditEvent.event_key == key)
                    ).first():
                        return
                    version = session.get(TemplateVersion, t.version_id)
                    if version is None:
                        raise ValueError(f"template version {t.version_id} does not exist")
                    leaves_editing = (
                        version.state in TEMPLATE_EDITABLE
                        and TemplateState(t.entry.to_state) not in TEMPLATE_EDITABLE
                    )
                    if leaves_editing:  # the blocks it was reviewed with stay with it
                        version.blocks = brand_blocks.snapshot(session, version.brand_id)
                    version.state = TemplateState(t.entry.to_state)
                    version.updated_at = t.entry.at
                    if t.entry.event == "submit":
                        version.submitted_by = t.entry.actor_id
                    if t.entry.event in {"approve", "request_changes", "reject"}:
                        version.decided_by = t.entry.actor_id
                        version.decision_comment = t.entry.comment
                    if t.entry.to_state == "published":
                        version.published_at = t.entry.at
                    session.add(version)
                    audit.append_in(
                        session,
                        audit.NewEvent(
                            brand_id=t.brand_id,
                            actor=str(t.entry.actor_id) if t.entry.actor_id else audit.SYSTEM_ACTOR,
                            action=f"template_version.{t.entry.event}",
                            entity_type="template_version",
                            entity_id=str(t.version_id),
                            event_key=key,
                            before={"state": t.entry.from_state},
                            after={"state": t.entry.to_state},
                            comment=t.entry.comment,
                            workflow_id=t.workflow_id,
                            run_id=t.run_id,
                            at=t.entry.at,
                        ),
                    )
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"could not project {key}: kept losing audit races")
