"""Reporting facts written inside the projection of a partner campaign's transition (same
transaction and key as its audit event, so a retried projection writes nothing twice)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from models.campaigns import PartnerCampaign
from models.reporting import ContentRefusal, CycleKind, CycleTime, TransitionFact
from models.workflow_io import PartnerTransition

# Events after which the chain's stage that waited is decided.
STAGE_DECISIONS = frozenset({"approve", "advance", "request_changes", "reject"})
# Events that end a submission's wait for its chain.
SUBMISSION_ENDS = frozenset({"approve", "request_changes", "reject"})
# Events that start a stage waiting (notes such as vote or remind do not restart it).
STAGE_STARTS = frozenset({"submit", "advance"})


def utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def record_transition(
    session: Session, row: PartnerCampaign, t: PartnerTransition, key: str
) -> None:
    """The transition's fact and the cycle times it ends."""
    entry = t.entry
    fact = TransitionFact(
        key=key,
        brand_id=row.brand_id,
        region_id=row.region_id,
        partner_id=row.partner_id,
        campaign_id=row.campaign_id,
        partner_campaign_id=t.partner.partner_campaign_id,
        seq=entry.seq,
        event=entry.event,
        from_state=entry.from_state,
        to_state=entry.to_state,
        stage=entry.stage,
        next_stage=t.stage.name if t.stage else None,
        actor_id=entry.actor_id,
        on_behalf_of=entry.on_behalf_of,
        revision=t.revision,
        at=entry.at,
    )
    earlier = session.exec(
        select(TransitionFact).where(
            TransitionFact.partner_campaign_id == fact.partner_campaign_id,
            col(TransitionFact.seq) < fact.seq,
        )
    ).all()
    for cycle in ended_cycles(row, fact, earlier):
        session.add(cycle)
    session.add(fact)


def ended_cycles(
    row: PartnerCampaign, fact: TransitionFact, earlier: Sequence[TransitionFact]
) -> list[CycleTime]:
    """The cycle times `fact` ends, given the partner campaign's facts before it (any order):
    shared by the projection and the backfill from the audit trail, so both measure alike."""
    return [
        CycleTime(
            key=f"{fact.key}:{kind.value}",
            brand_id=row.brand_id,
            region_id=row.region_id,
            partner_id=row.partner_id,
            campaign_id=row.campaign_id,
            partner_campaign_id=fact.partner_campaign_id,
            kind=kind.value,
            stage=stage,
            outcome=fact.event,
            started_at=started,
            ended_at=fact.at,
            seconds=max(0, int((utc(fact.at) - utc(started)).total_seconds())),
        )
        for kind, stage, started in _ended_waits(row, fact, earlier)
    ]


def _ended_waits(
    row: PartnerCampaign, fact: TransitionFact, earlier: Sequence[TransitionFact]
) -> list[tuple[CycleKind, str | None, datetime]]:
    before = sorted((f for f in earlier if f.seq < fact.seq), key=lambda f: f.seq)
    out: list[tuple[CycleKind, str | None, datetime]] = []
    if fact.event == "submit" and fact.revision == 1:
        out.append((CycleKind.to_submission, None, before[0].at if before else row.created_at))
    if fact.event in STAGE_DECISIONS and fact.stage:
        starts = [f for f in before if f.next_stage == fact.stage and f.event in STAGE_STARTS]
        if starts:
            out.append((CycleKind.stage, fact.stage, starts[-1].at))
    if fact.event in SUBMISSION_ENDS:
        submitted = [f for f in before if f.event == "submit"]
        if submitted:
            out.append((CycleKind.to_approval, None, submitted[-1].at))
    return out


def record_refusals(
    session: Session,
    row: PartnerCampaign,
    actor_id: int | None,
    action: str,
    errors: list[tuple[str, str]],
) -> None:
    """A refused save or submit: one row per (field, rule) the validation named."""
    assert row.id is not None
    for field, rule in errors:
        session.add(
            ContentRefusal(
                brand_id=row.brand_id,
                region_id=row.region_id,
                partner_id=row.partner_id,
                campaign_id=row.campaign_id,
                partner_campaign_id=row.id,
                actor_id=actor_id,
                action=action,
                rule=rule[:40],
                field=field[:100],
            )
        )
