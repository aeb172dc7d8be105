"""The demo's approval policy and a delegation: Northwind's "Standard" chain and a brand
reviewer on holiday.

Standard: the club's GM (reminded after 2 days, escalated to the region manager after 4);
the region manager too when the send reaches more than 50 members; brand review, any one of
the two brand reviewers, for templates tagged `offer` (the demo's Open day is). brand@ is on
holiday and has named ops@ as stand-in: ops@ sees brand@'s approvals and decides them in its
own name, on brand@'s behalf.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from approvals.policy import (
    Approver,
    ApproverRole,
    Condition,
    Fact,
    Operator,
    PolicySpec,
    Stage,
    Timeout,
    TimeoutAction,
)
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion, Delegation
from models.base import utcnow
from models.org import Brand, User

DAY = 86400
STANDARD = "Standard"
HOLIDAY = timedelta(days=30)


def standard_spec() -> PolicySpec:
    return PolicySpec(
        stages=[
            Stage(
                name="gm",
                label="The club's GM",
                approvers=[Approver(role=ApproverRole.partner_gm)],
                timeouts=[
                    Timeout(after=2 * DAY, action=TimeoutAction.remind),
                    Timeout(
                        after=4 * DAY,
                        action=TimeoutAction.escalate,
                        to=[Approver(role=ApproverRole.region_manager)],
                    ),
                ],
            ),
            Stage(
                name="region",
                label="Region manager (large sends)",
                approvers=[Approver(role=ApproverRole.region_manager)],
                when=Condition(fact=Fact.audience_size, op=Operator.gt, value=50),
                timeouts=[Timeout(after=2 * DAY, action=TimeoutAction.remind)],
            ),
            Stage(
                name="brand_review",
                label="Brand review (offers)",
                approvers=[Approver(role=ApproverRole.brand_reviewer)],
                when=Condition(fact=Fact.template_tags, op=Operator.contains, value="offer"),
                timeouts=[Timeout(after=2 * DAY, action=TimeoutAction.remind)],
            ),
        ]
    )


def seed_demo_approvals(session: Session) -> None:
    """Idempotent: the policy and the delegation are added once."""
    brand = session.exec(select(Brand).where(Brand.slug == "northwind")).first()
    if brand is None or brand.id is None:
        return
    users = {u.email: u for u in session.exec(select(User).where(User.brand_id == brand.id))}
    admin, reviewer, stand_in = (
        users["admin@northwind.example"],
        users["brand@northwind.example"],
        users["ops@northwind.example"],
    )
    policy = session.exec(
        select(ApprovalPolicy).where(
            ApprovalPolicy.brand_id == brand.id, ApprovalPolicy.name == STANDARD
        )
    ).first()
    if policy is None:
        policy = ApprovalPolicy(
            brand_id=brand.id,
            name=STANDARD,
            description="The club's GM; the region manager for large sends; brand review "
            "for offers.",
            created_by=admin.id or 0,
        )
        session.add(policy)
        session.flush()
        session.add(
            ApprovalPolicyVersion(
                policy_id=policy.id or 0,
                brand_id=brand.id,
                number=1,
                spec=standard_spec().model_dump(mode="json"),
                created_by=admin.id or 0,
            )
        )
    delegated = session.exec(
        select(Delegation).where(
            Delegation.user_id == reviewer.id, Delegation.delegate_id == stand_in.id
        )
    ).first()
    if delegated is None:
        now = utcnow()
        session.add(
            Delegation(
                brand_id=brand.id,
                user_id=reviewer.id or 0,
                delegate_id=stand_in.id or 0,
                starts_at=now,
                ends_at=now + HOLIDAY,
                note="On holiday: ops@ decides brand reviews in the meantime.",
            )
        )
    session.flush()
