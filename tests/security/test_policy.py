"""The policy module on its own: scope rules, viewer never writes, four eyes, contact data."""

from __future__ import annotations

from core.policy import (
    ROLE_PERMISSIONS,
    Grant,
    Permission,
    Principal,
    Target,
    allows,
    four_eyes_ok,
    may_see_contact_data,
    visibility,
)
from domain.roles import Role, ScopeType

AMSTERDAM = Target(brand_id=1, region_id=10, partner_id=100)
BERLIN = Target(brand_id=1, region_id=10, partner_id=101)
MUNICH = Target(brand_id=1, region_id=20, partner_id=200)
OTHER_BRAND = Target(brand_id=2, region_id=30, partner_id=300)


def who(role: Role, scope: ScopeType, **ids: int) -> Principal:
    return Principal(1, 1, "x@example", (Grant(role, scope, brand_id=1, **ids),))


def test_brand_roles_reach_the_whole_brand_only() -> None:
    admin = who(Role.brand_admin, ScopeType.brand)
    assert allows(admin, Permission.partner_manage, MUNICH)
    assert not allows(admin, Permission.org_read, OTHER_BRAND)


def test_region_manager_reaches_its_region() -> None:
    north = who(Role.region_manager, ScopeType.region, region_id=10)
    assert allows(north, Permission.org_read, AMSTERDAM)
    assert allows(north, Permission.org_read, BERLIN)
    assert not allows(north, Permission.org_read, MUNICH)
    assert not allows(north, Permission.org_read, Target(brand_id=1))


def test_partner_roles_reach_their_partner() -> None:
    gm = who(Role.partner_manager, ScopeType.partner, partner_id=100)
    assert allows(gm, Permission.partner_profile_edit, AMSTERDAM)
    assert not allows(gm, Permission.org_read, BERLIN)
    assert not allows(gm, Permission.partner_manage, AMSTERDAM)


def test_viewer_never_writes() -> None:
    writes = {p for p in Permission if p.value.split(".")[-1] not in {"read", "verify"}}
    assert ROLE_PERMISSIONS[Role.viewer].isdisjoint(writes)
    viewer = who(Role.viewer, ScopeType.brand)
    assert not any(allows(viewer, p, AMSTERDAM) for p in writes)


def test_visibility_of_mixed_grants() -> None:
    p = Principal(
        1,
        1,
        "x@example",
        (
            Grant(Role.partner_editor, ScopeType.partner, 1, partner_id=100),
            Grant(Role.region_manager, ScopeType.region, 1, region_id=20),
        ),
    )
    vis = visibility(p)
    assert not vis.whole_brand
    assert vis.partner_ids == {100} and vis.region_ids == {20}


def test_four_eyes() -> None:
    assert not four_eyes_ok(submitted_by=7, actor_id=7)
    assert four_eyes_ok(submitted_by=7, actor_id=8)
    assert four_eyes_ok(submitted_by=None, actor_id=8)


def test_contact_data_follows_the_partners_sharing_switch() -> None:
    """Per role: (not shared, shared) for Amsterdam's contacts; never Berlin's or another
    brand's."""
    expected = {
        who(Role.brand_admin, ScopeType.brand): (False, True),
        who(Role.brand_marketer, ScopeType.brand): (False, True),
        who(Role.brand_reviewer, ScopeType.brand): (False, False),
        who(Role.viewer, ScopeType.brand): (False, False),
        who(Role.region_manager, ScopeType.region, region_id=10): (False, False),
        who(Role.partner_manager, ScopeType.partner, partner_id=100): (True, True),
        who(Role.partner_editor, ScopeType.partner, partner_id=100): (True, True),
        who(Role.partner_manager, ScopeType.partner, partner_id=101): (False, False),
    }
    for principal, want in expected.items():
        got = tuple(may_see_contact_data(principal, AMSTERDAM, shared=s) for s in (False, True))
        assert got == want, principal.grants[0]
        assert not may_see_contact_data(principal, OTHER_BRAND, shared=True)
