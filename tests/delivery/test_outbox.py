"""The embedded outbox: each message as an .eml file and a row, and the HQ outbox viewer."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.portal import session as portal_cookies
from core.db import make_engine
from core.settings import Settings
from mail.errors import TransientSendError, TransportPausedError
from mail.message import compose
from mail.tags import Tags, make_tags
from mail.transport import OutboxTransport, make_transport, outbox_dir
from models.campaigns import PartnerCampaign
from models.contacts import Contact
from models.org import Brand, Partner, User
from models.outbox import OutboxMessage
from models.workflow_io import SendPaused
from services import delivery

SENDER = "Northwind <news@northwind.example>"
Login = Callable[[str], dict[str, str]]


def _brand(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        brand = s.exec(select(Brand).where(Brand.name == name)).one()
        assert brand.id is not None
        return brand.id


def test_each_message_is_a_file_and_a_row(db: Engine, tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox", db)
    tagged = compose(sender=SENDER, to=["Ann <ann@example.com>"], subject="Hi Ann", text="t")
    plain = compose(sender=SENDER, to=["bob@example.com"], subject="System", text="t")
    outbox.send(tagged, tags=make_tags(brand=4, partner_campaign=12, delivery="d-12-1"))
    outbox.send(plain)
    with Session(db) as s:
        rows = s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.to, r.subject, r.brand_id, r.partner_campaign_id, r.delivery_id) for r in rows] == [
        ("ann@example.com", "Hi Ann", 4, 12, "d-12-1"),
        ("bob@example.com", "System", None, None, None),
    ]
    assert rows[0].message_id == tagged["Message-ID"]
    assert [p.name for p in outbox.paths()] == [r.path for r in rows]
    assert b"d-12-1" not in outbox.paths()[0].read_bytes(), "tags stay out of the message"


def test_a_row_that_cannot_be_written_takes_its_file_back(tmp_path: Path) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    outbox = OutboxTransport(tmp_path / "outbox", unmigrated)
    with pytest.raises(TransientSendError) as caught:
        outbox.send(compose(sender=SENDER, to=["a@example.com"], subject="s", text="t"))
    assert caught.value.code == "outbox.record"
    assert outbox.paths() == []
    unmigrated.dispose()


def test_make_transport_gives_the_outbox_the_engine(settings: Settings, db: Engine) -> None:
    with_rows = make_transport(settings, db)
    assert isinstance(with_rows, OutboxTransport) and with_rows.engine is db
    assert with_rows.rate_key == "outbox" and with_rows.max_send_rate() == 1000.0
    files_only = make_transport(settings)
    assert isinstance(files_only, OutboxTransport) and files_only.engine is None


def test_viewer_lists_newest_first_filters_and_pages(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    northwind, contoso = _brand(demo, "Northwind Fitness"), _brand(demo, "Contoso Motors")
    outbox = OutboxTransport(outbox_dir(settings), demo)
    sent = []
    for i, (brand, pc) in enumerate([(northwind, 1), (northwind, 2), (northwind, 1), (contoso, 1)]):
        msg = compose(sender=SENDER, to=[f"c{i}@example.com"], subject=f"M{i}", text="t")
        outbox.send(msg, tags=make_tags(brand=brand, partner_campaign=pc))
        sent.append(msg)
    outbox.send(compose(sender=SENDER, to=["sys@example.com"], subject="No brand", text="t"))

    hq = login("marketing@northwind.example")
    page = client.get("/api/v1/outbox", headers=hq).json()
    assert page["total"] == 3
    assert [m["subject"] for m in page["items"]] == ["M2", "M1", "M0"]
    first = page["items"][0]
    assert set(first) >= {"id", "to", "subject", "sent_at", "partner_campaign_id"}
    assert first["to"] == "c2@example.com" and first["partner_campaign_id"] == 1
    one = client.get("/api/v1/outbox?partner_campaign_id=1&limit=1&offset=1", headers=hq).json()
    assert (one["total"], [m["subject"] for m in one["items"]]) == (2, ["M0"])

    other = client.get("/api/v1/outbox", headers=login("admin@contoso.example")).json()
    assert [m["subject"] for m in other["items"]] == ["M3"]

    raw = client.get(f"/api/v1/outbox/{first['id']}/raw", headers=hq)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    parsed = BytesParser(policy=policy.default).parsebytes(raw.content)
    assert parsed["Message-ID"] == sent[2]["Message-ID"] and parsed["Subject"] == "M2"


def test_partner_and_region_users_are_refused_and_other_brands_see_nothing(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    northwind = _brand(demo, "Northwind Fitness")
    outbox = OutboxTransport(outbox_dir(settings), demo)
    outbox.send(
        compose(sender=SENDER, to=["c@example.com"], subject="Secret", text="t"),
        tags=make_tags(brand=northwind, partner_campaign=5),
    )
    with Session(demo) as s:
        row_id = s.exec(select(OutboxMessage.id)).one()
    for email in (
        "gm.amsterdam@northwind.example",
        "editor.amsterdam@northwind.example",
        "north@northwind.example",
    ):
        headers = login(email)
        assert client.get("/api/v1/outbox", headers=headers).status_code == 403, email
        assert client.get(f"/api/v1/outbox/{row_id}/raw", headers=headers).status_code == 403
    contoso = login("admin@contoso.example")
    foreign = client.get(f"/api/v1/outbox/{row_id}/raw", headers=contoso)
    missing = client.get("/api/v1/outbox/999999/raw", headers=contoso)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json().keys() == missing.json().keys()
    assert client.get("/api/v1/outbox", headers=login("ops@northwind.example")).status_code == 200


def test_a_missing_file_is_404(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    northwind = _brand(demo, "Northwind Fitness")
    with Session(demo) as s:
        row = OutboxMessage(
            message_id="<gone@x>",
            to="a@example.com",
            subject="s",
            brand_id=northwind,
            path="../../etc/passwd",
        )
        s.add(row)
        s.commit()
        row_id = row.id
    resp = client.get(f"/api/v1/outbox/{row_id}/raw", headers=login("admin@northwind.example"))
    assert resp.status_code == 404


# A real send into the outbox, and what HQ may see of it ----------------------------------------


@dataclass
class Sent:
    """Amsterdam's campaign sent to two contacts through the embedded outbox; the send paused
    once on a refusal that named the first recipient, and one recipient unsubscribed."""

    partner_id: int
    campaign_id: int
    pc_id: int
    messages: list[int]  # outbox rows of the messages to the contacts
    notices: list[int]  # outbox rows of the pause notices to the GM and HQ
    emails: list[str]
    names: list[str]
    tokens: list[str]  # the recipients' unsubscribe tokens

    @property
    def secrets(self) -> list[str]:
        """Every string that names a recipient: addresses, names, first names, tokens."""
        return [*self.emails, *self.names, *(n.split()[0] for n in self.names), *self.tokens]


class PausesOnceNaming:
    """The outbox, except that the first message is refused for the whole account with a
    text naming its recipient (as SES and SMTP relays do)."""

    rate_key = "outbox"

    def __init__(self, outbox: OutboxTransport) -> None:
        self.outbox = outbox
        self.refused = False

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        if not self.refused:
            self.refused = True
            to = msg["To"].addresses[0].addr_spec
            raise TransportPausedError("smtp.550.5.7.1", f"<{to}>: sending refused for account")
        return self.outbox.send(msg, tags=tags)


def send_to_outbox(engine: Engine, settings: Settings, client: TestClient) -> Sent:
    from activities.delivery import DeliveryActivities
    from tests.delivery.test_delivery import approved_row, good_values, make_segment, snapshot

    run = uuid.uuid4().hex[:6]
    people = [("Quilla Vexmoor", f"quilla.{run}@customers.example")]
    people.append(("Ottoline Brackwater", f"ottoline.{run}@customers.example"))
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        for name, email in people:
            s.add(
                Contact(
                    brand_id=partner.brand_id,
                    partner_id=partner.id or 0,
                    email=email,
                    name=name,
                    locale="en",
                    consent_status="granted",
                    consent_source="club sign-up form",
                    tags=[f"t{run}"],
                )
            )
        s.commit()
        partner_id = partner.id or 0
    pc_id = approved_row(engine, good_values(), make_segment(engine, "amsterdam", f"t{run}"))
    snapshot(engine, pc_id)
    outbox = OutboxTransport(outbox_dir(settings), engine)
    transport = PausesOnceNaming(outbox)
    paused = delivery.send_batch(engine, settings, transport, pc_id, 100)
    assert paused.paused is not None
    acts = DeliveryActivities(engine, settings, outbox)
    acts.notify_send_paused(
        SendPaused(partner_campaign_id=pc_id, reason=paused.paused, key=f"pause-{run}")
    )
    assert delivery.send_batch(engine, settings, transport, pc_id, 100).sent == 2
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, pc_id)
        assert pc is not None
        pc.state = "sent"  # no running send to ask for a pause reason
        campaign_id = pc.campaign_id
        s.add(pc)
        s.commit()
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.partner_campaign_id == pc_id)).all()
    messages = [r for r in rows if r.delivery_id is not None]
    notices = [r for r in rows if r.delivery_id is None]
    assert len(messages) == 2 and notices
    # Messages in the order of `people` (rows come in no set order, and sends overlap).
    by_recipient = {}
    for row in messages:
        stored = BytesParser(policy=policy.default).parsebytes(
            (outbox_dir(settings) / row.path).read_bytes()
        )
        token = stored["List-Unsubscribe"].split("/u/")[1].split("/")[0]
        by_recipient[stored["To"].addresses[0].addr_spec] = (row, token)
    messages = [by_recipient[email][0] for _, email in people]
    tokens = [by_recipient[email][1] for _, email in people]
    # The second recipient unsubscribes: the brand's suppression list gets the address.
    resp = client.post(f"/u/{tokens[1]}/one-click", data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    return Sent(
        partner_id=partner_id,
        campaign_id=campaign_id,
        pc_id=pc_id,
        messages=[r.id or 0 for r in messages],
        notices=[r.id or 0 for r in notices],
        emails=[e for _, e in people],
        names=[n for n, _ in people],
        tokens=tokens,
    )


def readable(resp: Any) -> str:
    """Everything a reader of the response could see: the body, HTML entities resolved (twice,
    for the message frame's srcdoc), and a message's headers and decoded parts."""
    if resp.headers.get("content-type", "").startswith("message/rfc822"):
        msg = BytesParser(policy=policy.default).parsebytes(resp.content)
        parts = [f"{k}: {v}" for k, v in msg.items()]
        parts += [str(p.get_content()) for p in msg.walk() if not p.is_multipart()]
        return "\n".join(parts)
    text = resp.text
    once = html.unescape(text)
    return "\n".join([text, once, html.unescape(once)])


def portal_cookie(settings: Settings, engine: Engine, email: str) -> dict[str, str]:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    found = portal_cookies.new_session(settings, user.id or 0)
    return {portal_cookies.COOKIE: portal_cookies.encode(settings, found)}


def share(client: TestClient, login: Login, partner_id: int, shared: bool) -> None:
    resp = client.put(
        f"/api/v1/partners/{partner_id}/contacts/sharing",
        json={"shared": shared},
        headers=login("gm.amsterdam@northwind.example"),
    )
    assert resp.status_code == 200, resp.text


def test_a_withheld_message_is_the_campaign_redrawn_for_a_placeholder(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    sent = send_to_outbox(demo, settings, client)
    marketing = login("marketing@northwind.example")
    listing = client.get(f"/api/v1/outbox?partner_campaign_id={sent.pc_id}", headers=marketing)
    items = {m["id"]: m for m in listing.json()["items"]}
    for ident in sent.messages:
        assert items[ident]["recipient_withheld"] is True
        assert items[ident]["to"] == "1 recipient"
        assert items[ident]["subject"]  # the campaign's subject, drawn for the placeholder
    for ident in sent.notices:  # notices to platform users are shown as sent
        assert items[ident]["recipient_withheld"] is False and "@" in items[ident]["to"]

    raw = client.get(f"/api/v1/outbox/{sent.messages[0]}/raw", headers=marketing)
    assert raw.status_code == 200
    msg = BytesParser(policy=policy.default).parsebytes(raw.content)
    with Session(demo) as s:
        row = s.get(OutboxMessage, sent.messages[0])
        assert row is not None
    assert msg["Message-ID"] == row.message_id
    assert msg["To"].addresses[0].addr_spec == "recipient@withheld.invalid"
    assert msg["List-Unsubscribe"].endswith("/u/withheld/one-click>")
    assert msg["X-Brandrelay-Withheld"]
    text, body = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and body is not None
    assert "Hi [first name]," in text.get_content()
    assert "Open day in Amsterdam" in body.get_content()  # the campaign's content stays
    seen = readable(raw)
    assert not [s for s in sent.secrets if s in seen]

    # Once the GM shares the contacts, the brand's marketer sees the message as it was sent.
    share(client, login, sent.partner_id, True)
    items = {
        m["id"]: m
        for m in client.get(
            f"/api/v1/outbox?partner_campaign_id={sent.pc_id}", headers=marketing
        ).json()["items"]
    }
    assert {items[i]["to"] for i in sent.messages} == set(sent.emails)
    stored = client.get(f"/api/v1/outbox/{sent.messages[0]}/raw", headers=marketing)
    assert stored.content == (outbox_dir(settings) / row.path).read_bytes()


def test_an_erased_recipient_is_withheld_from_everyone(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    sent = send_to_outbox(demo, settings, client)
    share(client, login, sent.partner_id, True)
    with Session(demo) as s:
        contact = s.exec(select(Contact).where(Contact.email == sent.emails[0])).one()
    resp = client.delete(
        f"/api/v1/partners/{sent.partner_id}/contacts/{contact.id}",
        headers=login("gm.amsterdam@northwind.example"),
    )
    assert resp.status_code == 204
    admin = login("admin@northwind.example")
    items = client.get(f"/api/v1/outbox?partner_campaign_id={sent.pc_id}", headers=admin).json()[
        "items"
    ]
    seen = " ".join(f"{m['to']} {m['subject']}" for m in items)
    assert sent.emails[0] not in seen and sent.emails[1] in seen
    with Session(demo) as s:
        rows = s.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(sent.messages))).all()
    assert sorted(r.to for r in rows) == ["", sent.emails[1]]  # the row is blanked too
    erased = next(r.id for r in rows if r.to == "")
    raw = client.get(f"/api/v1/outbox/{erased}/raw", headers=admin)
    assert raw.status_code == 200
    assert sent.emails[0] not in readable(raw) and sent.tokens[0] not in readable(raw)
    client.cookies.update(portal_cookie(settings, demo, "admin@northwind.example"))
    page = client.get(f"/outbox/{erased}")
    assert page.status_code == 200 and "the recipient was erased" in page.text
    assert sent.emails[0] not in readable(page)


def test_a_message_that_cannot_be_redrawn_is_refused_naming_the_reason(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    """A withheld message whose ledger row is gone: never the stored file, a 403 instead."""
    sent = send_to_outbox(demo, settings, client)
    with Session(demo) as s:
        row = s.get(OutboxMessage, sent.messages[0])
        assert row is not None
        row.delivery_id = "999999"
        row.partner_campaign_id = None
        s.add(row)
        s.commit()
    share(client, login, sent.partner_id, True)
    resp = client.get(
        f"/api/v1/outbox/{sent.messages[0]}/raw", headers=login("admin@northwind.example")
    )
    assert resp.status_code == 403
    assert "withheld (its delivery record is gone)" in resp.json()["detail"]
    assert not [s for s in sent.secrets if s in resp.text]


def test_hq_never_reads_a_gms_one_click_link_in_the_outbox(
    client: TestClient, demo: Engine, login: Login, settings: Settings
) -> None:
    """The link's POST acts as the GM without sign-in: before, any HQ role with outbox.read
    (a viewer too) could approve a partner campaign as its GM from the stored notice."""
    from services.action_links import make_link, read_token

    northwind = _brand(demo, "Northwind Fitness")
    link = make_link(settings, 7, 99, "approve", revision=1)
    long_words = "Please review the campaign before the deadline passes. " * 3
    notice = compose(
        sender=SENDER,
        to=["gm.amsterdam@northwind.example"],
        subject="Waiting for your approval",
        text=f"{long_words}\nApprove: {link}\n",
        html=f'<p>{long_words}</p><p><a href="{link}">Approve</a></p>',
    )
    OutboxTransport(outbox_dir(settings), demo).send(notice, tags=make_tags(brand=northwind))
    with Session(demo) as s:
        row_id = s.exec(select(OutboxMessage.id).where(OutboxMessage.to.contains("gm."))).one()
    token = link.rsplit("/a/", 1)[1]
    assert read_token(settings, token) is not None
    for who in ("ops@northwind.example", "marketing@northwind.example"):
        raw = client.get(f"/api/v1/outbox/{row_id}/raw", headers=login(who))
        assert raw.status_code == 200
        parsed = BytesParser(policy=policy.default).parsebytes(raw.content)
        decoded = " ".join(
            str(p.get_content()) for p in parsed.walk() if p.get_content_maintype() == "text"
        )
        assert token.split(".")[0] not in decoded and "/a/withheld" in decoded
        assert "Please review the campaign" in decoded  # the rest as sent
