"""The report pages: HQ's /reports with every section and its downloads, a region manager's
within the region, a partner's /my-reports with only its own figures (and never /reports),
another brand nothing, and names from the data escaped on the page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.states import CampaignState, TaskKind
from domain.states import PartnerCampaignState as PCS
from models.campaigns import ApprovalTask, Campaign, PartnerCampaign
from models.org import Partner, Region
from scripts.demo.approvals import seed_demo_approvals
from scripts.demo.contacts import seed_demo_contacts
from scripts.demo.history import seed_demo_history
from storage.local import LocalBlobStore
from tests.portal.test_portal import sign_in

PAYLOAD = '</svg><script>alert(1)</script>"><img src=x onerror=alert(1)>'
NORTH = ("Amsterdam", "Berlin", "Hamburg")
SOUTH = ("Munich", "Vienna", "Zurich")
SECTIONS = ("Participation", "Time to market", "Quality", "Delivery and engagement", "Trend")


@pytest.fixture
def history(demo: Engine) -> Engine:
    """The demo with its contacts and its past campaigns, as `make up` seeds it."""
    with Session(demo) as s:
        seed_demo_contacts(s)
        seed_demo_approvals(s)
        seed_demo_history(s)
        s.commit()
    return demo


@pytest.fixture
def portal(settings: Settings, history: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=history, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1]


def test_hq_sees_every_section_with_downloads(portal: TestClient) -> None:
    sign_in(portal, "admin@northwind.example")
    resp = portal.get("/reports?group=campaign")
    assert resp.status_code == 200, resp.text
    page = resp.text
    assert '<a href="/reports"' in page  # the nav link
    for section in SECTIONS:
        assert f">{section}</h2>" in page, section
    for name in ("Winter open day", "Spring members&#39; week", "Summer challenge"):
        assert name in page
    assert page.count('role="img"') >= 3  # funnel, approval times, trend
    assert "No data yet" not in page.split('id="h-funnel"')[1].split("</figure>")[0]
    assert "Time from submission to approval" in page
    links = re.findall(r'href="(/reports/export/[^"]+)"', page)
    names = {re.match(r"/reports/export/([a-z-]+)", link).group(1) for link in links}  # type: ignore[union-attr]
    assert names == {"funnel", "time-to-market", "quality", "delivery", "trend"}
    assert all("group=campaign" in link for link in links)
    csv_link = next(link for link in links if "/funnel?" in link and "format=csv" in link)
    got = portal.get(csv_link.replace("&amp;", "&"))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert any("Winter open day" in cell for row in rows for cell in row), rows
    xlsx = next(link for link in links if "/delivery?" in link and "format=xlsx" in link)
    got = portal.get(xlsx.replace("&amp;", "&"))
    assert got.status_code == 200 and got.content[:2] == b"PK"


def test_partner_gets_own_figures_and_never_reports(portal: TestClient) -> None:
    sign_in(portal, "gm.amsterdam@northwind.example")
    inbox = portal.get("/inbox").text
    assert 'href="/my-reports"' in inbox and 'href="/reports"' not in inbox
    assert portal.get("/reports").status_code == 403
    assert portal.get("/reports/export/funnel?format=csv").status_code == 403
    resp = portal.get("/my-reports")
    assert resp.status_code == 200, resp.text
    page = main_of(resp.text)
    assert "Northwind Fitness Amsterdam" in page
    # North has 3 partners, fewer than MIN_GROUP: the page says so instead of a median, in
    # the GM's language (Amsterdam's: Dutch).
    assert "te klein om te vergelijken" in page and "Mijn rapporten" in page
    for other in (*NORTH[1:], *SOUTH):
        assert other not in page, other
    assert 'role="img"' in page
    download = portal.get("/my-reports/export?format=csv")
    assert download.status_code == 200
    assert "Berlin" not in download.text and "Munich" not in download.text
    with Session(portal.app.state.engine) as s:  # type: ignore[attr-defined]
        berlin = s.exec(select(Partner.id).where(Partner.slug == "berlin")).one()
    assert portal.get(f"/my-reports?partner_id={berlin}").status_code == 404
    assert portal.get(f"/my-reports/export?partner_id={berlin}").status_code == 404
    # The club's editor reads the same page; the Berlin GM reads Berlin's, not Amsterdam's.
    sign_in(portal, "editor.amsterdam@northwind.example")
    assert "Northwind Fitness Amsterdam" in main_of(portal.get("/my-reports").text)
    assert portal.get("/reports").status_code == 403
    sign_in(portal, "gm.berlin@northwind.example")
    page = main_of(portal.get("/my-reports").text)
    assert "Northwind Fitness Berlin" in page and "Amsterdam" not in page


def test_region_manager_sees_only_its_region(portal: TestClient) -> None:
    sign_in(portal, "north@northwind.example")
    resp = portal.get("/reports?group=partner")
    assert resp.status_code == 200, resp.text
    page = main_of(resp.text)
    for club in NORTH:
        assert f"Northwind Fitness {club}" in page
    for club in SOUTH:
        assert club not in page, club
    assert ">South<" not in page  # not offered as a filter either
    with Session(portal.app.state.engine) as s:  # type: ignore[attr-defined]
        south = s.exec(select(Region.id).where(Region.name == "South")).one()
    assert portal.get(f"/reports?region_id={south}").status_code == 404
    assert portal.get(f"/reports/export/funnel?region_id={south}").status_code == 404


def test_another_brand_sees_nothing_of_northwind(portal: TestClient) -> None:
    sign_in(portal, "admin@contoso.example")
    resp = portal.get("/reports?group=campaign")
    assert resp.status_code == 200, resp.text
    page = main_of(resp.text)
    assert "Winter open day" not in page and "Northwind" not in page
    assert "No data yet" in page
    with Session(portal.app.state.engine) as s:  # type: ignore[attr-defined]
        winter = s.exec(select(Campaign.id).where(Campaign.name == "Winter open day")).one()
    assert portal.get(f"/reports?campaign_id={winter}").status_code == 404
    assert portal.get(f"/reports/export/delivery?campaign_id={winter}").status_code == 404


def test_campaign_name_is_escaped(portal: TestClient) -> None:
    with Session(portal.app.state.engine) as s:  # type: ignore[attr-defined]
        winter = s.exec(select(Campaign).where(Campaign.name == "Winter open day")).one()
        winter.name = PAYLOAD
        s.add(winter)
        s.commit()
    sign_in(portal, "admin@northwind.example")
    page = portal.get("/reports?group=campaign").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<svg") == page.count("</svg>")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("since=2026-05-01&until=2026-04-01", "until"),
        ("group=brand", "group"),
        ("period=day", "period"),
    ],
)
def test_bad_filters_name_the_field(portal: TestClient, query: str, field: str) -> None:
    sign_in(portal, "admin@northwind.example")
    resp = portal.get(f"/reports?{query}")
    assert resp.status_code == 422
    assert field in main_of(resp.text)


def test_hq_my_reports_leads_to_reports(portal: TestClient) -> None:
    sign_in(portal, "admin@northwind.example")
    resp = portal.get("/my-reports")
    assert resp.status_code == 303 and resp.headers["location"] == "/reports"
    assert 'href="/my-reports"' not in portal.get("/inbox").text


def test_stuck_and_overdue_with_holders_and_their_downloads(portal: TestClient) -> None:
    """A running campaign's Amsterdam submission waits for its GM past the due time: it is
    stuck and overdue, held by Amsterdam's GM, on the page and in its downloads."""
    engine = portal.app.state.engine  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with Session(engine) as s:
        summer = s.exec(select(Campaign).where(Campaign.name == "Summer challenge")).one()
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert summer.id and amsterdam.id
        running = Campaign(
            brand_id=summer.brand_id,
            name="Autumn <b>bring a friend</b>",
            template_version_id=summer.template_version_id,
            personalise_until=now + timedelta(days=1),
            send_by=now + timedelta(days=1),  # near: stuck
            state=CampaignState.running,
            created_by=summer.created_by,
            launched_at=now - timedelta(days=5),
        )
        s.add(running)
        s.flush()
        assert running.id
        pc = PartnerCampaign(
            campaign_id=running.id,
            brand_id=summer.brand_id,
            region_id=amsterdam.region_id,
            partner_id=amsterdam.id,
            state=PCS.pending_approval,
            approval_stage="gm",
            workflow_id=f"pc-test-{running.id}",
            created_at=now - timedelta(days=5),
        )
        s.add(pc)
        s.flush()
        assert pc.id
        s.add(
            ApprovalTask(
                partner_campaign_id=pc.id,
                campaign_id=running.id,
                brand_id=summer.brand_id,
                region_id=amsterdam.region_id,
                partner_id=amsterdam.id,
                kind=TaskKind.approve,
                due_at=now - timedelta(hours=30),
                stage="gm",
                stage_label="The club's GM",
                approvers=[{"role": "partner_gm"}],
            )
        )
        s.commit()
    sign_in(portal, "admin@northwind.example")
    page = main_of(portal.get("/reports").text)
    stuck = page.split(">Stuck partners<")[1].split("</table>")[0]
    assert "Autumn &lt;b&gt;bring a friend&lt;/b&gt;" in stuck and "Amsterdam" in stuck
    overdue = page.split(">Approvals overdue now<")[1].split("</table>")[0]
    assert "Daan Bakker, Amsterdam" in overdue  # who holds it
    assert "<td>30 h</td>" in overdue
    links = [a.replace("&amp;", "&") for a in re.findall(r'href="(/reports/export/[^"]+)"', page)]
    got = portal.get(next(a for a in links if "part=overdue" in a and "format=csv" in a))
    assert got.status_code == 200 and "Daan Bakker, Amsterdam" in got.text
    got = portal.get(next(a for a in links if "part=stuck" in a and "format=csv" in a))
    assert got.status_code == 200 and "Autumn <b>bring a friend</b>" in got.text
    assert portal.get("/reports/export/quality?part=stuck").status_code == 422
    # Amsterdam's GM sees the waiting campaign in the own figures, never a table of others.
    sign_in(portal, "gm.amsterdam@northwind.example")
    assert "Approvals overdue" not in portal.get("/my-reports").text
