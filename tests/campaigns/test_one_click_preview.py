"""The GM's one-click page shows, before the confirm button, the email as recipients will see
it (a sandboxed phone-width frame; partner text stays text) and how many contacts will receive
it, in the GM's language; the page's CSP is unchanged (nothing loads, nothing runs)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from models.campaigns import PartnerCampaign
from models.contacts import Contact
from models.org import User
from services.action_links import make_token
from services.audience import audience_of
from tests.campaigns.test_notifications import GM_AMS, _row, _user, pages  # noqa: F401

PAYLOAD = "<script>alert(1)</script> {{ 7*7 }} {% if 1 %}x{% endif %}"


def _with_values(demo: Engine, pc_id: int) -> None:
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    with Session(demo) as s:
        saved = s.get(PartnerCampaign, pc_id)
        assert saved is not None
        saved.values = {"event_date": day, "headline": PAYLOAD}
        s.add(saved)
        s.commit()


def test_preview_and_audience_come_before_the_confirm_button(
    pages: TestClient,  # noqa: F811
    demo: Engine,
    settings: Settings,
) -> None:
    _, row = _row(demo)
    _with_values(demo, row.id or 0)
    with Session(demo) as s:
        saved = s.get(PartnerCampaign, row.id)
        assert saved is not None
        for n, consent in enumerate(("granted", "granted", "granted", "unknown")):
            s.add(
                Contact(
                    brand_id=saved.brand_id,
                    partner_id=saved.partner_id,
                    email=f"member{n}@example.com",
                    consent_status=consent,
                )
            )
        s.commit()
        eligible = audience_of(s, saved)["eligible"]
    assert eligible == 3
    token = make_token(settings, row.id or 0, _user(demo, GM_AMS).id or 0, "approve")
    resp = pages.get(f"/a/{token}")
    assert resp.status_code == 200, resp.text
    page = resp.text
    frame = page.index('<iframe id="email-preview"')
    count = page.index('<p id="audience">')
    button = page.index('<button type="submit">')
    assert frame < button and count < button
    tag = page[frame : page.index("</iframe>", frame)]
    assert " sandbox " in tag and 'class="phone"' in tag and "srcdoc=" in tag
    assert f"<strong>{eligible} " in page[count:button]
    # The frame's document is the rendered email, escaped into the attribute: the partner's
    # text is data in it (no 49, no template tags run, no live script on the page).
    srcdoc = html.unescape(tag.split('srcdoc="', 1)[1].rsplit('"', 1)[0])
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% if 1 %}x{% endif %}" in srcdoc
    assert "<script>" not in page
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none';")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp
    # The preview's pictures load (the frame inherits the page's policy), as in the portal.
    assert "img-src 'self' data: https:" in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_speaks_the_gms_language(
    pages: TestClient,  # noqa: F811
    demo: Engine,
    settings: Settings,
) -> None:
    _, row = _row(demo)
    _with_values(demo, row.id or 0)
    gm = _user(demo, GM_AMS)
    with Session(demo) as s:
        user = s.get(User, gm.id)
        assert user is not None
        user.locale = "de"
        s.add(user)
        s.commit()
    token = make_token(settings, row.id or 0, gm.id or 0, "approve")
    page = pages.get(f"/a/{token}", headers={"Accept-Language": "en"}).text
    assert '<html lang="de">' in page
    assert "Kampagne freigeben?" in page and ">Freigeben</button>" in page
