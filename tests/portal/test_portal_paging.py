"""The portal's lists page with plain "Next page" links carrying the filters and the cursor:
never more than a page of rows, each row once."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal.paging import PAGE
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import Partner, Region
from storage.local import LocalBlobStore
from tests.api.test_paging import _campaign_with_partners
from tests.portal.test_portal import sign_in

NEXT = re.compile(r'<a href="([^"]+)" rel="next">Next page</a>')
PARTNER_ROW = re.compile(r'<tr><td><a href="/partner-campaigns/(\d+)">')
CAMPAIGN_ROW = re.compile(r'<td><a href="/campaigns/(\d+)">')


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def walk(portal: TestClient, url: str, row: re.Pattern[str]) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    while url:
        page = portal.get(url)
        assert page.status_code == 200, page.text
        found = row.findall(page.text)
        assert len(found) <= PAGE
        ids.extend(found)
        pages += 1
        link = NEXT.search(page.text)
        url = html.unescape(link.group(1)) if link else ""
        if url:
            assert "First page" in portal.get(url).text
    return ids, pages


def test_campaign_partners_and_campaigns_page_by_cursor_with_filters(
    portal: TestClient, demo: Engine
) -> None:
    campaign_id = _campaign_with_partners(demo, ["amsterdam", "berlin", "munich"], copies=60)
    sign_in(portal, "marketing@northwind.example")
    ids, pages = walk(portal, f"/campaigns/{campaign_id}", PARTNER_ROW)
    assert len(ids) == len(set(ids)) == 3 and pages == 1
    campaigns, pages = walk(portal, "/campaigns?q=paging", CAMPAIGN_ROW)
    assert len(campaigns) == len(set(campaigns)) == 60 and pages == 2
    with Session(demo) as s:
        south = s.exec(select(Region.id).where(Region.name == "South")).one()
        munich = s.exec(select(Partner).where(Partner.slug == "munich")).one()
    page = portal.get(f"/campaigns/{campaign_id}?region_id={south}&state=&q=&sort=-updated_at")
    assert page.status_code == 200, page.text
    assert PARTNER_ROW.findall(page.text) and munich.display_name in page.text
    assert "Berlin</a>" not in page.text
    # "All" in a filter is an empty value, not an error; a forged cursor is the 422 page.
    assert portal.get("/outbox?partner_campaign_id=").status_code == 200
    assert portal.get("/campaigns?state=&q=").status_code == 200
    assert portal.get("/audit?cursor=forged").status_code == 422


def test_first_campaigns_page_has_no_next_link_when_all_fit(portal: TestClient) -> None:
    sign_in(portal, "marketing@northwind.example")
    page = portal.get("/campaigns")
    assert page.status_code == 200 and not NEXT.search(page.text)
