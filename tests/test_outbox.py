"""The embedded outbox: each message as an .eml file and a row, and the HQ outbox viewer."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.db import make_engine
from core.settings import Settings
from mail.errors import TransientSendError
from mail.message import compose
from mail.tags import make_tags
from mail.transport import OutboxTransport, make_transport, outbox_dir
from models.org import Brand
from models.outbox import OutboxMessage

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
