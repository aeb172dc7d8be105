"""The facts a partner campaign's approval chain reads, gathered when it is submitted: the
audience the send would reach, what it is expected to cost and how far HQ's share of that is
beyond the partner's co-op fund (services.funds.facts), the template's tags, the region, the
channel, the slot values, and who holds each approver role for this partner (the rules "all"
and "quorum" count on them).

The workflow has no database; the API gathers these once per submission and hands them over
with the Update, and the chain evaluates each stage's condition against them when it gets
there. `explain` uses the same facts for its dry run.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from approvals.engine import ROLE_GRANTS
from approvals.facts import ApprovalFacts
from content.spec import TemplateContent
from core.policy import Target
from domain.roles import ScopeType
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Segment
from models.org import Membership, User
from models.templates import TemplateVersion
from services import segments
from services.funds.facts import campaign_costs, money_facts_multi


def role_holders_at(session: Session, target: Target) -> dict[str, list[int]]:
    """Active users holding each approver role over an object at `target` (a partner
    campaign, a print order, a claim): what ApprovalFacts.role_holders wants (the rules "all"
    and "quorum" count against it)."""
    out: dict[str, list[int]] = {}
    for approver_role, (role, scope) in ROLE_GRANTS.items():
        stmt = (
            select(Membership.user_id)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(
                col(User.is_active),
                Membership.brand_id == target.brand_id,
                Membership.role == role.value,
                Membership.scope_type == scope.value,
            )
        )
        if scope == ScopeType.partner:
            stmt = stmt.where(Membership.partner_id == target.partner_id)
        elif scope == ScopeType.region:
            stmt = stmt.where(Membership.region_id == target.region_id)
        out[approver_role.value] = sorted(set(session.exec(stmt).all()))
    return out


def role_holders(session: Session, row: PartnerCampaign) -> dict[str, list[int]]:
    """Active users holding each approver role over this partner campaign."""
    return role_holders_at(session, Target(row.brand_id, row.region_id, row.partner_id))


def gather(
    session: Session,
    row: PartnerCampaign,
    *,
    segment_id: int | None,
    values: dict[str, Any] | None = None,
) -> ApprovalFacts:
    """The facts of submitting `row` to `segment_id` (None: everyone) with `values` (None:
    the saved ones)."""
    campaign = session.get(Campaign, row.campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    content = TemplateContent.model_validate(version.content) if version else None
    segment = session.get(Segment, segment_id) if segment_id else None
    rules = dict(segment.filter) if segment is not None else {}
    sms = content is not None and content.sms is not None
    audience = segments.audience_breakdown(session, row.brand_id, row.partner_id, rules, sms=sms)
    given = values if values is not None else row.values
    slots = {**(campaign.defaults if campaign else {}), **given}
    costs = campaign_costs(session, row.brand_id, audience.eligible_email, audience.eligible_sms)
    on = (row.send_at or utcnow()).date()
    expected_cost, shortfall = money_facts_multi(session, row.partner_id, costs, on)
    return ApprovalFacts(
        audience_size=audience.eligible,
        expected_cost=expected_cost,
        fund_shortfall=shortfall,
        template_tags=list(content.tags) if content else [],
        region_id=row.region_id,
        channel="email",
        slots=slots,
        role_holders=role_holders(session, row),
    )
