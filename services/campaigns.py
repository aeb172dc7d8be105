"""Campaigns (HQ) and their partner campaigns: creation, drafts, access and the task inbox.

Campaign rows are brand-level: everyone holding campaign.read anywhere in the brand may read
them (partners see the campaigns they are invited to through their partner campaigns), but only
brand-wide campaign.manage changes them. Partner campaigns live at a partner, so region and
partner roles see only their own; an unreachable row is a 404, like every other object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from content import relative_dates
from content.spec import TemplateContent
from core.errors import Conflict, FieldError, Forbidden, NotFound, Problem
from core.policy import (
    Permission,
    Principal,
    Target,
    allows,
    allows_in_brand,
    can_see,
)
from domain.states import CampaignState, PartnerCampaignState, TemplateState
from domain.workflow_ids import partner_campaign_workflow_id
from models.base import utcnow
from models.campaign_schemas import (
    CampaignCreate,
    CampaignDetail,
    CampaignRead,
    CampaignUpdate,
    PartnerCampaignRead,
    RegionCountsRead,
    check_escalation,
    check_policy,
    check_window,
)
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, Region
from models.templates import TemplateVersion
from services.access import scope_filter
from services.approvals import policies as approval_policies
from services.approvals.tasks import open_approvals, stage_read
from services.org import Actor, record, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch

# Campaigns ------------------------------------------------------------------------------------


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def aware(value: datetime) -> datetime:
    """Some drivers (SQLite) hand back naive datetimes; the database stores UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _require_manage(principal: Principal, brand_id: int, label: str) -> None:
    if not allows(principal, Permission.campaign_manage, Target(brand_id)):
        raise Forbidden(f"Your roles do not allow {Permission.campaign_manage.value} on {label}")


def _published_version(session: Session, brand_id: int, version_id: int) -> TemplateVersion:
    version = session.get(TemplateVersion, version_id)
    published = version is not None and version.state == TemplateState.published
    if version is None or version.brand_id != brand_id or not published:
        raise FieldError(
            "template_version_id",
            f"{version_id} must be a published template version of your brand",
        )
    return version


def _check_target(session: Session, brand_id: int, target: dict[str, Any]) -> None:
    """Every listed region or partner must exist in the brand; a foreign id is reported like
    a missing one, so ids of other tenants reveal nothing."""
    checks = (
        ("region", target.get("regions") or [], Region.brand_id, col(Region.id)),
        ("partner", target.get("partners") or [], Partner.brand_id, col(Partner.id)),
    )
    for label, ids, brand_col, id_col in checks:
        if not ids:
            continue
        found = set(session.exec(select(id_col).where(brand_col == brand_id, id_col.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise FieldError("target", f"{label} {missing[0]} does not exist in your brand")


def _by_key(session: Session, brand_id: int, key: str) -> Campaign | None:
    return session.exec(
        select(Campaign).where(Campaign.brand_id == brand_id, Campaign.idempotency_key == key)
    ).first()


def request_fingerprint(body: CampaignCreate) -> str:
    """The digest of what was asked, in one canonical JSON spelling."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_new_campaign(
    session: Session, brand_id: int, body: CampaignCreate
) -> approval_policies.Choice:
    """What a new campaign must pass beyond its schema, against the brand's data (FieldError
    naming the field); campaign sheets check their rows with exactly this."""
    _published_version(session, brand_id, body.template_version_id)
    _check_target(session, brand_id, body.target)
    return approval_policies.choose(session, brand_id, body.approval_policy)


def campaign_of(
    brand_id: int, body: CampaignCreate, policy: approval_policies.Choice, *, created_by: int
) -> Campaign:
    """The draft a checked body describes (not added to the session): one mapping for the API
    and campaign sheets, whose rows are checked against exactly this draft."""
    return Campaign(
        brand_id=brand_id,
        name=body.name,
        template_version_id=body.template_version_id,
        target=body.target,
        personalise_until=body.personalise_until,
        send_by=body.send_by,
        mode=body.mode.value,
        approval_policy=policy.name,
        approval_policy_id=policy.policy_id,
        remind_after=_seconds(body.remind_after),
        escalate_after=_seconds(body.escalate_after),
        defaults=body.defaults,
        created_by=created_by,
    )


def create_campaign(
    session: Session, actor: Actor, body: CampaignCreate, idempotency_key: str | None
) -> tuple[Campaign, bool]:
    """The new draft and True; or, for an Idempotency-Key this user already sent with the same
    body, that campaign unchanged and False, so a client retrying after a lost response
    creates nothing twice. Keys belong to the user who sent them (two integrations of one
    brand never collide), and a key reused with another body is refused (422), as the IETF
    Idempotency-Key draft asks, instead of silently answering with the first campaign."""
    principal = actor.principal
    brand_id = principal.brand_id
    _require_manage(principal, brand_id, "campaigns")
    fingerprint = request_fingerprint(body)
    scoped_key = None if idempotency_key is None else f"{principal.user_id}:{idempotency_key}"
    if scoped_key is not None:
        seen = _by_key(session, brand_id, scoped_key)
        if seen is not None:
            if seen.idempotency_fingerprint not in (None, fingerprint):
                raise Problem(
                    "Idempotency-Key: this key was already used with a different request body",
                    status=422,
                    title="Idempotency-Key reused",
                    errors=[
                        {
                            "field": "Idempotency-Key",
                            "message": "already used with a different request body",
                        }
                    ],
                )
            return seen, False
    policy = check_new_campaign(session, brand_id, body)
    campaign = campaign_of(brand_id, body, policy, created_by=principal.user_id)
    campaign.idempotency_key = scoped_key
    campaign.idempotency_fingerprint = fingerprint if scoped_key else None
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError as err:
        # Only the (brand, Idempotency-Key) constraint can clash: a concurrent request with the
        # same key is creating this campaign. Its retry will answer with that campaign.
        raise Conflict(
            "a request with this Idempotency-Key is in progress; retry to get its campaign"
        ) from err
    record(session, actor, "campaign.created", campaign, None, snapshot(campaign))
    return campaign, True


def update_campaign(
    session: Session, actor: Actor, campaign: Campaign, body: CampaignUpdate
) -> Campaign:
    """Only drafts change: once launched, the partner workflows hold their own copy."""
    if campaign.state != CampaignState.draft:
        raise Conflict(f"campaign {campaign.id} is {campaign.state}: only drafts can be changed")
    _require_manage(actor.principal, campaign.brand_id, f"campaign {campaign.id}")
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise FieldError(name, "may not be null")
    if "template_version_id" in changes:
        _published_version(session, campaign.brand_id, changes["template_version_id"])
    if "target" in changes:
        _check_target(session, campaign.brand_id, changes["target"])
    merged = _merged(campaign, changes)
    _field_rule("send_by", check_window, merged["personalise_until"], merged["send_by"])
    _field_rule("approval_policy", check_policy, merged["mode"], merged["approval_policy"])
    _field_rule(
        "escalate_after", check_escalation, merged["remind_after"], merged["escalate_after"]
    )
    before = snapshot(campaign)
    for name, value in changes.items():
        if name in ("remind_after", "escalate_after"):
            value = _seconds(value)
        elif name == "mode":
            value = str(value.value)
        elif name == "approval_policy":
            chosen = approval_policies.choose(session, campaign.brand_id, value)
            value = chosen.name
            campaign.approval_policy_id = chosen.policy_id
        setattr(campaign, name, value)
    campaign.updated_at = utcnow()
    session.add(campaign)
    session.flush()
    record(session, actor, "campaign.updated", campaign, before, snapshot(campaign))
    return campaign


def _merged(campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored values overlaid with the PATCH, in the units the rule checks use."""
    return {
        "personalise_until": changes.get("personalise_until", campaign.personalise_until),
        "send_by": changes.get("send_by", campaign.send_by),
        "mode": str(changes.get("mode", campaign.mode)),
        "approval_policy": changes.get("approval_policy", campaign.approval_policy),
        "remind_after": changes.get("remind_after", timedelta(seconds=campaign.remind_after)),
        "escalate_after": changes.get("escalate_after", timedelta(seconds=campaign.escalate_after)),
    }


def _field_rule(field: str, rule: Callable[[Any, Any], None], a: Any, b: Any) -> None:
    try:
        rule(a, b)
    except ValueError as err:
        raise FieldError(field, str(err)) from err


def load_campaign(
    session: Session,
    principal: Principal,
    campaign_id: int,
    permission: Permission = Permission.campaign_read,
) -> Campaign:
    """The campaign if readable in the principal's brand (else 404) and `permission` holds
    brand-wide for a change (else 403)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not allows_in_brand(
        principal, Permission.campaign_read, campaign.brand_id
    ):
        raise NotFound("campaign", campaign_id)
    if permission != Permission.campaign_read and not allows(
        principal, permission, Target(campaign.brand_id)
    ):
        raise Forbidden(f"Your roles do not allow {permission.value} on campaign {campaign_id}")
    return campaign


CAMPAIGNS = Listing(
    "campaigns",
    col(Campaign.id),
    {
        "created_at": Key(col(Campaign.created_at), "datetime"),
        "name": Key(col(Campaign.name), "str"),
        "send_by": Key(col(Campaign.send_by), "datetime"),
        "id": Key(col(Campaign.id), "int"),
    },
    default="-created_at",
)


def list_campaigns(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    state: str | None = None,
    q: str | None = None,
    sort: str = CAMPAIGNS.default,
) -> Paged[Campaign]:
    """Newest first by default: the campaign being prepared now is the one people look for."""
    if not allows_in_brand(principal, Permission.campaign_read, principal.brand_id):
        return Paged([], None, 0)
    stmt = select(Campaign).where(Campaign.brand_id == principal.brand_id)
    if state:
        stmt = stmt.where(Campaign.state == state)
    if q:
        stmt = stmt.where(func.lower(Campaign.name).like(f"%{q.strip().lower()}%"))
    return fetch(session, stmt, CAMPAIGNS, sort, paging)


def counts_by_state(session: Session, campaign_id: int) -> dict[str, int]:
    return counts_by_campaign(session, [campaign_id]).get(campaign_id, {})


def counts_by_campaign(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Partner campaigns per state for many campaigns in one query (list pages)."""
    if not campaign_ids:
        return {}
    rows = session.exec(
        select(PartnerCampaign.campaign_id, PartnerCampaign.state, func.count())
        .where(col(PartnerCampaign.campaign_id).in_(sorted(set(campaign_ids))))
        .group_by(col(PartnerCampaign.campaign_id), col(PartnerCampaign.state))
    ).all()
    out: dict[int, dict[str, int]] = {}
    for campaign_id, state, n in rows:
        out.setdefault(campaign_id, {})[state] = int(n)
    return out


def counts_by_region(
    session: Session, principal: Principal, campaign_id: int
) -> list[RegionCountsRead]:
    """The campaign's partner campaigns the principal may read, counted per region and state in
    one grouped query (a campaign to 10,000 partners is a few dozen rows here, never 10,000);
    regions by name."""
    rows = session.exec(
        select(Region.id, Region.name, PartnerCampaign.state, func.count())
        .join(Region, col(Region.id) == col(PartnerCampaign.region_id))
        .where(
            PartnerCampaign.campaign_id == campaign_id,
            scope_filter(
                principal,
                PartnerCampaign.brand_id,
                PartnerCampaign.region_id,
                PartnerCampaign.partner_id,
                Permission.partner_campaign_read,
            ),
        )
        .group_by(col(Region.id), col(Region.name), col(PartnerCampaign.state))
    ).all()
    found: dict[int, RegionCountsRead] = {}
    for region_id, name, state, n in rows:
        key = int(region_id or 0)
        entry = found.setdefault(
            key, RegionCountsRead(region_id=key, region_name=name, counts={}, total=0)
        )
        entry.counts[str(state)] = int(n)
        entry.total += int(n)
    return sorted(found.values(), key=lambda r: (r.region_name, r.region_id))


def campaign_detail(session: Session, principal: Principal, campaign: Campaign) -> CampaignDetail:
    assert campaign.id is not None
    read = campaign_read(campaign, counts_by_state(session, campaign.id))
    return CampaignDetail(
        **read.model_dump(), by_region=counts_by_region(session, principal, campaign.id)
    )


def campaign_read(campaign: Campaign, counts: dict[str, int]) -> CampaignRead:
    assert campaign.id is not None
    return CampaignRead(
        id=campaign.id,
        brand_id=campaign.brand_id,
        name=campaign.name,
        template_version_id=campaign.template_version_id,
        target=campaign.target,
        personalise_until=aware(campaign.personalise_until),
        send_by=aware(campaign.send_by),
        mode=campaign.mode,
        approval_policy=campaign.approval_policy,
        approval_policy_id=campaign.approval_policy_id,
        approval_policy_version_id=campaign.approval_policy_version_id,
        remind_after=timedelta(seconds=campaign.remind_after),
        escalate_after=timedelta(seconds=campaign.escalate_after),
        defaults=campaign.defaults,
        state=campaign.state,
        counts=counts,
        summary=campaign.summary,
        workflow_id=campaign.workflow_id,
        created_by=campaign.created_by,
        launched_at=campaign.launched_at,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
    )


def campaign_reads(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignRead]:
    counts = counts_by_campaign(session, [c.id for c in campaigns if c.id is not None])
    return [campaign_read(c, counts.get(c.id or 0, {})) for c in campaigns]


# Partner campaigns ----------------------------------------------------------------------------


def resolve_target_partners(session: Session, campaign: Campaign) -> list[Partner]:
    """The partners a campaign invites now, by id (the target names regions or partners; a
    region's partners are resolved at launch, not at creation)."""
    stmt = select(Partner).where(Partner.brand_id == campaign.brand_id)
    target = campaign.target
    if target.get("regions"):
        stmt = stmt.where(col(Partner.region_id).in_(target["regions"]))
    elif target.get("partners"):
        stmt = stmt.where(col(Partner.id).in_(target["partners"]))
    elif target.get("all") is not True:
        return []
    return list(session.exec(stmt.order_by(col(Partner.id))).all())


def _locale(partner: Partner, locales: list[str]) -> str:
    """The partner's language if the template has it, else English (or, for a template
    without English, its first language, so the locale always exists in the content)."""
    if partner.locale in locales:
        return partner.locale
    return "en" if "en" in locales or not locales else locales[0]


def start_values(
    content: TemplateContent | None, campaign: Campaign, partner: Partner
) -> dict[str, Any]:
    """What a partner starts from: {} (HQ's defaults, as before) unless the template has date
    slots with a relative default; then HQ's defaults with those dates resolved in the
    partner's zone (a campaign default HQ set for the slot wins)."""
    if content is None:
        return {}
    dates = relative_dates.resolved_defaults(
        content, aware(campaign.send_by), aware(campaign.personalise_until), partner.timezone
    )
    dates = {k: v for k, v in dates.items() if k not in campaign.defaults}
    return {**campaign.defaults, **dates} if dates else {}


def create_partner_campaigns(
    session: Session, campaign: Campaign, partners: Iterable[Partner]
) -> list[PartnerCampaign]:
    """One invited row per partner, skipping partners that already have one, so a retried
    launch (activity retry) neither fails nor duplicates. Returns the rows for all `partners`
    (found or created), ordered by partner id. Flushes, does not commit."""
    assert campaign.id is not None
    wanted = {p.id: p for p in partners if p.id is not None}
    if not wanted:
        return []
    existing = {
        pc.partner_id: pc
        for pc in session.exec(
            select(PartnerCampaign).where(
                PartnerCampaign.campaign_id == campaign.id,
                col(PartnerCampaign.partner_id).in_(sorted(wanted)),
            )
        ).all()
    }
    version = session.get(TemplateVersion, campaign.template_version_id)
    raw = (version.content if version else {}).get("locales") or ["en"]
    locales = [str(loc) for loc in raw]
    content = TemplateContent.model_validate(version.content) if version else None
    for partner_id, partner in sorted(wanted.items()):
        if partner_id in existing:
            continue
        row = PartnerCampaign(
            campaign_id=campaign.id,
            brand_id=campaign.brand_id,
            region_id=partner.region_id,
            partner_id=partner_id,
            state=PartnerCampaignState.invited,
            values=start_values(content, campaign, partner),
            locale=_locale(partner, locales),
            workflow_id=partner_campaign_workflow_id(campaign.id, partner_id),
        )
        session.add(row)
        existing[partner_id] = row
    session.flush()
    return [existing[pid] for pid in sorted(wanted)]


def partner_campaign_target(pc: PartnerCampaign) -> Target:
    return Target(pc.brand_id, pc.region_id, pc.partner_id)


def load_partner_campaign(
    session: Session,
    principal: Principal,
    partner_campaign_id: int,
    permission: Permission = Permission.partner_campaign_read,
) -> PartnerCampaign:
    """404 outside the principal's reach, 403 when it may look but not act."""
    pc = session.get(PartnerCampaign, partner_campaign_id)
    if pc is None or not can_see(
        principal, partner_campaign_target(pc), Permission.partner_campaign_read
    ):
        raise NotFound("partner campaign", partner_campaign_id)
    if not allows(principal, permission, partner_campaign_target(pc)):
        raise Forbidden(
            f"Your roles do not allow {permission.value} on partner campaign {partner_campaign_id}"
        )
    return pc


PARTNER_CAMPAIGNS = Listing(
    "partner-campaigns",
    col(PartnerCampaign.id),
    {
        "id": Key(col(PartnerCampaign.id), "int"),
        "partner_name": Key(col(Partner.display_name), "str"),
        "state": Key(col(PartnerCampaign.state), "str"),
        "updated_at": Key(col(PartnerCampaign.updated_at), "datetime"),
    },
    default="id",
)


def list_partner_campaigns(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    campaign_id: int | None = None,
    state: str | None = None,
    partner_id: int | None = None,
    region_id: int | None = None,
    q: str | None = None,
    sort: str = PARTNER_CAMPAIGNS.default,
    listing: Listing = PARTNER_CAMPAIGNS,
) -> Paged[PartnerCampaign]:
    """`q` is part of the partner's name; `partner_name` sorts by it. `listing`: another
    order of the same rows (the portal's "My campaigns")."""
    stmt = select(PartnerCampaign).where(
        scope_filter(
            principal,
            PartnerCampaign.brand_id,
            PartnerCampaign.region_id,
            PartnerCampaign.partner_id,
            Permission.partner_campaign_read,
        )
    )
    if q or sort.removeprefix("-") == "partner_name":
        stmt = stmt.join(Partner, col(Partner.id) == col(PartnerCampaign.partner_id))
    if campaign_id is not None:
        stmt = stmt.where(PartnerCampaign.campaign_id == campaign_id)
    if state:
        stmt = stmt.where(PartnerCampaign.state == state)
    if partner_id is not None:
        stmt = stmt.where(PartnerCampaign.partner_id == partner_id)
    if region_id is not None:
        stmt = stmt.where(PartnerCampaign.region_id == region_id)
    if q:
        stmt = stmt.where(func.lower(Partner.display_name).like(f"%{q.strip().lower()}%"))
    return fetch(session, stmt, listing, sort, paging)


def names_of(
    session: Session, campaign_ids: Iterable[int], partner_ids: Iterable[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Campaign and partner names for a page of rows, in two queries."""
    cids, pids = sorted(set(campaign_ids)), sorted(set(partner_ids))
    campaigns: dict[int, str] = {}
    partners: dict[int, str] = {}
    if cids:
        for cid, name in session.exec(
            select(Campaign.id, Campaign.name).where(col(Campaign.id).in_(cids))
        ).all():
            campaigns[int(cid or 0)] = name
    if pids:
        for pid, name in session.exec(
            select(Partner.id, Partner.display_name).where(col(Partner.id).in_(pids))
        ).all():
            partners[int(pid or 0)] = name
    return campaigns, partners


def partner_campaign_reads(
    session: Session, rows: Sequence[PartnerCampaign]
) -> list[PartnerCampaignRead]:
    campaigns, partners = names_of(
        session, (r.campaign_id for r in rows), (r.partner_id for r in rows)
    )
    waiting = open_approvals(session, (r.id for r in rows if r.id is not None))
    out = []
    for r in rows:
        assert r.id is not None
        out.append(
            PartnerCampaignRead(
                id=r.id,
                campaign_id=r.campaign_id,
                campaign_name=campaigns.get(r.campaign_id, ""),
                partner_id=r.partner_id,
                partner_name=partners.get(r.partner_id, ""),
                region_id=r.region_id,
                state=r.state,
                values=r.values,
                locale=r.locale,
                send_at=r.send_at,
                submitted_by=r.submitted_by,
                decided_by=r.decided_by,
                decision_comment=r.decision_comment,
                escalation_level=r.escalation_level,
                revision=r.revision,
                approval=stage_read(waiting[r.id]) if r.id in waiting else None,
                approval_policy_version_id=r.approval_policy_version_id,
                workflow_id=r.workflow_id,
                segment_id=r.segment_id,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        )
    return out


__all__ = [
    "campaign_detail",
    "campaign_read",
    "campaign_reads",
    "counts_by_campaign",
    "counts_by_region",
    "counts_by_state",
    "create_campaign",
    "create_partner_campaigns",
    "list_campaigns",
    "list_partner_campaigns",
    "load_campaign",
    "load_partner_campaign",
    "partner_campaign_reads",
    "partner_campaign_target",
    "resolve_target_partners",
    "update_campaign",
]
