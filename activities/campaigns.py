"""The campaign workflows' database side: reading targets, projecting transitions (row, inbox
tasks, audit event) and the campaign summary. Every write is idempotent: retries change nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity

from approvals.engine import staffing_gap
from domain.states import CampaignState, PartnerCampaignState, TaskKind
from models.audit import AuditEvent
from models.base import utcnow
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Partner, as_profile
from models.workflow_io import (
    CampaignShared,
    CampaignSummary,
    PartnerRef,
    PartnerTransition,
    TimelineEntry,
)
from services import audit, scheduling
from services.approvals.facts import role_holders
from services.funds import campaign_money
from services.reporting import facts as reporting_facts
from workflows.partner_campaign_lifecycle import PartnerCampaignEvent as E

# Events where a person decided (the row keeps the last decision and its comment).
DECISION_EVENTS = frozenset(
    {E.approve.value, E.advance.value, E.request_changes.value, E.reject.value, "vote"}
)


def _with_audit_retries(engine: Engine, key: str, write: Callable[[Session], None]) -> None:
    """Run `write` in a transaction that appends an audit event keyed `key`; a key already
    written means a retry of work already done."""
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first():
                    return
                write(session)
                session.commit()
                return
            except IntegrityError:
                session.rollback()
    raise RuntimeError(f"could not project {key}: kept losing audit races")


def transition_key(t: PartnerTransition) -> str:
    """The audit event key of a transition: a retry (or a second writer) finds it and stops."""
    return f"{t.workflow_id}:{t.entry.seq}:{t.entry.event}"


def project_partner_transition(engine: Engine, t: PartnerTransition) -> None:
    _with_audit_retries(engine, transition_key(t), lambda session: write_transition(session, t))


def write_transition(session: Session, t: PartnerTransition) -> None:
    """The row, its inbox tasks, the co-op money the new state moves (held at approval, given
    back on a side exit, booked when sent: services.funds.campaign_money) and the audit event
    of one transition, in `session`'s transaction (the caller has checked that the event key
    is not written yet)."""
    row = session.get(PartnerCampaign, t.partner.partner_campaign_id)
    if row is None:
        raise ValueError(f"partner campaign {t.partner.partner_campaign_id} does not exist")
    now = utcnow()
    row.state = PartnerCampaignState(t.entry.to_state)
    row.approval_stage = t.stage.name if t.stage else None
    if t.policy_version_id is not None:
        row.approval_policy_version_id = t.policy_version_id
    row.values = dict(t.values or {})
    row.send_at = t.send_at
    row.submitted_by = t.submitted_by
    row.segment_id = t.segment_id
    row.escalation_level = t.escalation_level
    row.revision = max(row.revision, t.revision)
    row.last_seq = max(row.last_seq, t.entry.seq)
    if t.entry.event in DECISION_EVENTS and t.entry.actor_id is not None:
        row.decided_by = t.entry.actor_id
        row.decision_comment = t.entry.comment
    row.updated_at = now
    session.add(row)
    reporting_facts.record_transition(session, row, t, transition_key(t))
    blocked = _sync_tasks(session, row, t)
    if t.entry.from_state != t.entry.to_state:
        campaign_money.on_transition(session, row, row.state)
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=t.brand_id,
            region_id=t.partner.region_id,
            partner_id=t.partner.partner_id,
            actor=str(t.entry.actor_id) if t.entry.actor_id else audit.SYSTEM_ACTOR,
            action=f"partner_campaign.{t.entry.event}",
            entity_type="partner_campaign",
            entity_id=str(t.partner.partner_campaign_id),
            event_key=transition_key(t),
            before={"state": t.entry.from_state},
            after=_after(t, blocked),
            comment=t.entry.comment,
            workflow_id=t.workflow_id,
            run_id=t.run_id,
            at=t.entry.at,
        ),
    )


def _after(t: PartnerTransition, blocked: str | None) -> dict[str, object]:
    """What the audit event records after the transition: the state, and for approvals the
    stage decided (or now waiting), for a delegate's decision on whose behalf, and why the
    waiting stage cannot pass with the people who hold its roles."""
    after: dict[str, object] = {"state": t.entry.to_state}
    if t.entry.stage:
        after["stage"] = t.entry.stage
    if t.stage is not None and t.stage.name != t.entry.stage:
        after["next_stage"] = t.stage.name
    if t.entry.on_behalf_of is not None:
        after["on_behalf_of"] = t.entry.on_behalf_of
    if blocked is not None:
        after["blocked"] = blocked
    return after


def _sync_tasks(session: Session, row: PartnerCampaign, t: PartnerTransition) -> str | None:
    """Open exactly the task kinds the workflow lists; close the others. Answers why the open
    approval stage cannot pass with the people holding its roles now (None: it can)."""
    assert row.id is not None
    existing = {
        task.kind: task
        for task in session.exec(
            select(ApprovalTask).where(ApprovalTask.partner_campaign_id == row.id)
        ).all()
    }
    wanted = scheduling.open_tasks(session, row, t.entry.to_state, t.open_tasks)
    for kind, task in existing.items():
        if kind not in wanted and task.open:
            task.open = False
            task.updated_at = utcnow()
            session.add(task)
    blocked = None
    for name, due in wanted.items():
        kind = TaskKind(name)
        found = existing.get(kind)
        task = (
            found
            if found is not None
            else ApprovalTask(
                partner_campaign_id=row.id,
                campaign_id=row.campaign_id,
                brand_id=row.brand_id,
                region_id=row.region_id,
                partner_id=row.partner_id,
                kind=kind,
            )
        )
        task.open = True
        task.due_at = due
        task.escalation_level = t.escalation_level
        stage = t.stage if kind == TaskKind.approve else None
        task.stage = stage.name if stage else None
        task.stage_label = stage.label if stage else ""
        task.approvers = [a.model_dump(mode="json") for a in stage.approvers] if stage else []
        task.excluded_user_ids = list(stage.excluded_user_ids) if stage else []
        task.required = stage.required if stage else 1
        task.approvals = stage.approvals if stage else 0
        task.blocked = None
        if stage is not None:
            task.blocked = blocked = staffing_gap(
                stage.approvers,
                stage.required,
                stage.approvals,
                stage.excluded_user_ids,
                role_holders(session, row),
                stage.label,
            )
        task.updated_at = utcnow()
        session.add(task)
    return blocked


def partner_campaign_ids(engine: Engine, campaign_id: int) -> list[int]:
    with Session(engine) as session:
        return [
            i
            for i in session.exec(
                select(PartnerCampaign.id)
                .where(PartnerCampaign.campaign_id == campaign_id)
                .order_by(col(PartnerCampaign.id))
            ).all()
            if i is not None
        ]


def partner_refs(engine: Engine, ids: list[int]) -> list[tuple[PartnerRef, str]]:
    """The partners of these partner campaigns, each with its row's state."""
    query = select(PartnerCampaign, Partner).where(
        col(PartnerCampaign.id).in_(ids), PartnerCampaign.partner_id == Partner.id
    )
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(PartnerCampaign.id))).all()
        return [
            (
                PartnerRef(
                    partner_campaign_id=pc.id or 0,
                    partner_id=pc.partner_id,
                    region_id=pc.region_id,
                    locale=pc.locale,
                    profile=as_profile(partner),
                    values=pc.values or None,
                ),
                pc.state,
            )
            for pc, partner in rows
        ]


@dataclass(frozen=True)
class OpenedPartner:
    """A partner campaign of a start page: `entry` is its projected open transition when its
    workflow is still to be started with it; None when its workflow has run already."""

    ref: PartnerRef
    entry: TimelineEntry | None


def open_entry(at: datetime) -> TimelineEntry:
    return TimelineEntry(
        seq=1,
        at=at,
        event=E.open.value,
        from_state=PartnerCampaignState.invited.value,
        to_state=PartnerCampaignState.drafting.value,
        actor_id=None,
    )


def open_partner_campaigns(
    engine: Engine,
    shared: CampaignShared,
    ids: list[int],
    workflow_id: Callable[[PartnerRef], str],
    policy_version_id: int | None,
) -> list[OpenedPartner]:
    """invited -> drafting for a whole start page in one transaction: each row, its personalise
    task and its `partner_campaign.open` audit event, exactly what the partner workflow's first
    projection writes, under the same event key (`<workflow id>:1:open`), so nothing is ever
    projected twice whoever comes first.

    A row opened here earlier (an activity retry, a second launch) whose workflow may not have
    started is handed out again with the entry it was opened with: its start is then either the
    missing one or reported as existing. Rows whose workflow projected its own open, or that
    moved on, are handed out without an entry.
    """
    for _ in range(20):
        with Session(engine, expire_on_commit=False) as session:
            try:
                audit.begin_write(session)
                out = _open_page(session, shared, ids, workflow_id, policy_version_id)
                session.commit()
                return out
            except IntegrityError:
                session.rollback()
    raise RuntimeError(f"could not open partner campaigns of campaign {shared.campaign_id}")


def _open_page(
    session: Session,
    shared: CampaignShared,
    ids: list[int],
    workflow_id: Callable[[PartnerRef], str],
    policy_version_id: int | None,
) -> list[OpenedPartner]:
    query = select(PartnerCampaign, Partner).where(
        col(PartnerCampaign.id).in_(ids), PartnerCampaign.partner_id == Partner.id
    )
    rows = session.exec(query.order_by(col(PartnerCampaign.id))).all()
    refs = [(_ref(pc, partner), pc) for pc, partner in rows]
    keys = {ref.partner_campaign_id: f"{workflow_id(ref)}:1:{E.open.value}" for ref, _ in refs}
    written = {
        event.event_key: event
        for event in session.exec(
            select(AuditEvent).where(col(AuditEvent.event_key).in_(list(keys.values())))
        ).all()
    }
    now = utcnow()
    out: list[OpenedPartner] = []
    for ref, pc in refs:
        event = written.get(keys[ref.partner_campaign_id])
        if event is None and pc.state == PartnerCampaignState.invited:
            entry = open_entry(now)
            write_transition(
                session,
                PartnerTransition(
                    shared_campaign_id=shared.campaign_id,
                    brand_id=shared.brand_id,
                    partner=ref,
                    entry=entry,
                    values=dict(shared.defaults if ref.values is None else ref.values),
                    policy_version_id=policy_version_id,
                    open_tasks={TaskKind.personalise.value: shared.personalise_until},
                    workflow_id=workflow_id(ref),
                    run_id=None,
                ),
            )
            out.append(OpenedPartner(ref, entry))
        elif (
            event is not None
            and event.run_id is None  # opened here, not by a workflow
            and pc.state == PartnerCampaignState.drafting
            and pc.last_seq == 1
        ):
            out.append(OpenedPartner(ref, open_entry(aware_utc(event.at))))
        else:
            out.append(OpenedPartner(ref, None))
    return out


def aware_utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _ref(pc: PartnerCampaign, partner: Partner) -> PartnerRef:
    return PartnerRef(
        partner_campaign_id=pc.id or 0,
        partner_id=pc.partner_id,
        region_id=pc.region_id,
        locale=pc.locale,
        profile=as_profile(partner),
        values=pc.values or None,
    )


def extend_personalise_tasks(engine: Engine, workflow_ids: list[str], until: datetime) -> int:
    """The open personalise tasks of these partner workflows (told of a later window) fall due
    at its new end, in one statement: the inbox shows the window the workflows now keep, and
    HQ sees an extension of 10,000 partners arrive. Never moves a due date earlier."""
    rows = (
        select(PartnerCampaign.id)
        .where(col(PartnerCampaign.workflow_id).in_(workflow_ids))
        .scalar_subquery()
    )
    stmt = (
        update(ApprovalTask)
        .where(
            col(ApprovalTask.partner_campaign_id).in_(rows),
            col(ApprovalTask.kind) == TaskKind.personalise,
            col(ApprovalTask.open),
            col(ApprovalTask.due_at) < until,
        )
        .values(due_at=until, updated_at=utcnow())
    )
    with Session(engine) as session:
        result = session.exec(stmt)
        session.commit()
        return int(result.rowcount or 0)


def project_campaign_summary(engine: Engine, summary: CampaignSummary) -> None:
    """The campaign's final state and counts; a completion is an audit event too (webhooks
    report it from there), written once under its key whoever retries."""
    key = f"campaign:{summary.campaign_id}:completed"
    _with_audit_retries(engine, key, lambda session: _write_summary(session, summary, key))


def _write_summary(session: Session, summary: CampaignSummary, key: str) -> None:
    campaign = session.get(Campaign, summary.campaign_id)
    if campaign is None:
        raise ValueError(f"campaign {summary.campaign_id} does not exist")
    before = campaign.state
    campaign.state = CampaignState.cancelled if summary.cancelled else CampaignState.completed
    campaign.summary = dict(summary.counts)
    campaign.updated_at = utcnow()
    session.add(campaign)
    if campaign.state == CampaignState.completed:
        audit.append_in(
            session,
            audit.NewEvent(
                brand_id=campaign.brand_id,
                actor=audit.SYSTEM_ACTOR,
                action="campaign.completed",
                entity_type="campaign",
                entity_id=str(summary.campaign_id),
                event_key=key,
                before={"state": str(before)},
                after={"state": campaign.state.value, "counts": dict(summary.counts)},
                workflow_id=campaign.workflow_id,
            ),
        )


class CampaignActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="project_partner_campaign")
    def project_partner_campaign(self, t: PartnerTransition) -> None:
        project_partner_transition(self._engine, t)

    @activity.defn(name="campaign_partner_campaign_ids")
    def campaign_partner_campaign_ids(self, campaign_id: int) -> list[int]:
        return partner_campaign_ids(self._engine, campaign_id)

    @activity.defn(name="project_campaign_summary")
    def project_campaign_summary(self, summary: CampaignSummary) -> None:
        project_campaign_summary(self._engine, summary)
