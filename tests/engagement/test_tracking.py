"""Open and click tracking: a tracked link in an outbox message redirects to exactly the
original URL and records one click; altered links are refused and never redirect; other
schemes are never tracked; the pixel is an uncached GIF that records an open; nothing is
tracked while the brand's switches are off; the writer batches."""

from __future__ import annotations

import html
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from core.settings import Settings
from mail.transport import OutboxTransport
from models.base import utcnow
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand
from services import delivery
from services.engagement import events, tracking
from tests.delivery.test_delivery import (
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    snapshot,
)

CTA = "https://northwind.example/open-day"
_HREF = re.compile(r'href="([^"]+)"')


def set_tracking(engine: Engine, *, opens: bool, clicks: bool) -> None:
    with Session(engine) as s:
        brand = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        brand.open_tracking, brand.click_tracking = opens, clicks
        s.add(brand)
        s.commit()


def send_to_outbox(
    engine: Engine, settings: Settings, tmp_path: Path, tag: str, **values: str
) -> tuple[EmailMessage, Delivery]:
    add_contacts(engine, "amsterdam", 1, tag=tag)
    pcid = approved_row(engine, good_values(**values), make_segment(engine, "amsterdam", tag))
    snapshot(engine, pcid)
    outbox = OutboxTransport(tmp_path / "outbox", engine)
    result = delivery.send_batch(engine, settings, outbox, pcid, 10)
    assert result.sent == 1
    [path] = outbox.paths()
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    with Session(engine) as s:
        row = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).one()
        s.expunge(row)
    return msg, row


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in _HREF.findall(page)]


def local(settings: Settings, url: str) -> str:
    return url.removeprefix(settings.public_base_url.rstrip("/"))


def settle(client: TestClient) -> None:
    """Let the app's writer write what it queued (stop drains the queue; start again)."""
    writer = client.app.state.event_writer  # type: ignore[attr-defined]
    writer.stop()
    writer.start()


def events_of(engine: Engine, row: Delivery) -> list[DeliveryEvent]:
    with Session(engine) as s:
        return list(s.exec(select(DeliveryEvent).where(DeliveryEvent.delivery_id == row.id)))


@pytest.fixture
def tracked(demo: Engine) -> Engine:
    set_tracking(demo, opens=True, clicks=True)
    return demo


def test_a_tracked_link_in_an_outbox_message_redirects_and_records_one_click(
    tracked: Engine, settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    msg, row = send_to_outbox(tracked, settings, tmp_path, "click")
    page = html_of(msg)
    links = hrefs(page)
    # Every web link is tracked (the brand footer's social links too); the original stays
    # readable in the link, and the text part keeps the plain URL.
    tracked_links = [h for h in links if "/r/" in h]
    assert all(not h.startswith(CTA) for h in links)
    [link] = [h for h in tracked_links if parse_qs(urlsplit(h).query)["u"] == [CTA]]
    assert CTA in text_of(msg) and "/r/" not in text_of(msg)
    # Unsubscribe and preference links are never tracked.
    assert any("/u/" in h and "/r/" not in h for h in links)
    assert any("/p/" in h and "/r/" not in h for h in links)

    resp = client.get(local(settings, link), follow_redirects=False)
    assert resp.status_code == 302 and resp.headers["location"] == CTA
    settle(client)
    clicks = [e for e in events_of(tracked, row) if e.kind == "clicked"]
    assert [(e.url, e.source, e.partner_campaign_id, e.partner_id) for e in clicks] == [
        (CTA, "tracking", row.partner_campaign_id, row.partner_id)
    ]


def test_a_link_with_a_query_string_comes_back_exactly(
    settings: Settings, client: TestClient, tracked: Engine, tmp_path: Path
) -> None:
    target = "https://club.example/a%20b?x=1&y=%2F+z&e=caf%C3%A9#frag"
    _, row = send_to_outbox(tracked, settings, tmp_path, "query")
    assert row.id is not None
    link = tracking.click_url(settings, row.id, target)
    resp = client.get(local(settings, link), follow_redirects=False)
    assert resp.status_code == 302 and resp.headers["location"] == target


def test_altered_links_are_refused_and_never_redirect(
    tracked: Engine, settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    _, row = send_to_outbox(tracked, settings, tmp_path, "tamper")
    assert row.id is not None
    link = local(settings, tracking.click_url(settings, row.id, CTA))
    path, _, query = link.partition("?")
    mac = path.rsplit("/", 1)[1]
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    other = row.id + 1
    for bad in (
        f"{path}?u=https%3A%2F%2Fevil.example%2F",  # another URL
        f"{path.replace(mac, flipped)}?{query}",  # another MAC
        f"/r/{other}/{mac}?{query}",  # another delivery
        f"{path}?u=",  # no URL
        f"/r/0{row.id}/{mac}?{query}",  # the same delivery written another way
        f"{path}={'='}?{query}",  # padding
    ):
        resp = client.get(bad, follow_redirects=False)
        assert resp.status_code == 404, bad
        assert "location" not in resp.headers
    settle(client)
    assert [e for e in events_of(tracked, row) if e.kind == "clicked"] == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "mailto:club@example.com",
        "tel:+3120",
        "//evil.example/x",
        "/relative",
        "https://",
        "https://a.example/\r\nSet-Cookie: x=1",
    ],
)
def test_other_schemes_are_never_tracked_or_redirected_to(
    settings: Settings, client: TestClient, url: str
) -> None:
    assert not tracking.trackable(url)
    page = f'<html><body><a href="{html.escape(url)}">x</a></body></html>'
    rewritten = tracking.Tracking(settings, 7, clicks=True, opens=False).apply(page)
    assert rewritten == page
    # Even a correct MAC over such a URL does not make the route redirect to it.
    forged = tracking.click_url(settings, 7, url)
    resp = client.get(local(settings, forged), follow_redirects=False)
    assert resp.status_code == 404 and "location" not in resp.headers


def test_rewriting_keeps_partner_text_as_text() -> None:
    settings = Settings()
    payload = 'https://club.example/?q="><script>alert(1)</script>{{7*7}}'
    page = f'<body><p>{html.escape(payload)}</p><a href="{html.escape(payload)}">go</a></body>'
    out = tracking.Tracking(settings, 9, clicks=True, opens=True).apply(page)
    assert "<script>" not in out and "49" not in out
    [link] = [h for h in hrefs(out) if "/r/9/" in h]
    assert parse_qs(urlsplit(link).query)["u"] == [payload]
    assert out.count("<img ") == 1 and out.index("<img ") < out.index("</body>")


def test_the_pixel_is_an_uncached_gif_and_records_an_open(
    tracked: Engine, settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    msg, row = send_to_outbox(tracked, settings, tmp_path, "open")
    [pixel] = re.findall(r'<img src="([^"]+/o/[^"]+)"', html_of(msg))
    resp = client.get(local(settings, html.unescape(pixel)))
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/gif"
    assert resp.content.startswith(b"GIF89a") and "no-store" in resp.headers["cache-control"]
    # A second fetch in the same minute (clients render twice) counts once.
    client.get(local(settings, html.unescape(pixel)))
    # A forged pixel still shows an image (never a broken one) and records nothing.
    assert client.get(f"/o/{row.id}/AAAAAAAAAAAAAAAAAAAAAA.gif").status_code == 200
    settle(client)
    assert [e.kind for e in events_of(tracked, row)] == ["opened"]


def test_nothing_is_tracked_while_the_switches_are_off(
    demo: Engine, settings: Settings, tmp_path: Path
) -> None:
    msg, _ = send_to_outbox(demo, settings, tmp_path, "off")
    page = html_of(msg)
    assert "/r/" not in page and "/o/" not in page and CTA in hrefs(page)


def test_only_clicks_when_only_clicks_are_on(
    demo: Engine, settings: Settings, tmp_path: Path
) -> None:
    set_tracking(demo, opens=False, clicks=True)
    msg, _ = send_to_outbox(demo, settings, tmp_path, "clicksonly")
    page = html_of(msg)
    assert "/r/" in page and "/o/" not in page


def _event(delivery_id: int, n: int) -> events.Event:
    return events.Event(
        delivery_id=delivery_id,
        kind="clicked",
        source="tracking",
        key=f"test:{delivery_id}:{n}",
        at=utcnow(),
        url=f"https://club.example/{n}",
    )


def test_the_writer_batches_many_events_into_few_transactions(
    tracked: Engine, settings: Settings, tmp_path: Path
) -> None:
    _, row = send_to_outbox(tracked, settings, tmp_path, "batch")
    assert row.id is not None
    commits: list[int] = []

    def count(_: Any) -> None:
        commits.append(1)

    writer = events.EventWriter(tracked, queue_size=2000, batch_size=100)
    for n in range(1000):  # queued while no thread drains: as under load
        writer.queue.put_nowait(_event(row.id, n))
    event.listen(tracked, "commit", count)
    try:
        writer.start()
        writer.stop()
    finally:
        event.remove(tracked, "commit", count)
    assert writer.events_written == 1000
    assert writer.batches_written == 10 and len(commits) == 10
    assert len(events_of(tracked, row)) == 1000
    # Written again (a retried batch): nothing is added.
    with Session(tracked) as s:
        assert events.write(s, [_event(row.id, n) for n in range(1000)]) == 0
        s.commit()
    assert len(events_of(tracked, row)) == 1000


def test_a_full_queue_writes_in_the_request_and_loses_nothing(
    tracked: Engine, settings: Settings, tmp_path: Path
) -> None:
    _, row = send_to_outbox(tracked, settings, tmp_path, "full")
    assert row.id is not None
    writer = events.EventWriter(tracked, queue_size=1, batch_size=10)
    writer._thread = _Alive()  # type: ignore[assignment]  # a flusher that never drains
    writer.submit(_event(row.id, 1))
    writer.submit(_event(row.id, 2))
    assert writer.overflow_writes == 1 and writer.queue.qsize() == 1
    writer._thread = None
    writer.flush()
    assert len(events_of(tracked, row)) == 2


class _Alive:
    def is_alive(self) -> bool:
        return True


def test_events_about_unknown_deliveries_are_dropped(tracked: Engine) -> None:
    with Session(tracked) as s:
        assert events.write(s, [_event(987654321, 1)]) == 0


def test_an_unsubscribe_from_a_sent_message_is_one_event(
    demo: Engine, settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    msg, row = send_to_outbox(demo, settings, tmp_path, "unsub")
    one_click = local(settings, str(msg["List-Unsubscribe"]).strip().strip("<>"))
    for _ in range(2):  # a provider may POST twice
        assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert [(e.kind, e.source, e.detail) for e in events_of(demo, row)] == [
        ("unsubscribed", "unsubscribe", "one-click")
    ]
