"""The large network of `python -m scripts.seed --partners N` and the campaign history of
bench.portal_scale, small: the seeded people can sign in and work, each partner sees only its
own contacts, the audit chain still verifies, and a campaign page shows every region from one
grouped query and its partners page by page; above 500 partners the new-campaign form takes
typed partner ids instead of one checkbox each."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from api.portal import session as cookies
from api.portal.campaigns import PICKER_LIMIT
from core.settings import Settings
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact, Suppression
from models.org import Membership, Partner, User
from models.templates import Template, TemplateVersion
from scripts.bulk.activity import seed_activity
from scripts.bulk.network import editor_email, gm_email, seed_network
from scripts.bulk.rows import indexes_rebuilt_after, write_rows
from scripts.demo.organisation import DEMO_PASSWORD

PARTNERS, CONTACTS = 50, 3


@pytest.fixture
def network(demo: Engine, demo_hash: str) -> Engine:
    with Session(demo) as session:
        seeded = seed_network(
            session, PARTNERS, CONTACTS, password_hash=demo_hash, partners_per_region=25
        )
        session.commit()
    assert seeded.partners_added == PARTNERS
    assert seeded.contacts_added == PARTNERS * CONTACTS
    return demo


def _partner_id(engine: Engine, n: int) -> int:
    with Session(engine) as session:
        found = session.exec(select(Partner.id).where(Partner.slug == f"scale-{n:05d}")).one()
    assert found is not None
    return found


def test_seeded_network_is_usable_and_holds_the_tenant_boundary(
    network: Engine, client: TestClient, demo_hash: str
) -> None:
    with Session(network) as session:
        assert len(session.exec(select(User).where(User.email.like("%.scale-%"))).all()) == 100  # type: ignore[attr-defined]
        assert (
            len(
                session.exec(select(Membership).where(col(Membership.partner_id).isnot(None))).all()
            )
            >= 100
        )
        contacts = session.exec(select(Contact).where(col(Contact.email).like("%.scale-%"))).all()
        # consent as the app expects it: a source and a time whenever the status is known
        assert {c.consent_status for c in contacts} <= {"granted", "denied", "unknown"}
        assert all((c.consent_at is None) == (c.consent_status == "unknown") for c in contacts)
        suppressed = session.exec(select(Suppression)).all()
        assert all(s.partner_id is not None for s in suppressed)
        # a re-run adds nothing
        again = seed_network(session, PARTNERS, CONTACTS, password_hash=demo_hash)
        assert again.partners_added == 0 and again.contacts_added == 0
    mine, theirs = _partner_id(network, 1), _partner_id(network, 2)
    # the real sign-in: the one shared hash verifies the demo password
    token = client.post(
        "/api/v1/auth/token", data={"username": editor_email(1), "password": DEMO_PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    own = client.get(f"/api/v1/partners/{mine}/contacts", headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["total"] == CONTACTS
    assert all(".scale-00001." in c["email"] for c in own.json()["items"])
    assert client.get(f"/api/v1/partners/{theirs}/contacts", headers=headers).status_code == 404
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["user"]["email"] == editor_email(1)
    assert [(m["role"], m["partner_id"]) for m in me["memberships"]] == [("partner_editor", mine)]
    gm = client.post(
        "/api/v1/auth/token", data={"username": gm_email(2), "password": DEMO_PASSWORD}
    )
    assert gm.status_code == 200


def test_bulk_load_rebuilds_the_same_indexes(network: Engine) -> None:
    if network.dialect.name != "postgresql":
        pytest.skip("indexes are dropped and rebuilt on PostgreSQL only")
    query = text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contact' ORDER BY 1"
    )
    with Session(network) as session:
        before = session.execute(query).all()
        pid = _partner_id(network, 3)
        brand = session.exec(select(Partner.brand_id).where(Partner.id == pid)).one()
        with indexes_rebuilt_after(session, "contact", adding=10**9):
            assert len(session.execute(query).all()) == 1  # only the primary key left
            write_rows(
                session,
                "contact",
                "brand_id partner_id email name locale consent_status consent_source"
                " consent_at tags attributes import_mark created_at updated_at",
                [(brand, pid, "tab\there@example.com", "A\\B", "en", "unknown", "", None, "[]",
                  "{}", None, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))],
            )  # fmt: skip
        session.commit()
        assert session.execute(query).all() == before
        row = session.exec(
            select(Contact).where(Contact.partner_id == pid, Contact.name == "A\\B")
        ).one()
        assert row.email == "tab\there@example.com"


def test_campaign_page_counts_regions_in_one_query_and_pages_partners(
    network: Engine,
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    settings: Settings,
) -> None:
    with Session(network) as session:
        act = seed_activity(session, campaigns=3, outbox_partners=5)
        session.commit()
    assert act.partner_campaigns == PARTNERS + PARTNERS + PARTNERS  # 2 to all, 1 to a region
    assert act.deliveries == PARTNERS * CONTACTS
    big = act.big_campaign_id
    hq = login("admin@northwind.example")
    detail = client.get(f"/api/v1/campaigns/{big}", headers=hq).json()
    regions = [(r["region_name"], r["counts"], r["total"]) for r in detail["by_region"]]
    assert regions == [
        ("Scale region 01", {"sent": 25}, 25),
        ("Scale region 02", {"sent": 25}, 25),
    ]
    # a region manager counts only the partner campaigns of its region
    with Session(network) as session:
        north = session.exec(select(User).where(User.email == "north@northwind.example")).one()
        session.add(
            Membership(
                user_id=north.id or 0,
                brand_id=north.brand_id,
                role="region_manager",
                scope_type="region",
                region_id=detail["by_region"][1]["region_id"],
            )
        )
        session.commit()
    mine = client.get(f"/api/v1/campaigns/{big}", headers=login("north@northwind.example"))
    assert [r["region_name"] for r in mine.json()["by_region"]] == ["Scale region 02"]
    verify = client.get("/api/v1/audit/verify", headers=hq).json()
    assert verify["ok"] is True, verify

    seen: list[int] = []
    path = f"/campaigns/{big}"
    for name, value in _portal_cookie(settings, network, "admin@northwind.example").items():
        client.cookies.set(name, value)
    while path:
        page = client.get(path)
        assert page.status_code == 200, page.text
        # every region counted, whatever page of partners is shown
        assert "Scale region 01: 25 of 25" in page.text or "Scale region 01</th>" in page.text
        assert "Scale region 02</th>" in page.text
        seen += [int(i) for i in re.findall(r'href="/partner-campaigns/(\d+)"', page.text)]
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        path = found.group(1).replace("&amp;", "&") if found else ""
    with Session(network) as session:
        expected = session.exec(
            select(PartnerCampaign.id)
            .where(PartnerCampaign.campaign_id == big)
            .order_by(col(PartnerCampaign.id))
        ).all()
    assert sorted(seen) == sorted(expected)


def _portal_cookie(settings: Settings, engine: Engine, email: str) -> dict[str, str]:
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
    assert user.id is not None
    found = cookies.new_session(settings, user.id, generation=user.session_generation)
    return {cookies.COOKIE: cookies.encode(settings, found)}


def test_new_campaign_form_takes_typed_partner_ids_above_the_picker_limit(
    demo: Engine, demo_hash: str, client: TestClient, settings: Settings
) -> None:
    with Session(demo) as session:
        seed_network(session, PICKER_LIMIT + 1, 0, password_hash=demo_hash)
        session.commit()
        version = session.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == "Open day")
        ).one()
    for name, value in _portal_cookie(settings, demo, "marketing@northwind.example").items():
        client.cookies.set(name, value)
    form = client.get("/campaigns/new")
    assert form.status_code == 200
    assert 'name="partners" type="text"' in form.text
    assert 'type="checkbox" name="partners"' not in form.text
    picked = [_partner_id(demo, 1), _partner_id(demo, 7)]
    created = client.post(
        "/campaigns",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1),  # type: ignore[union-attr]
            "name": "Typed partners",
            "template_version_id": str(version.id),
            "target_kind": "partners",
            "partners": f"{picked[0]}, {picked[1]}",
            "personalise_until": "2030-01-01T09:00",
            "send_by": "2030-01-08T09:00",
            "mode": "opt_in",
            "approval_policy": "gm",
            "remind_after": "2",
            "escalate_after": "4",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    with Session(demo) as session:
        campaign = session.exec(select(Campaign).where(Campaign.name == "Typed partners")).one()
    assert campaign.target == {"partners": picked}
