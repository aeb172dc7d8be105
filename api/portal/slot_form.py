"""The partner editor's form, generated from the template's slots: which control each slot gets,
its limits and help, the asset gallery it offers, and reading the posted form back as values.

Only editable slots become fields (locked HQ content never does, profile fields only when the
template allows overriding them). Validation itself stays in content.validate: this module
only shapes the form and passes the values on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData

from content.sanitize import sanitize_html
from content.spec import SlotKind, TemplateContent
from core.policy import Principal
from models.assets import Asset
from models.org import Partner
from services.assets import list_assets
from services.paging import PageRequest

GALLERY = 60  # images offered per slot: the first page of the library

PREFIX = "slot__"
CONTROL = {
    SlotKind.text: "text",
    SlotKind.rich_text: "textarea",
    SlotKind.number: "number",
    SlotKind.date: "date",
    SlotKind.choice: "select",
    SlotKind.url: "url",
    SlotKind.phone: "tel",
    SlotKind.email: "email",
    SlotKind.color: "swatches",
    SlotKind.asset: "gallery",
    SlotKind.partner_field: "text",
}


@dataclass
class AssetOption:
    uid: str
    title: str
    asset_id: int


LANGUAGES = {"en": "English", "de": "Deutsch", "nl": "Nederlands"}
LOCALE_SEP = "__"  # slot__offer__de: the German text of a per-language slot


@dataclass
class LanguageInput:
    """One language's input of a per-language slot."""

    locale: str
    language: str
    input_name: str
    value: str
    errors: list[str] = field(default_factory=list)


@dataclass
class SlotField:
    name: str
    input_name: str
    label: str
    help: str
    control: str
    value: str
    default: str
    required: bool
    max_length: int | None
    choices: list[str] = field(default_factory=list)
    assets: list[AssetOption] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # every message about this field
    languages: list[LanguageInput] = field(default_factory=list)  # per_locale slots only


def _localised(texts: dict[str, Any], locale: str) -> Any:
    """The text in `locale`, else HQ's English (a template need not speak every language)."""
    return texts.get(locale) or texts.get("en", "")


def editable(content: TemplateContent) -> list[str]:
    return [
        s.name
        for s in content.slots
        if not s.locked and (s.kind != SlotKind.partner_field or s.allow_override)
    ]


def hq_defaults(
    content: TemplateContent, campaign_defaults: dict[str, Any], locale: str
) -> dict[str, Any]:
    """What HQ put in each editable slot: the campaign's default, else the template's."""
    out: dict[str, Any] = {}
    for name in editable(content):
        slot = content.slot(name)
        assert slot is not None
        if name in campaign_defaults:
            out[name] = campaign_defaults[name]
        else:
            out[name] = _localised(slot.default, locale) or ""
    return out


def _gallery(
    session: Session, principal: Principal, tags: list[str], partner: Partner, today: date
) -> list[AssetOption]:
    """Approved assets with the slot's tags that this partner may use today (licence and
    region); the same rules are checked again when the values are saved."""
    found = list_assets(
        session,
        principal,
        tags=tags,
        q=None,
        state="approved",
        paging=PageRequest(secret="", limit=GALLERY),
    )
    return [
        AssetOption(a.uid, a.title, a.id or 0) for a in found.items if _usable(a, partner, today)
    ]


def _usable(asset: Asset, partner: Partner, today: date) -> bool:
    if asset.partner_id is not None and asset.partner_id != partner.id:
        return False
    if asset.licence_expires_on is not None and asset.licence_expires_on < today:
        return False
    return not asset.allowed_region_ids or partner.region_id in asset.allowed_region_ids


def _language_inputs(
    content: TemplateContent,
    name: str,
    current: Any,
    campaign_default: Any,
    errors: dict[str, list[str]],
) -> list[LanguageInput]:
    """An input per language of the template. A plain value (one text for every language)
    shows in the first language; a language the partner left out shows HQ's text for it."""
    slot = content.slot(name)
    assert slot is not None
    given = current if isinstance(current, dict) else {}
    out = []
    for index, locale in enumerate(content.locales):
        if isinstance(current, dict):
            value = given.get(locale)
        elif current not in (None, "") and current != campaign_default:
            value = current if index == 0 else None
        else:
            value = None
        if value is None:
            value = slot.default.get(locale) or (campaign_default if index == 0 else "")
        out.append(
            LanguageInput(
                locale=locale,
                language=LANGUAGES.get(locale, locale),
                input_name=f"{PREFIX}{name}{LOCALE_SEP}{locale}",
                value="" if value is None else str(value),
                errors=errors.get(f"{name}.{locale}", []),
            )
        )
    return out


def fields_for(
    session: Session,
    principal: Principal,
    content: TemplateContent,
    *,
    values: dict[str, Any],
    defaults: dict[str, Any],
    errors: dict[str, list[str]],
    partner: Partner,
    palette: list[str],
    locale: str,
    today: date,
) -> list[SlotField]:
    """The form's fields; labels and help in `locale` (the reader's language, else English),
    each with every message `errors` holds for it (keyed by slot, or `slot.locale`)."""
    out = []
    for name in editable(content):
        slot = content.slot(name)
        assert slot is not None
        control = CONTROL[slot.kind]
        choices = list(slot.choices or [])
        if slot.kind == SlotKind.color:
            choices = list(palette)
        current = values.get(name, defaults.get(name, ""))
        out.append(
            SlotField(
                name=name,
                input_name=PREFIX + name,
                label=_localised(slot.label, locale),
                help=_localised(slot.help, locale),
                control=control,
                value="" if current is None else str(current),
                default="" if defaults.get(name) is None else str(defaults.get(name)),
                required=slot.required,
                max_length=slot.max_length,
                choices=choices,
                assets=(
                    _gallery(session, principal, list(slot.asset_tags or []), partner, today)
                    if slot.kind == SlotKind.asset
                    else []
                ),
                errors=errors.get(name, []),
                languages=(
                    _language_inputs(content, name, current, defaults.get(name), errors)
                    if slot.per_locale
                    else []
                ),
            )
        )
    return out


def _posted(raw: object, rich: bool) -> str:
    """A posted text, trimmed; rich text through the sanitiser, so what is kept (and shown
    again in the form) is only the markup the editor and the renderer allow."""
    if not isinstance(raw, str):
        return ""
    return (sanitize_html(raw) if rich else raw).strip()


def values_from(form: FormData, content: TemplateContent) -> dict[str, Any]:
    """The posted values of editable slots; an empty field is left out, so HQ's default
    applies. Numbers stay text when they do not parse, for validation to name."""
    values: dict[str, Any] = {}
    for name in editable(content):
        slot = content.slot(name)
        rich = slot is not None and slot.kind == SlotKind.rich_text
        if slot is not None and slot.per_locale:
            texts = {
                locale: text
                for locale in content.locales
                if (text := _posted(form.get(f"{PREFIX}{name}{LOCALE_SEP}{locale}"), rich))
            }
            if not texts and (plain := _posted(form.get(PREFIX + name), rich)):
                values[name] = plain  # a client posting one text for every language
            elif texts:
                values[name] = texts
            continue
        text = _posted(form.get(PREFIX + name), rich)
        if not text:
            continue
        if slot is not None and slot.kind == SlotKind.number:
            try:
                number = float(text)
                values[name] = int(number) if number.is_integer() else number
            except ValueError:
                values[name] = text
            continue
        values[name] = text
    return values


def changes(values: dict[str, Any], defaults: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(slot, HQ's default, the partner's value) for each slot the partner changed."""
    return [
        (name, shown(defaults.get(name, "")), shown(value))
        for name, value in values.items()
        if name in defaults and shown(value) != shown(defaults.get(name, ""))
    ]


def shown(value: Any) -> str:
    """A value in words: a per-language value as "de: … · nl: …"."""
    if isinstance(value, dict):
        return " · ".join(f"{locale}: {text}" for locale, text in value.items())
    return "" if value is None else str(value)


@dataclass
class SummaryLine:
    """One line of the error summary above the form: the message and the input it is about."""

    anchor: str  # the input's id; empty for a problem no field shows
    message: str


def summary(errors: dict[str, list[str]], fields: list[SlotField]) -> list[SummaryLine]:
    """Every message of a refused submit, in the form's order, each linked to its input
    (`f-<slot>`, `f-<slot>-<locale>` for one language of a per-language slot, or a form
    control's own id such as `segment_id` and `send_at`)."""
    anchors: dict[str, str] = {}
    for f in fields:
        anchors[f.name] = "f-" + f.name
        for lang in f.languages:
            anchors[f"{f.name}.{lang.locale}"] = f"f-{f.name}-{lang.locale}"
    anchors.update({"segment_id": "segment_id", "send_at": "send_at"})
    order = list(anchors)
    keys = sorted(errors, key=lambda k: order.index(k) if k in order else len(order))
    return [SummaryLine(anchors.get(key, ""), m) for key in keys for m in errors[key]]
