"""Time to market: how long partners take to submit and approvers to approve, per region and
per approval stage, what is overdue now, and how often the platform escalated.

Cycle times come from CycleTime rows that ended in the period: `to_submission` (invitation
opened -> first submission), `to_approval` with outcome "approve" (a submission -> its
chain's final approval; refusals and requests for changes are not approvals), and `stage`
(one stage waiting -> decided, any decision). Median and p90 are the continuous percentiles
(PostgreSQL's percentile_cont, the same interpolation in Python on SQLite).

`approval_hours` lists submission -> approval times in hours for the distribution chart: the
APPROVAL_SAMPLE most recent approvals of the period (a chart needs no more).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from approvals.engine import ROLE_GRANTS
from approvals.policy import ApproverRole
from domain.roles import ScopeType
from domain.states import TaskKind
from models.campaigns import ApprovalTask, Campaign
from models.org import Membership, Partner, Region, User
from models.reporting import CycleKind, CycleTime, TransitionFact
from services.reporting.periods import window
from services.reporting.scope import ReportScope, labels
from services.reporting.shapes import CycleStats, OverdueItem, ReportQuery, TimeToMarketReport

APPROVAL_SAMPLE = 2000
OVERDUE_LIMIT = 50
ALL = "All"


def percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = fraction * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def cycle_where(scope: ReportScope, q: ReportQuery, kind: CycleKind) -> list[Any]:
    c = CycleTime
    where = [
        *scope.clause(q, col(c.brand_id), col(c.region_id), col(c.partner_id), col(c.campaign_id)),
        col(c.kind) == kind.value,
    ]
    if kind == CycleKind.to_approval:
        where.append(col(c.outcome) == "approve")
    start, end = window(q)
    if start is not None:
        where.append(col(c.ended_at) >= start)
    if end is not None:
        where.append(col(c.ended_at) < end)
    return where


Stats = dict[tuple[Any, ...], tuple[int, float | None, float | None]]


def cycle_stats(session: Session, where: list[Any], groups: list[Any]) -> Stats:
    """count, median, p90 of seconds per group (no groups: one overall row keyed ())."""
    seconds = col(CycleTime.seconds)
    if _postgres(session):
        stmt = sa_select(
            *groups,
            func.count(),
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.9).within_group(seconds),
        ).where(*where)
        if groups:
            stmt = stmt.group_by(*groups)
        out: Stats = {}
        for row in session.connection().execute(stmt).all():
            n, med, p90 = row[len(groups) :]
            if n:
                out[tuple(row[: len(groups)])] = (
                    int(n),
                    float(med) if med is not None else None,
                    float(p90) if p90 is not None else None,
                )
        return out
    values: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for row in session.connection().execute(sa_select(*groups, seconds).where(*where)).all():
        values[tuple(row[: len(groups)])].append(float(row[-1]))
    return {k: (len(v), percentile(v, 0.5), percentile(v, 0.9)) for k, v in values.items() if v}


def _per_region(
    session: Session, scope: ReportScope, q: ReportQuery, kind: CycleKind
) -> list[CycleStats]:
    where = cycle_where(scope, q, kind)
    region = col(CycleTime.region_id)
    by_region = cycle_stats(session, where, [region])
    names = labels(session, "region", {k[0] for k in by_region})
    rows = [
        CycleStats(names.get(k[0], f"#{k[0]}"), k[0], None, n, med, p90)
        for k, (n, med, p90) in by_region.items()
    ]
    rows.sort(key=lambda r: r.label.lower())
    overall = cycle_stats(session, where, []).get((), (0, None, None))
    return [*rows, CycleStats(ALL, None, None, *overall)]


def _stages(session: Session, scope: ReportScope, q: ReportQuery) -> list[CycleStats]:
    """Per stage: one row per region, then the stage's overall row."""
    where = cycle_where(scope, q, CycleKind.stage)
    stage, region = col(CycleTime.stage), col(CycleTime.region_id)
    by_region = cycle_stats(session, where, [stage, region])
    overall = cycle_stats(session, where, [stage])
    names = labels(session, "region", {k[1] for k in by_region})
    out: list[CycleStats] = []
    for (name,), (n, med, p90) in sorted(overall.items(), key=lambda kv: str(kv[0][0])):
        regional = [
            CycleStats(names.get(r, f"#{r}"), r, s, *figures)
            for (s, r), figures in by_region.items()
            if s == name
        ]
        regional.sort(key=lambda row: row.label.lower())
        out.extend([*regional, CycleStats(ALL, None, name, n, med, p90)])
    return out


def _approval_hours(session: Session, scope: ReportScope, q: ReportQuery) -> list[float]:
    stmt = (
        select(col(CycleTime.seconds))
        .where(*cycle_where(scope, q, CycleKind.to_approval))
        .order_by(col(CycleTime.ended_at).desc())
        .limit(APPROVAL_SAMPLE)
    )
    return [round(s / 3600, 2) for s in session.exec(stmt).all()]


def _escalations(session: Session, scope: ReportScope, q: ReportQuery) -> int:
    f = TransitionFact
    where = [
        *scope.clause(q, col(f.brand_id), col(f.region_id), col(f.partner_id), col(f.campaign_id)),
        col(f.event) == "escalate",
    ]
    start, end = window(q)
    if start is not None:
        where.append(col(f.at) >= start)
    if end is not None:
        where.append(col(f.at) < end)
    return int(session.exec(select(func.count()).select_from(f).where(*where)).one())


def overdue(
    session: Session, scope: ReportScope, q: ReportQuery, *, now: datetime
) -> list[OverdueItem]:
    """Open approval tasks past their due time, most overdue first, with who holds them."""
    t = ApprovalTask
    stmt = (
        select(t, col(Campaign.name), col(Partner.display_name), col(Region.name))
        .join(Campaign, col(Campaign.id) == col(t.campaign_id))
        .join(Partner, col(Partner.id) == col(t.partner_id))
        .join(Region, col(Region.id) == col(t.region_id))
        .where(
            *scope.clause(
                q, col(t.brand_id), col(t.region_id), col(t.partner_id), col(t.campaign_id)
            ),
            col(t.open),
            col(t.kind) == TaskKind.approve,
            col(t.due_at).is_not(None),
            col(t.due_at) < now,
        )
        .order_by(col(t.due_at), col(t.id))
        .limit(OVERDUE_LIMIT)
    )
    holders = _Holders(session, scope.brand_id)
    out = []
    for task, cname, pname, rname in session.exec(stmt).all():
        assert task.id is not None and task.due_at is not None
        due = task.due_at if task.due_at.tzinfo else task.due_at.replace(tzinfo=UTC)
        out.append(
            OverdueItem(
                task_id=task.id,
                partner_campaign_id=task.partner_campaign_id,
                campaign_name=cname,
                partner_name=pname,
                region_name=rname,
                stage_label=task.stage_label or (task.stage or ""),
                holders=holders.of(task),
                due_at=due,
                overdue_seconds=int((now - due).total_seconds()),
                escalation_level=task.escalation_level,
            )
        )
    return out


class _Holders:
    """Names of the people a task's approvers name, each role and scope looked up once."""

    def __init__(self, session: Session, brand_id: int) -> None:
        self.session = session
        self.brand_id = brand_id
        self.cache: dict[tuple[str, int | None], list[str]] = {}

    def _name(self, user: User) -> str:
        return user.full_name or user.email

    def of(self, task: ApprovalTask) -> list[str]:
        names: list[str] = []
        for approver in task.approvers:
            if approver.get("user_id"):
                key: tuple[str, int | None] = ("user", int(approver["user_id"]))
                if key not in self.cache:
                    user = self.session.get(User, key[1])
                    ok = user is not None and user.brand_id == self.brand_id and user.is_active
                    self.cache[key] = [self._name(user)] if ok and user else []
            elif approver.get("role") in {r.value for r in ApproverRole}:
                role, scope = ROLE_GRANTS[ApproverRole(approver["role"])]
                where = {
                    ScopeType.partner: task.partner_id,
                    ScopeType.region: task.region_id,
                    ScopeType.brand: None,
                }[scope]
                key = (approver["role"], where)
                if key not in self.cache:
                    stmt = (
                        select(User)
                        .join(Membership, col(Membership.user_id) == col(User.id))
                        .where(
                            col(User.is_active),
                            col(Membership.brand_id) == self.brand_id,
                            col(Membership.role) == role.value,
                            col(Membership.scope_type) == scope.value,
                        )
                        .order_by(col(User.email))
                        .limit(10)
                    )
                    if scope == ScopeType.partner:
                        stmt = stmt.where(col(Membership.partner_id) == where)
                    elif scope == ScopeType.region:
                        stmt = stmt.where(col(Membership.region_id) == where)
                    self.cache[key] = [self._name(u) for u in self.session.exec(stmt).all()]
            else:
                continue
            names.extend(n for n in self.cache[key] if n not in names)
        return names


def time_to_market(
    session: Session, scope: ReportScope, q: ReportQuery, *, now: datetime | None = None
) -> TimeToMarketReport:
    now = now or datetime.now(UTC)
    return TimeToMarketReport(
        to_submission=_per_region(session, scope, q, CycleKind.to_submission),
        to_approval=_per_region(session, scope, q, CycleKind.to_approval),
        stages=_stages(session, scope, q),
        overdue=overdue(session, scope, q, now=now),
        escalations=_escalations(session, scope, q),
        approval_hours=_approval_hours(session, scope, q),
    )
