"""The series API without a Temporal server: what is refused before anything is made (422
naming the field, 403, 404 across tenants), the read with its next occurrences in the series'
zone, skipping ahead, and a Schedule that cannot be reached changing nothing (503)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import Region
from models.series import CampaignSeries
from models.templates import TemplateVersion
from storage.local import LocalBlobStore
from tests.free_ports import nowhere
from tests.series.support import MARKETING, make_series, series_body

Login = Callable[[str], dict[str, str]]
URL = "/api/v1/campaign-series"


def _draft_version(engine: Engine) -> int:
    with Session(engine) as s:
        return (
            s.exec(select(TemplateVersion.id).where(TemplateVersion.state == "draft")).first() or 0
        )


def _contoso_region(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(Region.id).where(Region.name == "Benelux")).one() or 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurrence": {"cron": "0 25 * * *"}}, "recurrence"),
        ({"recurrence": {"cron": "0 9 31 2 *"}}, "recurrence"),
        (
            {"recurrence": {"cron": "0 9 * * 1", "monthly": {"nth": 1, "weekday": "monday"}}},
            "recurrence",
        ),
        ({"recurrence": {"monthly": {"nth": 5, "weekday": "monday"}}}, "recurrence.monthly.nth"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"send_within": "P1D"}, "send_within"),
        ({"approval_policy": "none"}, "approval_policy"),
        ({"name": "   "}, "name"),
        ({"target": {"everyone": True}}, "target"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, demo: Engine, login: Login, change: dict[str, Any], field: str
) -> None:
    resp = client.post(URL, json=series_body(demo, **change), headers=login(MARKETING))
    assert resp.status_code == 422, resp.text
    fields = [e["field"] for e in resp.json()["errors"]]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), fields
    with Session(demo) as s:
        assert s.exec(select(CampaignSeries)).all() == []


def test_references_outside_the_brand_or_unpublished_are_refused(
    client: TestClient, demo: Engine, login: Login
) -> None:
    draft = series_body(demo, template_version_id=_draft_version(demo))
    resp = client.post(URL, json=draft, headers=login(MARKETING))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "template_version_id"
    foreign = series_body(demo, target={"regions": [_contoso_region(demo)]})
    resp = client.post(URL, json=foreign, headers=login(MARKETING))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "target"


def test_partners_read_but_do_not_manage_and_other_brands_see_nothing(
    client: TestClient, demo: Engine, login: Login
) -> None:
    sid = make_series(demo)
    editor = login("editor.amsterdam@northwind.example")
    assert client.post(URL, json=series_body(demo), headers=editor).status_code == 403
    assert client.get(f"{URL}/{sid}", headers=editor).status_code == 200
    assert client.post(f"{URL}/{sid}/skip-next", headers=editor).status_code == 403
    contoso = login("admin@contoso.example")
    assert client.get(f"{URL}/{sid}", headers=contoso).status_code == 404
    assert client.post(f"{URL}/{sid}/skip-next", headers=contoso).status_code == 404
    assert client.get(URL, headers=contoso).json() == []


def test_next_occurrences_in_the_series_zone_and_skipping_ahead(
    client: TestClient, demo: Engine, login: Login
) -> None:
    sid = make_series(demo)
    headers = login(MARKETING)
    read = client.get(f"{URL}/{sid}", headers=headers).json()
    assert read["recurrence_text"] == "the first Monday of every month at 09:00"
    coming = [
        datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Amsterdam"))
        for t in read["next_occurrences"]
    ]
    assert len(coming) == 6
    assert all(t.weekday() == 0 and t.day <= 7 and (t.hour, t.minute) == (9, 0) for t in coming)
    assert all(b > a and b.month != a.month for a, b in pairwise(coming))

    skipped = client.post(f"{URL}/{sid}/skip-next", headers=headers).json()
    assert skipped["skip_dates"] == [coming[0].date().isoformat()]
    after = [
        datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Amsterdam"))
        for t in skipped["next_occurrences"]
    ]
    assert after[:5] == coming[1:]
    twice = client.post(f"{URL}/{sid}/skip-next", headers=headers).json()
    assert twice["skip_dates"] == [coming[0].date().isoformat(), coming[1].date().isoformat()]
    listed = client.get(URL, headers=login("gm.berlin@northwind.example")).json()
    assert [s["id"] for s in listed] == [sid]


def test_an_unreachable_schedule_changes_nothing(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, login: Login
) -> None:
    """Against an address where nothing listens (never a server someone may be running)."""
    sid = make_series(demo)
    down = settings.model_copy(update={"temporal_address": nowhere()})
    app = create_app(down, engine=demo, temporal=LazyTemporalClient(down), blob_store=blob_store)
    with TestClient(app) as client:
        resp = client.post(f"{URL}/{sid}/pause", headers=login(MARKETING))
        assert resp.status_code == 503, resp.text
        again = client.post(URL, json=series_body(demo), headers=login(MARKETING))
        assert again.status_code == 503
    with Session(demo) as s:
        series = s.get(CampaignSeries, sid)
        assert series is not None and series.state == "active"
        assert len(s.exec(select(CampaignSeries)).all()) == 1
