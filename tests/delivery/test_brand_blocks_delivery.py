"""A sent email carries the brand blocks its template version was approved with, in the HTML
and the text part, whatever HQ changed since."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.blocks import BrandBlock
from models.templates import Template, TemplateVersion
from services import asset_publication, delivery
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)


def _sent(demo: Engine, settings: Settings, tag: str) -> tuple[str, str]:
    add_contacts(demo, "amsterdam", 1, tag=tag)
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", tag))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    send_all(demo, settings, transport, pcid)
    [msg] = transport.sent
    html, text = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def test_the_sent_email_keeps_the_approved_blocks(demo: Engine, settings: Settings) -> None:
    html, text = _sent(demo, settings, "blocks1")
    assert 'class="brand-header"' in html and 'class="brand-footer"' in html
    assert "Registered at Amtsgericht Berlin-Charlottenburg" in html
    assert '<a href="https://instagram.com/northwindfitness"' in html
    assert text.startswith("Northwind Fitness\nStronger together, in every club\n")
    assert "Instagram: https://instagram.com/northwindfitness" in text

    with Session(demo) as s:  # HQ changes the footer after the version was approved
        footer = s.exec(select(BrandBlock).where(BrandBlock.kind == "footer")).one()
        footer.content = {**footer.content, "legal_text": "A later legal text <b>x</b>"}
        footer.version += 1
        s.add(footer)
        s.commit()
    html, text = _sent(demo, settings, "blocks2")
    assert "Registered at Amtsgericht" in html and "A later legal text" not in html
    assert "A later legal text" not in text


def test_a_version_from_before_blocks_sends_without_them(demo: Engine, settings: Settings) -> None:
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        version.blocks = {}
        s.add(version)
        s.commit()
    html, text = _sent(demo, settings, "blocks3")
    assert "brand-header" not in html and "brand-footer" not in html
    assert "Registered at Amtsgericht" not in text
    assert "Open day in Amsterdam" in html


def test_a_batch_looks_its_logo_up_once_whatever_its_size(
    demo: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding (and publishing) the logo takes queries: once per batch, never per message."""
    calls: list[str] = []
    real = asset_publication.url_of

    def counted(*args: Any, **kwargs: Any) -> str | None:
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(asset_publication, "url_of", counted)
    add_contacts(demo, "amsterdam", 5, tag="logo-once")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "logo-once"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    result = delivery.send_batch(demo, settings, transport, pcid, 100)
    assert result.sent == 5 and len(transport.sent) == 5
    assert calls == ["ast_logo0001"]
    assert all("/i/" in str(m.get_body(("html",))) for m in transport.sent)
