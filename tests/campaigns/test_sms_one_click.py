"""The one-click approval page shows the SMS beside the email's link: one decision approves
both. Partner text stays text on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from content.dates import LocalDate
from core.settings import Settings
from models.campaigns import PartnerCampaign
from services.action_links import make_token
from tests.campaigns.test_notifications import GM_AMS, _row, _user, pages  # noqa: F401


def test_the_page_shows_the_sms_to_approve(
    pages: TestClient,  # noqa: F811
    demo: Engine,
    settings: Settings,
) -> None:
    _, row = _row(demo)
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    with Session(demo) as s:
        saved = s.get(PartnerCampaign, row.id)
        assert saved is not None
        saved.values = {"event_date": day, "offer": {"en": "<b>Free</b> {{ 7*7 }}"}}
        s.add(saved)
        s.commit()
    token = make_token(settings, row.id or 0, _user(demo, GM_AMS).id or 0, "approve")
    resp = pages.get(f"/a/{token}")
    assert resp.status_code == 200, resp.text
    assert "<h2>The SMS</h2>" in resp.text
    assert "you approve both" in resp.text
    shown = LocalDate(day, "en").medium  # the date as members read it, never ISO
    assert f"&lt;b&gt;Free&lt;/b&gt; {{{{ 7*7 }}}} {shown}." in resp.text
    sms = resp.text.split('<p class="sms">', 1)[1].split("</p>", 1)[0]
    assert "STOP to opt out" in sms and "49" not in sms


def test_no_sms_when_it_cannot_be_shown(
    pages: TestClient,  # noqa: F811
    demo: Engine,
    settings: Settings,
) -> None:
    _, row = _row(demo)  # no event date: the SMS cannot be rendered; the page still works
    token = make_token(settings, row.id or 0, _user(demo, GM_AMS).id or 0, "approve")
    resp = pages.get(f"/a/{token}")
    assert resp.status_code == 200 and "The SMS" not in resp.text
    assert '<form method="post">' in resp.text
