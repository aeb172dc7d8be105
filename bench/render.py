"""Email rendering: the product path (sandbox, limits, cache) against bare Jinja2.

    python -m bench.render [--count 20000]

A ~2 KB email template with 20 slots, one message per recipient. Four rates (messages/s):

- bare: the same HTML source compiled once with a plain `jinja2.Environment(autoescape=True)`,
  rendered with the same resolved values. The floor nobody can beat.
- render-only: the product's render of the same HTML part (sandboxed environment, render
  budget, size and time checks, compiled-template cache lookup, rich text re-check). The
  comparable figure; the goal is at least 0.75 of bare.
- compiled per message: the bare path without a template cache, on a fiftieth of the count;
  what the per-version compiled-template cache saves.
- render_email, no inlining: all four parts (subject, preheader, HTML, text).
- product: what a send does per message: validate_values, resolve_values, render_email with
  CSS inlining.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from jinja2 import Environment

from content.render import Renderer
from content.spec import (
    BrandRules,
    EmailVariant,
    Slot,
    SlotKind,
    TemplateContent,
    ValidationContext,
)
from content.validate import resolve_values, validate_values
from scripts.demo.templates import EMAIL_STYLE

HTML = (
    """<!doctype html>
<html lang="{{ recipient.locale }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width">
"""
    + EMAIL_STYLE
    + """</head>
<body><div class="wrap">
  <div class="hero" data-asset="{{ slots.hero_image }}">
    <h1>{{ slots.headline }}</h1><p>{{ slots.subheadline }}</p>
  </div>
  <div class="body">
    <p>Hi {{ recipient.first_name }},</p>
    {{ slots.intro }}
    <p class="offer">{{ slots.offer }}</p>
    {% if slots.promo_code %}<p>Code: <strong>{{ slots.promo_code }}</strong></p>{% endif %}
    <p>Now {{ slots.price }} EUR instead of {{ slots.old_price }} EUR.</p>
    <p>{{ slots.event_date }}, {{ slots.event_time }}</p>
    <p><a class="cta" style="background: {{ slots.accent_color }};"
      href="{{ slots.cta_url }}">{{ slots.cta_label }}</a></p>
  </div>
  <div class="club">
    <strong>{{ slots.club_name }}</strong><br>{{ slots.club_address }}<br>
    {{ slots.opening_hours }}<br>{{ slots.phone }} - {{ slots.contact_email }}<br>
    <a href="{{ slots.website }}">{{ slots.website }}</a>
  </div>
  <div class="legal">{{ slots.legal_footer }}<br>
    <a href="{{ unsubscribe_url }}">Unsubscribe</a> - {{ campaign.name }} by {{ brand.name }}
  </div>
</div></body></html>
"""
)

TEXT = """{{ slots.headline }}
{{ slots.subheadline }}

Hi {{ recipient.first_name }},

{{ slots.intro }}
{{ slots.offer }}
Now {{ slots.price }} EUR. {{ slots.event_date }}, {{ slots.event_time }}
{{ slots.cta_label }}: {{ slots.cta_url }}

{{ slots.club_name }}, {{ slots.club_address }}
{{ slots.legal_footer }}
Unsubscribe: {{ unsubscribe_url }}
"""


def _slot(name: str, kind: SlotKind, **kw: Any) -> Slot:
    return Slot(name=name, kind=kind, label={"en": name.replace("_", " ").capitalize()}, **kw)


def template() -> TemplateContent:
    text, pf = SlotKind.text, SlotKind.partner_field
    return TemplateContent(
        slots=[
            _slot("hero_image", SlotKind.asset, default={"en": "ast_openday01"}),
            _slot("headline", text, required=True, max_length=60),
            _slot("subheadline", text, max_length=120),
            _slot("intro", SlotKind.rich_text, max_length=600),
            _slot("offer", text, required=True, max_length=120),
            _slot("promo_code", text, pattern=r"[A-Z]{3}-[0-9]{3}"),
            _slot("price", SlotKind.number, min_value=0, max_value=1000),
            _slot("old_price", SlotKind.number, min_value=0, max_value=1000),
            _slot("event_date", SlotKind.date, required=True),
            _slot("event_time", text, max_length=20),
            _slot("cta_label", SlotKind.choice, choices=["Book your visit", "Learn more"]),
            _slot("cta_url", SlotKind.url, required=True),
            _slot("accent_color", SlotKind.color, default={"en": "#F2A900"}),
            _slot("phone", SlotKind.phone),
            _slot("contact_email", SlotKind.email),
            _slot("club_name", pf, partner_field="name"),
            _slot("club_address", pf, partner_field="address"),
            _slot("opening_hours", pf, partner_field="opening_hours", allow_override=True),
            _slot("website", pf, partner_field="website"),
            _slot("legal_footer", text, locked=True, default={"en": "Northwind Fitness GmbH."}),
        ],
        email=EmailVariant(
            subject="{{ slots.headline }} - {{ slots.club_name }}",
            preheader="{{ slots.offer }}",
            html=HTML,
            text=TEXT,
        ),
    )


VALUES: dict[str, Any] = {
    "headline": "Open day at your club",
    "subheadline": "Saturday, all day, bring a friend",
    "intro": "<p>Try <strong>every class</strong> for free and meet our trainers.</p>",
    "offer": "Join on the day and get your first month free.",
    "promo_code": "OPN-123",
    "price": 19.5,
    "old_price": "29.50",
    "event_date": "2027-05-08",
    "event_time": "9:00 - 17:00",
    "cta_label": "Book your visit",
    "cta_url": "https://northwind.example/open-day",
    "accent_color": "#F2A900",
    "phone": "+31 20 555 0100",
    "contact_email": "amsterdam@northwind.example",
    "opening_hours": "Sat 9-17",
}

CTX = ValidationContext(
    locale="en",
    partner={
        "name": "Northwind Fitness Amsterdam",
        "address": "Damrak 1, 1012 LG Amsterdam",
        "opening_hours": "Mon-Fri 7-22",
        "website": "https://northwind.example/amsterdam",
    },
    window_start=date(2027, 5, 1),
    window_end=date(2027, 5, 31),
    brand=BrandRules(restricted_words=["cheap"], palette=["#0B3D91", "#F2A900"]),
)


def context(i: int) -> dict[str, Any]:
    return {
        "partner": CTX.partner,
        "recipient": {"first_name": f"Member {i}", "last_name": "X", "email": "", "locale": "en"},
        "unsubscribe_url": f"https://brandrelay.example/u/{i:08d}",
        "preferences_url": f"https://brandrelay.example/p/{i:08d}",
        "brand": {"name": "Northwind", "palette": CTX.brand.palette},
        "campaign": {"name": "Open day"},
    }


def rate(n: int, render: Callable[[int], object]) -> float:
    render(0)  # warm: compile and cache
    start = time.perf_counter()
    for i in range(n):
        render(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20000)
    n = parser.parse_args().count

    content = template()
    renderer = Renderer()
    key = "bench-v1-en"
    assert validate_values(content, VALUES, CTX) == []
    resolved = resolve_values(content, VALUES, CTX)
    size = len(HTML.encode())

    bare_template = Environment(autoescape=True).from_string(HTML)  # the baseline

    def bare(i: int) -> object:
        return bare_template.render(slots=resolved, **context(i))

    def compile_each_time(i: int) -> object:  # what the per-version cache saves
        return Environment(autoescape=True).from_string(HTML).render(slots=resolved, **context(i))

    def render_only(i: int) -> object:
        variables = renderer.variables(content, resolved, context(i), html=True)
        return renderer.render_part(key, content, "email.html", variables)

    def no_inlining(i: int) -> object:
        return renderer.render_email(key, content, resolved, context(i), inline_css=False)

    def product(i: int) -> object:
        errors = validate_values(content, VALUES, CTX)
        assert not errors
        values = resolve_values(content, VALUES, CTX)
        return renderer.render_email(key, content, values, context(i))

    # Same HTML either way (the product escapes quotes the same way markupsafe does).
    assert bare(1) == render_only(1), "bare and product HTML differ"

    print(f"template: {size} bytes HTML, {len(content.slots)} slots; count: {n}")
    bare_rate = rate(n, bare)
    rows = [
        ("bare jinja2 (html part)", bare_rate),
        ("product render-only (html part)", rate(n, render_only)),
        ("bare jinja2, compiled per message (no cache)", rate(max(n // 50, 10), compile_each_time)),
        ("product render_email, no inlining (4 parts)", rate(n, no_inlining)),
        ("product full: validate + resolve + render_email + css inlining", rate(n, product)),
    ]
    for label, value in rows:
        print(f"{label:<64} {value:>9.0f} msgs/s  {value / bare_rate:5.2f}x bare")
    print(f"render-only / bare = {rows[1][1] / bare_rate:.2f} (goal >= 0.75)")


if __name__ == "__main__":
    main()
