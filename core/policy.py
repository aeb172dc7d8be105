"""The one answer to "may this principal do this action on this object".

Pure and free of I/O, so the API, the portal and workflow validators share it. Scope rules:
brand roles act across their brand; region_manager across the partners of its region; partner
roles only on their own partner; viewer reads and never writes; nobody crosses brands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.roles import Role, ScopeType
from models.workflow_io import ActorRef, GrantRef


class Permission(StrEnum):
    org_read = "org.read"
    region_manage = "region.manage"
    partner_manage = "partner.manage"
    partner_profile_edit = "partner.profile.edit"
    user_read = "user.read"
    user_manage = "user.manage"
    membership_manage = "membership.manage"
    api_token_manage = "api_token.manage"  # noqa: S105 - a permission name
    audit_read = "audit.read"
    audit_verify = "audit.verify"
    audit_checkpoint = "audit.checkpoint"  # anchor the chain now (brand admins)
    template_read = "template.read"
    template_author = "template.author"
    template_review = "template.review"
    asset_read = "asset.read"
    asset_upload = "asset.upload"
    asset_review = "asset.review"
    campaign_read = "campaign.read"
    campaign_manage = "campaign.manage"
    partner_campaign_read = "partner_campaign.read"
    partner_campaign_edit = "partner_campaign.edit"
    partner_campaign_decide = "partner_campaign.decide"
    # The embedded outbox viewer: brand-scope grants only (services.outbox checks the scope).
    outbox_read = "outbox.read"
    contact_count = "contact_summary.read"  # counts and segment definitions, never rows
    contact_read = "contact.read"  # rows: partner roles, brand roles only where shared
    contact_manage = "contact.manage"
    suppression_manage = "suppression.manage"
    approval_policy_read = "approval_policy.read"
    approval_policy_manage = "approval_policy.manage"  # HQ's admins design the chains
    tracking_manage = "tracking.manage"  # open/click tracking switches: brand admins only
    # Webhook endpoints hold a signing secret and send brand data out: brand admins only.
    webhook_manage = "webhook.manage"
    # Reports over many partners (funnel, time to market, ...): whoever reads campaigns, within
    # the scope of the grant. A partner's own report needs partner_campaign.read only.
    report_read = "report.read"
    # Co-op funds, print orders and claims (issue 22). Partners read their own fund, orders and
    # claims; HQ's admins allocate funds, set cost rates, record payments and export claims.
    fund_read = "fund.read"
    fund_manage = "fund.manage"
    print_order_read = "print_order.read"
    print_order_create = "print_order.create"
    claim_read = "claim.read"
    claim_confirm = "claim.confirm"  # the partner's GM confirms the drafted claim
    claim_pay = "claim.pay"  # record a payment, export approved claims for finance
    # Always-on marketing (issue 21): HQ designs journeys and series and publishes the
    # catalogue; a partner's GM switches a journey on for the partner; partner users order
    # catalogue campaigns for their own partner.
    journey_read = "journey.read"
    journey_manage = "journey.manage"
    journey_activate = "journey.activate"
    series_read = "series.read"
    series_manage = "series.manage"
    catalogue_read = "catalogue.read"
    catalogue_manage = "catalogue.manage"
    catalogue_order = "catalogue.order"


READ_ONLY: frozenset[Permission] = frozenset(
    {
        Permission.org_read,
        Permission.user_read,
        Permission.audit_read,
        Permission.audit_verify,
        Permission.template_read,
        Permission.asset_read,
        Permission.campaign_read,
        Permission.partner_campaign_read,
        Permission.outbox_read,
        Permission.contact_count,
        Permission.approval_policy_read,
        Permission.report_read,
        Permission.fund_read,
        Permission.print_order_read,
        Permission.claim_read,
        Permission.journey_read,
        Permission.series_read,
        Permission.catalogue_read,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.brand_admin: frozenset(Permission),
    Role.brand_marketer: frozenset(
        {
            Permission.org_read,
            Permission.audit_read,
            Permission.template_read,
            Permission.template_author,
            Permission.asset_read,
            Permission.asset_upload,
            Permission.campaign_read,
            Permission.report_read,
            Permission.campaign_manage,
            Permission.partner_campaign_read,
            Permission.outbox_read,
            Permission.contact_count,
            Permission.contact_read,
            Permission.contact_manage,
            Permission.suppression_manage,
            Permission.approval_policy_read,
            Permission.fund_read,
            Permission.print_order_read,
            Permission.claim_read,
            Permission.journey_read,
            Permission.journey_manage,
            Permission.series_read,
            Permission.series_manage,
            Permission.catalogue_read,
            Permission.catalogue_manage,
        }
    ),
    Role.brand_reviewer: frozenset(
        {
            Permission.approval_policy_read,
            Permission.org_read,
            Permission.audit_read,
            Permission.template_read,
            Permission.template_review,
            Permission.asset_read,
            Permission.asset_review,
            Permission.campaign_read,
            Permission.report_read,
            Permission.partner_campaign_read,
            Permission.partner_campaign_decide,
            Permission.outbox_read,
            Permission.contact_count,
            Permission.fund_read,
            Permission.print_order_read,
            Permission.claim_read,
            Permission.journey_read,
            Permission.series_read,
            Permission.catalogue_read,
        }
    ),
    Role.region_manager: frozenset(
        {
            Permission.org_read,
            Permission.audit_read,
            Permission.asset_read,
            Permission.campaign_read,
            Permission.report_read,
            Permission.partner_campaign_read,
            Permission.partner_campaign_decide,
            Permission.contact_count,
            Permission.fund_read,
            Permission.print_order_read,
            Permission.claim_read,
            Permission.journey_read,
            Permission.series_read,
            Permission.catalogue_read,
        }
    ),
    Role.partner_editor: frozenset(
        {
            Permission.org_read,
            Permission.asset_read,
            Permission.asset_upload,
            Permission.partner_campaign_read,
            Permission.partner_campaign_edit,
            Permission.contact_count,
            Permission.contact_read,
            Permission.contact_manage,
            Permission.fund_read,
            Permission.print_order_read,
            Permission.print_order_create,
            Permission.claim_read,
            Permission.journey_read,
            Permission.series_read,
            Permission.catalogue_read,
            Permission.catalogue_order,
        }
    ),
    Role.partner_manager: frozenset(
        {
            Permission.org_read,
            Permission.partner_profile_edit,
            Permission.audit_read,
            Permission.asset_read,
            Permission.asset_upload,
            Permission.partner_campaign_read,
            Permission.partner_campaign_edit,
            Permission.partner_campaign_decide,
            Permission.contact_count,
            Permission.contact_read,
            Permission.contact_manage,
            Permission.fund_read,
            Permission.print_order_read,
            Permission.print_order_create,
            Permission.claim_read,
            Permission.journey_read,
            Permission.series_read,
            Permission.catalogue_read,
            Permission.catalogue_order,
            Permission.journey_activate,
            Permission.claim_confirm,
        }
    ),
    Role.viewer: READ_ONLY,
}

assert ROLE_PERMISSIONS[Role.viewer] <= READ_ONLY, "viewer must never write"


@dataclass(frozen=True)
class Grant:
    """One membership as the policy sees it."""

    role: Role
    scope: ScopeType
    brand_id: int
    region_id: int | None = None
    partner_id: int | None = None


@dataclass(frozen=True)
class Principal:
    user_id: int
    brand_id: int
    email: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants)


@dataclass(frozen=True)
class Target:
    """Where an object lives: brand-level objects have neither region nor partner."""

    brand_id: int
    region_id: int | None = None
    partner_id: int | None = None


def covers(grant: Grant, target: Target) -> bool:
    if grant.brand_id != target.brand_id:
        return False
    if grant.scope == ScopeType.brand:
        return True
    if grant.scope == ScopeType.region:
        return target.region_id is not None and target.region_id == grant.region_id
    return target.partner_id is not None and target.partner_id == grant.partner_id


def allows(principal: Principal, permission: Permission, target: Target) -> bool:
    return any(
        permission in ROLE_PERMISSIONS[g.role] and covers(g, target) for g in principal.grants
    )


def allows_in_brand(principal: Principal, permission: Permission, brand_id: int) -> bool:
    """For objects the whole brand shares (brand assets): any grant in the brand suffices,
    whatever its scope, because HQ hands them to every partner."""
    return any(
        permission in ROLE_PERMISSIONS[g.role] and g.brand_id == brand_id for g in principal.grants
    )


def can_see(principal: Principal, target: Target, read: Permission = Permission.org_read) -> bool:
    return allows(principal, read, target)


def has_permission_somewhere(principal: Principal, permission: Permission) -> bool:
    """Whether any grant carries the permission (for list routes, before scoping the rows)."""
    return any(permission in ROLE_PERMISSIONS[g.role] for g in principal.grants)


def effective_permissions(principal: Principal) -> dict[str, list[str]]:
    """Per grant, the permissions it carries (shown by /me)."""
    out: dict[str, list[str]] = {}
    for g in principal.grants:
        where = {
            ScopeType.brand: f"brand:{g.brand_id}",
            ScopeType.region: f"region:{g.region_id}",
            ScopeType.partner: f"partner:{g.partner_id}",
        }[g.scope]
        perms = out.setdefault(where, [])
        perms.extend(p.value for p in ROLE_PERMISSIONS[g.role] if p.value not in perms)
        perms.sort()
    return out


@dataclass(frozen=True)
class Visibility:
    """The rows a principal may read in a list: all of the brand, or some regions/partners."""

    brand_id: int
    whole_brand: bool
    region_ids: frozenset[int]
    partner_ids: frozenset[int]


def visibility(principal: Principal, read: Permission = Permission.org_read) -> Visibility:
    grants = [g for g in principal.grants if read in ROLE_PERMISSIONS[g.role]]
    return Visibility(
        brand_id=principal.brand_id,
        whole_brand=any(g.scope == ScopeType.brand for g in grants),
        region_ids=frozenset(
            g.region_id for g in grants if g.scope == ScopeType.region and g.region_id
        ),
        partner_ids=frozenset(
            g.partner_id for g in grants if g.scope == ScopeType.partner and g.partner_id
        ),
    )


def may_see_contacts(
    principal: Principal, permission: Permission, target: Target, *, shared: bool
) -> bool:
    """Contact rows are the partner's: its own users (partner grants) see them; brand grants only
    while the partner shares them with the brand; region grants never (they see counts)."""
    for g in principal.grants:
        if permission not in ROLE_PERMISSIONS[g.role] or not covers(g, target):
            continue
        if g.scope == ScopeType.partner or (g.scope == ScopeType.brand and shared):
            return True
    return False


def may_see_contact_data(principal: Principal, target: Target, *, shared: bool) -> bool:
    """The one rule for the personal data of a partner's contacts (address, name, unsubscribe
    link) wherever it appears: contact rows and their export, and every copy made of them
    (messages in the outbox, the brand's suppression entries). Whoever may read the partner's
    contact rows sees it; everyone else gets counts, placeholders or a refusal."""
    return may_see_contacts(principal, Permission.contact_read, target, shared=shared)


def may_share_contacts(principal: Principal, target: Target) -> bool:
    """Only the partner's GM decides to share its contacts with HQ; HQ cannot grant itself."""
    return any(g.role == Role.partner_manager and covers(g, target) for g in principal.grants)


def four_eyes_ok(submitted_by: int | None, actor_id: int) -> bool:
    """The person who submitted something may not approve it."""
    return submitted_by is None or submitted_by != actor_id


def principal_of(actor: ActorRef) -> Principal:
    """Rebuild the principal a workflow validator checks (the roles travel with the request)."""
    return Principal(
        user_id=actor.user_id,
        brand_id=actor.brand_id,
        email=actor.email,
        grants=tuple(
            Grant(Role(g.role), ScopeType(g.scope), g.brand_id, g.region_id, g.partner_id)
            for g in actor.grants
            if g.brand_id == actor.brand_id
        ),
    )


def actor_of(principal: Principal) -> ActorRef:
    return ActorRef(
        user_id=principal.user_id,
        brand_id=principal.brand_id,
        email=principal.email,
        grants=[
            GrantRef(
                role=g.role.value,
                scope=g.scope.value,
                brand_id=g.brand_id,
                region_id=g.region_id,
                partner_id=g.partner_id,
            )
            for g in principal.grants
        ],
    )
