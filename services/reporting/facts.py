"""Reporting facts written inside the projection of a partner campaign's transition (same
transaction and key as its audit event, so a retried projection writes nothing twice)."""

from __future__ import annotations

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
    for kind, stage, started in _ended_waits(session, row, t):
        seconds = max(0, int((utc(entry.at) - utc(started)).total_seconds()))
        session.add(
            CycleTime(
                key=f"{key}:{kind.value}",
                brand_id=row.brand_id,
                region_id=row.region_id,
                partner_id=row.partner_id,
                campaign_id=row.campaign_id,
                partner_campaign_id=fact.partner_campaign_id,
                kind=kind.value,
                stage=stage,
                outcome=entry.event,
                started_at=started,
                ended_at=entry.at,
                seconds=seconds,
            )
        )
    session.add(fact)


def _ended_waits(
    session: Session, row: PartnerCampaign, t: PartnerTransition
) -> list[tuple[CycleKind, str | None, datetime]]:
    entry = t.entry
    pcid = t.partner.partner_campaign_id
    earlier = select(TransitionFact).where(
        TransitionFact.partner_campaign_id == pcid, col(TransitionFact.seq) < entry.seq
    )
    out: list[tuple[CycleKind, str | None, datetime]] = []
    if entry.event == "submit" and t.revision == 1:
        opened = session.exec(earlier.order_by(col(TransitionFact.seq)).limit(1)).first()
        out.append((CycleKind.to_submission, None, opened.at if opened else row.created_at))
    if entry.event in STAGE_DECISIONS and entry.stage:
        start = session.exec(
            earlier.where(
                TransitionFact.next_stage == entry.stage,
                col(TransitionFact.event).in_(list(STAGE_STARTS)),
            ).order_by(col(TransitionFact.seq).desc())
        ).first()
        if start is not None:
            out.append((CycleKind.stage, entry.stage, start.at))
    if entry.event in SUBMISSION_ENDS:
        submitted = session.exec(
            earlier.where(TransitionFact.event == "submit").order_by(col(TransitionFact.seq).desc())
        ).first()
        if submitted is not None:
            out.append((CycleKind.to_approval, None, submitted.at))
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
