"""Reporting facts for partner campaign transitions projected before the facts existed, read
back from the audit trail, then every closed day rolled up again.

Each transition's audit event carries what its fact needs: the key ("<workflow id>:<seq>:
<event>"), the state before and after, the stage decided and the stage waiting after, the
actor and on whose behalf, the time. The revision is not stored: it is the number of
submissions up to the transition (the workflow counts it the same way). Cycle times come from
services.reporting.facts.ended_cycles, the projection's own computation, over the partner
campaign's facts old and new; keys already present are kept as they are, so running it twice
writes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.states import PartnerCampaignState
from models.audit import AuditEvent
from models.campaigns import PartnerCampaign
from models.reporting import CycleTime, TransitionFact
from services.reporting.facts import ended_cycles
from services.reporting.rollup import RollupResult, brands_to_roll, roll_up

ENTITY = "partner_campaign"
ACTION_PREFIX = "partner_campaign."
CHUNK = 500


@dataclass
class FactBackfill:
    partner_campaigns: int = 0
    facts: int = 0
    cycle_times: int = 0
    already_present: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass
class BackfillReport:
    facts: FactBackfill
    rollups: list[RollupResult]


def parse_key(key: str) -> tuple[str, int, str] | None:
    """(workflow id, seq, event) of a transition key; None when it is not one."""
    parts = key.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def fact_from_audit(event: AuditEvent, row: PartnerCampaign, revision: int) -> TransitionFact:
    """The fact the projection wrote (or would have written) with this audit event."""
    parsed = parse_key(event.event_key)
    assert parsed is not None
    _, seq, name = parsed
    before, after = event.before or {}, event.after or {}
    to_state = str(after.get("state", before.get("state", "")))
    stage = after.get("stage")
    # The projection records the stage waiting after only when it differs from the stage the
    # entry concerns; the same stage still waits when the transition leaves it pending.
    next_stage = after.get("next_stage") or (
        stage if to_state == PartnerCampaignState.pending_approval else None
    )
    behalf = after.get("on_behalf_of")
    return TransitionFact(
        key=event.event_key,
        brand_id=row.brand_id,
        region_id=row.region_id,
        partner_id=row.partner_id,
        campaign_id=row.campaign_id,
        partner_campaign_id=row.id or 0,
        seq=seq,
        event=name,
        from_state=str(before.get("state", to_state)),
        to_state=to_state,
        stage=str(stage) if stage else None,
        next_stage=str(next_stage) if next_stage else None,
        actor_id=int(event.actor) if event.actor.isdigit() else None,
        on_behalf_of=int(behalf) if isinstance(behalf, int) else None,
        revision=revision,
        at=event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=UTC),
    )


def _partner_campaign_ids(engine: Engine, brand_id: int | None) -> list[int]:
    query = select(AuditEvent.entity_id).where(
        AuditEvent.entity_type == ENTITY, col(AuditEvent.action).startswith(ACTION_PREFIX)
    )
    if brand_id is not None:
        query = query.where(AuditEvent.brand_id == brand_id)
    with Session(engine) as session:
        found = session.exec(query.distinct()).all()
    return sorted(int(i) for i in found if i.isdigit())


def backfill_facts(engine: Engine, brand_id: int | None = None) -> FactBackfill:
    """Write the missing facts and cycle times, CHUNK partner campaigns per transaction."""
    out = FactBackfill()
    ids = _partner_campaign_ids(engine, brand_id)
    for i in range(0, len(ids), CHUNK):
        with Session(engine) as session:
            _backfill_chunk(session, ids[i : i + CHUNK], out)
            session.commit()
    return out


def _backfill_chunk(session: Session, ids: list[int], out: FactBackfill) -> None:
    rows = {
        r.id: r
        for r in session.exec(select(PartnerCampaign).where(col(PartnerCampaign.id).in_(ids)))
    }
    events: dict[int, list[tuple[int, AuditEvent]]] = defaultdict(list)
    for event in session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == ENTITY,
            col(AuditEvent.entity_id).in_([str(i) for i in ids]),
            col(AuditEvent.action).startswith(ACTION_PREFIX),
        )
    ):
        parsed = parse_key(event.event_key)
        if parsed is None:
            out.unreadable.append(event.event_key)
            continue
        events[int(event.entity_id)].append((parsed[1], event))
    facts: dict[int, dict[str, TransitionFact]] = defaultdict(dict)
    for fact in session.exec(
        select(TransitionFact).where(col(TransitionFact.partner_campaign_id).in_(ids))
    ):
        facts[fact.partner_campaign_id][fact.key] = fact
    cycles = set(
        session.exec(select(CycleTime.key).where(col(CycleTime.partner_campaign_id).in_(ids)))
    )
    for pcid in ids:
        row = rows.get(pcid)
        if row is None:
            out.unreadable.extend(e.event_key for _, e in events[pcid])
            continue
        out.partner_campaigns += 1
        _backfill_one(session, row, events[pcid], facts[pcid], cycles, out)


def _backfill_one(
    session: Session,
    row: PartnerCampaign,
    events: Iterable[tuple[int, AuditEvent]],
    existing: dict[str, TransitionFact],
    cycles: set[str],
    out: FactBackfill,
) -> None:
    timeline = dict(existing)
    revision = 0
    for _, event in sorted(events, key=lambda p: (p[0], p[1].at)):
        if event.action == f"{ACTION_PREFIX}submit":
            revision += 1
        if event.event_key in timeline:
            out.already_present += 1
            continue
        fact = fact_from_audit(event, row, revision)
        timeline[fact.key] = fact
        session.add(fact)
        out.facts += 1
    every = list(timeline.values())
    for fact in sorted(every, key=lambda f: f.seq):
        for cycle in ended_cycles(row, fact, every):
            if cycle.key not in cycles:
                cycles.add(cycle.key)
                session.add(cycle)
                out.cycle_times += 1


def backfill(
    engine: Engine, brand_id: int | None = None, today: date | None = None
) -> BackfillReport:
    """Facts from the audit trail, then every closed day of each brand (or the one) re-closed."""
    written = backfill_facts(engine, brand_id)
    day = today or datetime.now(UTC).date()
    brands = [brand_id] if brand_id is not None else brands_to_roll(engine)
    return BackfillReport(written, [roll_up(engine, b, day, rebuild=True) for b in brands])
