"""Standing approvals: a GM approves a series "while HQ's locked content and our values stay as
they are"; an occurrence with the very same content then goes ahead without asking again.

Granted from an approved occurrence of the partner (its content is what is approved), one per
(series, partner), replaced by a newer grant. At each submission of a later occurrence the
partner workflow asks `standing_for`; the approval engine then checks that the GM may still
decide (roles now, four eyes), so a GM who left cannot approve from the past."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, actor_of, allows, can_see
from domain.states import PartnerCampaignState
from models.base import utcnow
from models.campaigns import Campaign
from models.org import Partner, User
from models.series import CampaignSeries, SeriesOccurrence, StandingApproval
from models.series_io import StandingAnswer, StandingQuery
from models.templates import TemplateVersion
from services import campaigns as crud
from services.access import scope_filter
from services.accounts import principal_for
from services.org import Actor, snapshot
from services.series.audit import record
from services.series.content import fingerprint
from services.series.occurrences import series_of_campaign
from services.templates import content_of

S = PartnerCampaignState
APPROVED = frozenset({S.approved, S.scheduled, S.sending, S.sent, S.partially_sent})


def _fingerprint(
    session: Session, campaign: Campaign, occurrence: SeriesOccurrence, values: dict[str, object]
) -> str:
    version = session.get(TemplateVersion, campaign.template_version_id)
    assert version is not None and version.id is not None
    return fingerprint(
        content_of(version), version.id, dict(campaign.defaults), values, occurrence.occurs_on
    )


def grant(
    session: Session, actor: Actor, series: CampaignSeries, partner_campaign_id: int
) -> StandingApproval:
    """The caller must decide for the partner (partner_campaign.decide there: 404 outside
    their reach, 403 without it); the partner campaign must be an approved occurrence of
    this series (422 naming the field otherwise)."""
    pc = crud.load_partner_campaign(
        session, actor.principal, partner_campaign_id, Permission.partner_campaign_decide
    )
    occurrence = series_of_campaign(session, pc.campaign_id)
    if occurrence is None or occurrence.series_id != series.id:
        raise FieldError("partner_campaign_id", f"is not an occurrence of series {series.id}")
    if pc.state not in APPROVED:
        raise FieldError(
            "partner_campaign_id", f"is {pc.state}: approve the occurrence first, then stand by it"
        )
    campaign = session.get(Campaign, pc.campaign_id)
    assert campaign is not None and series.id is not None
    print_ = _fingerprint(session, campaign, occurrence, dict(pc.values))
    row = session.exec(
        select(StandingApproval).where(
            StandingApproval.series_id == series.id, StandingApproval.partner_id == pc.partner_id
        )
    ).first()
    before = snapshot(row)
    if row is None:
        row = StandingApproval(
            series_id=series.id,
            brand_id=series.brand_id,
            region_id=pc.region_id,
            partner_id=pc.partner_id,
            fingerprint=print_,
            granted_by=actor.principal.user_id,
            from_partner_campaign_id=pc.id or 0,
        )
    row.fingerprint = print_
    row.granted_by = actor.principal.user_id
    row.from_partner_campaign_id = pc.id or 0
    row.granted_at = utcnow()
    session.add(row)
    session.flush()
    record(session, actor, "series.standing_approval_granted", row, before, snapshot(row))
    return row


def visible(session: Session, principal: Principal, series_id: int) -> list[StandingApproval]:
    """The series' standing approvals within the caller's reach (a GM sees the partner's)."""
    return list(
        session.exec(
            select(StandingApproval)
            .where(
                StandingApproval.series_id == series_id,
                scope_filter(
                    principal,
                    StandingApproval.brand_id,
                    StandingApproval.region_id,
                    StandingApproval.partner_id,
                    Permission.series_read,
                ),
            )
            .order_by(col(StandingApproval.partner_id))
        )
    )


def standing_for(engine: Engine, query: StandingQuery) -> StandingAnswer:
    """Whose standing approval covers this submission (with their roles now), or why none."""
    with Session(engine) as session:
        occurrence = series_of_campaign(session, query.campaign_id)
        campaign = session.get(Campaign, query.campaign_id)
        if occurrence is None or campaign is None:
            return StandingAnswer()
        row = session.exec(
            select(StandingApproval).where(
                StandingApproval.series_id == occurrence.series_id,
                StandingApproval.partner_id == query.partner_id,
            )
        ).first()
        if row is None:
            return StandingAnswer()
        if _fingerprint(session, campaign, occurrence, query.values) != row.fingerprint:
            return StandingAnswer(
                reason="standing approval not used: the content changed since the GM approved "
                f"it (partner campaign {row.from_partner_campaign_id}); the GM decides again"
            )
        user = session.get(User, row.granted_by)
        if user is None or not user.is_active:
            return StandingAnswer(reason="standing approval not used: its GM has no account")
        return StandingAnswer(
            actor=actor_of(principal_for(session, user)),
            note=f"standing approval of {user.email} from partner campaign "
            f"{row.from_partner_campaign_id}: content unchanged",
        )


def withdraw(session: Session, actor: Actor, series: CampaignSeries, partner_id: int) -> None:
    """By whoever decides for the partner: 404 for a partner outside the caller's reach (or
    without a standing approval), 403 for one the caller sees but does not decide for."""
    principal = actor.principal
    partner = session.get(Partner, partner_id)
    target = Target(series.brand_id, partner.region_id, partner.id) if partner else None
    if (
        partner is None
        or target is None
        or partner.brand_id != series.brand_id
        or not can_see(principal, target, Permission.series_read)
    ):
        raise NotFound("partner", partner_id)
    if not allows(principal, Permission.partner_campaign_decide, target):
        raise Forbidden(f"Your roles do not allow partner_campaign.decide for partner {partner_id}")
    row = session.exec(
        select(StandingApproval).where(
            StandingApproval.series_id == series.id, StandingApproval.partner_id == partner_id
        )
    ).first()
    if row is None:
        raise NotFound("standing approval of partner", partner_id)
    record(session, actor, "series.standing_approval_withdrawn", row, snapshot(row), None)
    session.delete(row)
    session.flush()
