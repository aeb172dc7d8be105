"""Authorisation across the whole API: every route declares a permission, every demo role gets
the answer the role table promises, and no tenant boundary leaks."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal import session as portal_cookies
from api.portal.web import PortalAuthorize, PortalPublic, PortalRoute
from api.security import Authorize, Public
from core.settings import Settings
from domain.journeys import ActivationState, JourneyState
from mail.message import compose
from mail.tags import make_tags
from mail.transport import OutboxTransport, outbox_dir
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion, Delegation
from models.assets import Asset
from models.campaign_sheets import CampaignSheet
from models.campaigns import Campaign, PartnerCampaign
from models.catalogue import CatalogueItem, CatalogueOrder
from models.claims import Claim
from models.contacts import Contact, Segment, Suppression
from models.funds import Fund
from models.journeys import Journey, JourneyActivation, JourneyVersion
from models.org import ApiToken, Membership, Partner, Region, User
from models.outbox import OutboxMessage
from models.print_orders import PrintOrder
from models.series import CampaignSeries
from models.templates import Template, TemplateVersion
from models.webhooks import WebhookEndpoint, WebhookEvent, WebhookEventState
from scripts.demo.organisation import DEMO_PASSWORD
from scripts.demo.templates import spring_draft
from services.webhooks.signing import new_secret
from tests.delivery.test_outbox import Sent, readable, send_to_outbox, share

FRAMEWORK_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _guards(dependant: Any) -> Iterator[object]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, Authorize | Public | PortalAuthorize | PortalPublic):
            yield dep.call
        yield from _guards(dep)


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare neither Authorize(...) nor Public()."""
    missing = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            assert ctx.path in FRAMEWORK_ROUTES, f"unexpected non-API route {ctx.path}"
            continue
        if not list(_guards(route.dependant)):
            missing.append(f"{sorted(route.methods)} {route.path}")
    return missing


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """The API's routes; the portal's pages have their own matrix below."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and not isinstance(route, PortalRoute):
            out.extend((m, route.path) for m in sorted(route.methods))
    return out


def test_every_route_declares_a_permission(settings: Settings) -> None:
    assert undeclared_routes(create_app(settings)) == []


def test_an_undeclared_route_is_caught(settings: Settings) -> None:
    app = create_app(settings)
    rogue = APIRouter()

    @rogue.get("/api/v1/rogue")
    def _rogue() -> dict[str, str]:
        return {"leak": "yes"}

    app.include_router(rogue)
    assert undeclared_routes(app) == ["['GET'] /api/v1/rogue"]


# The matrix ------------------------------------------------------------------------------------

ROLES = (
    ("contoso", "admin@contoso.example"),
    ("editor_ams", "editor.amsterdam@northwind.example"),
    ("gm_ber", "gm.berlin@northwind.example"),
    ("gm_ams", "gm.amsterdam@northwind.example"),
    ("north", "north@northwind.example"),
    ("south", "south@northwind.example"),
    ("ops", "ops@northwind.example"),
    ("reviewer", "brand@northwind.example"),
    ("marketing", "marketing@northwind.example"),
    ("admin", "admin@northwind.example"),  # last: its writes succeed and change the objects
)


@dataclass
class Ids:
    """Northwind objects the matrix acts on."""

    north: int
    empty_region: int
    amsterdam: int
    spare_partner: int
    editor: int
    editor_membership: int
    token: int
    template: int = 0
    published_version: int = 0
    draft_version: int = 0
    brand_asset: int = 0
    ams_asset: int = 0
    campaign: int = 0
    pc_ams: int = 0
    outbox: int = 0
    contact: int = 0
    segment: int = 0
    suppression: int = 0
    policy: int = 0
    delegation: int = 0
    sheet: int = 0
    block_kind: str = "footer"  # the demo brand's blocks; Contoso has none
    webhook: int = 0
    webhook_event: int = 0
    print_order: int = 0
    fund_ams: int = 0
    claim: int = 0
    evidence_n: int = 0  # the claim's first piece of evidence (delivery counts)
    cat_item: int = 0  # a published catalogue item for North
    cat_order: int = 0  # Amsterdam's open order of it
    series: int = 0
    journey: int = 0


@pytest.fixture
def ids(
    demo: Engine, login: Callable[[str], dict[str, str]], client: TestClient, settings: Settings
) -> Ids:
    with Session(demo) as s:
        north = s.exec(select(Region).where(Region.name == "North")).one()
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        editor = s.exec(
            select(User).where(User.email == "editor.amsterdam@northwind.example")
        ).one()
        membership = s.exec(select(Membership).where(Membership.user_id == editor.id)).one()
        empty = Region(brand_id=north.brand_id, name="Empty")
        spare = Partner(
            brand_id=north.brand_id, region_id=north.id, slug="spare", display_name="Spare"
        )
        s.add(empty)
        s.add(spare)
        s.commit()
        assert north.id and amsterdam.id and editor.id and membership.id and empty.id and spare.id
        result = Ids(north.id, empty.id, amsterdam.id, spare.id, editor.id, membership.id, 0)
    resp = client.post(
        "/api/v1/api-tokens",
        json={"user_id": result.editor, "name": "matrix"},
        headers=login("admin@northwind.example"),
    )
    assert resp.status_code == 201, resp.text
    with Session(demo) as s:
        result.token = s.exec(select(ApiToken)).one().id or 0
        open_day = s.exec(select(Template).where(Template.name == "Open day")).one()
        result.template = open_day.id or 0
        for v in s.exec(select(TemplateVersion)).all():
            if v.template_id == open_day.id:
                result.published_version = v.id or 0
            elif v.state == "draft":
                result.draft_version = v.id or 0
        for asset in s.exec(select(Asset)).all():
            if asset.uid == "ast_openday01":
                result.brand_asset = asset.id or 0
            elif asset.uid == "ast_amsclub01":
                result.ams_asset = asset.id or 0
    assert result.published_version and result.draft_version
    assert result.brand_asset and result.ams_asset
    result.campaign, result.pc_ams = _campaign_rows(demo, result)
    result.outbox = _outbox_row(demo, settings, result)
    result.contact, result.segment, result.suppression = _contact_rows(demo, result)
    result.policy, result.delegation = _approval_rows(demo)
    result.sheet = _sheet_row(demo)
    result.webhook, result.webhook_event = _webhook_rows(demo)
    result.print_order = _print_order_row(demo, result)
    result.fund_ams = _fund_row(demo, result)
    result.claim = _claim_row(demo, result)
    result.cat_item, result.cat_order = _catalogue_rows(demo, result)
    result.series = _series_row(demo, result)
    result.journey = _journey_rows(demo, result)
    return result


def _journey_spec(version_id: int) -> dict[str, Any]:
    return {
        "trigger": {"kind": "contact_created"},
        "entry": "welcome",
        "steps": [{"id": "welcome", "kind": "send", "template_version_id": version_id}],
    }


def _journey_rows(engine: Engine, ids: Ids) -> int:
    """A published Northwind journey, and Amsterdam's switch-on request for it waiting without
    a workflow or chain task: a second request is a 409, deciding it too (nothing waits),
    the GM's switch-off succeeds."""
    with Session(engine) as s:
        amsterdam = s.get(Partner, ids.amsterdam)
        assert amsterdam is not None
        journey = Journey(
            brand_id=amsterdam.brand_id,
            key="matrix",
            name="Matrix",
            state=JourneyState.published,
            created_by=ids.editor,
        )
        s.add(journey)
        s.flush()
        assert journey.id is not None
        s.add(
            JourneyVersion(
                journey_id=journey.id,
                version=1,
                spec=_journey_spec(ids.published_version),
                created_by=ids.editor,
            )
        )
        s.add(
            JourneyActivation(
                brand_id=amsterdam.brand_id,
                region_id=amsterdam.region_id,
                partner_id=ids.amsterdam,
                journey_id=journey.id,
                version=1,
                state=ActivationState.pending_approval,
                workflow_id="journey-activation-matrix",
            )
        )
        s.commit()
        return journey.id


def _print_order_row(engine: Engine, ids: Ids) -> int:
    """An Amsterdam print order without a workflow, still quoted (deciding, cancelling and its
    PDF answer 409 once the permission checks pass)."""
    with Session(engine) as s:
        amsterdam = s.get(Partner, ids.amsterdam)
        assert amsterdam is not None
        order = PrintOrder(
            brand_id=amsterdam.brand_id,
            region_id=amsterdam.region_id,
            partner_id=ids.amsterdam,
            partner_campaign_id=ids.pc_ams,
            format="A5",
            quantity=500,
            recipient_name="Matrix",
            street="Damrak 1",
            postal_code="1012 LG",
            city="Amsterdam",
            country="NL",
            wanted_by=(datetime.now(UTC) + timedelta(days=14)).date(),
            currency="EUR",
            ordered_by=ids.editor,
            workflow_id=f"print-order-matrix-{uuid.uuid4().hex[:8]}",
        )
        s.add(order)
        s.commit()
        return order.id or 0


def _series_row(engine: Engine, ids: Ids) -> int:
    """A Northwind campaign series that has ended (and has no Schedule): pausing, resuming,
    skipping or ending it again is a 409 once the permission checks pass."""
    with Session(engine) as s:
        marketer = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
        series = CampaignSeries(
            brand_id=marketer.brand_id,
            name="Matrix series",
            template_version_id=ids.published_version,
            target={"partners": [ids.amsterdam]},
            recurrence={"cron": "0 9 * * 1"},
            timezone="Europe/Amsterdam",
            personalise_for=3 * 86400,
            send_within=7 * 86400,
            state="ended",
            created_by=marketer.id or 0,
        )
        s.add(series)
        s.commit()
        return series.id or 0


def _fund_row(engine: Engine, ids: Ids) -> int:
    """Amsterdam's co-op fund for 2026-Q4 (no ledger rows needed to read or check it)."""
    with Session(engine) as s:
        partner = s.get(Partner, ids.amsterdam)
        assert partner is not None and partner.id is not None
        fund = Fund(
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id,
            period="2026-Q4",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 12, 31),
            currency="EUR",
            coop_share_bp=5000,
            eligible_channels=["email"],
        )
        s.add(fund)
        s.commit()
        return fund.id or 0


def _catalogue_rows(engine: Engine, ids: Ids) -> tuple[int, int]:
    """A published catalogue item offered to North, and Amsterdam's order of it (the matrix
    campaign, still drafting): a new order by Amsterdam answers 409 once access is checked."""
    with Session(engine) as s:
        amsterdam = s.get(Partner, ids.amsterdam)
        assert amsterdam is not None
        item = CatalogueItem(
            brand_id=amsterdam.brand_id,
            title="Matrix item",
            template_version_id=ids.published_version,
            region_ids=[ids.north],
            state="published",
            created_by=ids.editor,
        )
        s.add(item)
        s.flush()
        assert item.id is not None
        order = CatalogueOrder(
            brand_id=amsterdam.brand_id,
            region_id=amsterdam.region_id,
            partner_id=ids.amsterdam,
            item_id=item.id,
            campaign_id=ids.campaign,
            ordered_by=ids.editor,
        )
        s.add(order)
        s.commit()
        return item.id, order.id or 0


def _claim_row(engine: Engine, ids: Ids) -> int:
    """A draft claim of Amsterdam's partner campaign, with no workflow: actions that reach the
    workflow answer 409 (it takes no more actions)."""
    with Session(engine) as s:
        amsterdam = s.get(Partner, ids.amsterdam)
        assert amsterdam is not None
        claim = Claim(
            brand_id=amsterdam.brand_id,
            region_id=amsterdam.region_id,
            partner_id=ids.amsterdam,
            fund_id=ids.fund_ams,
            partner_campaign_id=ids.pc_ams,
            currency="EUR",
            coop_share_bp=5000,
            lines=[
                {
                    "channel": "email",
                    "quantity": 10,
                    "gross_minor": 50,
                    "eligible": True,
                    "source": "ledger",
                }
            ],
            evidence=[{"kind": "delivery_counts", "label": "Counts", "counts": {}}],
            window_closes_at=datetime(2027, 3, 2, tzinfo=UTC),
            workflow_id="claim-matrix",
        )
        s.add(claim)
        s.commit()
        return claim.id or 0


def _sheet_row(engine: Engine) -> int:
    """A Northwind campaign sheet refused by its validation (confirming it is a 409)."""
    with Session(engine) as s:
        marketer = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
        sheet = CampaignSheet(
            brand_id=marketer.brand_id,
            filename="matrix.csv",
            sha256="0" * 64,
            state="invalid",
            workflow_id="campaign-sheet-matrix",
            uploaded_by=marketer.id or 0,
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
        s.add(sheet)
        s.commit()
        return sheet.id or 0


def _webhook_rows(engine: Engine) -> tuple[int, int]:
    """A Northwind endpoint with one logged event. Disabled: a ping or redelivery made by the
    matrix is never sent anywhere."""
    with Session(engine) as s:
        admin = s.exec(select(User).where(User.email == "admin@northwind.example")).one()
        endpoint = WebhookEndpoint(
            brand_id=admin.brand_id,
            url="https://93.184.215.14/hook",
            event_types=["delivery.finished"],
            enabled=False,
            secret=new_secret(),
        )
        s.add(endpoint)
        s.flush()
        event = WebhookEvent(
            endpoint_id=endpoint.id or 0,
            brand_id=admin.brand_id,
            message_id="msg_matrix",
            source_key="matrix",
            event_type="delivery.finished",
            subject="partner_campaign:0",
            state=WebhookEventState.delivered,
        )
        s.add(event)
        s.commit()
        return endpoint.id or 0, event.id or 0


def _approval_rows(engine: Engine) -> tuple[int, int]:
    """A Northwind approval policy, and brand@'s delegation to brand2@."""
    with Session(engine) as s:
        users = {u.email: u for u in s.exec(select(User)).all()}
        admin, reviewer = users["admin@northwind.example"], users["brand@northwind.example"]
        policy = ApprovalPolicy(brand_id=admin.brand_id, name="Matrix", created_by=admin.id or 0)
        s.add(policy)
        s.flush()
        spec = {"stages": [{"name": "gm", "approvers": [{"role": "partner_gm"}]}]}
        s.add(
            ApprovalPolicyVersion(
                policy_id=policy.id or 0,
                brand_id=admin.brand_id,
                number=1,
                spec=spec,
                created_by=admin.id or 0,
            )
        )
        now = datetime.now(UTC)
        delegation = Delegation(
            brand_id=reviewer.brand_id,
            user_id=reviewer.id or 0,
            delegate_id=users["brand2@northwind.example"].id or 0,
            starts_at=now,
            ends_at=now + timedelta(days=7),
        )
        s.add(delegation)
        s.commit()
        return policy.id or 0, delegation.id or 0


def _contact_rows(engine: Engine, ids: Ids) -> tuple[int, int, int]:
    """One Amsterdam contact and segment, and one manual Northwind suppression."""
    with Session(engine) as s:
        partner = s.get(Partner, ids.amsterdam)
        assert partner is not None
        contact = Contact(
            brand_id=partner.brand_id, partner_id=ids.amsterdam, email="matrix@example.com"
        )
        segment = Segment(brand_id=partner.brand_id, partner_id=ids.amsterdam, name="Matrix")
        blocked = Suppression(
            brand_id=partner.brand_id, email="blocked@example.com", reason="manual"
        )
        s.add_all([contact, segment, blocked])
        s.commit()
        return contact.id or 0, segment.id or 0, blocked.id or 0


def _outbox_row(engine: Engine, settings: Settings, ids: Ids) -> int:
    """One message of the Amsterdam partner campaign in the embedded outbox."""
    with Session(engine) as s:
        brand_id = s.exec(select(Partner.brand_id).where(Partner.id == ids.amsterdam)).one()
    outbox = OutboxTransport(outbox_dir(settings), engine)
    msg = compose(sender="news@northwind.example", to=["ann@example.com"], subject="M", text="t")
    outbox.send(msg, tags=make_tags(brand=brand_id, partner_campaign=ids.pc_ams))
    with Session(engine) as s:
        row_id = s.exec(
            select(OutboxMessage.id).where(OutboxMessage.message_id == msg["Message-ID"])
        ).one()
    assert row_id is not None
    return row_id


def _campaign_rows(engine: Engine, ids: Ids) -> tuple[int, int]:
    """A draft campaign whose window has passed (launching it is refused before any workflow
    starts) and an Amsterdam partner campaign without a workflow (its actions answer 409 once
    the permission checks pass)."""
    past = datetime.now(UTC) - timedelta(days=1)
    with Session(engine) as s:
        marketer = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
        campaign = Campaign(
            brand_id=marketer.brand_id,
            name="Matrix",
            template_version_id=ids.published_version,
            target={"all": True},
            personalise_until=past,
            send_by=past + timedelta(days=10),
            created_by=marketer.id or 0,
        )
        s.add(campaign)
        s.flush()
        amsterdam = s.get(Partner, ids.amsterdam)
        assert amsterdam is not None and campaign.id is not None
        row = PartnerCampaign(
            campaign_id=campaign.id,
            brand_id=amsterdam.brand_id,
            region_id=amsterdam.region_id,
            partner_id=ids.amsterdam,
            state="drafting",
            values=MATRIX_VALUES,
            workflow_id=f"partner-campaign-matrix-{uuid.uuid4().hex[:8]}",
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return campaign.id, row.id


MATRIX_VALUES = {
    "headline": "Matrix",
    "event_date": (datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
}


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "#0B3D91").save(out, format="PNG")
    return out.getvalue()


def send(
    client: TestClient | httpx.AsyncClient,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    multipart: bool,
) -> Any:
    """JSON, or for upload routes a multipart form with a small real PNG (or a CSV file)."""
    if multipart:
        files = {"file": ("club.png", tiny_png(), "image/png")}
        if url.endswith("/contacts/import"):
            files = {"file": ("contacts.csv", MATRIX_CSV, "text/csv")}
        if url.endswith("/funds/import"):
            files = {"file": ("funds.csv", MATRIX_FUNDS_CSV, "text/csv")}
        return client.request(
            method, url, data=body or {"title": "Upload"}, files=files, headers=headers
        )
    return client.request(method, url, json=body, headers=headers)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with {field} of Ids
    body: Callable[[Ids, str], dict[str, Any]] | None = None
    multipart: bool = False

    @property
    def template(self) -> str:
        return re.sub(r"\{[^}]*\}", "{}", self.path.split("?")[0])

    def build(self, ids: Ids, role: str) -> tuple[str, str, dict[str, Any] | None]:
        body = self.body(ids, role) if self.body else None
        return self.method, self.path.format(**vars(ids)), body


_c = Call
MATRIX_CSV = b"email,consent_status\nimported@example.com,unknown\n"
MATRIX_FUNDS_CSV = (
    b"partner,period,currency,amount,co-op share,channels\namsterdam,2027-Q2,EUR,5,50,email\n"
)
CONTACTS = "/api/v1/partners/{amsterdam}/contacts"
POLICY = "/api/v1/approval-policies/{policy}"
SEGMENTS = "/api/v1/partners/{amsterdam}/segments"


# Expected answers, one letter per role in ROLES order:
# O = success (2xx), F = 403, N = 404, V = 422 (a cross-brand reference refused as a field),
# C = 409, R = 307 (a redirect to a signed download URL).
# A role that holds the permission nowhere is refused (403) before any object is looked up, so
# the answer cannot depend on whether the id exists; a role that holds it, but not over this
# object, gets 404.
MATRIX: dict[str, tuple[Call, str]] = {
    "me": (_c("GET", "/api/v1/me"), "OOOOOOOOOO"),
    "me.password": (
        _c(
            "POST",
            "/api/v1/me/password",
            lambda i, r: {"current_password": DEMO_PASSWORD, "new_password": "a walk at 9 a.m."},
        ),
        "OOOOOOOOOO",
    ),
    "me.preferences.read": (_c("GET", "/api/v1/me/preferences"), "OOOOOOOOOO"),
    "me.preferences.update": (
        _c("PATCH", "/api/v1/me/preferences", lambda i, r: {"timezone": "Europe/Berlin"}),
        "OOOOOOOOOO",
    ),
    "auth.logout": (_c("POST", "/api/v1/auth/logout"), "OOOOOOOOOO"),
    "regions.list": (_c("GET", "/api/v1/regions"), "OOOOOOOOOO"),
    "regions.create": (
        _c("POST", "/api/v1/regions", lambda i, r: {"name": f"New {r}"}),
        "OFFFFFFFFO",
    ),
    "regions.read": (_c("GET", "/api/v1/regions/{north}"), "NNNNONOOOO"),
    "regions.update": (
        _c("PATCH", "/api/v1/regions/{north}", lambda i, r: {"name": "North"}),
        "NFFFFFFFFO",
    ),
    "regions.delete": (_c("DELETE", "/api/v1/regions/{empty_region}"), "NFFFFFFFFO"),
    "partners.list": (_c("GET", "/api/v1/partners"), "OOOOOOOOOO"),
    "partners.create": (
        _c(
            "POST",
            "/api/v1/partners",
            lambda i, r: {"region_id": i.north, "slug": f"new-{r}", "display_name": "New"},
        ),
        "VFFFFFFFFO",
    ),
    "partners.read": (_c("GET", "/api/v1/partners/{amsterdam}"), "NONOONOOOO"),
    "partners.update": (
        _c("PATCH", "/api/v1/partners/{amsterdam}", lambda i, r: {"phone": "+31 20 555 0101"}),
        "NFNOFFFFFO",
    ),
    "partners.delete": (_c("DELETE", "/api/v1/partners/{spare_partner}"), "NFFFFFFFFO"),
    "sender.read": (_c("GET", "/api/v1/sender"), "OOOOOOOOOO"),
    "sender.update": (
        _c("PUT", "/api/v1/sender", lambda i, r: {"default_local_part": "news"}),
        "OFFFFFFFFO",
    ),
    "partners.sender_read": (_c("GET", "/api/v1/partners/{amsterdam}/sender"), "NONOONOOOO"),
    "partners.sender_update": (
        _c("PUT", "/api/v1/partners/{amsterdam}/sender", lambda i, r: {"from_name": "Club"}),
        "NFNOFFFFFO",
    ),
    "users.list": (_c("GET", "/api/v1/users"), "OFFFFFOFFO"),
    "users.create": (
        _c("POST", "/api/v1/users", lambda i, r: {"email": f"new.{r}@example.com"}),
        "OFFFFFFFFO",
    ),
    "users.read": (_c("GET", "/api/v1/users/{editor}"), "NFFFFFOFFO"),
    "users.update": (
        _c("PATCH", "/api/v1/users/{editor}", lambda i, r: {"full_name": "Ed"}),
        "NFFFFFFFFO",
    ),
    "users.deactivate": (_c("DELETE", "/api/v1/users/{editor}"), "NFFFFFFFFO"),
    "memberships.list": (_c("GET", "/api/v1/memberships"), "OFFFFFOFFO"),
    "memberships.create": (
        _c(
            "POST",
            "/api/v1/memberships",
            lambda i, r: {
                "user_id": i.editor,
                "role": "viewer",
                "scope_type": "partner",
                "partner_id": i.amsterdam,
            },
        ),
        "VFFFFFFFFO",
    ),
    "memberships.read": (_c("GET", "/api/v1/memberships/{editor_membership}"), "NFFFFFOFFO"),
    "memberships.delete": (_c("DELETE", "/api/v1/memberships/{editor_membership}"), "NFFFFFFFFO"),
    "api_tokens.list": (_c("GET", "/api/v1/api-tokens"), "OFFFFFFFFO"),
    "api_tokens.create": (
        _c("POST", "/api/v1/api-tokens", lambda i, r: {"user_id": i.editor, "name": r}),
        "VFFFFFFFFO",
    ),
    "api_tokens.read": (_c("GET", "/api/v1/api-tokens/{token}"), "NFFFFFFFFO"),
    "api_tokens.revoke": (_c("DELETE", "/api/v1/api-tokens/{token}"), "NFFFFFFFFO"),
    "audit.list": (_c("GET", "/api/v1/audit"), "OFOOOOOOOO"),
    "audit.verify": (_c("GET", "/api/v1/audit/verify"), "OFFFFFOFFO"),
    "audit.checkpoint": (_c("POST", "/api/v1/audit/checkpoints"), "OFFFFFFFFO"),
    "audit.export": (_c("GET", "/api/v1/audit/export.csv"), "OFOOOOOOOO"),
    # Brand blocks: HQ reads them, template authors replace them (Contoso its own).
    "brand_blocks.list": (_c("GET", "/api/v1/brand-blocks"), "OFFFFFOOOO"),
    "brand_blocks.read": (_c("GET", "/api/v1/brand-blocks/{block_kind}"), "NFFFFFOOOO"),
    "brand_blocks.footer": (
        _c("PUT", "/api/v1/brand-blocks/footer", lambda i, r: {"legal_text": f"Legal {r}"}),
        "OFFFFFFFOO",
    ),
    "brand_blocks.header": (
        _c("PUT", "/api/v1/brand-blocks/header", lambda i, r: {"brand_name": f"Brand {r}"}),
        "OFFFFFFFOO",
    ),
    "templates.list": (_c("GET", "/api/v1/templates"), "OFFFFFOOOO"),
    "templates.create": (
        _c("POST", "/api/v1/templates", lambda i, r: {"name": f"T {r}"}),
        "OFFFFFFFOO",
    ),
    "templates.read": (_c("GET", "/api/v1/templates/{template}"), "NFFFFFOOOO"),
    "templates.new_version": (
        _c("POST", "/api/v1/templates/{template}/versions", lambda i, r: {}),
        "NFFFFFFFOC",
    ),
    "versions.read": (_c("GET", "/api/v1/versions/{published_version}"), "NFFFFFOOOO"),
    "versions.update": (
        _c(
            "PATCH",
            "/api/v1/versions/{draft_version}",
            lambda i, r: {"content": spring_draft().model_dump(mode="json")},
        ),
        "NFFFFFFFOO",
    ),
    "versions.lint": (_c("GET", "/api/v1/versions/{published_version}/lint"), "NFFFFFOOOO"),
    "versions.validate": (
        _c("POST", "/api/v1/versions/{published_version}/validate", lambda i, r: {}),
        "NFFFFFOOOO",
    ),
    "versions.preview_sample": (
        _c("GET", "/api/v1/versions/{published_version}/preview"),
        "NFFFFFOOOO",
    ),
    "versions.preview": (
        _c(
            "POST",
            "/api/v1/versions/{published_version}/preview",
            lambda i, r: {"values": {"event_date": "2027-05-01"}},
        ),
        "NFFFFFOOOO",
    ),
    "versions.submit": (_c("POST", "/api/v1/versions/{draft_version}/submit"), "NFFFFFFFOC"),
    "versions.decision": (
        _c(
            "POST",
            "/api/v1/versions/{published_version}/decision",
            lambda i, r: {"decision": "approve"},
        ),
        "NFFFFFFCFC",
    ),
    "versions.retire": (
        _c("POST", "/api/v1/versions/{published_version}/retire"),
        "NFFFFFFFOC",
    ),
    "versions.timeline": (
        _c("GET", "/api/v1/versions/{published_version}/timeline"),
        "NFFFFFOOOO",
    ),
    "campaigns.list": (_c("GET", "/api/v1/campaigns"), "OFFFOOOOOO"),
    "campaigns.create": (
        _c(
            "POST",
            "/api/v1/campaigns",
            lambda i, r: {
                "name": f"C {r}",
                "template_version_id": i.published_version,
                "target": {"all": True},
                "personalise_until": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
                "send_by": (datetime.now(UTC) + timedelta(days=9)).isoformat(),
            },
        ),
        "VFFFFFFFOO",
    ),
    "campaigns.read": (_c("GET", "/api/v1/campaigns/{campaign}"), "NFFFOOOOOO"),
    # Campaign sheets: campaign.manage uploads and confirms, campaign.read reads (a PNG is
    # refused as a file, 422); partner roles see none. Partner value sheets: who edits.
    "campaign_sheets.template": (_c("GET", "/api/v1/campaign-sheets/template"), "OFFFFFFFOO"),
    "campaign_sheets.upload": (
        _c("POST", "/api/v1/campaign-sheets", multipart=True),
        "VFFFFFFFVV",
    ),
    "campaign_sheets.list": (_c("GET", "/api/v1/campaign-sheets"), "OFFFOOOOOO"),
    "campaign_sheets.read": (_c("GET", "/api/v1/campaign-sheets/{sheet}"), "NFFFOOOOOO"),
    "campaign_sheets.confirm": (
        _c("POST", "/api/v1/campaign-sheets/{sheet}/confirm"),
        "NFFFFFFFCC",
    ),
    "partner_value_sheets.download": (_c("GET", "/api/v1/partner-value-sheets"), "OOOOFFFFFO"),
    "partner_value_sheets.upload": (
        _c("POST", "/api/v1/partner-value-sheets", multipart=True),
        "VVVVFFFFFV",
    ),
    "campaigns.update": (
        _c("PATCH", "/api/v1/campaigns/{campaign}", lambda i, r: {"name": f"M {r}"}),
        "NFFFFFFFOO",
    ),
    "campaigns.launch": (_c("POST", "/api/v1/campaigns/{campaign}/launch"), "NFFFFFFFVV"),
    "campaigns.cancel": (_c("POST", "/api/v1/campaigns/{campaign}/cancel"), "NFFFFFFFCC"),
    "campaigns.extend": (
        _c(
            "POST",
            "/api/v1/campaigns/{campaign}/extend",
            lambda i, r: {"personalise_until": datetime.now(UTC).isoformat()},
        ),
        "NFFFFFFFCC",
    ),
    "campaigns.partners": (
        _c("POST", "/api/v1/campaigns/{campaign}/partners", lambda i, r: {"partners": [1]}),
        "NFFFFFFFCC",
    ),
    "partner_campaigns.list": (_c("GET", "/api/v1/partner-campaigns"), "OOOOOOOOOO"),
    "partner_campaigns.read": (_c("GET", "/api/v1/partner-campaigns/{pc_ams}"), "NONOONOOOO"),
    "partner_campaigns.content": (
        _c(
            "PUT",
            "/api/v1/partner-campaigns/{pc_ams}/content",
            lambda i, r: {"values": MATRIX_VALUES},
        ),
        "NCNCFFFFFC",
    ),
    "partner_campaigns.test_sends": (
        _c("POST", "/api/v1/partner-campaigns/{pc_ams}/test-sends"),
        "NONOFFFFFO",
    ),
    "partner_campaigns.delivery": (
        _c("GET", "/api/v1/partner-campaigns/{pc_ams}/delivery"),
        "NONOONOOOO",
    ),
    "partner_campaigns.delivery_resume": (
        _c("POST", "/api/v1/partner-campaigns/{pc_ams}/delivery/resume"),
        "NFNFFNFFCC",
    ),
    "partner_campaigns.submit": (
        _c("POST", "/api/v1/partner-campaigns/{pc_ams}/submit"),
        "NCNCFFFFFC",
    ),
    "partner_campaigns.decline": (
        _c("POST", "/api/v1/partner-campaigns/{pc_ams}/decline"),
        "NCNCFFFFFC",
    ),
    "partner_campaigns.schedule": (
        _c(
            "POST",
            "/api/v1/partner-campaigns/{pc_ams}/schedule",
            lambda i, r: {"send_at": datetime.now(UTC).isoformat()},
        ),
        "NCNCFFFFFC",
    ),
    "partner_campaigns.decision": (
        _c(
            "POST",
            "/api/v1/partner-campaigns/{pc_ams}/decision",
            lambda i, r: {"decision": "approve"},
        ),
        "NFNCCNFCFC",
    ),
    "partner_campaigns.preview": (
        _c("GET", "/api/v1/partner-campaigns/{pc_ams}/preview"),
        "NONOONOOOO",
    ),
    "partner_campaigns.sms_preview": (
        _c(
            "POST",
            "/api/v1/partner-campaigns/{pc_ams}/sms-preview",
            lambda i, r: {"values": MATRIX_VALUES},
        ),
        "NONOONOOOO",
    ),
    "partner_campaigns.timeline": (
        _c("GET", "/api/v1/partner-campaigns/{pc_ams}/timeline"),
        "NONOONOOOO",
    ),
    "tasks.list": (_c("GET", "/api/v1/tasks"), "OOOOOOOOOO"),
    "assets.list": (_c("GET", "/api/v1/assets"), "OOOOOOOOOO"),
    "assets.upload": (_c("POST", "/api/v1/assets", multipart=True), "OOOOFFFFOO"),
    "assets.read": (_c("GET", "/api/v1/assets/{ams_asset}"), "NONOONOOOO"),
    "assets.update": (
        _c("PATCH", "/api/v1/assets/{brand_asset}", lambda i, r: {"title": f"Hero {r}"}),
        "NFFFFFFFOO",
    ),
    "assets.archive": (_c("DELETE", "/api/v1/assets/{ams_asset}"), "NONOFFFFOO"),
    "assets.versions": (_c("GET", "/api/v1/assets/{brand_asset}/versions"), "NOOOOOOOOO"),
    "assets.new_version": (
        _c("POST", "/api/v1/assets/{brand_asset}/versions", multipart=True),
        "NFFFFFFFOO",
    ),
    "assets.download": (_c("GET", "/api/v1/assets/{brand_asset}/download"), "NRRRRRRRRR"),
    "assets.decision": (
        _c("POST", "/api/v1/assets/{ams_asset}/decision", lambda i, r: {"decision": "approve"}),
        "NFFFFFFOFC",
    ),
    "outbox.list": (_c("GET", "/api/v1/outbox"), "OFFFFFOOOO"),
    "outbox.raw": (_c("GET", "/api/v1/outbox/{outbox}/raw"), "NFFFFFOOOO"),
    "outbox.sms": (_c("GET", "/api/v1/outbox/sms"), "OFFFFFOOOO"),
    # Contact rows: the partner's own users; Amsterdam does not share them, so HQ gets 403
    # (it may count them: summary, segments). The second delete finds the row gone (404).
    "contacts.list": (_c("GET", CONTACTS), "NONOFFFFFF"),
    "contacts.create": (
        _c(
            "POST",
            CONTACTS,
            lambda i, r: {"email": f"{r}@example.com", "consent_status": "unknown"},
        ),
        "NONOFFFFFF",
    ),
    "contacts.summary": (_c("GET", CONTACTS + "/summary"), "NONOONOOOO"),
    "contacts.sharing": (
        _c("PUT", CONTACTS + "/sharing", lambda i, r: {"shared": False}),
        "NFNOFFFFFF",
    ),
    "contacts.import": (_c("POST", CONTACTS + "/import", multipart=True), "NONOFFFFFF"),
    "contacts.export": (_c("GET", CONTACTS + "/export"), "NONOFFFFFF"),
    "contacts.read": (_c("GET", CONTACTS + "/{contact}"), "NONOFFFFFF"),
    "contacts.update": (
        _c("PATCH", CONTACTS + "/{contact}", lambda i, r: {"name": f"Name {r}"}),
        "NONOFFFFFF",
    ),
    "contacts.erase": (_c("DELETE", CONTACTS + "/{contact}"), "NONNFFFFFF"),
    "segments.list": (_c("GET", SEGMENTS), "NONOONOOOO"),
    "segments.create": (
        _c("POST", SEGMENTS, lambda i, r: {"name": f"Seg {r}", "filter": {"tags_any": ["yoga"]}}),
        "NONOFFFFFF",
    ),
    "segments.read": (_c("GET", SEGMENTS + "/{segment}"), "NONOONOOOO"),
    "segments.count": (_c("GET", SEGMENTS + "/{segment}/count"), "NONOONOOOO"),
    "segments.update": (
        _c("PATCH", SEGMENTS + "/{segment}", lambda i, r: {"name": f"Renamed {r}"}),
        "NONOFFFFFF",
    ),
    "segments.delete": (_c("DELETE", SEGMENTS + "/{segment}"), "NONNFFFFFF"),
    "suppressions.list": (_c("GET", "/api/v1/suppressions"), "OFFFFFFFOO"),
    "phone_suppressions.list": (_c("GET", "/api/v1/phone-suppressions"), "OFFFFFFFOO"),
    "suppressions.add": (
        _c("POST", "/api/v1/suppressions", lambda i, r: {"email": f"{r}@example.com"}),
        "OFFFFFFFOO",
    ),
    "suppressions.remove": (_c("DELETE", "/api/v1/suppressions/{suppression}"), "NFFFFFFFON"),
    # Approval policies: read by HQ's roles (Contoso reads its own list: the built-ins),
    # designed by brand admins only.
    "approval_policies.list": (_c("GET", "/api/v1/approval-policies"), "OFFFFFOOOO"),
    "approval_policies.create": (
        _c("POST", "/api/v1/approval-policies", lambda i, r: {"name": f"P {r}", "spec": {}}),
        "OFFFFFFFFO",
    ),
    "approval_policies.read": (_c("GET", POLICY), "NFFFFFOOOO"),
    "approval_policies.new_version": (
        _c("POST", POLICY + "/versions", lambda i, r: {"spec": {}}),
        "NFFFFFFFFO",
    ),
    "approval_policies.archive": (_c("POST", POLICY + "/archive"), "NFFFFFFFFO"),
    "approval_policies.diagram": (_c("GET", POLICY + "/diagram"), "NFFFFFOOOO"),
    "approval_policies.explain": (
        _c("GET", POLICY + "/explain?partner_campaign_id={pc_ams}"),
        "NFFFFFOOOO",
    ),
    # Delegations: everyone's own (anyone may be a policy's named approver); the delegate must
    # be of the caller's brand, and only the approver who delegated revokes.
    "delegations.list": (_c("GET", "/api/v1/me/delegations"), "OOOOOOOOOO"),
    "delegations.create": (
        _c(
            "POST",
            "/api/v1/me/delegations",
            lambda i, r: {
                "delegate_email": "brand2@northwind.example",
                "starts_at": datetime.now(UTC).isoformat(),
                "ends_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            },
        ),
        "VOOOOOOOOO",
    ),
    "delegations.revoke": (
        _c("POST", "/api/v1/me/delegations/{delegation}/revoke"),
        "NNNNNNNONN",
    ),
    # Open and click tracking switches: every role reads its brand's, brand admins change them.
    "brand_tracking.read": (_c("GET", "/api/v1/brand/tracking"), "OOOOOOOOOO"),
    "brand_tracking.update": (
        _c("PUT", "/api/v1/brand/tracking", lambda i, r: {"click_tracking": False}),
        "OFFFFFFFFO",
    ),
    # Reports: whoever reads campaigns, over its brand or region (Contoso its own, empty);
    # a partner's users read only their own report, next to anonymous region figures.
    "reports.funnel": (_c("GET", "/api/v1/reports/funnel"), "OFFFOOOOOO"),
    "reports.time_to_market": (_c("GET", "/api/v1/reports/time-to-market"), "OFFFOOOOOO"),
    "reports.quality": (_c("GET", "/api/v1/reports/quality"), "OFFFOOOOOO"),
    "reports.delivery": (_c("GET", "/api/v1/reports/delivery?format=csv"), "OFFFOOOOOO"),
    "reports.trend": (_c("GET", "/api/v1/reports/trend"), "OFFFOOOOOO"),
    "reports.mine": (_c("GET", "/api/v1/reports/mine?partner_id={amsterdam}"), "NONOONOOOO"),
    # The co-op report: every fund reader within its reach (partners their own fund); a region
    # filter outside the reach is not found.
    "reports.coop": (_c("GET", "/api/v1/reports/coop?period=2026-Q4&format=csv"), "OOOOOOOOOO"),
    "reports.coop.region": (
        _c("GET", "/api/v1/reports/coop?region_id={north}"),
        "NNNNONOOOO",
    ),
    # Webhooks: the brand's admins only (webhook.manage); Contoso's admin manages its own.
    "webhooks.list": (_c("GET", "/api/v1/webhooks"), "OFFFFFFFFO"),
    "webhooks.create": (
        _c(
            "POST",
            "/api/v1/webhooks",
            lambda i, r: {"url": "https://93.184.215.14/hook", "event_types": ["delivery.paused"]},
        ),
        "OFFFFFFFFO",
    ),
    "webhooks.read": (_c("GET", "/api/v1/webhooks/{webhook}"), "NFFFFFFFFO"),
    "webhooks.update": (
        _c("PATCH", "/api/v1/webhooks/{webhook}", lambda i, r: {"description": "Matrix"}),
        "NFFFFFFFFO",
    ),
    "webhooks.delete": (_c("DELETE", "/api/v1/webhooks/{webhook}"), "NFFFFFFFFO"),
    "webhooks.rotate_secret": (
        _c("POST", "/api/v1/webhooks/{webhook}/rotate-secret"),
        "NFFFFFFFFO",
    ),
    "webhooks.deliveries": (_c("GET", "/api/v1/webhooks/{webhook}/deliveries"), "NFFFFFFFFO"),
    "webhooks.events": (_c("GET", "/api/v1/webhooks/{webhook}/events"), "NFFFFFFFFO"),
    "webhooks.redeliver": (
        _c("POST", "/api/v1/webhooks/{webhook}/events/{webhook_event}/redeliver"),
        "NFFFFFFFFO",
    ),
    "webhooks.test": (_c("POST", "/api/v1/webhooks/{webhook}/test"), "NFFFFFFFFO"),
    # Print orders: everyone reads their scope; partner editors, GMs and brand admins order
    # and cancel; deciders (partner_campaign.decide) vote in the chain (the matrix's order is
    # quoted and has no workflow, so allowed actions answer 409).
    "print_orders.list": (_c("GET", "/api/v1/print-orders"), "OOOOOOOOOO"),
    "print_orders.create": (
        _c(
            "POST",
            "/api/v1/print-orders",
            lambda i, r: {
                "partner_campaign_id": i.pc_ams,
                "format": "A5",
                "quantity": 500,
                "recipient_name": "Matrix",
                "street": "Damrak 1",
                "postal_code": "1012 LG",
                "city": "Amsterdam",
                "country": "NL",
                "wanted_by": (datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
            },
        ),
        "NCNCFFFFFC",
    ),
    "print_orders.read": (_c("GET", "/api/v1/print-orders/{print_order}"), "NONOONOOOO"),
    "print_orders.decide": (
        _c(
            "POST",
            "/api/v1/print-orders/{print_order}/decide",
            lambda i, r: {"decision": "approve"},
        ),
        "NFNCCNFCFC",
    ),
    "print_orders.cancel": (
        _c("POST", "/api/v1/print-orders/{print_order}/cancel", lambda i, r: {}),
        "NCNCFFFFFC",
    ),
    "print_orders.pdf": (_c("GET", "/api/v1/print-orders/{print_order}/pdf"), "NCNCCNCCCC"),
    # The catalogue: everyone reads the items of their reach (South not North's item); HQ's
    # managers write them; partner users and brand admins order (Amsterdam's open order of the
    # item makes a new one a 409).
    "catalogue.list": (_c("GET", "/api/v1/catalogue"), "OOOOOOOOOO"),
    "catalogue.create": (
        _c(
            "POST",
            "/api/v1/catalogue",
            lambda i, r: {"title": f"New {r}", "template_version_id": i.published_version},
        ),
        "VFFFFFFFOO",
    ),
    "catalogue.read": (_c("GET", "/api/v1/catalogue/{cat_item}"), "NOOOONOOOO"),
    "catalogue.update": (
        _c("PATCH", "/api/v1/catalogue/{cat_item}", lambda i, r: {"title": f"By {r}"}),
        "NFFFFFFFOO",
    ),
    "catalogue.publish": (_c("POST", "/api/v1/catalogue/{cat_item}/publish"), "NFFFFFFFOO"),
    "catalogue.withdraw": (_c("POST", "/api/v1/catalogue/{cat_item}/withdraw"), "NFFFFFFFOO"),
    "catalogue.orders": (_c("GET", "/api/v1/catalogue/orders"), "OOOOOOOOOO"),
    "catalogue.order_read": (
        _c("GET", "/api/v1/catalogue/orders/{cat_order}"),
        "NONOONOOOO",
    ),
    "catalogue.order": (
        _c(
            "POST",
            "/api/v1/catalogue/{cat_item}/orders",
            lambda i, r: {"partner_id": i.amsterdam},
        ),
        "NCNCFFFFFC",
    ),
    "funds.list": (_c("GET", "/api/v1/funds"), "OOOOOOOOOO"),
    "funds.allocate": (
        _c(
            "POST",
            "/api/v1/funds",
            lambda i, r: {
                "period": "2027-Q1",
                "currency": "EUR",
                "amount": "10.00",
                "coop_share_percent": "50",
                "eligible_channels": ["email"],
                "partner_id": i.amsterdam,
            },
        ),
        "NFFFFFFFFO",
    ),
    "funds.import": (_c("POST", "/api/v1/funds/import", multipart=True), "VFFFFFFFFO"),
    "funds.read": (_c("GET", "/api/v1/funds/{fund_ams}"), "NONOONOOOO"),
    "funds.ledger": (_c("GET", "/api/v1/funds/{fund_ams}/ledger"), "NONOONOOOO"),
    "funds.check": (_c("GET", "/api/v1/funds/{fund_ams}/check"), "NONOONOOOO"),
    "cost_rates.list": (_c("GET", "/api/v1/cost-rates"), "OOOOOOOOOO"),
    "cost_rates.replace": (
        _c(
            "PUT",
            "/api/v1/cost-rates",
            lambda i, r: {"rates": [{"channel": "email", "unit": "0.05", "currency": "EUR"}]},
        ),
        "OFFFFFFFFO",
    ),
    # Claims: partners their own, regions theirs, brand roles all; the GM confirms and adds
    # invoices, HQ's approval chain decides (roles that decide approvals; nothing waits here),
    # admins pay and export (claim.pay). The claim has no workflow and no open chain task, so an
    # action that reaches it is a 409.
    "claims.list": (_c("GET", "/api/v1/claims"), "OOOOOOOOOO"),
    "claims.export": (_c("GET", "/api/v1/claims/export?format=csv"), "OFFFFFFFFO"),
    "claims.read": (_c("GET", "/api/v1/claims/{claim}"), "NONOONOOOO"),
    "claims.evidence": (_c("GET", "/api/v1/claims/{claim}/evidence/{evidence_n}"), "NONOONOOOO"),
    "claims.invoice": (
        _c(
            "POST",
            "/api/v1/claims/{claim}/invoices",
            lambda i, r: {"amount": "1.00", "description": f"Matrix {r}"},
            multipart=True,
        ),
        "NFNOFFFFFO",
    ),
    "claims.confirm": (_c("POST", "/api/v1/claims/{claim}/confirm"), "NFNCFFFFFC"),
    "claims.decide": (
        _c("POST", "/api/v1/claims/{claim}/decide", lambda i, r: {"decision": "approve"}),
        "NFNCCNFCFC",
    ),
    "claims.payment": (
        _c("POST", "/api/v1/claims/{claim}/payment", lambda i, r: {"reference": "SEPA-1"}),
        "NFFFFFFFFC",
    ),
    # Campaign series: every role reads its brand's; campaign marketers and admins manage
    # them (the matrix's series has ended: changing it is a 409; a draft version is refused).
    # A standing approval is granted by whoever decides for the partner, from an approved
    # occurrence (the matrix's partner campaign is none: 422); none exists to withdraw.
    "campaign_series.list": (_c("GET", "/api/v1/campaign-series"), "OOOOOOOOOO"),
    "campaign_series.create": (
        _c(
            "POST",
            "/api/v1/campaign-series",
            lambda i, r: {
                "name": f"Series {r}",
                "template_version_id": i.draft_version,
                "target": {"partners": [i.amsterdam]},
                "recurrence": {"monthly": {"nth": 1, "weekday": "monday"}},
            },
        ),
        "VFFFFFFFVV",
    ),
    "campaign_series.read": (_c("GET", "/api/v1/campaign-series/{series}"), "NOOOOOOOOO"),
    "campaign_series.pause": (_c("POST", "/api/v1/campaign-series/{series}/pause"), "NFFFFFFFCC"),
    "campaign_series.resume": (
        _c("POST", "/api/v1/campaign-series/{series}/resume"),
        "NFFFFFFFCC",
    ),
    "campaign_series.skip_next": (
        _c("POST", "/api/v1/campaign-series/{series}/skip-next"),
        "NFFFFFFFCC",
    ),
    "campaign_series.end": (_c("POST", "/api/v1/campaign-series/{series}/end"), "NFFFFFFFCC"),
    "campaign_series.stand_by": (
        _c(
            "POST",
            "/api/v1/campaign-series/{series}/standing-approvals",
            lambda i, r: {"partner_campaign_id": i.pc_ams},
        ),
        "NFNVVNFVFV",
    ),
    "campaign_series.withdraw": (
        _c("DELETE", "/api/v1/campaign-series/{series}/standing-approvals/{amsterdam}"),
        "NFNNNNFNFN",
    ),
    # Journeys: everyone in the brand reads the published ones; HQ's marketers and admins
    # design them; only the partner's own editor or GM requests a switch-on (a request waits
    # already: 409; HQ's admins hold the permission, but not over the partner: 403), only its
    # GM switches off, the approval chain decides (nothing waits here: 409).
    "journeys.list": (_c("GET", "/api/v1/journeys"), "OOOOOOOOOO"),
    "journeys.create": (
        _c(
            "POST",
            "/api/v1/journeys",
            lambda i, r: {
                "key": f"m-{r}",
                "name": "Matrix",
                "spec": _journey_spec(i.published_version),
            },
        ),
        "VFFFFFFFOO",
    ),
    "journeys.read": (_c("GET", "/api/v1/journeys/{journey}"), "NOOOOOOOOO"),
    "journeys.version": (
        _c(
            "POST",
            "/api/v1/journeys/{journey}/versions",
            lambda i, r: {"spec": _journey_spec(i.published_version)},
        ),
        "NFFFFFFFOO",
    ),
    "journeys.publish": (_c("POST", "/api/v1/journeys/{journey}/publish"), "NFFFFFFFCC"),
    "journeys.retire": (_c("POST", "/api/v1/journeys/{journey}/retire"), "NFFFFFFFOC"),
    "journeys.diagram": (_c("GET", "/api/v1/journeys/{journey}/diagram"), "NOOOOOOOOO"),
    "journeys.activations": (_c("GET", "/api/v1/journeys/{journey}/activations"), "NOOOOOOOOO"),
    "journeys.switch_on": (
        _c(
            "POST",
            "/api/v1/journeys/{journey}/activations/{amsterdam}/switch-on",
            lambda i, r: {"values": {}},
        ),
        "NCNCFFFFFF",
    ),
    "journeys.switch_off": (
        _c("POST", "/api/v1/journeys/{journey}/activations/{amsterdam}/switch-off"),
        "NFNOFFFFFF",
    ),
    "journeys.decide": (
        _c(
            "POST",
            "/api/v1/journeys/{journey}/activations/{amsterdam}/decide",
            lambda i, r: {"decision": "approve"},
        ),
        "NFNCCNFCFC",
    ),
}
CODE = {
    "O": range(200, 300),
    "F": (403,),
    "N": (404,),
    "V": (422,),
    "C": (409,),
    "R": (307,),
}
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/files/{}"),  # signed, expiring URLs: the signature is the permission
    ("GET", "/i/{}"),  # email images: the unguessable token is the key (docs/images.md)
    ("HEAD", "/i/{}"),
    ("GET", "/a/{}"),  # one-click approval links: the signed token is the credential
    ("POST", "/a/{}"),
    ("GET", "/u/{}"),  # unsubscribe links: the signed token is the credential
    ("POST", "/u/{}"),
    ("POST", "/u/{}/one-click"),  # RFC 8058 one-click unsubscribe
    ("POST", "/api/v1/feedback/ses"),  # SNS: the message signature is the credential
    ("POST", "/api/v1/sms/inbound"),  # SNS (inbound SMS): the signature is the credential
    ("POST", "/api/v1/print-vendor/callbacks"),  # the vendor's HMAC signature is the credential
    ("GET", "/r/{}/{}"),  # tracked links: the MAC over delivery and URL is the credential
    ("GET", "/o/{}/{}.gif"),  # the open pixel
    ("GET", "/s/{}"),  # SMS short links: the MAC in the code is the credential
    ("GET", "/p/{}"),  # the preference centre: the signed token is the credential
    ("POST", "/p/{}/language"),
    ("POST", "/p/{}/channel"),
    ("POST", "/p/{}/sms-withdraw"),
    ("POST", "/p/{}/unsubscribe-club"),
    ("POST", "/p/{}/unsubscribe-brand"),
    ("POST", "/p/{}/erase"),
}
MULTIPART = {
    ("POST", "/api/v1/assets"),
    ("POST", "/api/v1/assets/{asset_id}/versions"),
    ("POST", "/api/v1/partners/{partner_id}/contacts/import"),
    ("POST", "/api/v1/campaign-sheets"),
    ("POST", "/api/v1/partner-value-sheets"),
    ("POST", "/api/v1/funds/import"),
    ("POST", "/api/v1/claims/{claim_id}/invoices"),
}
# POSTs that only compute an answer from a body (validation, preview): readers may use them.
READ_ONLY_POSTS = {
    ("POST", "/api/v1/versions/{version_id}/validate"),
    ("POST", "/api/v1/versions/{version_id}/preview"),
    ("POST", "/api/v1/partner-campaigns/{partner_campaign_id}/sms-preview"),
}
# Writes to the caller's own account only: every signed-in person may sign out and change the
# own password, viewers included.
OWN_ACCOUNT_WRITES = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/me/password"),
    ("PATCH", "/api/v1/me/preferences"),
    ("POST", "/api/v1/me/delegations"),
    ("POST", "/api/v1/me/delegations/{delegation_id}/revoke"),
}


def test_matrix_covers_every_route(settings: Settings) -> None:
    routes = {(m, re.sub(r"\{[^}]*\}", "{}", p)) for m, p in api_routes(create_app(settings))}
    matrix = {(call.method, call.template) for call, _ in MATRIX.values()}
    assert routes - PUBLIC == matrix


def _reads(call: Call) -> bool:
    """A call that changes nothing, whoever makes it: every read shares one setup."""
    return call.method == "GET" or (call.method, call.template) in {
        (m, re.sub(r"\{[^}]*\}", "{}", p)) for m, p in READ_ONLY_POSTS
    }


READS = sorted(name for name, (call, _) in MATRIX.items() if _reads(call))
WRITES = sorted(name for name in MATRIX if name not in READS)


async def _answers(
    name: str, api: httpx.AsyncClient, ids: Ids, login: Callable[[str], dict[str, str]]
) -> str | None:
    """None when every role got the expected answer, else what each role got."""
    call, expected = MATRIX[name]
    assert len(expected) == len(ROLES)
    got = []
    for (role, email), want in zip(ROLES, expected, strict=True):
        method, path, body = call.build(ids, role)
        resp = await send(api, method, path, body, login(email), call.multipart)
        ok = resp.status_code in CODE[want]
        got.append(f"{role}:{resp.status_code}{'' if ok else ' (want ' + want + ')'}")
        if not ok:
            return f"{name} as {role}: {resp.status_code} {resp.text[:300]}\n{got}"
    return None


def test_reads_and_writes_split_the_matrix() -> None:
    assert READS and WRITES and set(READS) | set(WRITES) == set(MATRIX)
    assert all(MATRIX[name][0].method != "DELETE" for name in READS)


async def test_role_matrix_reads(
    app_with_worker: httpx.AsyncClient, ids: Ids, login: Callable[[str], dict[str, str]]
) -> None:
    """Every read, every role, on one set of objects (a read changes nothing, so one setup
    serves them all: a setup per route was a third of the suite's time)."""
    failures = [f for name in READS if (f := await _answers(name, app_with_worker, ids, login))]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("name", WRITES)
async def test_role_matrix(
    name: str,
    app_with_worker: httpx.AsyncClient,
    ids: Ids,
    login: Callable[[str], dict[str, str]],
) -> None:
    """A write changes its object (the admin's, last, succeeds): a fresh setup per route."""
    failure = await _answers(name, app_with_worker, ids, login)
    if failure:
        pytest.fail(failure)


def test_unauthenticated_is_401_everywhere(client: TestClient, ids: Ids) -> None:
    for name, (call, _) in MATRIX.items():
        method, path, body = call.build(ids, "anon")
        resp = client.request(method, path, json=body)
        assert resp.status_code == 401, name
        assert resp.headers["WWW-Authenticate"] == "Bearer"


# Tenant boundaries, enumerated over every route -------------------------------------------------

PARAM_IDS = {
    "template_id": "template",
    "asset_id": "brand_asset",
    "campaign_id": "campaign",
    "partner_campaign_id": "pc_ams",
    "version_id": "published_version",
    "region_id": "north",
    "partner_id": "amsterdam",
    "user_id": "editor",
    "membership_id": "editor_membership",
    "token_id": "token",
    "outbox_id": "outbox",
    "contact_id": "contact",
    "segment_id": "segment",
    "suppression_id": "suppression",
    "policy": "policy",
    "delegation_id": "delegation",
    "sheet_id": "sheet",
    "kind": "block_kind",
    "webhook_id": "webhook",
    "event_id": "webhook_event",
    "print_order_id": "print_order",
    "fund_id": "fund_ams",
    "claim_id": "claim",
    "n": "evidence_n",
    "item_id": "cat_item",
    "order_id": "cat_order",
    "series_id": "series",
    "journey_id": "journey",
}
MINIMAL_BODY: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/templates/{template_id}/versions"): {},
    ("PATCH", "/api/v1/versions/{version_id}"): {"content": {}},
    ("POST", "/api/v1/versions/{version_id}/validate"): {},
    ("POST", "/api/v1/versions/{version_id}/preview"): {},
    ("POST", "/api/v1/versions/{version_id}/decision"): {"decision": "approve"},
    ("POST", "/api/v1/assets/{asset_id}/decision"): {"decision": "approve"},
    ("PATCH", "/api/v1/assets/{asset_id}"): {"title": "Renamed"},
    ("PATCH", "/api/v1/campaigns/{campaign_id}"): {"name": "Renamed"},
    ("POST", "/api/v1/campaigns/{campaign_id}/extend"): {
        "personalise_until": "2030-01-01T00:00:00Z"
    },
    ("POST", "/api/v1/campaigns/{campaign_id}/partners"): {"partners": [1]},
    ("PUT", "/api/v1/partner-campaigns/{partner_campaign_id}/content"): {"values": {}},
    ("POST", "/api/v1/partner-campaigns/{partner_campaign_id}/sms-preview"): {},
    ("POST", "/api/v1/partner-campaigns/{partner_campaign_id}/decision"): {"decision": "approve"},
    ("POST", "/api/v1/partner-campaigns/{partner_campaign_id}/schedule"): {
        "send_at": "2030-01-01T00:00:00Z"
    },
    ("PATCH", "/api/v1/regions/{region_id}"): {"name": "Renamed"},
    ("PATCH", "/api/v1/partners/{partner_id}"): {"phone": "+31 20 555 0101"},
    ("PUT", "/api/v1/partners/{partner_id}/sender"): {"from_name": "X"},
    ("PATCH", "/api/v1/users/{user_id}"): {"full_name": "X"},
    ("POST", "/api/v1/partners/{partner_id}/contacts"): {
        "email": "x@example.com",
        "consent_status": "unknown",
    },
    ("PATCH", "/api/v1/partners/{partner_id}/contacts/{contact_id}"): {"name": "X"},
    ("PUT", "/api/v1/partners/{partner_id}/contacts/sharing"): {"shared": True},
    ("POST", "/api/v1/partners/{partner_id}/segments"): {"name": "X"},
    ("PATCH", "/api/v1/partners/{partner_id}/segments/{segment_id}"): {"name": "X"},
    ("POST", "/api/v1/suppressions"): {"email": "x@example.com"},
    ("POST", "/api/v1/approval-policies/{policy}/versions"): {"spec": {}},
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): {"description": "X"},
    ("POST", "/api/v1/claims/{claim_id}/invoices"): {"amount": "1.00", "description": "X"},
    ("POST", "/api/v1/claims/{claim_id}/decide"): {"decision": "approve"},
    ("POST", "/api/v1/claims/{claim_id}/payment"): {"reference": "X"},
    ("POST", "/api/v1/print-orders/{print_order_id}/decide"): {"decision": "approve"},
    ("POST", "/api/v1/print-orders/{print_order_id}/cancel"): {},
    ("PATCH", "/api/v1/catalogue/{item_id}"): {"title": "X"},
    ("POST", "/api/v1/catalogue/{item_id}/orders"): {},
    ("POST", "/api/v1/campaign-series/{series_id}/standing-approvals"): {"partner_campaign_id": 1},
    ("POST", "/api/v1/journeys/{journey_id}/versions"): {"spec": {}},
    ("POST", "/api/v1/journeys/{journey_id}/activations/{partner_id}/switch-on"): {"values": {}},
    ("POST", "/api/v1/journeys/{journey_id}/activations/{partner_id}/decide"): {
        "decision": "approve"
    },
}
# Required query parameters naming another object of the brand.
QUERY = {
    ("GET", "/api/v1/approval-policies/{policy}/explain"): "?partner_campaign_id={pc_ams}",
}


def _object_routes(settings: Settings) -> list[tuple[str, str]]:
    return [
        (m, p)
        for m, p in api_routes(create_app(settings))
        if "{" in p
        and not p.startswith(("/files/", "/a/", "/u/", "/i/", "/p/", "/r/", "/o/", "/s/"))
    ]


def _fill(path: str, ids: Ids) -> str:
    def sub(match: re.Match[str]) -> str:
        param = match.group(1)
        assert param in PARAM_IDS, f"add a Northwind id for path parameter {param!r}"
        return str(getattr(ids, PARAM_IDS[param]))

    query = QUERY.get(("GET", path), "").format(**vars(ids))
    return re.sub(r"\{([^}]+)\}", sub, path) + query


def test_other_brand_gets_404_for_every_northwind_object(
    client: TestClient, ids: Ids, login: Callable[[str], dict[str, str]], settings: Settings
) -> None:
    headers = login("admin@contoso.example")
    routes = _object_routes(settings)
    assert len(routes) >= 13
    for method, path in routes:
        body = MINIMAL_BODY.get((method, path))
        resp = send(client, method, _fill(path, ids), body, headers, (method, path) in MULTIPART)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.text}"
        assert resp.headers["content-type"] == "application/problem+json"


def test_berlin_gm_gets_404_for_every_amsterdam_object(
    client: TestClient, ids: Ids, login: Callable[[str], dict[str, str]], settings: Settings
) -> None:
    headers = login("gm.berlin@northwind.example")
    for method, path in _object_routes(settings):
        if "{partner_id}" not in path:
            continue
        body = MINIMAL_BODY.get((method, path))
        resp = send(client, method, _fill(path, ids), body, headers, (method, path) in MULTIPART)
        if (method, path) == ("DELETE", "/api/v1/partners/{partner_id}"):
            # partner deletion is refused by role before any lookup
            assert resp.status_code == 403
            continue
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code}"
    listing = client.get("/api/v1/partners", headers=headers).json()
    assert [p["slug"] for p in listing["items"]] == ["berlin"]


def test_a_missing_id_and_a_foreign_id_look_the_same(
    client: TestClient, ids: Ids, login: Callable[[str], dict[str, str]]
) -> None:
    headers = login("gm.berlin@northwind.example")
    foreign = client.get(f"/api/v1/partners/{ids.amsterdam}", headers=headers).json()
    missing = client.get("/api/v1/partners/999999", headers=headers).json()
    assert foreign.keys() == missing.keys()
    assert foreign["detail"] == f"partner {ids.amsterdam} not found"


def test_viewer_gets_403_for_every_write(
    client: TestClient, ids: Ids, login: Callable[[str], dict[str, str]], settings: Settings
) -> None:
    headers = login("ops@northwind.example")
    writes = [
        (m, p)
        for m, p in api_routes(create_app(settings))
        if m != "GET"
        and (m, p) not in READ_ONLY_POSTS
        and (m, p) not in OWN_ACCOUNT_WRITES
        and (m, re.sub(r"\{[^}]*\}", "{}", p)) not in PUBLIC
    ]
    assert len(writes) >= 12
    by_template = {(c.method, c.template): c for c, _ in MATRIX.values()}
    for method, path in writes:
        call = by_template[(method, re.sub(r"\{[^}]*\}", "{}", path))]
        _, url, body = call.build(ids, "ops")
        resp = send(client, method, url, body, headers, call.multipart)
        assert resp.status_code == 403, f"{method} {path}: {resp.status_code} {resp.text}"


def test_lists_are_scoped(
    client: TestClient, ids: Ids, login: Callable[[str], dict[str, str]]
) -> None:
    def slugs(email: str) -> list[str]:
        return [
            p["slug"] for p in client.get("/api/v1/partners", headers=login(email)).json()["items"]
        ]

    assert slugs("north@northwind.example") == ["amsterdam", "berlin", "hamburg", "spare"]
    assert slugs("south@northwind.example") == ["munich", "vienna", "zurich"]
    assert slugs("gm.amsterdam@northwind.example") == ["amsterdam"]
    assert slugs("admin@contoso.example") == ["rotterdam", "antwerp", "innsbruck"]
    regions = client.get("/api/v1/regions", headers=login("north@northwind.example")).json()
    assert [r["name"] for r in regions["items"]] == ["North"]
    users = client.get("/api/v1/users", headers=login("admin@contoso.example")).json()
    assert all(u["email"].endswith("@contoso.example") for u in users["items"])


# The portal's pages ----------------------------------------------------------------------------

# Every portal route, and what an anonymous visitor gets: sign-in (a 303 to /login) for pages,
# 403 for every form post (no session, so no CSRF token), the page itself for public routes.
PORTAL: dict[tuple[str, str], int] = {
    ("GET", "/"): 303,
    ("GET", "/login"): 200,
    ("POST", "/login"): 403,
    # Sign-in links: a token that signs no one in sends the visitor to sign in.
    ("GET", "/portal-link/{}"): 303,
    ("POST", "/portal-link/{}"): 403,
    ("POST", "/logout"): 403,
    ("GET", "/static/{}"): 200,
    ("GET", "/inbox"): 303,
    ("GET", "/my-campaigns"): 303,
    ("GET", "/my-campaigns/values.xlsx"): 303,
    ("POST", "/my-campaigns/values"): 403,
    ("GET", "/campaigns"): 303,
    ("GET", "/campaigns/new"): 303,
    ("POST", "/campaigns"): 403,
    ("GET", "/campaigns/{}"): 303,
    ("POST", "/campaigns/{}/launch"): 403,
    ("POST", "/campaigns/{}/cancel"): 403,
    ("POST", "/campaigns/{}/extend"): 403,
    ("GET", "/campaign-sheets"): 303,
    ("GET", "/campaign-sheets/template"): 303,
    ("POST", "/campaign-sheets"): 403,
    ("GET", "/campaign-sheets/{}"): 303,
    ("POST", "/campaign-sheets/{}/confirm"): 403,
    ("GET", "/partner-campaigns/{}"): 303,
    ("POST", "/partner-campaigns/{}/content"): 403,
    ("POST", "/partner-campaigns/{}/preview"): 403,
    ("POST", "/partner-campaigns/{}/sms-preview"): 403,
    ("GET", "/partner-campaigns/{}/print.pdf"): 303,
    ("POST", "/partner-campaigns/{}/decision"): 403,
    ("POST", "/partner-campaigns/{}/schedule"): 403,
    ("POST", "/partner-campaigns/{}/resume"): 403,
    ("POST", "/partner-campaigns/{}/decline"): 403,
    ("POST", "/partner-campaigns/{}/test-send"): 403,
    ("GET", "/partner-campaigns/{}/timeline"): 303,
    ("GET", "/partner-campaigns/{}/audience"): 303,
    ("GET", "/partner-campaigns/{}/progress"): 303,
    ("GET", "/templates"): 303,
    ("GET", "/templates/versions/{}"): 303,
    ("POST", "/templates/versions/{}/submit"): 403,
    ("POST", "/templates/versions/{}/decision"): 403,
    ("GET", "/assets"): 303,
    ("GET", "/assets/{}/thumb"): 303,
    ("GET", "/assets/{}"): 303,
    ("POST", "/assets/{}"): 403,
    ("GET", "/audit"): 303,
    ("GET", "/outbox"): 303,
    ("GET", "/outbox/{}"): 303,
    ("GET", "/outbox/{}/raw"): 303,
    ("GET", "/outbox-sms"): 303,
    ("GET", "/approval-policies"): 303,
    ("GET", "/approval-policies/new"): 303,
    ("GET", "/approval-policies/built-in/{}"): 303,
    ("GET", "/approval-policies/{}"): 303,
    ("POST", "/approval-policies"): 403,
    ("POST", "/approval-policies/preview"): 403,
    ("POST", "/approval-policies/{}"): 403,
    ("POST", "/approval-policies/{}/archive"): 403,
    ("GET", "/settings"): 303,
    ("POST", "/settings/delegations"): 403,
    ("POST", "/settings/preferences"): 403,
    ("POST", "/settings/brand-timezone"): 403,
    ("POST", "/settings/delegations/{}/revoke"): 403,
    ("GET", "/settings/brand-blocks"): 303,
    ("POST", "/settings/brand-blocks/{}"): 403,
    ("POST", "/settings/sender/partners/{}"): 403,
    ("POST", "/settings/sender/brand"): 403,
    ("GET", "/settings/tracking"): 303,
    ("POST", "/settings/tracking"): 403,
    ("GET", "/settings/webhooks"): 303,
    ("GET", "/reports"): 303,
    ("GET", "/reports/export/{}"): 303,
    ("GET", "/my-reports"): 303,
    ("GET", "/reports/coop"): 303,
    ("GET", "/reports/coop/export"): 303,
    ("GET", "/my-reports/export"): 303,
    ("GET", "/print-orders"): 303,
    ("GET", "/print-orders/new"): 303,
    ("POST", "/print-orders"): 403,
    ("GET", "/print-orders/{}"): 303,
    ("GET", "/print-orders/{}/pdf"): 303,
    ("POST", "/print-orders/{}/decide"): 403,
    ("POST", "/print-orders/{}/cancel"): 403,
    ("GET", "/series"): 303,
    ("GET", "/series/{}"): 303,
    ("POST", "/series/{}/change"): 403,
    ("POST", "/series/{}/stand-by"): 403,
    ("GET", "/funds"): 303,
    ("GET", "/funds/{}"): 303,
    ("POST", "/funds/allocate"): 403,
    ("POST", "/funds/import"): 403,
    ("POST", "/funds/rates"): 403,
    ("GET", "/claims"): 303,
    ("GET", "/claims/pending"): 303,
    ("GET", "/claims/export"): 303,
    ("GET", "/claims/{}"): 303,
    ("GET", "/claims/{}/evidence/{}"): 303,
    ("POST", "/claims/{}/invoices"): 403,
    ("POST", "/claims/{}/confirm"): 403,
    ("POST", "/claims/{}/decide"): 403,
    ("POST", "/claims/{}/payment"): 403,
    ("GET", "/catalogue"): 303,
    ("POST", "/catalogue/{}/order"): 403,
    ("GET", "/catalogue/orders/{}"): 303,
    ("GET", "/catalogue/manage"): 303,
    ("POST", "/catalogue/manage"): 403,
    ("POST", "/catalogue/{}/publish"): 403,
    ("POST", "/catalogue/{}/withdraw"): 403,
    ("GET", "/journeys"): 303,
    ("GET", "/journeys/{}"): 303,
    ("POST", "/journeys/{}/switch-on"): 403,
    ("POST", "/journeys/{}/switch-off"): 403,
    ("GET", "/journey-activations/{}"): 303,
    ("POST", "/journey-activations/{}/decide"): 403,
    ("GET", "/contacts"): 303,
    ("POST", "/contacts"): 403,
    ("GET", "/contacts/import"): 303,
    # The import takes large files: a body there is refused before it is read without a
    # signed-in session (api.body_limit), as on the API's import.
    ("POST", "/contacts/import"): 401,
    ("GET", "/segments"): 303,
    ("POST", "/segments"): 403,
    ("GET", "/segments/count"): 303,
    ("GET", "/segments/{}"): 303,
    ("POST", "/segments/{}"): 403,
}
PORTAL_FILL = {"/static/{}": "/static/portal.css"}


def portal_routes(app: FastAPI) -> set[tuple[str, str]]:
    out = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, PortalRoute):
            out.update((m, re.sub(r"\{[^}]*\}", "{}", route.path)) for m in route.methods)
    return out


def test_portal_matrix_covers_every_portal_route(settings: Settings) -> None:
    assert portal_routes(create_app(settings)) == set(PORTAL)


def test_portal_anonymous_visitors_sign_in_first(client: TestClient, ids: Ids) -> None:
    for (method, path), want in PORTAL.items():
        url = PORTAL_FILL.get(path, path.replace("{}", str(ids.pc_ams)))
        resp = client.request(method, url, follow_redirects=False)
        assert resp.status_code == want, f"{method} {path}: {resp.status_code}"
        if want == 303 and path != "/":
            assert resp.headers["location"].startswith("/login?next=")


def _portal_cookie(settings: Settings, demo: Engine, email: str) -> dict[str, str]:
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    found = portal_cookies.new_session(settings, user.id, generation=user.session_generation)
    return {portal_cookies.COOKIE: portal_cookies.encode(settings, found)}


@pytest.mark.parametrize(
    "email",
    ["admin@contoso.example", "gm.berlin@northwind.example", "editor.berlin@northwind.example"],
)
def test_portal_pages_of_another_partner_or_brand_do_not_exist(
    client: TestClient, ids: Ids, settings: Settings, demo: Engine, email: str
) -> None:
    client.cookies.update(_portal_cookie(settings, demo, email))
    for path in (
        f"/partner-campaigns/{ids.pc_ams}",
        f"/partner-campaigns/{ids.pc_ams}/timeline",
        f"/partner-campaigns/{ids.pc_ams}/print.pdf",
        f"/partner-campaigns/{ids.pc_ams}/audience",
        f"/partner-campaigns/{ids.pc_ams}/progress",
        f"/catalogue/orders/{ids.cat_order}",
    ):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 404, f"{email} {path}: {resp.status_code}"
        # Berlin's people read German (the partner's language); Contoso's admin English.
        assert ("nicht gefunden" if "berlin" in email else "not found") in resp.text
    if email.endswith("contoso.example"):
        for path in (f"/campaigns/{ids.campaign}", f"/templates/versions/{ids.published_version}"):
            assert client.get(path, follow_redirects=False).status_code == 404, path


# The outbox viewer answers as GET /api/v1/outbox does (outbox.list / outbox.raw above): brand
# roles read it, partner and region users are refused, another brand finds nothing.
PORTAL_OUTBOX = {
    "admin@contoso.example": (200, 404),
    "editor.amsterdam@northwind.example": (403, 403),
    "gm.amsterdam@northwind.example": (403, 403),
    "gm.berlin@northwind.example": (403, 403),
    "north@northwind.example": (403, 403),
    "ops@northwind.example": (200, 200),
    "brand@northwind.example": (200, 200),
    "marketing@northwind.example": (200, 200),
}


@pytest.mark.parametrize("email", sorted(PORTAL_OUTBOX))
def test_portal_outbox_by_role(
    client: TestClient, ids: Ids, settings: Settings, demo: Engine, email: str
) -> None:
    listing, message = PORTAL_OUTBOX[email]
    client.cookies.update(_portal_cookie(settings, demo, email))
    page = client.get("/outbox", follow_redirects=False)
    assert page.status_code == listing, page.text[:300]
    assert ('href="/outbox"' in page.text) == (listing == 200)  # in the nav for those allowed
    if email.endswith("contoso.example"):
        assert "0 messages" in page.text
    sms = client.get("/outbox-sms", follow_redirects=False)  # the SMS outbox answers alike
    assert sms.status_code == listing, sms.text[:300]
    assert ('href="/outbox-sms"' in sms.text) == (listing == 200)
    for path in (f"/outbox/{ids.outbox}", f"/outbox/{ids.outbox}/raw"):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == message, f"{email} {path}: {resp.status_code}"


def test_portal_audience_count_takes_only_the_partners_own_segments(
    client: TestClient, ids: Ids, settings: Settings, demo: Engine
) -> None:
    """The picker's live count answers for Amsterdam's segment and refuses Berlin's, as
    POST .../submit does (services.audience.check_segment)."""
    with Session(demo) as s:
        berlin = s.exec(select(Partner).where(Partner.slug == "berlin")).one()
        other = Segment(brand_id=berlin.brand_id, partner_id=berlin.id or 0, name="Berlin only")
        s.add(other)
        s.commit()
        other_id = other.id
    client.cookies.update(_portal_cookie(settings, demo, "editor.amsterdam@northwind.example"))
    url = f"/partner-campaigns/{ids.pc_ams}/audience"
    # Amsterdam reads Dutch: "... will receive it" is "... ontvangen hem".
    own = client.get(url, params={"segment_id": ids.segment}, headers={"HX-Request": "true"})
    assert own.status_code == 200 and "ontvangen hem" in own.text
    everyone = client.get(url, params={"segment_id": ""}, headers={"HX-Request": "true"})
    assert everyone.status_code == 200 and "ontvangen hem" in everyone.text
    refused = client.get(url, params={"segment_id": other_id}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "not one of this partner" in refused.text


# Contact data through side doors ----------------------------------------------------------------

# Every place a copy of a partner's contact data could show up for someone who is not the
# partner: the outbox (API and portal), the send's progress, the partner campaign, the audit
# trail and its export, the suppression list and its search, the contact routes, the inbox.
SIDE_DOORS_API = (
    "/api/v1/outbox",
    "/api/v1/outbox?partner_campaign_id={pc}",
    "/api/v1/partner-campaigns/{pc}",
    "/api/v1/partner-campaigns/{pc}/delivery",
    "/api/v1/campaigns/{campaign}",
    "/api/v1/audit?limit=200",
    "/api/v1/audit/export.csv",
    "/api/v1/suppressions",
    "/api/v1/suppressions?q=customers.example",
    "/api/v1/phone-suppressions",
    "/api/v1/partners/{partner}/contacts",
    "/api/v1/partners/{partner}/contacts/export",
    "/api/v1/partners/{partner}/contacts/summary",
    "/api/v1/tasks",
)
SIDE_DOORS_PORTAL = (
    "/outbox",
    "/outbox?partner_campaign_id={pc}",
    "/partner-campaigns/{pc}",
    "/partner-campaigns/{pc}/progress",
    "/campaigns/{campaign}",
    "/audit",
    "/inbox",
)
HQ_AND_REGION = (
    "admin@northwind.example",
    "marketing@northwind.example",
    "brand@northwind.example",
    "ops@northwind.example",
    "north@northwind.example",
)


def _side_doors(sent: Sent) -> tuple[list[str], list[str]]:
    ids = {"pc": sent.pc_id, "campaign": sent.campaign_id, "partner": sent.partner_id}
    api = [p.format(**ids) for p in SIDE_DOORS_API]
    api += [f"/api/v1/outbox/{i}/raw" for i in sent.messages + sent.notices]
    portal = [p.format(**ids) for p in SIDE_DOORS_PORTAL]
    portal += [f"/outbox/{i}" for i in sent.messages + sent.notices]
    portal += [f"/outbox/{i}/raw" for i in sent.messages]
    return api, portal


def _leaks(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    settings: Settings,
    demo: Engine,
    email: str,
    sent: Sent,
) -> list[str]:
    """ "door: secret" for every recipient's address, name or token the user can read."""
    api, portal = _side_doors(sent)
    found = []
    headers = login(email)
    client.cookies.clear()
    for path in api:
        seen = readable(client.get(path, headers=headers))
        found += [f"{path}: {s}" for s in sent.secrets if s in seen]
    client.cookies.update(_portal_cookie(settings, demo, email))
    for path in portal:
        seen = readable(client.get(path, follow_redirects=False))
        found += [f"portal {path}: {s}" for s in sent.secrets if s in seen]
    client.cookies.clear()
    return found


def test_no_hq_role_reads_recipients_of_a_partner_that_does_not_share(
    client: TestClient, demo: Engine, settings: Settings, login: Callable[[str], dict[str, str]]
) -> None:
    sent = send_to_outbox(demo, settings, client)
    for email in HQ_AND_REGION:
        assert _leaks(client, login, settings, demo, email, sent) == [], email


def test_with_sharing_on_only_roles_that_read_contacts_see_recipients(
    client: TestClient, demo: Engine, settings: Settings, login: Callable[[str], dict[str, str]]
) -> None:
    sent = send_to_outbox(demo, settings, client)
    share(client, login, sent.partner_id, True)
    for email in ("admin@northwind.example", "marketing@northwind.example"):
        headers = login(email)
        listing = readable(
            client.get(f"/api/v1/outbox?partner_campaign_id={sent.pc_id}", headers=headers)
        )
        assert all(e in listing for e in sent.emails), email
        raw = readable(client.get(f"/api/v1/outbox/{sent.messages[0]}/raw", headers=headers))
        assert [s for s in sent.secrets if s in raw], email  # the message as it was sent
        blocked = readable(client.get("/api/v1/suppressions", headers=headers))
        assert sent.emails[1] in blocked, email  # the unsubscribe, as the contact rows show
    # Reviewers, viewers and region managers never read contact rows, shared or not.
    for email in HQ_AND_REGION[2:]:
        assert _leaks(client, login, settings, demo, email, sent) == [], email
    # Another partner's users find nothing of Amsterdam's send, as before; the outbox is HQ's.
    for email in ("gm.berlin@northwind.example", "editor.berlin@northwind.example"):
        headers = login(email)
        for path in (
            f"/api/v1/partner-campaigns/{sent.pc_id}/delivery",
            f"/api/v1/partners/{sent.partner_id}/contacts",
            f"/api/v1/partners/{sent.partner_id}/contacts/export",
        ):
            assert client.get(path, headers=headers).status_code == 404, (email, path)
        assert client.get("/api/v1/outbox", headers=headers).status_code == 403, email
        assert _leaks(client, login, settings, demo, email, sent) == [], email
