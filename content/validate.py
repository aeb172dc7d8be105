"""Partner values against a template's slots and the brand's rules, in words a partner understands.

Pure and deterministic (no clock, no I/O, no randomness): the API calls it to answer a form and
workflows call it again at submit time, where the same input must give the same answer on
replay. Errors come in slot declaration order so a form can show them top to bottom.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from content.sanitize import safe_markup, text_content
from content.spec import (
    AssetFacts,
    FieldError,
    Slot,
    SlotKind,
    TemplateContent,
    ValidationContext,
)
from i18n.catalogues import language_of
from i18n.context import current_locale
from i18n.translate import N_
from i18n.translate import gettext as _

ASSET_ID = re.compile(r"ast_[a-z0-9]{8,32}")
HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
PHONE_CHARS = re.compile(r"[0-9 +()\-./]+")
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
URL_FORBIDDEN = re.compile(r"[\s\\]")
HOST_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)+")
IPV6 = re.compile(r"[0-9a-f:.]+")
# Control characters other than tab and newlines: invisible, break mail headers and PostgreSQL.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Hard cap on any string value, whatever the slot says: a form field is not a file upload.
MAX_VALUE_CHARS = 50_000
PHONE_DIGITS = (6, 20)

# Profile fields whose override must look like what they replace.
_OVERRIDE_KIND = {"phone": SlotKind.phone, "email": SlotKind.email, "website": SlotKind.url}


def _label(slot: Slot) -> str:
    """The slot's label in the reader's language (the API's is English), else English."""
    return slot.label.get(language_of(current_locale())) or slot.label.get("en") or slot.name


def _error(slot: Slot, code: str, message: str) -> FieldError:
    return FieldError(field=slot.name, code=code, message=f"{_label(slot)}: {message}")


def _default(slot: Slot, locale: str) -> Any:
    """The slot's default for `locale`, falling back to English; None when there is none."""
    for loc in (locale, "en"):
        value = slot.default.get(loc)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _is_blank(slot: Slot, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict) and slot.per_locale:  # one value per language: all blank
        return all(_is_blank(slot, v) for v in value.values())
    if isinstance(value, str):
        if slot.kind == SlotKind.rich_text:
            return not text_content(value).strip()
        return not value.strip()
    return False


def _fmt(x: float) -> str:
    return f"{x:g}"


@lru_cache(maxsize=1024)
def _word_regex(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _brand_regex(pattern: str) -> re.Pattern[str]:
    """A brand pattern; one that is not a valid regex is matched literally (never skipped)."""
    try:
        return re.compile(pattern)
    except re.error:
        return re.compile(re.escape(pattern))


def _brand_rules(slot: Slot, text: str, ctx: ValidationContext) -> list[FieldError]:
    errors: list[FieldError] = []
    for word in ctx.brand.restricted_words:
        if word.strip() and (m := _word_regex(word.strip()).search(text)):
            errors.append(
                _error(
                    slot, "restricted_word", _('must not use the word "%(word)s".', word=m.group(0))
                )
            )
    for pattern in ctx.brand.restricted_patterns:
        if pattern and (m := _brand_regex(pattern).search(text)):
            errors.append(
                _error(
                    slot,
                    "restricted_pattern",
                    _('"%(text)s" is not allowed by the brand.', text=m.group(0)),
                )
            )
    return errors


def _lengths(slot: Slot, text: str) -> list[FieldError]:
    n = len(text)
    if slot.max_length is not None and n > slot.max_length:
        return [
            _error(
                slot,
                "too_long",
                _("must be at most %(max)s characters (you have %(n)s).", max=slot.max_length, n=n),
            )
        ]
    if slot.min_length is not None and n < slot.min_length:
        return [
            _error(
                slot,
                "too_short",
                _(
                    "must be at least %(min)s characters (you have %(n)s).",
                    min=slot.min_length,
                    n=n,
                ),
            )
        ]
    return []


def _pattern(slot: Slot, text: str) -> list[FieldError]:
    if slot.pattern is None or re.fullmatch(slot.pattern, text):
        return []
    hint = slot.help.get(language_of(current_locale())) or slot.help.get("en")
    message = _("is not in the expected format.")
    return [_error(slot, "pattern", f"{message} {hint}" if hint else message)]


def _choices(slot: Slot, text: str) -> list[FieldError]:
    if slot.choices is None or text in slot.choices:
        return []
    options = ", ".join(f'"{c}"' for c in slot.choices)
    return [_error(slot, "choice", _("must be one of %(options)s.", options=options))]


def _check_text(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    return (
        _lengths(slot, value)
        + _pattern(slot, value)
        + _choices(slot, value)
        + _brand_rules(slot, value, ctx)
    )


def _check_rich_text(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    text = text_content(value)
    return _lengths(slot, text) + _brand_rules(slot, text, ctx)


def _check_number(slot: Slot, value: Any) -> list[FieldError]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return [_error(slot, "wrong_type", _("must be a number."))]
    if isinstance(value, str):
        if not NUMBER.fullmatch(value.strip()):
            return [_error(slot, "not_a_number", _("must be a number, like 12 or 12.5."))]
        value = float(value.strip())
    number = float(value)
    if not math.isfinite(number):
        return [_error(slot, "not_a_number", _("must be a number, like 12 or 12.5."))]
    low, high = slot.min_value, slot.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        lo, hi, you = (
            _fmt(low) if low is not None else "",
            _fmt(high) if high is not None else "",
            _fmt(number),
        )
        if low is not None and high is not None:
            message = _(
                "must be between %(low)s and %(high)s (you have %(n)s).", low=lo, high=hi, n=you
            )
        elif low is not None:
            message = _("must be at least %(low)s (you have %(n)s).", low=lo, n=you)
        else:
            message = _("must be at most %(high)s (you have %(n)s).", high=hi, n=you)
        return [_error(slot, "out_of_range", message)]
    return []


def _check_date(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    try:
        if not ISO_DATE.fullmatch(value.strip()):
            raise ValueError(value)
        day = date.fromisoformat(value.strip())
    except ValueError:
        return [
            _error(slot, "bad_date", _("must be a date written as YYYY-MM-DD, like 2027-05-01."))
        ]
    start, end = ctx.window_start, ctx.window_end
    if not slot.within_window or (start is None and end is None):
        return []
    if (start is not None and day < start) or (end is not None and day > end):
        if start is not None and end is not None:
            message = _(
                "must be between %(start)s and %(end)s, the campaign period.",
                start=start.isoformat(),
                end=end.isoformat(),
            )
        elif start is not None:
            message = _(
                "must be on or after %(start)s, the campaign period.", start=start.isoformat()
            )
        else:
            assert end is not None
            message = _("must be on or before %(end)s, the campaign period.", end=end.isoformat())
        return [_error(slot, "outside_window", message)]
    return []


def _check_url(slot: Slot, value: str) -> list[FieldError]:
    bad = [_error(slot, "bad_url", _("must be a full web address, like https://example.com."))]
    if URL_FORBIDDEN.search(value):
        return bad
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return bad
    if parts.scheme.lower() not in ("http", "https") or not host:
        return bad
    if parts.username is not None or parts.password is not None:
        return bad  # https://bank.example@evil.example is a phishing trick
    if not (HOST_NAME.fullmatch(host) or (":" in host and IPV6.fullmatch(host))):
        return bad
    return _lengths(slot, value)


def _check_phone(slot: Slot, value: str) -> list[FieldError]:
    digits = sum(c.isdigit() for c in value)
    low, high = PHONE_DIGITS
    if not PHONE_CHARS.fullmatch(value) or not low <= digits <= high:
        return [
            _error(
                slot,
                "bad_phone",
                _(
                    "must be a phone number of %(low)s to %(high)s digits, like +31 20 555 0100.",
                    low=low,
                    high=high,
                ),
            )
        ]
    return []


def _check_email(slot: Slot, value: str) -> list[FieldError]:
    if len(value) > 254 or not EMAIL.fullmatch(value):
        return [_error(slot, "bad_email", _("must be an email address, like info@example.com."))]
    return []


def _check_color(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    palette = ctx.brand.palette
    allowed = _("Allowed colours: %(colours)s.", colours=", ".join(palette)) if palette else ""
    if not HEX_COLOUR.fullmatch(value):
        message = _("must be a colour written as #RRGGBB.")
        return [_error(slot, "bad_color", f"{message} {allowed}" if allowed else message)]
    if palette and value.lower() not in {c.lower() for c in palette}:
        message = _("must be one of the brand colours.")
        return [_error(slot, "not_in_palette", f"{message} {allowed}" if allowed else message)]
    return []


def _check_asset(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    if not ASSET_ID.fullmatch(value):
        return [_error(slot, "bad_asset", _("must be an image from the asset library."))]
    if ctx.assets is None:
        return []
    facts = ctx.assets.get(value)
    if facts is None or (facts.partner_id is not None and facts.partner_id != ctx.partner_id):
        # Another partner's asset is reported exactly like a missing one.
        return [_error(slot, "unknown_asset", _("must be an image from the asset library."))]
    return _asset_rules(slot, facts, ctx)


_NOT_USABLE = {
    "pending": N_("%(name)s is still waiting for approval by headquarters; choose another image."),
    "rejected": N_("%(name)s was rejected by headquarters; choose another image."),
    "archived": N_("%(name)s has been archived; choose another image."),
}


def _image_name(title: str | None) -> str:
    return f'"{title}"' if title else _("this image")


def _asset_rules(slot: Slot, facts: AssetFacts, ctx: ValidationContext) -> list[FieldError]:
    """The library's rules in order: approved, tagged for this slot, licensed today, licensed
    for the partner's region. The first broken rule is named."""
    name = _image_name(facts.title)
    if facts.state != "approved":
        unusable = _NOT_USABLE.get(facts.state)
        message = (
            _(unusable, name=name)
            if unusable
            else _("%(name)s is %(state)s; choose another image.", name=name, state=facts.state)
        )
        return [_error(slot, "asset_not_approved", message)]
    missing = [t for t in slot.asset_tags or [] if t not in facts.tags]
    if missing:
        return [
            _error(
                slot,
                "asset_wrong_tags",
                _(
                    "must be an image tagged %(tags)s; %(name)s is not tagged %(missing)s.",
                    tags=", ".join(slot.asset_tags or []),
                    name=name,
                    missing=", ".join(missing),
                ),
            )
        ]
    expires = facts.licence_expires_on
    if expires is not None and ctx.today is not None and expires < ctx.today:
        return [
            _error(
                slot,
                "asset_expired",
                _(
                    "the licence of %(name)s expired on %(date)s; choose another image.",
                    name=name,
                    date=expires.isoformat(),
                ),
            )
        ]
    regions = facts.allowed_region_ids
    if regions and ctx.partner_region_id not in regions:
        return [
            _error(
                slot,
                "asset_region",
                _("%(name)s is not licensed for your region; choose another.", name=name),
            )
        ]
    return []


def _alt_text_rule(slot: Slot, values: dict[str, Any], ctx: ValidationContext) -> list[FieldError]:
    """An image in an email needs alt text: screen readers read it, and mail clients that
    block images show it instead. Checked once the library's other rules pass."""
    if slot.kind != SlotKind.asset or ctx.assets is None:
        return []
    value = _resolve_one(slot, values, ctx)
    facts = ctx.assets.get(value) if isinstance(value, str) else None
    if facts is None or facts.alt_text is None or facts.alt_text.strip():
        return []
    return [
        _error(
            slot,
            "asset_no_alt_text",
            _(
                "%(name)s has no alt text; an image in an email needs one. Add it in the asset "
                "library (what the image shows) or choose another image.",
                name=_image_name(facts.title),
            ),
        )
    ]


def asset_ids(content: TemplateContent, values: dict[str, Any], locale: str) -> set[str]:
    """Every asset id validation will look at (given values and the defaults standing in), so
    the caller can fetch their facts in one query."""
    ids: set[str] = set()
    for slot in content.slots:
        if slot.kind != SlotKind.asset:
            continue
        value = values.get(slot.name)
        if _is_blank(slot, value):
            value = _default(slot, locale)
        if isinstance(value, str) and ASSET_ID.fullmatch(value):
            ids.add(value)
    return ids


def _check_override(slot: Slot, value: str, ctx: ValidationContext) -> list[FieldError]:
    kind = _OVERRIDE_KIND.get(slot.partner_field or "")
    specific: list[FieldError] = []
    if kind == SlotKind.phone:
        specific = _check_phone(slot, value)
    elif kind == SlotKind.email:
        specific = _check_email(slot, value)
    elif kind == SlotKind.url:
        specific = _check_url(slot, value)
    return specific or _check_text(slot, value, ctx)


_STRING_CHECKS: dict[SlotKind, Callable[[Slot, str, ValidationContext], list[FieldError]]] = {
    SlotKind.text: _check_text,
    SlotKind.rich_text: _check_rich_text,
    SlotKind.date: _check_date,
    SlotKind.choice: lambda s, v, _c: _choices(s, v),
    SlotKind.url: lambda s, v, _c: _check_url(s, v),
    SlotKind.phone: lambda s, v, _c: _check_phone(s, v),
    SlotKind.email: lambda s, v, _c: _check_email(s, v),
    SlotKind.color: _check_color,
    SlotKind.asset: _check_asset,
    SlotKind.partner_field: _check_override,
}


def _check_value(slot: Slot, value: Any, ctx: ValidationContext) -> list[FieldError]:
    """Rules for one given, non-blank value of an editable slot."""
    if slot.kind == SlotKind.number:
        return _check_number(slot, value)
    if not isinstance(value, str):
        return [_error(slot, "wrong_type", _("must be text."))]
    if len(value) > MAX_VALUE_CHARS:
        return [
            _error(
                slot,
                "too_long",
                _(
                    "must be at most %(max)s characters (you have %(n)s).",
                    max=MAX_VALUE_CHARS,
                    n=len(value),
                ),
            )
        ]
    if CONTROL.search(value):
        return [_error(slot, "bad_characters", _("contains invisible control characters."))]
    return _STRING_CHECKS[slot.kind](slot, value, ctx)


def _language(locale: str) -> str:
    return locale.replace("_", "-").split("-")[0].lower()


def _check_per_locale(
    slot: Slot, value: dict[Any, Any], ctx: ValidationContext, locales: list[str]
) -> list[FieldError]:
    """A value per language: each language among the template's, each text by the slot's
    rules; errors name the field `<slot>.<locale>` and the language in the message. A blank
    language is not given: the recipient gets another language's text (see resolve_values)."""
    label = _label(slot)
    errors: list[FieldError] = []
    for locale, text in value.items():
        shown = str(locale)[:20]
        field = f"{slot.name}.{shown}"
        if locale not in locales:
            errors.append(
                FieldError(
                    field=field,
                    code="unknown_locale",
                    message=f"{label} ({shown!r}): "
                    + _("this template's languages are %(locales)s.", locales=", ".join(locales)),
                )
            )
            continue
        if text is None or (isinstance(text, str) and _is_blank(slot, text)):
            continue
        for error in _check_value(slot, text, ctx):
            message = error.message.replace(f"{label}:", f"{label} ({locale}):", 1)
            errors.append(FieldError(field=field, code=error.code, message=message))
    return errors


def _check_slot(
    slot: Slot, values: dict[str, Any], ctx: ValidationContext, locales: list[str]
) -> list[FieldError]:
    value = values.get(slot.name)
    if slot.locked:
        if value is not None:
            return [_error(slot, "locked", _("is set by headquarters and cannot be changed."))]
        return []
    if slot.kind == SlotKind.partner_field:
        if value is not None and not slot.allow_override:
            return [
                _error(
                    slot,
                    "not_overridable",
                    _("comes from your partner profile and cannot be changed here."),
                )
            ]
        if _is_blank(slot, value):
            profile = ctx.partner.get(slot.partner_field or "")
            if slot.required and (profile is None or not str(profile).strip()):
                message = (
                    _("is missing from your partner profile; add it there or fill it in here.")
                    if slot.allow_override
                    else _("is missing from your partner profile; add it there.")
                )
                return [_error(slot, "required", message)]
            return []
        return _check_value(slot, value, ctx)
    if _is_blank(slot, value):
        # Not given: the default stands in. Given but blank: the partner cleared the field.
        default = _default(slot, ctx.locale)
        if slot.required and (value is not None or default is None):
            return [_error(slot, "required", _("is required."))]
        if slot.kind == SlotKind.asset and value is None and isinstance(default, str):
            # HQ's default image goes out too: it must still be usable (licence, region).
            return _check_asset(slot, default, ctx)
        return []
    if slot.per_locale and isinstance(value, dict):
        return _check_per_locale(slot, value, ctx, locales)
    return _check_value(slot, value, ctx)


def validate_values(
    content: TemplateContent, values: dict[str, Any], ctx: ValidationContext
) -> list[FieldError]:
    """Every problem with `values` for `content` in `ctx`; an empty list means they can be used.

    A value of None (or no key) counts as not given. A required slot that is not given is
    satisfied by its default (for ctx.locale, else English), because that is what the template
    will show; a required slot given as blank ("", spaces, rich text without text) is an error
    even with a default: the partner cleared a field that must have content.

    A per_locale slot takes a plain value (every language) or {locale: text} with the
    template's locales; each language's text is checked as a plain value would be.
    """
    errors: list[FieldError] = []
    for slot in content.slots:
        found = _check_slot(slot, values, ctx, content.locales)
        if not found and content.email is not None:
            found = _alt_text_rule(slot, values, ctx)
        errors.extend(found)
    declared = {slot.name for slot in content.slots}
    for name in sorted(n for n in values if n not in declared):
        errors.append(
            FieldError(
                field=name,
                code="unknown_field",
                message=f"{name}: " + _("is not a field of this template."),
            )
        )
    return errors


def pick_locale(
    value: dict[Any, Any],
    locale: str,
    fallback: str | None = None,
    blank: Callable[[Any], bool] | None = None,
) -> Any:
    """One language's text of a per-language value: `locale` (or its language, de for
    de-AT), else `fallback` (the partner campaign's), else the first language given; None
    when every language is blank."""

    def given(v: Any) -> bool:
        if blank is not None:
            return not blank(v)
        return v is not None and not (isinstance(v, str) and not v.strip())

    wanted = [locale, _language(locale)]
    if fallback:
        wanted += [fallback, _language(fallback)]
    for loc in wanted:
        if given(value.get(loc)):
            return value[loc]
    return next((v for v in value.values() if given(v)), None)


def _resolve_one(slot: Slot, values: dict[str, Any], ctx: ValidationContext) -> Any:
    if slot.locked:
        return _default(slot, ctx.locale)
    value = values.get(slot.name)
    if slot.per_locale and isinstance(value, dict):
        value = pick_locale(value, ctx.locale, ctx.fallback_locale, lambda v: _is_blank(slot, v))
    given = not _is_blank(slot, value)
    if slot.kind == SlotKind.partner_field:
        if slot.allow_override and given:
            return value
        return ctx.partner.get(slot.partner_field or "")
    return value if given else _default(slot, ctx.locale)


def resolve_values(
    content: TemplateContent, values: dict[str, Any], ctx: ValidationContext
) -> dict[str, Any]:
    """What the template sees for each slot (every declared slot is present).

    Locked slots: HQ's default for ctx.locale, else English. Editable slots: the partner's value,
    else the default. partner_field slots: the override when allowed and given, else the partner
    profile. Nothing at all becomes "" so a template can test `{% if slots.x %}`. Rich text is
    sanitised and wrapped as Markup (the only value the HTML autoescaper lets through); all
    other values stay plain data and are escaped when rendered. A per_locale slot's
    {locale: text} gives ctx.locale's text, else ctx.fallback_locale's, else the first given
    (see pick_locale). Call validate_values first.
    """
    resolved: dict[str, Any] = {}
    for slot in content.slots:
        value = _resolve_one(slot, values, ctx)
        if value is None:
            value = ""
        if slot.kind == SlotKind.rich_text:
            value = safe_markup(value if isinstance(value, str) else str(value))
        resolved[slot.name] = value
    return resolved
