"""Sender identity: what the composed delivery carries (From name and address on a verified
domain, Reply-To, Message-ID on the sending domain, List-Unsubscribe, a text part), the
fallbacks, the settings' validation with the field named, tenant boundaries, audit, and SES
getting the brand's configuration set and identity as parameters rather than headers."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from mail.message import compose
from mail.transport import SesTransport, make_transport
from models.audit import AuditEvent
from models.org import Brand, Partner
from models.sender import BrandSender, PartnerSender
from scripts.demo.organisation import seed_demo
from scripts.demo.sender import (
    AMSTERDAM_FROM,
    AMSTERDAM_FROM_NAME,
    AMSTERDAM_REPLY_TO,
    DEMO_SENDING_DOMAIN,
)
from services import delivery, sender
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)
from tests.delivery.test_mail_ses import (  # noqa: F401 - fixtures
    _sent,
    _wire,
    moto_endpoint,
    ses_settings,
)
from tests.portal.test_portal import portal, sign_in  # noqa: F401 - fixture

Login = Callable[[str], dict[str, str]]
GM_AMS = "gm.amsterdam@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
ADMIN = "admin@northwind.example"
CONTOSO_ADMIN = "admin@contoso.example"


def _partner(engine: Engine, slug: str, brand: str = "northwind") -> Partner:
    with Session(engine) as s:
        b = s.exec(select(Brand).where(Brand.slug == brand)).one()
        return s.exec(select(Partner).where(Partner.slug == slug, Partner.brand_id == b.id)).one()


def _sent_for_amsterdam(demo: Engine, settings: Settings) -> EmailMessage:
    emails = add_contacts(demo, "amsterdam", 1, tag="sender")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "sender"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    assert send_all(demo, settings, transport, pcid).sent == 1
    [msg] = transport.sent
    assert emails[0] in str(msg["To"])
    return msg


def test_demo_open_day_goes_out_as_the_partner_with_what_deliverability_needs(
    demo: Engine, settings: Settings
) -> None:
    msg = _sent_for_amsterdam(demo, settings)
    assert msg["From"].addresses[0].display_name == AMSTERDAM_FROM_NAME
    assert msg["From"].addresses[0].addr_spec == AMSTERDAM_FROM
    assert str(msg["Reply-To"]) == AMSTERDAM_REPLY_TO
    assert str(msg["Message-ID"]).endswith(f"@{DEMO_SENDING_DOMAIN}>")
    assert str(msg["List-Unsubscribe"]).startswith("<http")
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert "X-SES-CONFIGURATION-SET" not in msg  # only when SES sends


def test_fallbacks_brand_default_then_email_from(demo: Engine, settings: Settings) -> None:
    berlin = _partner(demo, "berlin")
    with Session(demo) as s:
        found = sender.identity_for(s, settings, berlin)
    # No settings of its own: its name, the brand's default local part, its profile e-mail.
    assert str(found.sender) == f"Northwind Fitness Berlin <news@{DEMO_SENDING_DOMAIN}>"
    assert str(found.reply_to) == "berlin@northwind.example"
    rotterdam = _partner(demo, "rotterdam", "contoso")
    with Session(demo) as s:
        found = sender.identity_for(s, settings, rotterdam)
    # A brand without a verified domain: EMAIL_FROM's address, under the partner's name.
    assert found.sender.addr_spec == "noreply@brandrelay.example"
    assert found.sender.display_name == rotterdam.display_name
    assert found.domain == "brandrelay.example"


def test_a_domain_no_longer_verified_is_not_sent_from(demo: Engine, settings: Settings) -> None:
    amsterdam = _partner(demo, "amsterdam")
    with Session(demo) as s:
        row = s.get(BrandSender, amsterdam.brand_id)
        assert row is not None
        row.domains = ["news.northwind.example"]
        s.add(row)
        s.commit()
        found = sender.identity_for(s, settings, amsterdam)
    assert found.sender.addr_spec == "news@news.northwind.example"


def test_gm_sets_own_sender_and_it_is_audited(client: TestClient, login: Login) -> None:
    ams = _partner(client.app.state.engine, "amsterdam")  # type: ignore[attr-defined]
    body = {
        "from_name": "Club {{7*7}} Amsterdam",
        "from_address": f"Club@{DEMO_SENDING_DOMAIN.upper()}",
        "reply_to": "desk@northwind.example",
    }
    resp = client.put(f"/api/v1/partners/{ams.id}/sender", json=body, headers=login(GM_AMS))
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["from_address"] == f"Club@{DEMO_SENDING_DOMAIN}"  # the domain is lower-cased
    assert got["effective_from"] == f"Club {{{{7*7}}}} Amsterdam <Club@{DEMO_SENDING_DOMAIN}>"
    assert got["effective_reply_to"] == "desk@northwind.example"
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        event = s.exec(
            select(AuditEvent).where(AuditEvent.action == "partner.sender_updated")
        ).one()
    assert event.partner_id == ams.id
    assert event.before and event.before["from_address"] == AMSTERDAM_FROM
    assert event.after and event.after["reply_to"] == "desk@northwind.example"
    # Read back by the editor (reading is open to the partner's people).
    read = client.get(f"/api/v1/partners/{ams.id}/sender", headers=login(EDITOR_AMS))
    assert read.json()["from_name"] == "Club {{7*7}} Amsterdam"


def test_literal_template_syntax_in_the_name_reaches_the_header_as_text(
    demo: Engine, settings: Settings
) -> None:
    ams = _partner(demo, "amsterdam")
    with Session(demo) as s:
        row = s.get(PartnerSender, ams.id)
        assert row is not None
        row.from_name = "{{7*7}} <b>Club</b>"
        s.add(row)
        s.commit()
    msg = _sent_for_amsterdam(demo, settings)
    assert msg["From"].addresses[0].display_name == "{{7*7}} <b>Club</b>"
    assert "49" not in str(msg["From"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_address": "club@gmail.com"}, "from_address"),
        ({"from_address": "Club <club@mail.northwind.example>"}, "from_address"),
        ({"from_address": "not an address"}, "from_address"),
        ({"reply_to": "desk@"}, "reply_to"),
        ({"reply_to": "desk@northwind.example\r\nBcc: all@example.com"}, "reply_to"),
        ({"from_name": "Club\r\nBcc: all@example.com"}, "from_name"),
        ({"from_name": "Club\nX-Evil: 1"}, "from_name"),
        ({"from_name": 'Club" <ceo@northwind.example>'}, "from_name"),
    ],
)
def test_bad_partner_sender_is_refused_naming_the_field(
    client: TestClient, login: Login, body: dict[str, str], field: str
) -> None:
    ams = _partner(client.app.state.engine, "amsterdam")  # type: ignore[attr-defined]
    resp = client.put(f"/api/v1/partners/{ams.id}/sender", json=body, headers=login(GM_AMS))
    assert resp.status_code == 422, resp.text
    assert field in resp.text
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        row = s.get(PartnerSender, ams.id)
        assert row is not None and row.from_address == AMSTERDAM_FROM  # unchanged


def test_tenant_boundaries_of_sender_settings(client: TestClient, login: Login) -> None:
    ams = _partner(client.app.state.engine, "amsterdam")  # type: ignore[attr-defined]
    body = {"from_name": "Hijacked"}
    # Another partner's GM: the partner is not theirs to see.
    assert (
        client.put(
            f"/api/v1/partners/{ams.id}/sender", json=body, headers=login(GM_BERLIN)
        ).status_code
        == 404
    )
    # The partner's editor reads but does not change it.
    assert (
        client.put(
            f"/api/v1/partners/{ams.id}/sender", json=body, headers=login(EDITOR_AMS)
        ).status_code
        == 403
    )
    # Another brand's admin.
    assert (
        client.get(f"/api/v1/partners/{ams.id}/sender", headers=login(CONTOSO_ADMIN)).status_code
        == 404
    )
    # The brand's settings are for brand admins only.
    assert (
        client.put("/api/v1/sender", json={"domains": ["x.example"]}, headers=login(GM_AMS))
    ).status_code == 403
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        row = s.get(PartnerSender, ams.id)
        assert row is not None and row.from_name != "Hijacked"


def test_brand_admin_sets_domains_and_ses_settings(client: TestClient, login: Login) -> None:
    headers = login(ADMIN)
    body = {
        "domains": ["Mail.Northwind.Example.", "news.northwind.example", "mail.northwind.example"],
        "default_local_part": "Hello",
        "ses_identity_arn": "arn:aws:ses:eu-west-1:123456789012:identity/mail.northwind.example",
        "ses_configuration_set": "northwind-events",
    }
    resp = client.put("/api/v1/sender", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["domains"] == ["mail.northwind.example", "news.northwind.example"]
    assert resp.json()["default_local_part"] == "hello"
    for bad, field in [
        ({"domains": ["https://evil.example/"]}, "domains[0]"),
        ({"domains": ["ok.example", "bad\r\n.example"]}, "domains[1]"),
        ({"default_local_part": "a b"}, "default_local_part"),
        ({"ses_identity_arn": "arn:aws:s3:::bucket"}, "ses_identity_arn"),
        ({"ses_configuration_set": "a b"}, "ses_configuration_set"),
    ]:
        refused = client.put("/api/v1/sender", json=bad, headers=headers)
        assert refused.status_code == 422, bad
        assert field in refused.text
    # Contoso's admin sees Contoso's (empty) settings, not Northwind's.
    other = client.get("/api/v1/sender", headers=login(CONTOSO_ADMIN)).json()
    assert other["domains"] == []


def test_ses_gets_the_brands_configuration_set_and_identity_as_parameters(
    ses_settings: Settings,  # noqa: F811 - fixture
) -> None:
    transport = make_transport(ses_settings)
    assert isinstance(transport, SesTransport)
    transport._client.create_email_identity(EmailIdentity="mail.northwind.example")
    wire = _wire(transport)
    identity = sender.SenderIdentity(
        sender=compose(
            sender="Club <club@mail.northwind.example>", to=["a@example.com"], subject="s", text="t"
        )["From"].addresses[0],
        reply_to=None,
        ses_configuration_set="northwind-events",
        ses_identity_arn="arn:aws:ses:eu-west-1:123456789012:identity/mail.northwind.example",
    )
    msg = compose(
        sender=identity.sender,
        to=["ann@example.com"],
        subject="Open day",
        text="Come by.",
        headers=identity.headers(ses_settings),
    )
    ses_id = transport.send(msg)
    [body] = wire
    assert body["ConfigurationSetName"] == "northwind-events"
    assert body["FromEmailAddressIdentityArn"] == identity.ses_identity_arn
    raw = _sent(ses_id).raw_data
    assert "X-SES-CONFIGURATION-SET" not in raw and "X-SES-FROM-ARN" not in raw
    assert "X-SES-CONFIGURATION-SET" in msg  # the caller's message is left as it was
    # Without the brand's own set, the deployment's (SES_CONFIGURATION_SET) applies.
    transport.send(compose(sender=identity.sender, to=["b@example.com"], subject="s", text="t"))
    assert wire[-1]["ConfigurationSetName"] == "brandrelay-events"
    assert "FromEmailAddressIdentityArn" not in wire[-1]


def test_identity_headers_only_for_ses(settings: Settings) -> None:
    identity = sender.SenderIdentity(
        sender=compose(sender="a@b.example", to=["c@d.example"], subject="s", text="t")[
            "From"
        ].addresses[0],
        reply_to=None,
        ses_configuration_set="set",
    )
    assert identity.headers(settings) == {}  # the outbox (tests' transport)


def test_delivery_context_carries_the_identity(demo: Engine, settings: Settings) -> None:
    pcid = approved_row(demo, good_values(), None)
    with Session(demo) as s:
        ctx = delivery.load_context(s, settings, pcid)
    assert ctx.identity.sender.addr_spec == AMSTERDAM_FROM


def test_portal_settings_set_the_partners_sender(
    portal: TestClient,  # noqa: F811 - fixture
) -> None:
    engine: Engine = portal.app.state.engine  # type: ignore[attr-defined]
    ams = _partner(engine, "amsterdam")
    token = sign_in(portal, GM_AMS)
    page = portal.get("/settings")
    assert page.status_code == 200
    # Amsterdam's GM reads Dutch: "Sending as" is "Afzender".
    assert "Afzender" in page.text and AMSTERDAM_FROM in page.text
    assert "Verzenddomeinen" not in page.text  # the brand's form is for brand admins
    bad = portal.post(
        f"/settings/sender/partners/{ams.id}",
        data={
            "csrf_token": token,
            "from_name": "<script>x</script>",
            "from_address": "club@gmail.com",
            "reply_to": "",
        },
    )
    assert bad.status_code == 422
    assert "no address, quotes or angle brackets" in bad.text
    assert "<script>x</script>" not in bad.text  # shown back escaped
    good = portal.post(
        f"/settings/sender/partners/{ams.id}",
        data={
            "csrf_token": token,
            "from_name": "Club Damrak",
            "from_address": f"damrak@{DEMO_SENDING_DOMAIN}",
            "reply_to": "desk@northwind.example",
        },
    )
    assert good.status_code == 303, good.text
    with Session(engine) as s:
        row = s.get(PartnerSender, ams.id)
        assert row is not None
        assert (row.from_name, row.from_address) == ("Club Damrak", f"damrak@{DEMO_SENDING_DOMAIN}")
    berlin = _partner(engine, "berlin")
    assert (
        portal.post(
            f"/settings/sender/partners/{berlin.id}",
            data={"csrf_token": token, "from_name": "Hijacked"},
        ).status_code
        == 404
    )


def test_portal_settings_brand_domains_for_admins(
    portal: TestClient,  # noqa: F811 - fixture
) -> None:
    token = sign_in(portal, ADMIN)
    page = portal.get("/settings")
    assert "sending domains" in page.text and DEMO_SENDING_DOMAIN in page.text
    bad = portal.post(
        "/settings/sender/brand",
        data={
            "csrf_token": token,
            "domains": "ok.example\nnot a domain",
            "default_local_part": "news",
        },
    )
    assert bad.status_code == 422 and "is not a domain name" in bad.text
    good = portal.post(
        "/settings/sender/brand",
        data={
            "csrf_token": token,
            "domains": f"{DEMO_SENDING_DOMAIN}, news.northwind.example",
            "default_local_part": "hello",
            "ses_identity_arn": "",
            "ses_configuration_set": "",
        },
    )
    assert good.status_code == 303, good.text
    engine: Engine = portal.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as s:
        brand = s.exec(select(Brand).where(Brand.slug == "northwind")).one()
        row = s.get(BrandSender, brand.id)
        assert row is not None
        assert row.domains == [DEMO_SENDING_DOMAIN, "news.northwind.example"]
    gm = sign_in(portal, GM_AMS)
    assert (
        portal.post(
            "/settings/sender/brand", data={"csrf_token": gm, "domains": "x.example"}
        ).status_code
        == 403
    )


def test_demo_sender_seed_is_idempotent_and_keeps_later_changes(
    demo: Engine, demo_hash: str
) -> None:
    ams = _partner(demo, "amsterdam")
    with Session(demo) as s:
        row = s.get(PartnerSender, ams.id)
        assert row is not None
        row.from_name = "Changed by the GM"
        s.add(row)
        s.commit()
    with Session(demo) as s:
        seed_demo(s, demo_hash)
        s.commit()
    with Session(demo) as s:
        assert len(s.exec(select(BrandSender)).all()) == 1  # Northwind only
        assert len(s.exec(select(PartnerSender)).all()) == 1  # Amsterdam only
        row = s.get(PartnerSender, ams.id)
        assert row is not None and row.from_name == "Changed by the GM"
