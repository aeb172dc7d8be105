"""A date slot's default relative to the campaign ("the Saturday before send_by"): the rule,
the partner's own calendar (zones, DST), validation that names the field, templates without
it unchanged, and the partner campaign row and the portal form pre-filled at launch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from content.relative_dates import local_day, resolve, resolved_defaults
from content.spec import RelativeDate, Slot, SlotKind
from models.campaigns import Campaign
from models.org import Partner, Region, User
from models.templates import Template, TemplateVersion
from scripts.demo.templates import flyer_a5, open_day
from services.campaigns import create_partner_campaigns, start_values

SAT = RelativeDate(relative_to="send_by", weekday="saturday")


@pytest.mark.parametrize(
    ("anchor", "rule", "expected"),
    [
        (date(2027, 5, 12), SAT, date(2027, 5, 8)),  # Wednesday -> the Saturday before
        (date(2027, 5, 15), SAT, date(2027, 5, 8)),  # a Saturday -> a week earlier, never itself
        (date(2027, 5, 16), SAT, date(2027, 5, 15)),  # Sunday -> the day before
        (date(2027, 5, 15), SAT.model_copy(update={"direction": "after"}), date(2027, 5, 22)),
        (date(2027, 5, 12), RelativeDate(relative_to="send_by", days=7), date(2027, 5, 5)),
        # Three days first, then the Saturday strictly before that day.
        (date(2027, 5, 12), SAT.model_copy(update={"days": 3}), date(2027, 5, 8)),
        (date(2027, 5, 11), SAT.model_copy(update={"days": 3}), date(2027, 5, 1)),
        (date(2027, 1, 2), SAT, date(2026, 12, 26)),  # across the year
    ],
)
def test_the_rule(anchor: date, rule: RelativeDate, expected: date) -> None:
    assert resolve(rule, anchor) == expected


def test_the_partners_calendar_decides_the_day() -> None:
    # Saturday 22:30 UTC is already Sunday in Amsterdam, still Saturday in New York.
    send_by = datetime(2027, 5, 15, 22, 30, tzinfo=UTC)
    assert local_day(send_by, "Europe/Amsterdam") == date(2027, 5, 16)
    assert local_day(send_by, "America/New_York") == date(2027, 5, 15)
    content = open_day()
    until = datetime(2027, 5, 1, tzinfo=UTC)
    assert resolved_defaults(content, send_by, until, "Europe/Amsterdam") == {
        "event_date": "2027-05-15"  # the Saturday before Sunday
    }
    assert resolved_defaults(content, send_by, until, "America/New_York") == {
        "event_date": "2027-05-08"  # send_by is a Saturday there: the Saturday a week earlier
    }
    assert resolved_defaults(content, send_by, until, "Not/A_Zone") == {
        "event_date": "2027-05-08"  # an unknown zone reads as UTC
    }


def test_dst_nights_keep_the_calendar_day() -> None:
    # Sunday 28 March 2027 is the spring-forward night in Europe; 31 October the fall-back.
    spring = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 01:30 CET, before the jump
    assert local_day(spring, "Europe/Berlin") == date(2027, 3, 28)
    assert resolve(SAT, local_day(spring, "Europe/Berlin")) == date(2027, 3, 27)
    autumn = datetime(2027, 10, 30, 22, 30, tzinfo=UTC)  # Sunday 00:30 CEST in Berlin
    assert local_day(autumn, "Europe/Berlin") == date(2027, 10, 31)
    assert resolve(SAT, local_day(autumn, "Europe/Berlin")) == date(2027, 10, 30)
    seven = RelativeDate(relative_to="send_by", days=7)
    assert resolve(seven, date(2027, 4, 3)) == date(2027, 3, 27)  # calendar days, not 168 h


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"relative_to": "launch", "weekday": "saturday"}, "relative_to"),
        ({"relative_to": "send_by", "weekday": "caturday"}, "weekday"),
        ({"relative_to": "send_by", "days": -7}, "days"),
        ({"relative_to": "send_by", "days": 1000}, "days"),
        ({"relative_to": "send_by", "weekday": "friday", "direction": "sideways"}, "direction"),
        ({"relative_to": "send_by", "weekday": "friday", "when": "soon"}, "when"),
        ({"relative_to": "send_by"}, "relative_default"),  # moves nowhere
    ],
)
def test_nonsense_is_refused_naming_the_field(rule: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Slot(name="event_date", kind=SlotKind.date, label={"en": "Date"}, relative_default=rule)
    assert field in str(err.value)


def test_only_editable_date_slots_take_one() -> None:
    for kind, locked in ((SlotKind.text, False), (SlotKind.date, True)):
        with pytest.raises(ValidationError, match="editable date slots only"):
            Slot(name="x", kind=kind, locked=locked, label={"en": "X"}, relative_default=SAT)


def test_the_api_refuses_a_bad_rule_with_422_naming_the_field(
    client: TestClient, login: Any, demo: Engine
) -> None:
    content = open_day().model_dump(mode="json")
    slot = next(s for s in content["slots"] if s["name"] == "event_date")
    slot["relative_default"] = {"relative_to": "send_by", "weekday": "someday"}
    resp = client.post(
        "/api/v1/templates",
        json={"name": "Bad rule", "content": content},
        headers=login("marketing@northwind.example"),
    )
    assert resp.status_code == 422, resp.text
    assert "relative_default" in resp.text and "weekday" in resp.text


def _campaign(s: Session, content: dict[str, Any], defaults: dict[str, Any]) -> Campaign:
    marketing = s.exec(select(User).where(User.email == "marketing@northwind.example")).one()
    template = Template(brand_id=marketing.brand_id, name="Rel", created_by=marketing.id or 0)
    s.add(template)
    s.flush()
    version = TemplateVersion(
        template_id=template.id or 0,
        brand_id=marketing.brand_id,
        number=1,
        state="published",
        content=content,
        author_id=marketing.id or 0,
        workflow_id="template-rel",
    )
    s.add(version)
    s.flush()
    north = s.exec(select(Region).where(Region.name == "North")).one()
    campaign = Campaign(
        brand_id=marketing.brand_id,
        name="Rel",
        template_version_id=version.id or 0,
        target={"regions": [north.id]},
        personalise_until=datetime(2027, 5, 1, 10, tzinfo=UTC),
        send_by=datetime(2027, 5, 15, 22, 30, tzinfo=UTC),  # Sunday in Europe
        defaults=defaults,
        remind_after=86400,
        escalate_after=86400,
        created_by=marketing.id or 0,
    )
    s.add(campaign)
    s.flush()
    return campaign


def test_launch_prefills_each_partner_in_its_zone(demo: Engine) -> None:
    with Session(demo) as s:
        partners = list(s.exec(select(Partner).where(Partner.slug.in_(["amsterdam", "hamburg"]))))
        partners[0].timezone = "America/New_York"  # one partner in another calendar
        s.add(partners[0])
        far = partners[0].slug
        campaign = _campaign(s, open_day().model_dump(mode="json"), {"headline": "Hi"})
        rows = create_partner_campaigns(s, campaign, partners)
        by_slug = {p.slug: r.values for p, r in zip(partners, rows, strict=True)}
        near = next(slug for slug in by_slug if slug != far)
        assert by_slug[near] == {"headline": "Hi", "event_date": "2027-05-15"}
        assert by_slug[far] == {"headline": "Hi", "event_date": "2027-05-08"}
        # HQ's own campaign default for the slot wins; a template without the rule is as before.
        pinned = _campaign(s, open_day().model_dump(mode="json"), {"event_date": "2027-05-01"})
        assert start_values(open_day(), pinned, partners[1]) == {}
        plain = _campaign(s, flyer_a5().model_dump(mode="json"), {})
        assert [r.values for r in create_partner_campaigns(s, plain, partners)] == [{}, {}]
        s.rollback()


def test_the_form_shows_the_date_prefilled(demo: Engine, blob_store: Any, settings: Any) -> None:
    from api.app import create_app
    from core.temporal import LazyTemporalClient
    from tests.portal.test_portal import sign_in

    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        campaign = _campaign(s, open_day().model_dump(mode="json"), {})
        row = create_partner_campaigns(s, campaign, [ams])[0]
        row.values = {}  # launched before the template had the rule: the form still offers it
        row.state = "drafting"
        s.add(row)
        s.commit()
        pcid = row.id
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as portal:
        sign_in(portal, "editor.amsterdam@northwind.example")
        page = portal.get(f"/partner-campaigns/{pcid}")
    assert page.status_code == 200, page.text
    assert 'name="slot__event_date" required value="2027-05-15"' in page.text
