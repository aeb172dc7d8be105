"""The participation funnel: how far the partner campaigns invited in the period got, and who
is stuck.

A partner campaign counts at a step when it reached it, whatever happened after: its current
state tells the furthest step for live ones, its transition facts tell the steps a declined,
expired or cancelled one passed. Steps nest (sent within approved within submitted within
drafting within invited); declined, expired and rejected count the endings.

Stuck (STUCK_RULE): a partner campaign still waiting on someone (invited, drafting,
changes_requested, pending_approval) whose deadline is near or past (the campaign's
personalise_until while personalising, its send_by while pending approval, within
DEADLINE_NEAR) or that has not moved for STUCK_AFTER. `since` is its last transition (else its
invitation). The oldest STUCK_LIMIT are listed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session, col

from domain.states import PartnerCampaignState as PC
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, Region
from models.reporting import TransitionFact
from services.reporting.periods import window
from services.reporting.scope import ReportScope, labels
from services.reporting.shapes import FunnelReport, FunnelRow, ReportQuery, StuckItem

STUCK_AFTER = timedelta(days=7)
DEADLINE_NEAR = timedelta(days=2)
STUCK_LIMIT = 50
STUCK_RULE = (
    "waiting (invited, drafting, changes requested, pending approval) and either the deadline "
    "(personalise until / send by) is within 2 days or past, or no transition for 7 days"
)

WAITING = (PC.invited, PC.drafting, PC.changes_requested, PC.pending_approval)
PERSONALISING = (PC.invited, PC.drafting, PC.changes_requested)
AT_SUBMITTED = (
    PC.changes_requested,
    PC.pending_approval,
    PC.approved,
    PC.scheduled,
    PC.sending,
    PC.sent,
    PC.partially_sent,
    PC.rejected,
)
AT_APPROVED = (PC.approved, PC.scheduled, PC.sending, PC.sent, PC.partially_sent)
AT_SENT = (PC.sent, PC.partially_sent)
ENDED_UNSENT = (PC.declined, PC.expired, PC.cancelled)
STEPS = ("invited", "drafting", "submitted", "approved", "sent", "declined", "expired", "rejected")


def _reached_facts(scope: ReportScope, q: ReportQuery) -> Any:
    """Per partner campaign that ended without being sent (declined, expired, cancelled):
    whether its facts show it drafting, submitted, approved. Every other state tells its
    furthest step itself, so only these few read their facts."""
    f, pc = TransitionFact, PartnerCampaign

    def flag(cond: Any) -> Any:
        return func.max(case((cond, 1), else_=0))

    return (
        select(
            col(f.partner_campaign_id).label("pcid"),
            flag(col(f.to_state) == PC.drafting.value).label("drafting"),
            flag(or_(col(f.event) == "submit", col(f.to_state) == PC.pending_approval.value)).label(
                "submitted"
            ),
            flag(col(f.to_state) == PC.approved.value).label("approved"),
        )
        .join(pc, col(pc.id) == col(f.partner_campaign_id))
        .where(*_where(scope, q), col(pc.state).in_([s.value for s in ENDED_UNSENT]))
        .group_by(col(f.partner_campaign_id))
        .subquery()
    )


def funnel(
    session: Session, scope: ReportScope, q: ReportQuery, *, now: datetime | None = None
) -> FunnelReport:
    """Counts per group of the query (campaign, region, partner) and a total."""
    now = now or datetime.now(UTC)
    pc = PartnerCampaign
    facts = _reached_facts(scope, q)
    state = col(pc.state)
    group_col: Any = {
        "campaign": col(pc.campaign_id),
        "region": col(pc.region_id),
        "partner": col(pc.partner_id),
    }[q.group]
    # Grouped by state (and, for the few that ended unsent, the steps their facts show): a
    # handful of rows per group, the steps are added up here.
    flags = [func.coalesce(facts.c[n], 0) for n in ("drafting", "submitted", "approved")]
    stmt = (
        select(group_col, state, *flags, func.count())
        .select_from(pc)
        .outerjoin(facts, facts.c.pcid == col(pc.id))
        .where(*_where(scope, q))
        .group_by(group_col, state, *flags)
    )
    per: dict[int, dict[str, int]] = {}
    for key, st, f_drafting, f_submitted, f_approved, n in session.connection().execute(stmt):
        steps = per.setdefault(int(key), dict.fromkeys(STEPS, 0))
        st = PC(st)
        submitted = st in AT_SUBMITTED or bool(f_submitted)
        reached = {
            "invited": True,
            "drafting": st == PC.drafting or bool(f_drafting) or submitted,
            "submitted": submitted,
            "approved": st in AT_APPROVED or bool(f_approved),
            "sent": st in AT_SENT,
            "declined": st == PC.declined,
            "expired": st == PC.expired,
            "rejected": st == PC.rejected,
        }
        for step, yes in reached.items():
            if yes:
                steps[step] += int(n)
    counted = [(k, [v[s] for s in STEPS]) for k, v in per.items()]
    names = labels(session, q.group, {k for k, _ in counted})
    rows = [FunnelRow(k, names.get(k, f"#{k}"), *values) for k, values in counted]
    rows.sort(key=lambda r: (r.label.lower(), r.key or 0))
    sums = [sum(getattr(r, s) for r in rows) for s in STEPS]
    total = FunnelRow(None, "All", *sums)
    return FunnelReport(rows=rows, total=total, stuck=stuck(session, scope, q, now=now))


def _where(scope: ReportScope, q: ReportQuery) -> list[Any]:
    pc = PartnerCampaign
    where = scope.clause(
        q, col(pc.brand_id), col(pc.region_id), col(pc.partner_id), col(pc.campaign_id)
    )
    start, end = window(q)
    if start is not None:
        where.append(col(pc.created_at) >= start)
    if end is not None:
        where.append(col(pc.created_at) < end)
    return where


def stuck(
    session: Session, scope: ReportScope, q: ReportQuery, *, now: datetime
) -> list[StuckItem]:
    """The oldest STUCK_LIMIT partner campaigns that wait on someone (STUCK_RULE)."""
    pc = PartnerCampaign
    waiting = col(pc.state).in_([s.value for s in WAITING])
    last = (
        select(
            col(TransitionFact.partner_campaign_id).label("pcid"),
            func.max(TransitionFact.at).label("last_at"),
        )
        .join(pc, col(pc.id) == col(TransitionFact.partner_campaign_id))
        .where(*_where(scope, q), waiting)
        .group_by(col(TransitionFact.partner_campaign_id))
        .subquery()
    )
    since = func.coalesce(last.c.last_at, col(pc.created_at))
    near = now + DEADLINE_NEAR
    state = col(pc.state)
    deadline_near = or_(
        and_(state.in_([s.value for s in PERSONALISING]), col(Campaign.personalise_until) <= near),
        and_(state == PC.pending_approval.value, col(Campaign.send_by) <= near),
    )
    stmt = (
        select(
            col(pc.id),
            col(pc.campaign_id),
            col(Campaign.name),
            col(pc.partner_id),
            col(Partner.display_name),
            col(Region.name),
            state,
            since.label("since"),
        )
        .select_from(pc)
        .join(Campaign, col(Campaign.id) == col(pc.campaign_id))
        .join(Partner, col(Partner.id) == col(pc.partner_id))
        .join(Region, col(Region.id) == col(pc.region_id))
        .outerjoin(last, last.c.pcid == col(pc.id))
        .where(
            *_where(scope, q),
            waiting,
            or_(deadline_near, since <= now - STUCK_AFTER),
        )
        .order_by(since, col(pc.id))
        .limit(STUCK_LIMIT)
    )
    out = []
    for pcid, cid, cname, pid, pname, rname, st, at in session.connection().execute(stmt).all():
        out.append(
            StuckItem(
                partner_campaign_id=pcid,
                campaign_id=cid,
                campaign_name=cname,
                partner_id=pid,
                partner_name=pname,
                region_name=rname,
                state=str(st),
                since=_aware(at),
            )
        )
    return out


def _aware(value: object) -> datetime:
    """SQLite answers a computed time (coalesce) as text and without a zone."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
