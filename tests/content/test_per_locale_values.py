"""Per-language partner values: {locale: text} for per_locale slots, checked per language and
picked for the recipient's language."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from content.spec import EmailVariant, Slot, SlotKind, TemplateContent
from content.validate import pick_locale, resolve_values, validate_values
from tests.content.test_content_validate import context


def content(required: bool = False) -> TemplateContent:
    return TemplateContent(
        locales=["en", "de", "nl"],
        slots=[
            Slot(
                name="headline",
                kind=SlotKind.text,
                label={"en": "Headline"},
                per_locale=True,
                required=required,
                max_length=20,
                default={"en": "Open day", "de": "Tag der offenen Tür"},
            ),
            Slot(name="intro", kind=SlotKind.rich_text, label={"en": "Intro"}, per_locale=True),
            Slot(name="code", kind=SlotKind.text, label={"en": "Code"}),
        ],
        email=EmailVariant(subject="{{ slots.headline }}", html="x", text="x"),
    )


def errors(values: dict[str, Any], **ctx: Any) -> list[tuple[str, str, str]]:
    return [
        (e.field, e.code, e.message)
        for e in validate_values(content(ctx.pop("required", False)), values, context(**ctx))
    ]


def test_each_language_is_checked_and_named() -> None:
    found = errors({"headline": {"en": "Fine", "de": "Viel zu lang für dieses Feld", "nl": ""}})
    assert found == [
        (
            "headline.de",
            "too_long",
            "Headline (de): must be at most 20 characters (you have 28).",
        )
    ]


def test_brand_rules_apply_per_language() -> None:
    found = errors({"headline": {"en": "ok", "nl": "cheap deal"}})
    assert [(f, c) for f, c, _ in found] == [("headline.nl", "restricted_word")]


def test_unknown_locale_is_refused() -> None:
    assert errors({"headline": {"fr": "Bonjour"}}) == [
        (
            "headline.fr",
            "unknown_locale",
            "Headline ('fr'): this template's languages are en, de, nl.",
        )
    ]


def test_wrong_types_are_refused() -> None:
    assert [(f, c) for f, c, _ in errors({"headline": {"en": 5}})] == [
        ("headline.en", "wrong_type")
    ]
    assert [(f, c) for f, c, _ in errors({"code": {"en": "X"}})] == [("code", "wrong_type")]
    assert [(f, c) for f, c, _ in errors({"headline": ["en"]})] == [("headline", "wrong_type")]


def test_a_plain_string_serves_every_language() -> None:
    assert errors({"headline": "Open day"}) == []
    c = content()
    for locale in ("en", "de", "nl"):
        resolved = resolve_values(c, {"headline": "Same"}, context(locale=locale))
        assert resolved["headline"] == "Same"


def test_all_languages_blank_counts_as_blank() -> None:
    found = errors({"headline": {"en": " ", "de": ""}}, required=True)
    assert [(f, c) for f, c, _ in found] == [("headline", "required")]
    assert errors({"headline": {"en": "x"}}, required=True) == []


def test_resolution_order_recipient_then_campaign_then_first_given() -> None:
    c = content()
    values = {"headline": {"nl": "Open dag", "de": "Offener Tag"}}
    pick = lambda **kw: resolve_values(c, values, context(**kw))["headline"]  # noqa: E731
    assert pick(locale="nl") == "Open dag"
    assert pick(locale="de", fallback_locale="nl") == "Offener Tag"
    assert pick(locale="en", fallback_locale="nl") == "Open dag"
    assert pick(locale="en", fallback_locale="de") == "Offener Tag"
    assert pick(locale="en") == "Open dag"  # first given
    assert pick(locale="de-AT") == "Offener Tag"


def test_a_blank_language_falls_back_and_all_blank_takes_the_default() -> None:
    c = content()
    resolved = resolve_values(c, {"headline": {"de": " ", "en": "Open"}}, context(locale="de"))
    assert resolved["headline"] == "Open"
    resolved = resolve_values(c, {"headline": {"de": "", "en": ""}}, context(locale="de"))
    assert resolved["headline"] == "Tag der offenen Tür"


def test_rich_text_per_language_is_sanitised() -> None:
    c = content()
    values = {"intro": {"en": "<p>Hi<script>x()</script></p>", "de": "<p></p>", "nl": "<b>Hoi</b>"}}
    assert validate_values(c, values, context()) == []
    assert str(resolve_values(c, values, context(locale="en"))["intro"]) == "<p>Hi</p>"
    # German is empty markup: blank, so the next language (first given) stands in.
    assert str(resolve_values(c, values, context(locale="de"))["intro"]) == "<p>Hi</p>"
    assert str(resolve_values(c, values, context(locale="nl"))["intro"]) == "<b>Hoi</b>"


def test_pick_locale() -> None:
    assert pick_locale({}, "en") is None
    assert pick_locale({"en": None, "de": "x"}, "en") == "x"


@pytest.mark.parametrize("kind", [SlotKind.url, SlotKind.number, SlotKind.asset, SlotKind.choice])
def test_per_locale_is_for_text_only(kind: SlotKind) -> None:
    with pytest.raises(ValidationError, match="per_locale is for text and rich_text"):
        Slot(name="x", kind=kind, label={"en": "X"}, per_locale=True, choices=["a"])


def test_per_locale_locked_slot_is_refused() -> None:
    with pytest.raises(ValidationError, match="locked"):
        Slot(name="x", kind=SlotKind.text, label={"en": "X"}, per_locale=True, locked=True)
