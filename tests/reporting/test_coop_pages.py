"""The portal's co-op report: HQ sees every fund of the period with the figures of the API, a
partner's editor only its own fund, a region manager its region; partner names are shown as
text; the CSV link downloads the same table; a bad period is a 422 naming it."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.org import Partner
from tests.funds.helpers import ADMIN, EDITOR_AMS, NORTH
from tests.funds.test_pages import PAYLOAD
from tests.funds.test_pages import portal as portal
from tests.portal.test_portal import sign_in
from tests.reporting.test_reports_coop import seed


def fund_links(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'href="/funds/(\d+)"', html)}


def test_hq_sees_the_period_with_exact_figures(portal: TestClient, demo: Engine) -> None:
    ids = seed(demo)
    with Session(demo) as s:
        mun = s.exec(select(Partner).where(Partner.slug == "munich")).one()
        mun.display_name = PAYLOAD
        s.add(mun)
        s.commit()
    sign_in(portal, ADMIN)
    page = portal.get("/reports")
    assert 'href="/reports/coop"' in page.text
    r = portal.get("/reports/coop?period=2026-Q4")
    assert r.status_code == 200, r.text
    assert fund_links(r.text) == {ids.ams, ids.ber, ids.mun}
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in r.text  # text, not a template
    assert "1000.00 EUR" in r.text and "735.00" in r.text and "21.5 %" in r.text
    assert "Total EUR" in r.text and "1900.00 EUR" in r.text
    assert 'class="table-wrap"' in r.text  # scrolls sideways on a phone
    link = re.search(r'href="(/reports/coop/export\?[^"]*format=csv)"', r.text)
    assert link is not None
    csv_resp = portal.get(link.group(1).replace("&amp;", "&"))
    assert csv_resp.status_code == 200
    table = list(csv.reader(io.StringIO(csv_resp.text)))
    assert {row[0] for row in table[1:-1]} == {str(ids.ams), str(ids.ber), str(ids.mun)}
    assert table[-1][1] == "Total" and table[-1][5] == "1900.00"


def test_partner_and_region_manager_see_their_reach(portal: TestClient, demo: Engine) -> None:
    ids = seed(demo)
    sign_in(portal, EDITOR_AMS)
    assert 'href="/reports/coop"' in portal.get("/funds").text
    r = portal.get("/reports/coop?period=2026-Q4")
    assert r.status_code == 200, r.text
    assert fund_links(r.text) == {ids.ams}
    assert 'id="region_id"' not in r.text  # a partner has nothing to filter by region
    assert portal.get(f"/reports/coop?period=2026-Q4&region_id={ids.north}").status_code == 404
    body = portal.get("/reports/coop/export?period=2026-Q4").text
    assert [row[0] for row in csv.reader(io.StringIO(body))][1:] == [str(ids.ams), ""]
    portal.cookies.clear()
    sign_in(portal, NORTH)
    r = portal.get(f"/reports/coop?period=2026-Q4&region_id={ids.north}")
    assert fund_links(r.text) == {ids.ams, ids.ber}
    assert portal.get(f"/reports/coop?region_id={ids.south}").status_code == 404


def test_bad_period_is_named(portal: TestClient, demo: Engine) -> None:
    sign_in(portal, ADMIN)
    r = portal.get("/reports/coop?period=2026-Q9")
    assert r.status_code == 422
    assert "period" in r.text
    assert portal.get("/reports/coop/export?period=soon").status_code == 422
