"""Roles and scopes: plain enums shared by tables, the policy module and API schemas."""

from enum import StrEnum


class Role(StrEnum):
    brand_admin = "brand_admin"
    brand_marketer = "brand_marketer"
    brand_reviewer = "brand_reviewer"
    region_manager = "region_manager"
    partner_editor = "partner_editor"
    partner_manager = "partner_manager"
    viewer = "viewer"


class ScopeType(StrEnum):
    brand = "brand"
    region = "region"
    partner = "partner"


# Which scope each role is granted at; a membership with another scope is refused.
ROLE_SCOPES: dict[Role, frozenset[ScopeType]] = {
    Role.brand_admin: frozenset({ScopeType.brand}),
    Role.brand_marketer: frozenset({ScopeType.brand}),
    Role.brand_reviewer: frozenset({ScopeType.brand}),
    Role.region_manager: frozenset({ScopeType.region}),
    Role.partner_editor: frozenset({ScopeType.partner}),
    Role.partner_manager: frozenset({ScopeType.partner}),
    Role.viewer: frozenset({ScopeType.brand, ScopeType.region, ScopeType.partner}),
}
