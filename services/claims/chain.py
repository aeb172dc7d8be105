"""HQ's approval chain for a claim: which policy it runs, the facts its conditions read, and
who may decide it now (delegations included), all through services.approvals.chain_tasks."""

from __future__ import annotations

from sqlmodel import Session

from approvals.facts import ApprovalFacts
from core.policy import Target
from core.settings import Settings
from domain.money import ChainSubject
from models.chain_tasks import ChainTask
from models.claim_io import ClaimChainInput
from models.claims import Claim
from services.approvals.chain_tasks import claim_policy, open_task
from services.approvals.facts import role_holders_at
from services.funds.ledger import share_of


def chain_input(session: Session, settings: Settings, claim_id: int) -> ClaimChainInput:
    """Pinned when the GM confirms: the brand's claim policy and who holds each role now.
    The money facts read the claim itself: its eligible spend is the expected cost, and the
    shortfall is how much of HQ's share the fund could not cover (0 when it covered it all)."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise LookupError(f"claim {claim_id} does not exist")
    target = Target(claim.brand_id, claim.region_id, claim.partner_id)
    facts = ApprovalFacts(
        region_id=claim.region_id,
        channel=",".join(sorted({str(line.get("channel", "")) for line in claim.lines})),
        role_holders=role_holders_at(session, target),
        expected_cost=claim.spend_minor,
        fund_shortfall=share_of(claim.spend_minor, claim.coop_share_bp) - claim.claimed_minor,
    )
    return ClaimChainInput(policy=claim_policy(session, claim.brand_id, settings), facts=facts)


def task_of(session: Session, claim: Claim) -> ChainTask | None:
    assert claim.id is not None
    return open_task(session, ChainSubject.claim, claim.id)
