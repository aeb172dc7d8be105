"""validate_values and resolve_values against a template with every slot kind.

The fixture template here (kitchen_sink) is shared by the other test_content_* modules.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from markupsafe import Markup

from content.spec import (
    BrandRules,
    EmailVariant,
    FieldError,
    PrintVariant,
    Slot,
    SlotKind,
    TemplateContent,
    ValidationContext,
)
from content.validate import resolve_values, validate_values

STYLE = """<style>
  body { margin: 0; font-family: Helvetica, Arial, sans-serif; }
  .hero { background: #0B3D91; color: #ffffff; padding: 24px; }
  .offer { font-weight: bold; border-left: 4px solid #F2A900; }
  @media (max-width: 480px) { .hero { padding: 12px; } }
</style>"""

EMAIL_HTML = (
    """<!doctype html>
<html><head><meta charset="utf-8">"""
    + STYLE
    + """</head>
<body>
<div class="hero" data-asset="{{ slots.hero_image }}"><h1>{{ slots.headline }}</h1></div>
<p>Hi {{ recipient.first_name }},</p>
{{ slots.intro }}
<p class="offer">{{ slots.offer }} {{ slots.promo_code }}</p>
<p>Only {{ slots.price }} EUR on {{ slots.event_date }}.</p>
<p><a class="cta" style="background: {{ slots.accent_color }}"
  href="{{ slots.cta_url }}">{{ slots.cta_label }}</a></p>
<p>{{ slots.club_name }}, {{ slots.city }} - {{ slots.opening_hours }}</p>
<p>Call {{ slots.phone }} or {{ slots.club_phone }}, mail {{ slots.contact_email }}</p>
<p class="legal">{{ slots.legal_footer }}</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""
)

EMAIL_TEXT = """{{ slots.headline }}

Hi {{ recipient.first_name }},

{{ slots.intro }}

{{ slots.offer }} {{ slots.promo_code }}
Only {{ slots.price }} EUR on {{ slots.event_date }}.
{{ slots.cta_label }}: {{ slots.cta_url }}
{{ slots.club_name }}, {{ slots.city }} - {{ slots.opening_hours }}
Call {{ slots.phone }} or {{ slots.club_phone }}, mail {{ slots.contact_email }}

{{ slots.legal_footer }}
Unsubscribe: {{ unsubscribe_url }}
"""

PRINT_HTML = """<div class="flyer" style="color: {{ slots.accent_color }}">
  <h1>{{ slots.headline }}</h1>
  {{ slots.intro }}
  <p class="offer">{{ slots.offer }} {{ slots.promo_code }} {{ slots.price }} EUR</p>
  <p>{{ slots.event_date }} {{ slots.cta_label }} {{ slots.cta_url }}</p>
  <p>{{ slots.club_name }}, {{ slots.city }}, {{ slots.opening_hours }}</p>
  <p>{{ slots.phone }} {{ slots.club_phone }} {{ slots.contact_email }}</p>
  <p class="legal">{{ slots.legal_footer }}</p>
</div>
"""

PRINT_CSS = "h1 { font-size: 24pt; color: #0B3D91; } .legal { font-size: 7pt; }"


def _label(en: str) -> dict[str, str]:
    return {"en": en, "de": f"{en} (de)"}


def kitchen_sink() -> TemplateContent:
    """One slot of every kind, with every constraint the validator knows."""
    return TemplateContent(
        locales=["en", "de", "nl"],
        slots=[
            Slot(
                name="headline",
                kind=SlotKind.text,
                required=True,
                min_length=3,
                max_length=200,
                label=_label("Headline"),
            ),
            Slot(
                name="promo_code",
                kind=SlotKind.text,
                pattern=r"[A-Z]{3}-[0-9]{3}",
                label=_label("Promo code"),
                help={"en": "Three capital letters, a dash and three digits, like SPR-123."},
            ),
            Slot(name="intro", kind=SlotKind.rich_text, max_length=300, label=_label("Intro")),
            Slot(
                name="offer",
                kind=SlotKind.text,
                required=True,
                max_length=300,
                label=_label("Local offer"),
                default={"en": "First month free", "de": "Erster Monat gratis"},
            ),
            Slot(
                name="price",
                kind=SlotKind.number,
                min_value=0,
                max_value=1000,
                label=_label("Price"),
            ),
            Slot(name="event_date", kind=SlotKind.date, required=True, label=_label("Event date")),
            Slot(
                name="cta_label",
                kind=SlotKind.choice,
                choices=["Book now", "Learn more"],
                label=_label("Button text"),
                default={"en": "Book now"},
            ),
            Slot(name="cta_url", kind=SlotKind.url, label=_label("Button link")),
            Slot(name="phone", kind=SlotKind.phone, label=_label("Phone")),
            Slot(name="contact_email", kind=SlotKind.email, label=_label("Contact email")),
            Slot(
                name="accent_color",
                kind=SlotKind.color,
                label=_label("Accent colour"),
                default={"en": "#0B3D91"},
            ),
            Slot(
                name="hero_image",
                kind=SlotKind.asset,
                label=_label("Hero image"),
                default={"en": "ast_default01"},
            ),
            Slot(
                name="club_name",
                kind=SlotKind.partner_field,
                partner_field="name",
                required=True,
                label=_label("Club name"),
            ),
            Slot(
                name="city",
                kind=SlotKind.partner_field,
                partner_field="city",
                label=_label("City"),
            ),
            Slot(
                name="opening_hours",
                kind=SlotKind.partner_field,
                partner_field="opening_hours",
                allow_override=True,
                max_length=200,
                label=_label("Opening hours"),
            ),
            Slot(
                name="club_phone",
                kind=SlotKind.partner_field,
                partner_field="phone",
                allow_override=True,
                label=_label("Club phone"),
            ),
            Slot(
                name="legal_footer",
                kind=SlotKind.text,
                locked=True,
                label=_label("Legal footer"),
                default={"en": "Northwind Fitness GmbH, Berlin.", "de": "Northwind Fitness GmbH."},
            ),
        ],
        email=EmailVariant(
            subject="{{ slots.headline }} - {{ slots.club_name }}",
            preheader="{{ slots.offer }}",
            html=EMAIL_HTML,
            text=EMAIL_TEXT,
        ),
        print=PrintVariant(html=PRINT_HTML, css=PRINT_CSS, sizes=["A4", "A5"]),
    )


PARTNER: dict[str, Any] = {
    "name": "Northwind Fitness Amsterdam",
    "street": "Damrak 1",
    "postal_code": "1012 LG",
    "city": "Amsterdam",
    "country": "NL",
    "address": "Damrak 1, 1012 LG Amsterdam",
    "phone": "+31 20 555 0100",
    "email": "amsterdam@northwind.example",
    "website": "https://northwind.example/amsterdam",
    "opening_hours": "Mon-Fri 7-22",
}


def context(**overrides: Any) -> ValidationContext:
    base: dict[str, Any] = {
        "locale": "en",
        "partner": dict(PARTNER),
        "window_start": date(2027, 5, 1),
        "window_end": date(2027, 5, 31),
        "brand": BrandRules(
            restricted_words=["cheap"],
            restricted_patterns=[r"\b0900[- ]?\d+"],
            palette=["#0B3D91", "#F2A900"],
        ),
    }
    return ValidationContext(**{**base, **overrides})


def good_values() -> dict[str, Any]:
    """Valid values for every editable slot."""
    return {
        "headline": "Open day at your club",
        "promo_code": "SPR-123",
        "intro": "<p>Bring a <strong>friend</strong>.</p>",
        "offer": "Join on the day",
        "price": 19.5,
        "event_date": "2027-05-08",
        "cta_label": "Learn more",
        "cta_url": "https://northwind.example/open-day",
        "phone": "+31 (20) 555-0100",
        "contact_email": "club@northwind.example",
        "accent_color": "#f2a900",
        "hero_image": "ast_openday01",
        "opening_hours": "Sat 9-17",
        "club_phone": "020 555 0199",
    }


def errors_for(**values: Any) -> list[FieldError]:
    return validate_values(kitchen_sink(), {**good_values(), **values}, context())


def only(errors: list[FieldError]) -> FieldError:
    assert len(errors) == 1, errors
    return errors[0]


def test_good_values_pass() -> None:
    assert validate_values(kitchen_sink(), good_values(), context()) == []


# (values, field, code, message fragment): one case per rule.
RULES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "unknown_field": ({"colour_scheme": "dark"}, "colour_scheme", "unknown_field", "not a field"),
    "locked": (
        {"legal_footer": "mine now"},
        "legal_footer",
        "locked",
        "Legal footer: is set by headquarters and cannot be changed.",
    ),
    "required_missing": ({"headline": None}, "headline", "required", "Headline: is required."),
    "required_blank": ({"headline": "   "}, "headline", "required", "Headline: is required."),
    "too_long": (
        {"headline": "x" * 201},
        "headline",
        "too_long",
        "Headline: must be at most 200 characters (you have 201).",
    ),
    "too_short": (
        {"headline": "ab"},
        "headline",
        "too_short",
        "Headline: must be at least 3 characters (you have 2).",
    ),
    "pattern": (
        {"promo_code": "spr-12"},
        "promo_code",
        "pattern",
        "Promo code: is not in the expected format. Three capital letters",
    ),
    "pattern_is_full_match": (
        {"promo_code": "SPR-123 and more"},
        "promo_code",
        "pattern",
        "expected format",
    ),
    "choice": (
        {"cta_label": "Click!"},
        "cta_label",
        "choice",
        'Button text: must be one of "Book now", "Learn more".',
    ),
    "not_a_number": ({"price": "twelve"}, "price", "not_a_number", "Price: must be a number"),
    "number_wrong_type": ({"price": True}, "price", "wrong_type", "Price: must be a number."),
    "out_of_range": (
        {"price": 1500},
        "price",
        "out_of_range",
        "Price: must be between 0 and 1000 (you have 1500).",
    ),
    "out_of_range_string": ({"price": "-1"}, "price", "out_of_range", "between 0 and 1000"),
    "bad_date": ({"event_date": "01.05.2027"}, "event_date", "bad_date", "YYYY-MM-DD"),
    "bad_date_impossible": ({"event_date": "2027-02-30"}, "event_date", "bad_date", "YYYY-MM-DD"),
    "outside_window": (
        {"event_date": "2027-06-01"},
        "event_date",
        "outside_window",
        "Event date: must be between 2027-05-01 and 2027-05-31, the campaign period.",
    ),
    "bad_url_scheme": ({"cta_url": "javascript:alert(1)"}, "cta_url", "bad_url", "Button link"),
    "bad_url_ftp": ({"cta_url": "ftp://northwind.example/x"}, "cta_url", "bad_url", "web address"),
    "bad_url_no_host": ({"cta_url": "https:///path"}, "cta_url", "bad_url", "web address"),
    "bad_url_credentials": (
        {"cta_url": "https://bank.example@evil.example/"},
        "cta_url",
        "bad_url",
        "web address",
    ),
    "bad_phone_chars": ({"phone": "call 555 0100"}, "phone", "bad_phone", "Phone: must be a"),
    "bad_phone_digits": ({"phone": "+31 20"}, "phone", "bad_phone", "6 to 20 digits"),
    "bad_email": (
        {"contact_email": "club at example"},
        "contact_email",
        "bad_email",
        "Contact email: must be an email address",
    ),
    "bad_color": ({"accent_color": "orange"}, "accent_color", "bad_color", "#RRGGBB"),
    "not_in_palette": (
        {"accent_color": "#FF0000"},
        "accent_color",
        "not_in_palette",
        "Accent colour: must be one of the brand colours. Allowed colours: #0B3D91, #F2A900.",
    ),
    "bad_asset": (
        {"hero_image": "https://evil.example/x.png"},
        "hero_image",
        "bad_asset",
        "Hero image: must be an image from the asset library.",
    ),
    "not_overridable": (
        {"club_name": "My own name"},
        "club_name",
        "not_overridable",
        "Club name: comes from your partner profile",
    ),
    "override_checked_as_phone": (
        {"club_phone": "not a phone"},
        "club_phone",
        "bad_phone",
        "Club phone: must be a phone number",
    ),
    "rich_text_length_counts_text": (
        {"intro": "<p><strong>" + "y" * 301 + "</strong></p>"},
        "intro",
        "too_long",
        "Intro: must be at most 300 characters (you have 301).",
    ),
    "restricted_word": (
        {"headline": "A CHEAP deal"},
        "headline",
        "restricted_word",
        'Headline: must not use the word "CHEAP".',
    ),
    "restricted_word_in_rich_text": (
        {"intro": "<p>So <b>cheap</b>!</p>"},
        "intro",
        "restricted_word",
        '"cheap"',
    ),
    "restricted_word_in_override": (
        {"opening_hours": "Cheap hours"},
        "opening_hours",
        "restricted_word",
        '"Cheap"',
    ),
    "restricted_pattern": (
        {"offer": "Call 0900-1234 now"},
        "offer",
        "restricted_pattern",
        'Local offer: "0900-1234" is not allowed by the brand.',
    ),
    "text_wrong_type": ({"headline": 42}, "headline", "wrong_type", "Headline: must be text."),
    "rich_text_wrong_type": ({"intro": ["<p>x</p>"]}, "intro", "wrong_type", "must be text"),
    "control_characters": (
        {"headline": "Open\x00day"},
        "headline",
        "bad_characters",
        "control characters",
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule(rule: str) -> None:
    values, field, code, fragment = RULES[rule]
    error = only(errors_for(**values))
    assert (error.field, error.code) == (field, code)
    assert fragment in error.message


def test_restricted_word_is_whole_word() -> None:
    assert errors_for(headline="Cheapest in town? No: cheapskates welcome") == []


def test_invalid_brand_pattern_is_matched_literally() -> None:
    ctx = context(brand=BrandRules(restricted_patterns=["[oops"]))
    errors = validate_values(kitchen_sink(), {**good_values(), "offer": "x [oops y"}, ctx)
    assert [(e.field, e.code) for e in errors] == [("offer", "restricted_pattern")]


def test_required_slot_not_given_is_satisfied_by_its_default() -> None:
    values = {k: v for k, v in good_values().items() if k != "offer"}
    assert validate_values(kitchen_sink(), values, context(locale="de")) == []
    # nl has no default of its own: the English default still counts (it is what is shown).
    assert validate_values(kitchen_sink(), values, context(locale="nl")) == []
    assert validate_values(kitchen_sink(), {**values, "offer": None}, context()) == []


def test_required_slot_cleared_is_an_error_even_with_a_default() -> None:
    error = only(errors_for(offer=""))
    assert (error.field, error.code, error.message) == (
        "offer",
        "required",
        "Local offer: is required.",
    )
    assert errors_for(intro="<p> </p>") == []  # intro is optional: blank is fine


def test_required_partner_field_missing_from_profile() -> None:
    partner = {**PARTNER, "name": ""}
    error = only(validate_values(kitchen_sink(), good_values(), context(partner=partner)))
    assert (error.field, error.code) == ("club_name", "required")
    assert "partner profile" in error.message


def test_numeric_string_and_int_accepted() -> None:
    assert errors_for(price="12") == []
    assert errors_for(price=" 12.50 ") == []
    assert errors_for(price=0) == []


def test_date_window_ignored_without_window_or_when_slot_says_so() -> None:
    ctx = context(window_start=None, window_end=None)
    assert validate_values(kitchen_sink(), {**good_values(), "event_date": "2030-01-01"}, ctx) == []
    content = kitchen_sink()
    slot = content.slot("event_date")
    assert slot is not None
    slot.within_window = False
    assert validate_values(content, {**good_values(), "event_date": "2030-01-01"}, context()) == []


def test_palette_is_case_insensitive_and_optional() -> None:
    assert errors_for(accent_color="#0b3d91") == []
    ctx = context(brand=BrandRules())
    values = {**good_values(), "accent_color": "#123456"}
    assert validate_values(kitchen_sink(), values, ctx) == []


def test_errors_in_slot_declaration_order_then_unknown_by_name() -> None:
    errors = errors_for(
        zzz="1", aaa="2", legal_footer="x", accent_color="red", headline="", price="x"
    )
    assert [e.field for e in errors] == [
        "headline",
        "price",
        "accent_color",
        "legal_footer",
        "aaa",
        "zzz",
    ]


def test_deterministic() -> None:
    values = {**good_values(), "headline": "", "price": "x", "bogus": 1, "cta_url": "ftp://x"}
    first = validate_values(kitchen_sink(), values, context())
    shuffled = list(values.items())
    random.Random(7).shuffle(shuffled)
    again = validate_values(kitchen_sink(), dict(shuffled), context())
    assert first == again
    assert [e.model_dump() for e in first] == [e.model_dump() for e in again]


def test_resolve_values() -> None:
    ctx = context(locale="de")
    values = {
        **good_values(),
        "offer": "",
        "intro": '<p>Hi <script>alert(1)</script><a href="javascript:x()">x</a></p>',
        "opening_hours": "",
    }
    resolved = resolve_values(kitchen_sink(), values, ctx)
    assert set(resolved) == {s.name for s in kitchen_sink().slots}
    assert resolved["legal_footer"] == "Northwind Fitness GmbH."  # locked: de default
    assert resolved["offer"] == "Erster Monat gratis"  # blank: the locale's default
    assert resolved["headline"] == "Open day at your club"  # the partner's value
    assert resolved["club_name"] == "Northwind Fitness Amsterdam"  # from the profile
    assert resolved["opening_hours"] == "Mon-Fri 7-22"  # blank override: the profile
    assert resolved["club_phone"] == "020 555 0199"  # allowed override
    assert resolved["price"] == 19.5  # plain data
    intro = resolved["intro"]
    assert isinstance(intro, Markup)
    assert "<script" not in intro and "javascript:" not in intro
    assert intro == '<p>Hi <a rel="noopener noreferrer">x</a></p>'
    assert not isinstance(resolved["headline"], Markup)  # autoescaped at render


def test_resolve_values_fallbacks() -> None:
    resolved = resolve_values(kitchen_sink(), {"headline": "Hi"}, context(locale="nl"))
    assert resolved["legal_footer"] == "Northwind Fitness GmbH, Berlin."  # nl falls back to en
    assert resolved["offer"] == "First month free"
    assert resolved["promo_code"] == ""  # nothing at all: empty, never undefined
    assert resolved["intro"] == Markup("")
    assert resolved["club_phone"] == "+31 20 555 0100"


def test_resolve_ignores_values_for_locked_and_not_overridable_slots() -> None:
    resolved = resolve_values(
        kitchen_sink(), {"legal_footer": "mine", "club_name": "mine", "nope": 1}, context()
    )
    assert resolved["legal_footer"] == "Northwind Fitness GmbH, Berlin."
    assert resolved["club_name"] == "Northwind Fitness Amsterdam"
    assert "nope" not in resolved
