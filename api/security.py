"""Route guards. Every route declares exactly one: `Authorize(permission)` or `Public()`.

A test walks all registered routes and fails for a route that declares neither, so a new
route cannot ship without a permission decision.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.deps import SessionDep, SettingsDep
from core.db import release_connection
from core.errors import Forbidden, Unauthorized
from core.policy import Permission, Principal, has_permission_somewhere
from services.accounts import principal_from_bearer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def current_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise Unauthorized()
    principal = principal_from_bearer(session, settings.secret_key.get_secret_value(), token)
    if principal is None:
        raise Unauthorized("Invalid or expired token")
    release_connection(session)  # before the route's first await (core.db says why)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class Authorize:
    """Requires a signed-in principal holding `permission` in at least one grant.

    Object-level scope (which brand, region, partner) is checked by the route's loader, which
    answers 404 for objects outside the principal's reach.
    """

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    def __call__(self, principal: PrincipalDep) -> Principal:
        if self.permission is not None and not has_permission_somewhere(principal, self.permission):
            raise Forbidden(f"Your roles do not allow {self.permission.value}")
        return principal


class Public:
    """Marks a route that needs no sign-in (health probes, sign-in itself)."""

    def __call__(self) -> None:
        return None


def _guard(permission: Permission | None) -> object:
    return Depends(Authorize(permission))


# Route parameter types: the annotation declares the permission and yields the principal.
SignedIn = Annotated[Principal, _guard(None)]
OrgReader = Annotated[Principal, _guard(Permission.org_read)]
RegionManager = Annotated[Principal, _guard(Permission.region_manage)]
PartnerManager = Annotated[Principal, _guard(Permission.partner_manage)]
PartnerProfileEditor = Annotated[Principal, _guard(Permission.partner_profile_edit)]
UserReader = Annotated[Principal, _guard(Permission.user_read)]
UserManager = Annotated[Principal, _guard(Permission.user_manage)]
MembershipManager = Annotated[Principal, _guard(Permission.membership_manage)]
ApiTokenManager = Annotated[Principal, _guard(Permission.api_token_manage)]
AuditReader = Annotated[Principal, _guard(Permission.audit_read)]
AuditVerifier = Annotated[Principal, _guard(Permission.audit_verify)]
AuditCheckpointer = Annotated[Principal, _guard(Permission.audit_checkpoint)]
TemplateReader = Annotated[Principal, _guard(Permission.template_read)]
TemplateAuthor = Annotated[Principal, _guard(Permission.template_author)]
TemplateReviewer = Annotated[Principal, _guard(Permission.template_review)]
PublicRoute = Annotated[None, Depends(Public())]
AssetReader = Annotated[Principal, _guard(Permission.asset_read)]
AssetUploader = Annotated[Principal, _guard(Permission.asset_upload)]
AssetReviewer = Annotated[Principal, _guard(Permission.asset_review)]
CampaignReader = Annotated[Principal, _guard(Permission.campaign_read)]
CampaignManager = Annotated[Principal, _guard(Permission.campaign_manage)]
PartnerCampaignReader = Annotated[Principal, _guard(Permission.partner_campaign_read)]
PartnerCampaignEditor = Annotated[Principal, _guard(Permission.partner_campaign_edit)]
OutboxReader = Annotated[Principal, _guard(Permission.outbox_read)]
ContactCounter = Annotated[Principal, _guard(Permission.contact_count)]
ContactReader = Annotated[Principal, _guard(Permission.contact_read)]
ContactManager = Annotated[Principal, _guard(Permission.contact_manage)]
SuppressionManager = Annotated[Principal, _guard(Permission.suppression_manage)]
ApprovalPolicyReader = Annotated[Principal, _guard(Permission.approval_policy_read)]
ApprovalPolicyManager = Annotated[Principal, _guard(Permission.approval_policy_manage)]
TrackingManager = Annotated[Principal, _guard(Permission.tracking_manage)]
WebhookManager = Annotated[Principal, _guard(Permission.webhook_manage)]
PrintOrderReader = Annotated[Principal, _guard(Permission.print_order_read)]
PrintOrderCreator = Annotated[Principal, _guard(Permission.print_order_create)]
FundReader = Annotated[Principal, _guard(Permission.fund_read)]
FundManager = Annotated[Principal, _guard(Permission.fund_manage)]
CatalogueReader = Annotated[Principal, _guard(Permission.catalogue_read)]
CatalogueManager = Annotated[Principal, _guard(Permission.catalogue_manage)]
CatalogueOrderer = Annotated[Principal, _guard(Permission.catalogue_order)]
SeriesReader = Annotated[Principal, _guard(Permission.series_read)]
SeriesManager = Annotated[Principal, _guard(Permission.series_manage)]
