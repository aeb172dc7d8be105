"""The demo templates: an "Open day" email newsletter with its SMS and an A5 print flyer
(published) and a draft, so a new user sees every slot kind at work."""

from __future__ import annotations

from content.spec import (
    EmailVariant,
    PrintVariant,
    RelativeDate,
    Slot,
    SlotKind,
    SmsVariant,
    TemplateContent,
)

# HQ's fixed words of the open day in each language, shared by its email and its SMS.
OPEN_DAY_FRAGMENTS = {
    "greeting": {"en": "Hi", "de": "Hallo", "nl": "Hoi"},
    "call_to_action": {"en": "Book now", "de": "Jetzt buchen", "nl": "Boek nu"},
    "footer": {
        "en": "See you at the club!",
        "de": "Bis bald im Club!",
        "nl": "Tot ziens in de club!",
    },
    "when": {"en": "When", "de": "Wann", "nl": "Wanneer"},
    # The button: the partner picks one of cta_label's choices (stored in English, the
    # template's key), and each reads in the member's language.
    "cta_book_your_visit": {
        "en": "Book your visit",
        "de": "Besuch buchen",
        "nl": "Boek je bezoek",
    },
    "cta_reserve_a_spot": {
        "en": "Reserve a spot",
        "de": "Platz reservieren",
        "nl": "Reserveer een plek",
    },
    "cta_learn_more": {"en": "Learn more", "de": "Mehr erfahren", "nl": "Meer informatie"},
    "unsubscribe": {"en": "Unsubscribe", "de": "Abmelden", "nl": "Afmelden"},
    "preferences": {
        "en": "Your preferences",
        "de": "Ihre Einstellungen",
        "nl": "Je voorkeuren",
    },
}
# The button's words for the choice the partner made (a choice the template does not know
# prints as chosen).
CTA_LABEL = (
    '{% set cta = {"Book your visit": fragments.cta_book_your_visit, '
    '"Reserve a spot": fragments.cta_reserve_a_spot, '
    '"Learn more": fragments.cta_learn_more}.get(slots.cta_label, slots.cta_label) %}'
)
# One GSM-7 segment with the opt-out line for typical values (HQ's offer in each language,
# a first name, the default link; the sender id names the club): tests/content/
# test_demo_sms.py. A partner's offer of more than about 75 characters makes it two.
OPEN_DAY_SMS = (
    "{{ fragments.greeting }} {{ recipient.first_name }}! {{ slots.offer }} "
    "{{ slots.event_date.medium }}. {{ fragments.call_to_action }}: {{ slots.cta_url }}"
)

LEGAL_FOOTER = {
    "en": "Northwind Fitness GmbH, Hauptstrasse 1, 10115 Berlin. You receive this email because "
    "you are a member of {club}.",
    "de": "Northwind Fitness GmbH, Hauptstrasse 1, 10115 Berlin. Sie erhalten diese E-Mail als "
    "Mitglied von {club}.",
    "nl": "Northwind Fitness GmbH, Hauptstrasse 1, 10115 Berlijn. U ontvangt deze e-mail als lid "
    "van {club}.",
}

EMAIL_STYLE = """<style>
  body { margin: 0; background: #f4f4f4; font-family: Helvetica, Arial, sans-serif; }
  .wrap { max-width: 600px; margin: 0 auto; background: #ffffff; }
  .hero { background: #0B3D91; color: #ffffff; padding: 32px 24px; }
  .hero h1 { margin: 0; font-size: 28px; }
  .body { padding: 24px; color: #1A1A1A; font-size: 16px; line-height: 1.5; }
  .offer { border-left: 4px solid #F2A900; padding: 8px 16px; font-weight: bold; }
  .cta { display: inline-block; padding: 12px 20px; color: #ffffff; text-decoration: none; }
  .club { background: #f4f4f4; padding: 16px 24px; font-size: 14px; }
  .legal { padding: 16px 24px; font-size: 12px; color: #666666; }
  @media (max-width: 480px) { .hero h1 { font-size: 22px; } .body { padding: 16px; } }
</style>"""

OPEN_DAY_HTML = (
    CTA_LABEL
    + """<!doctype html>
<html lang="{{ recipient.locale }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
"""
    + EMAIL_STYLE
    + """
</head>
<body>
<div class="wrap">
  {{ blocks.header }}
  {% if slots.hero_image.url %}<img src="{{ slots.hero_image.url }}"
    alt="{{ slots.hero_image.alt }}"
    width="{{ slots.hero_image.width }}" height="{{ slots.hero_image.height }}"
    style="display:block;width:100%;max-width:600px;height:auto;border:0;">{% endif %}
  <div class="hero" data-asset="{{ slots.hero_image }}">
    <h1>{{ slots.headline }}</h1>
  </div>
  <div class="body">
    <p>{{ fragments.greeting }} {{ recipient.first_name }},</p>
    {{ slots.intro }}
    <p class="offer">{{ slots.offer }}</p>
    <p>{{ fragments.when }}: {{ slots.event_date }}</p>
    <p><a class="cta" style="background: {{ slots.accent_color }};" href="{{ slots.cta_url }}">
      {{ cta }}</a></p>
    <p>{{ fragments.footer }}</p>
  </div>
  <div class="club">
    <strong>{{ slots.club_name }}</strong><br>
    {{ slots.club_address }}<br>
    {{ slots.opening_hours }}
  </div>
  <div class="legal">
    {{ slots.legal_footer }}<br>
    <a href="{{ unsubscribe_url }}">{{ fragments.unsubscribe }}</a> |
    <a href="{{ preferences_url }}">{{ fragments.preferences }}</a>
  </div>
  {{ blocks.footer }}
</div>
</body>
</html>
"""
)

OPEN_DAY_TEXT = (
    CTA_LABEL
    + """{{ blocks.header }}

{{ slots.headline }}

{{ fragments.greeting }} {{ recipient.first_name }},

{{ slots.offer }}
{{ fragments.when }}: {{ slots.event_date }}

{{ cta }}: {{ slots.cta_url }}

{{ fragments.footer }}

{{ slots.club_name }}
{{ slots.club_address }}
{{ slots.opening_hours }}

{{ slots.legal_footer }}
{{ fragments.unsubscribe }}: {{ unsubscribe_url }}
{{ fragments.preferences }}: {{ preferences_url }}

{{ blocks.footer }}
"""
)


def _label(en: str, de: str, nl: str) -> dict[str, str]:
    return {"en": en, "de": de, "nl": nl}


# Slots the email and the flyer share: one definition keeps both on the same rules.
def _event_date(relative: RelativeDate | None = None) -> Slot:
    return Slot(
        name="event_date",
        kind=SlotKind.date,
        required=True,
        label=_label("Date of the open day", "Datum", "Datum"),
        relative_default=relative,
    )


# The open day email suggests the Saturday before the send-by day, in the partner's calendar.
SATURDAY_BEFORE_SEND_BY = RelativeDate(relative_to="send_by", weekday="saturday")


def _club_name_and_address() -> list[Slot]:
    return [
        Slot(
            name="club_name",
            kind=SlotKind.partner_field,
            partner_field="name",
            label=_label("Club name", "Clubname", "Clubnaam"),
        ),
        Slot(
            name="club_address",
            kind=SlotKind.partner_field,
            partner_field="address",
            label=_label("Address", "Adresse", "Adres"),
        ),
    ]


def _hero_image() -> Slot:
    return Slot(
        name="hero_image",
        kind=SlotKind.asset,
        label=_label("Hero image", "Titelbild", "Hoofdafbeelding"),
        asset_tags=["hero", "open-day"],
        default={"en": "ast_openday01"},
    )


def _legal_footer() -> Slot:
    """Locked: HQ's text in every locale; partners can neither edit nor remove it."""
    return Slot(
        name="legal_footer",
        kind=SlotKind.text,
        locked=True,
        label=_label("Legal footer", "Impressum", "Juridische voettekst"),
        default={k: v.format(club="Northwind Fitness") for k, v in LEGAL_FOOTER.items()},
    )


def open_day() -> TemplateContent:
    return TemplateContent(
        locales=["en", "de", "nl"],
        tags=["offer", "open-day"],  # an offer: the Standard policy asks for brand review
        slots=[
            _hero_image(),
            Slot(
                name="headline",
                kind=SlotKind.text,
                required=True,
                max_length=60,
                label=_label("Headline", "Überschrift", "Kop"),
                help={"en": "Short and inviting, at most 60 characters."},
                default={
                    "en": "Open day at your club",
                    "de": "Tag der offenen Tür in Ihrem Club",
                    "nl": "Open dag in jouw club",
                },
            ),
            Slot(
                name="intro",
                kind=SlotKind.rich_text,
                max_length=600,
                label=_label("Introduction", "Einleitung", "Inleiding"),
                default={"en": "<p>Bring a friend and try every class for free.</p>"},
            ),
            Slot(
                name="offer",
                kind=SlotKind.text,
                required=True,
                max_length=120,
                label=_label("Local offer", "Lokales Angebot", "Lokaal aanbod"),
                help={"en": "In each language your members read; one text serves them all."},
                per_locale=True,
                default={
                    "en": "Join on the day and get your first month free.",
                    "de": "Melden Sie sich am Tag an: der erste Monat ist gratis.",
                    "nl": "Word lid op de dag en je eerste maand is gratis.",
                },
            ),
            _event_date(SATURDAY_BEFORE_SEND_BY),
            Slot(
                name="cta_label",
                kind=SlotKind.choice,
                choices=["Book your visit", "Reserve a spot", "Learn more"],
                label=_label("Button text", "Button-Text", "Knoptekst"),
                default={"en": "Book your visit"},
            ),
            Slot(
                name="cta_url",
                kind=SlotKind.url,
                required=True,
                label=_label("Button link", "Button-Link", "Knoplink"),
                default={"en": "https://northwind.example/open-day"},
            ),
            Slot(
                name="accent_color",
                kind=SlotKind.color,
                label=_label("Button colour", "Button-Farbe", "Knopkleur"),
                default={"en": "#F2A900"},
            ),
            *_club_name_and_address(),
            Slot(
                name="opening_hours",
                kind=SlotKind.partner_field,
                partner_field="opening_hours",
                allow_override=True,
                label=_label("Opening hours", "Öffnungszeiten", "Openingstijden"),
            ),
            _legal_footer(),
        ],
        email=EmailVariant(
            subject="{{ slots.headline }} | {{ slots.club_name }}",
            preheader="{{ slots.offer }}",
            html=OPEN_DAY_HTML,
            text=OPEN_DAY_TEXT,
        ),
        sms=SmsVariant(text=OPEN_DAY_SMS),
        fragments=OPEN_DAY_FRAGMENTS,
    )


FLYER_HTML = """<div class="flyer">
  {% if slots.hero_image.url %}<img class="hero" src="{{ slots.hero_image.url }}"
    alt="{{ slots.hero_image.alt }}">{% endif %}
  <h1>{{ slots.headline }}</h1>
  <p class="offer">{{ slots.offer }}</p>
  <p class="date">{{ slots.event_date }}</p>
  <div class="club">
    <strong>{{ slots.club_name }}</strong><br>
    {{ slots.club_address }}<br>
    {{ slots.club_phone }}
  </div>
  <p class="legal">{{ slots.legal_footer }}</p>
</div>
"""

FLYER_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #1A1A1A; }
.flyer .hero { display: block; width: 100%; height: auto; margin: 0 0 12pt; }
.flyer h1 { color: #0B3D91; font-size: 32pt; margin: 0 0 12pt; }
.offer { font-size: 16pt; border-left: 6pt solid #F2A900; padding-left: 8pt; }
.club { margin-top: 24pt; font-size: 12pt; }
.legal { position: absolute; bottom: 0; font-size: 7pt; color: #666666; }
"""


def flyer_a5() -> TemplateContent:
    return TemplateContent(
        locales=["en", "de", "nl"],
        slots=[
            _hero_image(),
            Slot(
                name="headline",
                kind=SlotKind.text,
                required=True,
                max_length=40,
                label=_label("Headline", "Überschrift", "Kop"),
                default={"en": "Open day!", "de": "Tag der offenen Tür!", "nl": "Open dag!"},
            ),
            Slot(
                name="offer",
                kind=SlotKind.text,
                required=True,
                max_length=100,
                label=_label("Local offer", "Lokales Angebot", "Lokaal aanbod"),
                default={"en": "First month free for everyone who joins on the day."},
            ),
            _event_date(),
            *_club_name_and_address(),
            Slot(
                name="club_phone",
                kind=SlotKind.partner_field,
                partner_field="phone",
                allow_override=True,
                label=_label("Phone", "Telefon", "Telefoon"),
            ),
            _legal_footer(),
        ],
        print=PrintVariant(html=FLYER_HTML, css=FLYER_CSS, sizes=["A5"]),
    )


def spring_draft() -> TemplateContent:
    """A draft in progress: HQ is still writing it."""
    content = open_day()
    headline = content.slot("headline")
    assert headline is not None
    headline.default = {"en": "Spring into shape", "de": "Fit in den Frühling"}
    return content


DEMO_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    (
        "Open day",
        "Email newsletter inviting members and friends to the club's open day.",
        "open_day",
    ),
    ("Open day flyer (A5)", "Printed A5 flyer for the club's open day.", "flyer_a5"),
    ("Spring campaign", "Work in progress for the spring campaign.", "spring_draft"),
)
CONTENT_BUILDERS = {"open_day": open_day, "flyer_a5": flyer_a5, "spring_draft": spring_draft}
PUBLISHED = {"open_day", "flyer_a5"}
