"""The portal's series pages: HQ sees the series with its past and next occurrences and skips
the next one; a GM stands by the partner's approved occurrence from the series page (another
partner's GM sees no such row and cannot stand by it); another brand finds nothing; the
series' name is shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner
from models.series import CampaignSeries, SeriesOccurrence, StandingApproval
from storage.local import LocalBlobStore
from tests.portal.test_portal import sign_in
from tests.series.support import MARKETING, make_series

PAYLOAD = "<script>alert(1)</script>{{ 7*7 }}"
GM = "gm.amsterdam@northwind.example"


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def approved_occurrence(engine: Engine, series_id: int) -> int:
    """A launched occurrence whose Amsterdam partner campaign the GM approved."""
    with Session(engine) as s:
        series = s.get(CampaignSeries, series_id)
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert series is not None and ams.id is not None
        at = datetime(2027, 1, 4, 8, tzinfo=UTC)
        campaign = Campaign(
            brand_id=series.brand_id,
            name=f"{series.name} 2027-01-04",
            template_version_id=series.template_version_id,
            target=series.target,
            personalise_until=at + timedelta(days=3),
            send_by=at + timedelta(days=10),
            state="running",
            created_by=series.created_by,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        pc = PartnerCampaign(
            campaign_id=campaign.id,
            brand_id=series.brand_id,
            region_id=ams.region_id,
            partner_id=ams.id,
            state="approved",
            values={"headline": "Club news", "event_date": "2027-01-12"},
            workflow_id="partner-campaign-portal-test",
        )
        s.add(pc)
        s.add(
            SeriesOccurrence(
                series_id=series_id,
                brand_id=series.brand_id,
                occurs_on=date(2027, 1, 4),
                scheduled_at=at,
                state="launched",
                campaign_id=campaign.id,
            )
        )
        s.commit()
        return pc.id or 0


def test_series_pages(portal: TestClient, demo: Engine) -> None:
    sid = make_series(demo, name=PAYLOAD)
    pcid = approved_occurrence(demo, sid)

    token = sign_in(portal, MARKETING)
    listed = portal.get("/series")
    assert listed.status_code == 200 and f'href="/series/{sid}"' in listed.text
    assert 'href="/series"' in listed.text  # the nav link
    page = portal.get(f"/series/{sid}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "{{ 7*7 }}" in page.text
    assert "the first Monday of every month at 09:00" in page.text
    # The occurrence's day, as an English reader writes it.
    assert "4 Jan 2027" in page.text and "Stand by this content" not in page.text
    skipped = portal.post(
        f"/series/{sid}/change", data={"csrf_token": token, "action": "skip-next"}
    )
    assert skipped.status_code == 303
    assert "will be skipped" in portal.get(skipped.headers["location"]).text
    portal.post("/logout", data={"csrf_token": token})

    token = sign_in(portal, "gm.berlin@northwind.example")
    page = portal.get(f"/series/{sid}")
    # Berlin's GM reads German: the stand-by button would say "Bei diesem Inhalt bleiben".
    assert page.status_code == 200 and "Kampagnenserien" in page.text
    assert "Bei diesem Inhalt bleiben" not in page.text
    refused = portal.post(
        f"/series/{sid}/stand-by", data={"csrf_token": token, "partner_campaign_id": pcid}
    )
    assert refused.status_code == 404
    assert (
        portal.post(
            f"/series/{sid}/change", data={"csrf_token": token, "action": "end"}
        ).status_code
        == 403
    )
    portal.post("/logout", data={"csrf_token": token})

    token = sign_in(portal, GM)
    page = portal.get(f"/series/{sid}")
    # Amsterdam's GM reads Dutch.
    assert "Achter deze inhoud staan" in page.text and "Pauzeren" not in page.text
    stood = portal.post(
        f"/series/{sid}/stand-by", data={"csrf_token": token, "partner_campaign_id": pcid}
    )
    assert stood.status_code == 303
    assert "Vaste goedkeuring opgeslagen" in portal.get(stood.headers["location"]).text
    with Session(demo) as s:
        rows = s.exec(select(StandingApproval)).all()
        assert [(r.series_id, r.from_partner_campaign_id) for r in rows] == [(sid, pcid)]
    portal.post("/logout", data={"csrf_token": token})

    sign_in(portal, "admin@contoso.example")
    assert portal.get(f"/series/{sid}").status_code == 404
