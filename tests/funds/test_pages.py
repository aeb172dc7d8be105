"""The portal's co-op fund pages: a partner sees its own fund (another's is not found), HQ
sees the brand's funds and allocates by form and by sheet (the refused cells listed), brand
admins keep the cost rates, and text from partners and sheets is shown as text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.funds import CostRate, Fund
from models.org import Partner, User
from storage.local import LocalBlobStore
from tests.funds.helpers import ADMIN, GM_AMS, GM_BER, MARKETING
from tests.portal.test_portal import sign_in

PAYLOAD = "<script>alert(1)</script>{{ 7*7 }}"


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def allocate_all(portal: TestClient, token: str, **more: str) -> object:
    data = {
        "csrf_token": token,
        "target": "all",
        "period": "2026-Q4",
        "currency": "EUR",
        "amount": "1000.00",
        "coop_share_percent": "50",
        "note": PAYLOAD,
        **more,
    }
    return portal.post("/funds/allocate", data={**data, "channels": ["email", "sms"]})


def funds_by_slug(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.exec(
            select(Partner.slug, Fund.id).join(Fund, col(Fund.partner_id) == col(Partner.id))
        )
        return {slug: fid or 0 for slug, fid in rows.all()}


def test_hq_allocates_and_partners_see_their_own(portal: TestClient, demo: Engine) -> None:
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        ams.display_name = PAYLOAD
        s.add(ams)
        s.commit()
    token = sign_in(portal, ADMIN)
    page = portal.get("/funds")
    assert page.status_code == 200 and "Allocate money" in page.text
    assert 'href="/funds"' in page.text  # the nav link
    r = allocate_all(portal, token)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    page = portal.get("/funds")
    assert "1000.00 EUR" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in page.text
    funds = funds_by_slug(demo)
    detail = portal.get(f"/funds/{funds['amsterdam']}")
    assert detail.status_code == 200
    assert "<script>alert" not in detail.text and "&lt;script&gt;" in detail.text
    assert "{{ 7*7 }}" in detail.text  # the note's text, never evaluated
    # A refused allocation shows the form again with the field's problem.
    r = allocate_all(portal, token, period="2026-Q4", coop_share_percent="40")
    assert r.status_code == 422 and "fund 2026-Q4 has a share of 50 %" in r.text  # type: ignore[attr-defined]

    portal.cookies.clear()
    sign_in(portal, GM_AMS)
    mine = portal.get("/funds")
    assert mine.status_code == 200
    assert f'href="/funds/{funds["amsterdam"]}"' in mine.text
    assert f'href="/funds/{funds["berlin"]}"' not in mine.text
    assert "Allocate money" not in mine.text
    assert portal.get(f"/funds/{funds['amsterdam']}").status_code == 200
    assert portal.get(f"/funds/{funds['berlin']}").status_code == 404

    portal.cookies.clear()
    token = sign_in(portal, GM_BER)
    assert allocate_all(portal, token).status_code == 403  # type: ignore[attr-defined]


def test_sheet_report_and_rates(portal: TestClient, demo: Engine) -> None:
    token = sign_in(portal, ADMIN)
    sheet = (
        "partner,period,currency,amount,co-op share,channels\n"
        "amsterdam,2026-Q4,EUR,100,50,email\n"
        f'"{PAYLOAD}",2026-Q4,EUR,100,50,email\n'
    )
    r = portal.post(
        "/funds/import",
        data={"csrf_token": token},
        files={"file": ("funds.csv", sheet.encode(), "text/csv")},
    )
    assert r.status_code == 422
    assert "row 3, column partner: no partner" in r.text
    assert "<script>alert(1)</script>" not in r.text
    assert funds_by_slug(demo) == {}
    r = portal.post(
        "/funds/import",
        data={"csrf_token": token},
        files={"file": ("funds.csv", sheet.encode().rsplit(b"\n", 2)[0] + b"\n", "text/csv")},
    )
    assert r.status_code == 303, r.text
    assert list(funds_by_slug(demo)) == ["amsterdam"]

    rates = "email,,1,,0.05,EUR\nprint,A5,1,249,0.30,EUR\nprint,A5,250,,0.18,EUR\n"
    r = portal.post("/funds/rates", data={"csrf_token": token, "rates": rates})
    assert r.status_code == 303, r.text
    with Session(demo) as s:
        assert sorted(c.unit_minor for c in s.exec(select(CostRate)).all()) == [5, 18, 30]
    page = portal.get("/funds")
    assert "print,A5,250,,0.18,EUR" in page.text
    r = portal.post(
        "/funds/rates", data={"csrf_token": token, "rates": rates + "print,A5,200,,0.2,EUR\n"}
    )
    assert r.status_code == 422 and "overlaps" in r.text
    r = portal.post("/funds/rates", data={"csrf_token": token, "rates": "fax,,1,,1,EUR"})
    assert r.status_code == 422 and "Line 1" in r.text

    portal.cookies.clear()
    token = sign_in(portal, MARKETING)
    assert portal.get("/funds").status_code == 200
    assert (
        portal.post("/funds/rates", data={"csrf_token": token, "rates": rates}).status_code == 403
    )


def speaks(engine: Engine, email: str, locale: str) -> None:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        user.locale = locale
        s.add(user)
        s.commit()


@pytest.mark.parametrize(
    ("locale", "period", "amount", "channels", "line"),
    [
        (
            "nl",
            "Periode: 'Q9' is geen periode",
            "Bedrag per partner: &#39;&lt;script&gt;x&lt;/script&gt;&#39; is geen bedrag",
            "kies minstens één kanaal",
            "Regel 3: van: vul een heel getal in, bijvoorbeeld 500.",
        ),
        (
            "de",
            "Zeitraum: 'Q9' ist kein Zeitraum",
            "Betrag je Partner: &#39;&lt;script&gt;x&lt;/script&gt;&#39; ist kein Betrag",
            "wählen Sie mindestens einen Kanal",
            "Zeile 3: von: Geben Sie eine ganze Zahl ein, z. B. 500.",
        ),
    ],
)
def test_hq_reads_the_allocation_and_rate_refusals_in_its_language(
    portal: TestClient,
    demo: Engine,
    locale: str,
    period: str,
    amount: str,
    channels: str,
    line: str,
) -> None:
    speaks(demo, ADMIN, locale)
    token = sign_in(portal, ADMIN)
    r = allocate_all(portal, token, period="Q9")
    assert r.status_code == 422 and period.replace("'", "&#39;") in r.text  # type: ignore[attr-defined]
    r = allocate_all(portal, token, amount="<script>x</script>")
    assert r.status_code == 422 and amount in r.text  # type: ignore[attr-defined]
    assert "<script>x" not in r.text  # type: ignore[attr-defined]
    data = {"csrf_token": token, "target": "all", "period": "2026-Q4", "currency": "EUR"}
    r = portal.post("/funds/allocate", data={**data, "amount": "10", "coop_share_percent": "50"})
    assert r.status_code == 422 and channels in r.text
    rates = "email,,1,,0.05,EUR\n\nprint,A5,{{7*7}},,0.30,EUR\n"
    r = portal.post("/funds/rates", data={"csrf_token": token, "rates": rates})
    assert r.status_code == 422 and line in r.text, r.text
    huge = "email,,1,,0.05," + "E" * 50_000
    r = portal.post("/funds/rates", data={"csrf_token": token, "rates": huge})
    assert r.status_code == 422 and "Input should" not in r.text
