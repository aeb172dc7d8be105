"""Enrolments: the row first (unique per activation, contact and occurrence), then the
workflow; the checks a running contact passes before every step; and the end, audited.

A due contact gets its row in one transaction per slice of a page (two windows of starts); the
sweep then starts a workflow for every row of the slice that has none yet (`workflow_id` empty),
writes the next slice's rows while those starts run, and notes the page's ids at its end. A
sweep that dies between the two leaves rows without a workflow, and the next sweep starts them:
nobody is enrolled twice, nobody is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from domain.journeys import ActivationState, EnrolmentState, ExitReason
from domain.workflow_ids import journey_enrolment_workflow_id
from models.base import utcnow
from models.contacts import ConsentStatus, Contact, SuppressionReason
from models.journey_io import FinishEnrolment, StepCheck
from models.journey_spec import JourneySpec
from models.journeys import JourneyActivation, JourneyEnrolment
from services import audit, suppression
from services.journeys.plan import spec_of
from services.journeys.triggers import Due, Running


@dataclass(frozen=True)
class ToStart:
    enrolment_id: int
    contact_id: int
    occurrence: str
    workflow_id: str
    not_before: datetime | None


def enrol(session: Session, running: Running, due: list[Due]) -> tuple[int, list[ToStart]]:
    """Write the rows the page's due contacts lack; (rows written, rows without a workflow)."""
    act = running.activation
    assert act.id is not None
    if not due:
        return 0, []
    have = {
        (e.contact_id, e.occurrence): e
        for e in session.exec(
            select(JourneyEnrolment)
            .where(JourneyEnrolment.activation_id == act.id)
            .where(col(JourneyEnrolment.contact_id).in_([d.contact_id for d in due]))
        ).all()
    }
    new = [d for d in due if (d.contact_id, d.occurrence) not in have]
    rows = [_row(act, d) for d in new]
    try:
        session.add_all(rows)
        session.commit()
    except IntegrityError:  # a concurrent sweep wrote some of them: one by one
        session.rollback()
        rows = []
        for d in new:
            try:
                with session.begin_nested():
                    row = _row(act, d)
                    session.add(row)
                rows.append(row)
            except IntegrityError:
                pass
        session.commit()
    written = len(rows)
    for row in rows:
        have[(row.contact_id, row.occurrence)] = row
    out = []
    for d in due:
        e = have.get((d.contact_id, d.occurrence))
        if e is None or e.id is None or e.workflow_id or e.state != EnrolmentState.running:
            continue
        wid = journey_enrolment_workflow_id(act.id, d.contact_id, d.occurrence)
        out.append(ToStart(e.id, d.contact_id, d.occurrence, wid, d.not_before))
    return written, out


def _row(act: JourneyActivation, d: Due) -> JourneyEnrolment:
    assert act.id is not None
    return JourneyEnrolment(
        brand_id=act.brand_id,
        partner_id=act.partner_id,
        journey_id=act.journey_id,
        activation_id=act.id,
        contact_id=d.contact_id,
        occurrence=d.occurrence,
    )


def mark_started(session: Session, started: dict[int, str]) -> None:
    """Note the workflow of each started enrolment (one executemany per page)."""
    if not started:
        return
    table = JourneyEnrolment.__table__  # type: ignore[attr-defined]
    statement = (
        table.update()
        .where(table.c.id == bindparam("eid"))
        .values(workflow_id=bindparam("wid"), updated_at=bindparam("at"))
    )
    at = utcnow()
    session.connection().execute(
        statement, [{"eid": eid, "wid": wid, "at": at} for eid, wid in started.items()]
    )
    session.commit()


def exit_reason(
    session: Session, enrolment: JourneyEnrolment, spec: JourneySpec
) -> tuple[ExitReason | None, Contact | None]:
    """Why the contact must leave now (None: it stays), re-read before every step: the
    activation switched off, the contact erased, without consent, unsubscribed, converted."""
    activation = session.get(JourneyActivation, enrolment.activation_id)
    if activation is None or activation.state != ActivationState.active:
        return ExitReason.switched_off, None
    contact = session.get(Contact, enrolment.contact_id) if enrolment.contact_id else None
    if contact is None:
        return ExitReason.erased, None
    if contact.consent_status != ConsentStatus.granted.value:
        return ExitReason.no_consent, contact
    entry = suppression.find(session, contact.brand_id, contact.email)
    if entry is not None and entry.reason == SuppressionReason.unsubscribed.value:
        return ExitReason.unsubscribed, contact
    converted = spec.exit.converted_attribute
    if converted and (contact.attributes or {}).get(converted) not in (None, "", False):
        return ExitReason.converted, contact
    return None, contact


def check(session: Session, enrolment_id: int) -> StepCheck:
    enrolment = session.get(JourneyEnrolment, enrolment_id)
    activation = session.get(JourneyActivation, enrolment.activation_id) if enrolment else None
    if enrolment is None or activation is None:
        return StepCheck(exit_reason=ExitReason.switched_off.value)
    reason, contact = exit_reason(session, enrolment, spec_of(session, activation))
    if reason is not None:
        return StepCheck(exit_reason=reason.value)
    assert contact is not None
    return StepCheck(attributes=dict(contact.attributes or {}))


def is_running(session: Session, enrolment_id: int) -> bool:
    row = session.get(JourneyEnrolment, enrolment_id)
    return row is not None and row.state == EnrolmentState.running


def finish(session: Session, end: FinishEnrolment, workflow_id: str | None) -> bool:
    """Completed or exited, once: the row moves and the audit trail says so in the same
    transaction; a retry (or a second run) finds it moved and changes nothing."""
    audit.begin_write(session)
    row = session.get(JourneyEnrolment, end.enrolment_id)
    if row is None or row.state != EnrolmentState.running:
        session.rollback()
        return False
    before = {"state": row.state.value, "step_id": row.step_id}
    row.state = EnrolmentState(end.state)
    row.step_id = end.step_id
    row.exit_reason = end.exit_reason
    row.updated_at = utcnow()
    session.add(row)
    after = {"state": end.state, "step_id": end.step_id, "exit_reason": end.exit_reason}
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=row.brand_id,
            partner_id=row.partner_id,
            actor=audit.SYSTEM_ACTOR,
            action=f"journey.enrolment.{end.state}",
            entity_type="journeyenrolment",
            entity_id=str(row.id),
            event_key=f"journey-enrolment-{row.id}-{end.state}",
            before=before,
            after=after,
            workflow_id=workflow_id,
            at=end.at,
        ),
    )
    session.commit()
    return True


def at_step(session: Session, enrolment_id: int, step_id: str) -> None:
    """Where a running contact is (what the counts per step read)."""
    session.exec(
        update(JourneyEnrolment)
        .where(col(JourneyEnrolment.id) == enrolment_id)
        .where(col(JourneyEnrolment.state) == EnrolmentState.running)
        .values(step_id=step_id, updated_at=utcnow())
    )
    session.commit()
