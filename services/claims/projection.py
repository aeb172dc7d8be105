"""What the ClaimWorkflow's steps write: the draft's lines and evidence, the row's state, its
audit events and, when approved or paid, the fund ledger. Each write is idempotent (audit event
keys and ledger keys), so a retried activity adds nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from core.settings import Settings
from domain.money import ClaimState, LedgerKind
from models.audit import AuditEvent
from models.base import utcnow
from models.campaigns import PartnerCampaign
from models.claim_io import ClaimTransition
from models.claims import Claim
from models.funds import Fund
from models.print_orders import PrintOrder
from services.audit import NewEvent, append_in
from services.claims import drafting
from services.funds.ledger import Movement, post, share_of
from storage.base import BlobStore

LOCAL = "local"  # the channel of a GM's invoice for local spend


def _audit(
    session: Session,
    claim: Claim,
    action: str,
    key: str,
    actor: str,
    after: dict[str, object],
    comment: str | None = None,
    workflow_id: str | None = None,
    run_id: str | None = None,
) -> None:
    append_in(
        session,
        NewEvent(
            brand_id=claim.brand_id,
            region_id=claim.region_id,
            partner_id=claim.partner_id,
            actor=actor,
            action=action,
            entity_type="claim",
            entity_id=str(claim.id),
            event_key=key,
            after=after,
            comment=comment,
            workflow_id=workflow_id,
            run_id=run_id,
        ),
    )


def drafted_key(claim_id: int) -> str:
    return f"claim-{claim_id}-drafted"


def compute(
    session: Session, settings: Settings, store: BlobStore, claim_id: int
) -> drafting.Draft | None:
    """The draft from real spend, its evidence files stored; None when there is nothing to
    write (drafted already, or the spend went away between start and draft). Reads only, so
    it runs before the write lock is taken (drawing the email reads through sessions of its
    own)."""
    claim = session.get(Claim, claim_id)
    if claim is None or _drafted(session, claim_id):
        return None
    if claim.partner_campaign_id is not None:
        pc = session.get(PartnerCampaign, claim.partner_campaign_id)
        assert pc is not None
        return drafting.for_partner_campaign(session, settings, store, pc, claim_id)
    po = session.get(PrintOrder, claim.print_order_id)
    assert po is not None
    return drafting.for_print_order(session, po)


def _drafted(session: Session, claim_id: int) -> bool:
    key = drafted_key(claim_id)
    return (
        session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first() is not None
    )


def write_draft(session: Session, claim_id: int, found: drafting.Draft | None, actor: str) -> None:
    """Lines, evidence and amounts with the audit event `claim.drafted`, in one transaction
    (once: a retry finds the event)."""
    claim = session.get(Claim, claim_id)
    if claim is None or _drafted(session, claim_id):
        return
    if found is not None:
        claim.lines = [*found.lines, *claim.lines]
        claim.evidence = [*found.evidence, *claim.evidence]
    drafting.recompute(session, claim)
    claim.updated_at = utcnow()
    session.add(claim)
    _audit(
        session,
        claim,
        "claim.drafted",
        drafted_key(claim_id),
        actor,
        {
            "to": claim.state.value,
            "lines": len(claim.lines),
            "evidence": [e.get("kind") for e in claim.evidence],
            "spend_minor": claim.spend_minor,
            "claimed_minor": claim.claimed_minor,
            "currency": claim.currency,
        },
        None if found is not None else "nothing was booked for it any more",
        workflow_id=claim.workflow_id or None,
    )


def draft(session: Session, settings: Settings, store: BlobStore, claim_id: int) -> None:
    """compute and write_draft in one session (tests, tools)."""
    found = compute(session, settings, store, claim_id)
    if found is not None or not _drafted(session, claim_id):
        write_draft(session, claim_id, found, "system")


def _book_invoices(session: Session, claim: Claim, actor: str) -> None:
    """The GM's local spend, accepted by HQ, is spend against the fund like any other."""
    fund = session.get(Fund, claim.fund_id)
    assert fund is not None and claim.id is not None
    for n, line in enumerate(claim.lines):
        if line.get("source") != "invoice":
            continue
        gross = int(line["gross_minor"])
        post(
            session,
            fund,
            Movement(
                kind=LedgerKind.spend,
                amount_minor=-share_of(gross, claim.coop_share_bp),
                gross_minor=gross,
                channel=LOCAL,
                quantity=1,
                claim_id=claim.id,
                key=f"spend-claim-{claim.id}-{n}",
                actor=actor,
                note=str(line.get("description", ""))[:500],
            ),
        )


def _pay(session: Session, claim: Claim, actor: str, by_user_id: int | None) -> None:
    fund = session.get(Fund, claim.fund_id)
    assert fund is not None and claim.id is not None
    post(
        session,
        fund,
        Movement(
            kind=LedgerKind.claim_paid,
            amount_minor=0,
            paid_minor=claim.claimed_minor,
            claim_id=claim.id,
            key=f"paid-claim-{claim.id}",
            actor=actor,
            note=f"payment {claim.payment_reference}",
            by_user_id=by_user_id,
        ),
    )


def apply(session: Session, t: ClaimTransition) -> None:
    claim = session.get(Claim, t.claim_id)
    if claim is None:
        return
    key = f"claim-{t.claim_id}-{t.workflow_id}-{t.seq}-{t.event}"
    if session.exec(select(AuditEvent.id).where(AuditEvent.event_key == key)).first():
        return  # projected already (a retried activity)
    actor = f"user:{t.actor_id}" if t.actor_id is not None else f"workflow:{t.workflow_id}"
    to = ClaimState(t.to_state)
    claim.state = to
    claim.updated_at = t.at
    if t.event == "confirmed":
        claim.confirmed_by = t.actor_id
        claim.confirmed_at = t.at
        drafting.recompute(session, claim)  # the lines the GM confirmed, invoices included
    elif t.event == "state_changed" and to in (ClaimState.approved, ClaimState.rejected):
        claim.decided_at = t.at
        if to == ClaimState.approved:
            _book_invoices(session, claim, actor)
    elif t.event == "paid":
        claim.paid_at = t.at
        claim.payment_reference = t.payment_reference
        _pay(session, claim, actor, t.actor_id)
    if t.comment and to in (ClaimState.rejected, ClaimState.expired, ClaimState.draft):
        claim.note = t.comment[:1000] if t.event != "reminded" else claim.note
    session.add(claim)
    _audit(
        session,
        claim,
        f"claim.{t.event}",
        key,
        actor,
        {
            "from": t.from_state,
            "to": t.to_state,
            "spend_minor": claim.spend_minor,
            "claimed_minor": claim.claimed_minor,
            "currency": claim.currency,
            "payment_reference": t.payment_reference or None,
        },
        t.comment,
        t.workflow_id,
        t.run_id,
    )
