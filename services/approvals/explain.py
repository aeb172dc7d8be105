"""A dry run of an approval policy for one partner campaign: the facts a submission would
carry now, which stages apply, who would decide, and stages nobody could pass."""

from __future__ import annotations

from sqlmodel import Session

from approvals import engine
from approvals.facts import describe
from approvals.policy import PinnedPolicy
from approvals.validate import check_against_template
from content.spec import TemplateContent
from core.policy import Principal
from models.approval_schemas import (
    ExplainedStageRead,
    ExplainFacts,
    ExplainRead,
    Person,
)
from models.campaigns import Campaign
from models.templates import TemplateVersion
from services.accounts import display_names
from services.approvals import facts as approval_facts
from services.approvals.policies import named_approvers
from services.approvals.policy_reads import PolicyRef, approver_reads
from services.audience import check_segment
from services.campaigns import load_partner_campaign


def explain(
    session: Session,
    principal: Principal,
    ref: PolicyRef,
    partner_campaign_id: int,
    segment_id: int | None = None,
) -> ExplainRead:
    """A dry run of the policy's current version for a partner campaign the caller can read
    (404 otherwise): the facts a submission would carry now (to `segment_id`, else the
    segment it was submitted to, else everyone), which stages apply and which are skipped by
    their condition, who would decide, and stages nobody could pass. Nothing changes. The
    submitter is not known before the submission, so nobody is left out for four eyes."""
    row = load_partner_campaign(session, principal, partner_campaign_id)
    if segment_id is not None:
        check_segment(session, row, segment_id)
    chosen = segment_id if segment_id is not None else row.segment_id
    facts = approval_facts.gather(session, row, segment_id=chosen)
    version = ref.view.current if ref.view else None
    pinned = PinnedPolicy(
        name=ref.name,
        spec=ref.spec,
        policy_id=ref.view.policy.id if ref.view else None,
        version_id=version.id if version else None,
        version=version.number if version else None,
    )
    explained = engine.explain(pinned, facts, submitted_by=None)
    people = {p for e in explained for p in e.people}
    named = {a.user_id or 0 for a in named_approvers(ref.spec)}
    names = display_names(session, people | named, row.brand_id)
    stages = []
    for stage, done in zip(ref.spec.stages, explained, strict=True):
        gap = None
        if done.applies:
            gap = engine.staffing_gap(
                done.approvers, done.required, 0, [], facts.role_holders, done.label
            )
        stages.append(
            ExplainedStageRead(
                name=done.name,
                label=done.label,
                applies=done.applies,
                because=done.because,
                condition=describe(stage.when) if stage.when else None,
                approvers=approver_reads(done.approvers, names),
                rule=done.rule,
                required=done.required,
                people=[Person(id=p, name=names.get(p, f"user {p}")) for p in done.people],
                staffing_gap=gap,
            )
        )
    problems = check_against_template(ref.spec, _template_slots(session, row.campaign_id))
    return ExplainRead(
        key=ref.key,
        name=ref.name,
        version=pinned.version,
        partner_campaign_id=partner_campaign_id,
        segment_id=chosen,
        facts=ExplainFacts(
            audience_size=facts.audience_size,
            expected_cost=facts.expected_cost,
            fund_shortfall=facts.fund_shortfall,
            template_tags=facts.template_tags,
            region_id=facts.region_id,
            channel=facts.channel,
        ),
        stages=stages,
        approval_needed=any(s.applies for s in stages),
        problems=[p.as_dict() for p in problems],
    )


def _template_slots(session: Session, campaign_id: int) -> list[str]:
    campaign = session.get(Campaign, campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None:
        return []
    return [s.name for s in TemplateContent.model_validate(version.content).slots]
