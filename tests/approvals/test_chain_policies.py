"""Which chain a claim or a print order pins (services.approvals.chain_tasks): the brand policy
CLAIM_APPROVAL_POLICY names, else the built-in "claims" chain; a print order the chain its
partner campaign pinned at launch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from approvals.policy import (
    Approver,
    ApproverRole,
    PolicySpec,
    Stage,
    Timeout,
    TimeoutAction,
)
from core.policy import Target
from core.settings import Settings
from models.approvals import ApprovalPolicyVersion
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.org import Brand, Partner, User
from models.templates import TemplateVersion
from services.accounts import principal_for
from services.approvals import policies as approval_policies
from services.approvals.chain_tasks import claim_policy, print_order_policy
from services.approvals.facts import role_holders_at
from services.org import Actor

ADMIN = "admin@northwind.example"
GM = Approver(role=ApproverRole.partner_gm)
REVIEWERS = Approver(role=ApproverRole.brand_reviewer)


def brand_id(engine: Engine, slug: str = "northwind") -> int:
    with Session(engine) as s:
        return s.exec(select(Brand.id).where(Brand.slug == slug)).one() or 0


def make_policy(engine: Engine, name: str, *stages: Stage) -> int:
    with Session(engine) as s:
        admin = principal_for(s, s.exec(select(User).where(User.email == ADMIN)).one())
        view = approval_policies.create(
            s, Actor(admin, "test"), name, "", PolicySpec(stages=list(stages))
        )
        s.commit()
        return view.policy.id or 0


def new_version(engine: Engine, policy_id: int, *stages: Stage) -> None:
    with Session(engine) as s:
        admin = principal_for(s, s.exec(select(User).where(User.email == ADMIN)).one())
        view = approval_policies.load(s, admin, policy_id)
        approval_policies.new_version(
            s, Actor(admin, "test"), view, PolicySpec(stages=list(stages))
        )
        s.commit()


def with_policy(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"claim_approval_policy": name})


def test_claims_run_the_built_in_chain_by_default(demo: Engine, settings: Settings) -> None:
    with Session(demo) as s:
        pinned = claim_policy(s, brand_id(demo), with_policy(settings, ""))
    assert pinned.name == "claims" and pinned.policy_id is None
    [stage] = pinned.spec.stages
    assert stage.approvers == [REVIEWERS]
    assert [(t.after, t.action) for t in stage.timeouts] == [(2 * 86400, TimeoutAction.remind)]


def test_claims_run_the_named_brand_policy_current_version(
    demo: Engine, settings: Settings
) -> None:
    two = [Stage(name="gm", approvers=[GM]), Stage(name="finance", approvers=[REVIEWERS])]
    policy_id = make_policy(demo, "claim review", *two)
    named = with_policy(settings, "claim review")
    with Session(demo) as s:
        pinned = claim_policy(s, brand_id(demo), named)
    assert pinned.policy_id == policy_id and pinned.version == 1
    assert [st.name for st in pinned.spec.stages] == ["gm", "finance"]

    new_version(demo, policy_id, Stage(name="finance", approvers=[REVIEWERS]))
    with Session(demo) as s:
        pinned = claim_policy(s, brand_id(demo), named)
        assert pinned.version == 2 and [st.name for st in pinned.spec.stages] == ["finance"]
        # Another brand has no such policy: it runs the built-in chain.
        assert claim_policy(s, brand_id(demo, "contoso"), named).name == "claims"
        # A name the brand does not have, and an archived policy, fall back as well.
        assert claim_policy(s, brand_id(demo), with_policy(settings, "nope")).name == "claims"
        admin = principal_for(s, s.exec(select(User).where(User.email == ADMIN)).one())
        view = approval_policies.load(s, admin, policy_id)
        approval_policies.archive(s, Actor(admin, "test"), view)
        s.commit()
        assert claim_policy(s, brand_id(demo), named).name == "claims"


def _partner_campaign(
    s: Session, brand: int, policy: str, policy_id: int | None, version_id: int | None
) -> PartnerCampaign:
    admin = s.exec(select(User).where(User.email == ADMIN)).one()
    partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
    version = s.exec(select(TemplateVersion).where(TemplateVersion.brand_id == brand)).first()
    assert version is not None and version.id is not None and admin.id is not None
    now = utcnow()
    campaign = Campaign(
        brand_id=brand,
        name="Print",
        template_version_id=version.id,
        personalise_until=now + timedelta(days=3),
        send_by=now + timedelta(days=7),
        approval_policy=policy,
        approval_policy_id=policy_id,
        remind_after=3600,
        escalate_after=7200,
        created_by=admin.id,
    )
    s.add(campaign)
    s.flush()
    assert campaign.id is not None and partner.id is not None
    row = PartnerCampaign(
        campaign_id=campaign.id,
        brand_id=brand,
        region_id=partner.region_id,
        partner_id=partner.id,
        approval_policy_version_id=version_id,
        locale=partner.locale,
        workflow_id=f"partner-campaign-{campaign.id}-{partner.id}",
    )
    s.add(row)
    s.flush()
    return row


def test_a_print_order_pins_its_partner_campaign_policy(demo: Engine) -> None:
    brand = brand_id(demo)
    remind = Timeout(after=600, action=TimeoutAction.remind)
    policy_id = make_policy(demo, "print review", Stage(name="gm", approvers=[GM]))
    new_version(demo, policy_id, Stage(name="gm", approvers=[GM], timeouts=[remind]))
    with Session(demo) as s:
        first = s.exec(
            select(ApprovalPolicyVersion).where(
                ApprovalPolicyVersion.policy_id == policy_id, ApprovalPolicyVersion.number == 1
            )
        ).one()
        pinned_first = _partner_campaign(s, brand, "print review", policy_id, first.id)
        pinned = print_order_policy(s, pinned_first)
        assert pinned.version == 1 and pinned.spec.stages[0].timeouts == []

        builtin = print_order_policy(s, _partner_campaign(s, brand, "gm_then_hq", None, None))
        assert builtin.name == "gm_then_hq" and builtin.policy_id is None
        assert [st.name for st in builtin.spec.stages] == ["gm", "hq"]
        gm_timeouts = [(t.after, t.action) for t in builtin.spec.stages[0].timeouts]
        assert gm_timeouts == [(3600, TimeoutAction.remind), (7200, TimeoutAction.escalate)]
        s.rollback()


def test_role_holders_at_a_partner(demo: Engine) -> None:
    with Session(demo) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert partner.id is not None
        holders = role_holders_at(s, Target(partner.brand_id, partner.region_id, partner.id))
        gm = s.exec(select(User).where(User.email == "gm.amsterdam@northwind.example")).one()
        north = s.exec(select(User).where(User.email == "north@northwind.example")).one()
        berlin = s.exec(select(User).where(User.email == "gm.berlin@northwind.example")).one()
    assert holders["partner_gm"] == [gm.id]
    assert holders["region_manager"] == [north.id]
    assert berlin.id not in holders["partner_gm"] and holders["brand_reviewer"]
