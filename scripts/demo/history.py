"""Three past campaigns of Northwind for the reports: "Winter open day", "Spring members' week"
and "Summer challenge", launched 9, 6 and 3 weeks ago to the demo partners, all over.

Each partner campaign ends in a final state (mostly sent; a decline, an expiry and one
rejection), with the reporting facts its workflow's projections would have written: transition
facts, cycle times (invitation to submission in days, each approval stage's wait in hours,
South's clubs and region manager slower than North's), a few content refusals (restricted
word, too long, expired image), and for every send its delivery ledger with what happened
after (delivered, opened, clicked, a few bounces, complaints and unsubscribes).

The rows are written directly (no Temporal executions behind them; reads never need them),
from a seeded random source so every run draws the same history. Idempotent by campaign name:
a campaign already there is left alone. Contacts come from scripts.demo.contacts (run first).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from domain.states import CampaignState, DeliveryStatus, TemplateState
from domain.states import PartnerCampaignState as PC
from domain.workflow_ids import campaign_workflow_id, partner_campaign_workflow_id
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import ConsentStatus, Contact
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand, Partner, Region, User
from models.reporting import ContentRefusal, CycleKind, CycleTime, TransitionFact
from models.templates import Template, TemplateVersion
from scripts.bulk.rows import analyze
from scripts.demo.approvals import STANDARD
from scripts.demo.organisation import NORTHWIND

HOUR = 3600.0
DAY = 24 * HOUR
KEY = "demo-history"
# (name, weeks ago) of each past campaign.
HISTORY: tuple[tuple[str, int], ...] = (
    ("Winter open day", 9),
    ("Spring members' week", 6),
    ("Summer challenge", 3),
)
# How each partner's campaign ended where it did not end sent, and who needed a second round.
ENDINGS: dict[tuple[str, str], PC] = {
    ("Winter open day", "zurich"): PC.declined,
    ("Spring members' week", "hamburg"): PC.expired,
    ("Spring members' week", "vienna"): PC.rejected,
    ("Summer challenge", "munich"): PC.declined,
}
SECOND_ROUND = {("Spring members' week", "amsterdam"), ("Summer challenge", "vienna")}
# Median waits per region (hours): invitation to submission, the GM, the region manager; brand
# review is HQ's and the same everywhere.
PACE = {
    "North": {"submit": 40.0, "gm": 5.0, "region": 8.0},
    "South": {"submit": 90.0, "gm": 30.0, "region": 20.0},
}
BRAND_REVIEW_HOURS = 6.0
HISTORY_TABLES = (
    "campaign",
    "partnercampaign",
    "transitionfact",
    "cycletime",
    "contentrefusal",
    "delivery",
    "deliveryevent",
)
REFUSALS = (
    ("headline", "restricted_word"),
    ("intro", "too_long"),
    ("hero_image", "asset_expired"),
)


@dataclass
class _Timeline:
    """One partner campaign's facts as its projections would write them."""

    pc: PartnerCampaign
    facts: list[TransitionFact] = field(default_factory=list)
    cycles: list[CycleTime] = field(default_factory=list)
    state: str = PC.invited.value

    def _ids(self) -> dict[str, int]:
        pc = self.pc
        assert pc.id is not None
        return {
            "brand_id": pc.brand_id,
            "region_id": pc.region_id,
            "partner_id": pc.partner_id,
            "campaign_id": pc.campaign_id,
            "partner_campaign_id": pc.id,
        }

    def move(
        self,
        event: str,
        to: str,
        at: datetime,
        *,
        stage: str | None = None,
        next_stage: str | None = None,
        actor_id: int | None = None,
        revision: int = 0,
    ) -> TransitionFact:
        fact = TransitionFact(
            key=f"{KEY}:{self.pc.id}:{len(self.facts) + 1}",
            seq=len(self.facts) + 1,
            event=event,
            from_state=self.state,
            to_state=to,
            stage=stage,
            next_stage=next_stage,
            actor_id=actor_id,
            revision=revision,
            at=at,
            **self._ids(),
        )
        self.facts.append(fact)
        self.state = to
        return fact

    def waited(
        self, kind: CycleKind, started: datetime, ended: TransitionFact, stage: str | None = None
    ) -> None:
        self.cycles.append(
            CycleTime(
                key=f"{ended.key}:{kind.value}",
                kind=kind.value,
                stage=stage,
                outcome=ended.event,
                started_at=started,
                ended_at=ended.at,
                seconds=int((ended.at - started).total_seconds()),
                **self._ids(),
            )
        )


def _hours(rng: random.Random, median: float) -> timedelta:
    """A right-skewed wait around `median` hours (log-normal, as approval waits are)."""
    return timedelta(hours=max(0.2, rng.lognormvariate(0, 0.6) * median))


@dataclass(frozen=True)
class HistorySeeded:
    campaigns: int
    partner_campaigns: int
    facts: int
    deliveries: int
    events: int


def seed_demo_history(session: Session, now: datetime | None = None) -> HistorySeeded:
    """Adds the past campaigns that are missing; returns what it wrote (zeros on a re-run)."""
    brand = session.exec(select(Brand).where(Brand.slug == NORTHWIND.slug)).first()
    if brand is None or brand.id is None:
        return HistorySeeded(0, 0, 0, 0, 0)
    now = now or utcnow()
    domain = NORTHWIND.domain
    users = {
        u.email: int(u.id or 0)
        for u in session.exec(select(User).where(User.brand_id == brand.id)).all()
    }
    version = session.exec(
        select(TemplateVersion)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(
            Template.brand_id == brand.id,
            Template.name == "Open day",
            TemplateVersion.state == TemplateState.published,
        )
    ).first()
    if version is None or version.id is None:
        return HistorySeeded(0, 0, 0, 0, 0)
    # The demo's "Standard" chain (scripts.demo.approvals), as a launch pins it; else the
    # built-in GM approval.
    pinned = session.exec(
        select(ApprovalPolicy.id, ApprovalPolicyVersion.id)
        .join(ApprovalPolicy, col(ApprovalPolicy.id) == col(ApprovalPolicyVersion.policy_id))
        .where(ApprovalPolicy.brand_id == brand.id, ApprovalPolicy.name == STANDARD)
        .order_by(col(ApprovalPolicyVersion.number).desc())
    ).first()
    policy_id, policy_version = pinned if pinned else (None, None)
    slugs = [p.slug for ps in NORTHWIND.regions.values() for p in ps]
    partners = session.exec(
        select(Partner, Region.name)
        .join(Region, col(Region.id) == col(Partner.region_id))
        .where(Partner.brand_id == brand.id, col(Partner.slug).in_(slugs))
        .order_by(col(Partner.slug))
    ).all()
    existing = set(
        session.exec(
            select(Campaign.name).where(
                Campaign.brand_id == brand.id,
                col(Campaign.name).in_([name for name, _ in HISTORY]),
            )
        ).all()
    )
    done = HistorySeeded(0, 0, 0, 0, 0)
    for name, weeks in HISTORY:
        if name in existing:
            continue
        launched = (now - timedelta(weeks=weeks)).replace(microsecond=0)
        campaign = Campaign(
            brand_id=brand.id,
            name=name,
            template_version_id=version.id,
            target={"all": True},
            personalise_until=launched + timedelta(days=7),
            send_by=launched + timedelta(days=12),
            approval_policy=STANDARD if policy_id else "gm",
            approval_policy_id=policy_id,
            approval_policy_version_id=policy_version,
            state=CampaignState.completed,
            created_by=users[f"marketing@{domain}"],
            launched_at=launched,
            created_at=launched - timedelta(hours=2),
            updated_at=launched + timedelta(days=12),
        )
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        campaign.workflow_id = campaign_workflow_id(campaign.id)
        pcs = 0
        facts = deliveries = events = 0
        for partner, region_name in partners:
            rng = random.Random(f"brandrelay-history-{name}-{partner.slug}")
            f, d, e = _partner_history(
                session,
                rng,
                campaign,
                partner,
                region_name,
                users,
                ENDINGS.get((name, partner.slug), PC.sent),
                (name, partner.slug) in SECOND_ROUND,
                policy_version,
            )
            pcs, facts, deliveries, events = pcs + 1, facts + f, deliveries + d, events + e
        done = HistorySeeded(
            done.campaigns + 1,
            done.partner_campaigns + pcs,
            done.facts + facts,
            done.deliveries + deliveries,
            done.events + events,
        )
    if done.campaigns:
        # Planner statistics now: on fresh estimates PostgreSQL chose a nested loop for the
        # first-open counts that took 450 ms instead of 5 ms until autovacuum came round.
        analyze(session, *HISTORY_TABLES)
    session.flush()
    return done


def _partner_history(
    session: Session,
    rng: random.Random,
    campaign: Campaign,
    partner: Partner,
    region_name: str,
    users: dict[str, int],
    ending: PC,
    second_round: bool,
    policy_version: int | None,
) -> tuple[int, int, int]:
    """One partner's campaign from invitation to its end; returns (facts, deliveries, events)."""
    assert campaign.id is not None and partner.id is not None and campaign.launched_at
    domain = NORTHWIND.domain
    editor, gm = users[f"editor.{partner.slug}@{domain}"], users[f"gm.{partner.slug}@{domain}"]
    manager = users.get(f"{NORTHWIND.region_managers.get(region_name, '')}@{domain}")
    reviewer = users[f"brand2@{domain}"]
    pace = PACE.get(region_name, PACE["North"])
    eligible = session.exec(
        select(Contact.id, Contact.email)
        .where(
            Contact.partner_id == partner.id,
            Contact.consent_status == ConsentStatus.granted.value,
        )
        .order_by(col(Contact.id))
    ).all()
    opened_at = campaign.launched_at + timedelta(minutes=rng.randint(1, 20))
    pc = PartnerCampaign(
        campaign_id=campaign.id,
        brand_id=campaign.brand_id,
        region_id=partner.region_id,
        partner_id=partner.id,
        state=ending,
        approval_policy_version_id=policy_version,
        locale=partner.locale,
        values={"headline": f"{campaign.name} at {partner.city}"},
        audience={"matching": len(eligible), "eligible": len(eligible)},
        workflow_id=partner_campaign_workflow_id(campaign.id, partner.id),
        created_at=opened_at,
    )
    session.add(pc)
    session.flush()
    t = _Timeline(pc)
    opened = t.move("open", PC.drafting, opened_at)
    at = opened_at + _hours(rng, pace["submit"] / 4)
    t.move("save", PC.drafting, at, actor_id=editor)
    if rng.random() < 0.5:
        fld, rule = REFUSALS[rng.randrange(len(REFUSALS))]
        session.add(
            ContentRefusal(
                actor_id=editor,
                action=rng.choice(("save", "submit")),
                rule=rule,
                field=fld,
                at=at + timedelta(minutes=5),
                **t._ids(),
            )
        )
    if ending in (PC.declined, PC.expired):
        closed = campaign.launched_at + (
            timedelta(days=2) + _hours(rng, 10) if ending == PC.declined else timedelta(days=7)
        )
        t.move(
            "decline" if ending == PC.declined else "expire",
            ending,
            closed,
            actor_id=gm if ending == PC.declined else None,
        )
        return _finish(session, t, pc, closed, [])
    submitted_at = opened_at + _hours(rng, pace["submit"])
    revision = 1
    submit = t.move(
        "submit",
        PC.pending_approval,
        submitted_at,
        next_stage="gm",
        actor_id=editor,
        revision=revision,
    )
    t.waited(CycleKind.to_submission, opened.at, submit)
    pc.submitted_by = editor
    large = len(eligible) > 50
    stages = [("gm", gm, pace["gm"])]
    if large and manager:
        stages.append(("region", manager, pace["region"]))
    stages.append(("brand_review", reviewer, BRAND_REVIEW_HOURS))
    if second_round:
        at = submit.at + _hours(rng, pace["gm"])
        back = t.move(
            "request_changes", PC.changes_requested, at, stage="gm", actor_id=gm, revision=revision
        )
        t.waited(CycleKind.stage, submit.at, back, "gm")
        t.waited(CycleKind.to_approval, submit.at, back)
        at += _hours(rng, 6)
        t.move("save", PC.drafting, at, actor_id=editor, revision=revision)
        revision = 2
        submit = t.move(
            "submit",
            PC.pending_approval,
            at + timedelta(minutes=10),
            next_stage="gm",
            actor_id=editor,
            revision=revision,
        )
    started = submit.at
    for i, (stage, who, median) in enumerate(stages):
        wait = _hours(rng, median)
        if stage == "gm" and wait > timedelta(days=4) and manager:
            t.move(
                "escalate",
                PC.pending_approval,
                started + timedelta(days=4),
                stage="gm",
                revision=revision,
            )
            pc.escalation_level = 1
        at = started + wait
        last = i == len(stages) - 1
        if ending == PC.rejected and stage == "gm":
            end = t.move("reject", PC.rejected, at, stage=stage, actor_id=who, revision=revision)
            t.waited(CycleKind.stage, started, end, stage)
            t.waited(CycleKind.to_approval, submit.at, end)
            pc.decided_by = who
            pc.decision_comment = "The offer does not match the brand's price list."
            return _finish(session, t, pc, at, [])
        if last:
            end = t.move("approve", PC.approved, at, stage=stage, actor_id=who, revision=revision)
            t.waited(CycleKind.to_approval, submit.at, end)
        else:
            end = t.move(
                "advance",
                PC.pending_approval,
                at,
                stage=stage,
                next_stage=stages[i + 1][0],
                actor_id=who,
                revision=revision,
            )
        t.waited(CycleKind.stage, started, end, stage)
        started = at
    pc.decided_by = reviewer
    pc.revision = revision
    send_at = max(started + timedelta(hours=2), campaign.launched_at + timedelta(days=8))
    t.move(
        "schedule",
        PC.scheduled,
        started + timedelta(minutes=30),
        actor_id=editor,
        revision=revision,
    )
    t.move("start_sending", PC.sending, send_at, revision=revision)
    finished = send_at + timedelta(minutes=len(eligible) // 20 + 1)
    t.move("finish", PC.sent, finished, revision=revision)
    pc.send_at = send_at
    return _finish(session, t, pc, finished, [(int(i or 0), e) for i, e in eligible], rng)


def _finish(
    session: Session,
    t: _Timeline,
    pc: PartnerCampaign,
    end: datetime,
    recipients: list[tuple[int, str]],
    rng: random.Random | None = None,
) -> tuple[int, int, int]:
    pc.last_seq = len(t.facts)
    pc.updated_at = end
    session.add(pc)
    session.add_all(t.facts)
    session.add_all(t.cycles)
    if not recipients or rng is None:
        return len(t.facts), 0, 0
    deliveries, events = _ledger(session, pc, recipients, rng)
    return len(t.facts), deliveries, events


def _ledger(
    session: Session, pc: PartnerCampaign, recipients: list[tuple[int, str]], rng: random.Random
) -> tuple[int, int]:
    """The send's ledger rows and what happened to each message after it left."""
    assert pc.id is not None and pc.send_at is not None
    sent_at = pc.send_at
    rows: list[dict[str, Any]] = []
    for n, (contact_id, email) in enumerate(recipients):
        roll = rng.random()
        status = (
            DeliveryStatus.sent
            if roll < 0.97
            else DeliveryStatus.failed
            if roll < 0.99
            else DeliveryStatus.suppressed
        )
        at = sent_at + timedelta(seconds=3 * n)
        rows.append(
            {
                "partner_campaign_id": pc.id,
                "brand_id": pc.brand_id,
                "partner_id": pc.partner_id,
                "contact_id": contact_id,
                "email": email,
                "status": status,
                "attempts": 1,
                "message_id": f"<{KEY}-{pc.id}-{contact_id}@northwind.example>",
                "error": "mailbox unavailable" if status == DeliveryStatus.failed else None,
                "permanent": status == DeliveryStatus.failed,
                "created_at": sent_at,
                "updated_at": at,
                "sent_at": at if status == DeliveryStatus.sent else None,
            }
        )
    session.execute(insert(Delivery), rows)
    sent = session.exec(
        select(Delivery.id, Delivery.sent_at)
        .where(Delivery.partner_campaign_id == pc.id, Delivery.status == DeliveryStatus.sent)
        .order_by(col(Delivery.id))
    ).all()
    events: list[dict[str, Any]] = []

    def event(delivery_id: int, kind: str, at: datetime, source: str, **extra: Any) -> None:
        n = sum(1 for e in events if e["delivery_id"] == delivery_id and e["kind"] == kind)
        events.append(
            {
                "delivery_id": delivery_id,
                "brand_id": pc.brand_id,
                "partner_id": pc.partner_id,
                "partner_campaign_id": pc.id,
                "kind": kind,
                "source": source,
                "key": f"{KEY}:{delivery_id}:{kind}:{n}",
                "at": at,
                "url": extra.get("url"),
                "detail": extra.get("detail"),
            }
        )

    link = "https://northwind.example/open-day"
    for delivery_id, at_or_none in sent:
        assert delivery_id is not None and at_or_none is not None
        at = at_or_none
        if rng.random() < 0.02:
            event(delivery_id, "bounced", at + timedelta(minutes=1), "ses", detail="Permanent")
            continue
        event(delivery_id, "delivered", at + timedelta(seconds=20), "ses")
        if rng.random() < 0.003:
            event(delivery_id, "complained", at + timedelta(hours=5), "ses")
        if rng.random() < 0.45:
            seen = at + _hours(rng, 8)
            for k in range(rng.choice((1, 1, 1, 2, 3))):
                event(delivery_id, "opened", seen + timedelta(hours=k * 20), "tracking")
            if rng.random() < 0.3:
                for k in range(rng.choice((1, 1, 2))):
                    event(
                        delivery_id,
                        "clicked",
                        seen + timedelta(minutes=2 + k * 30),
                        "tracking",
                        url=link,
                    )
            if rng.random() < 0.01:
                event(delivery_id, "unsubscribed", seen + timedelta(minutes=5), "preferences")
    if events:
        session.execute(insert(DeliveryEvent), events)
    return len(rows), len(events)
