"""The portal's contact and segment forms: form fields in, the API's own bodies out, and every
refusal as a message in the reader's language next to the field it is about.

The bodies are the API's (ContactCreate, SegmentFilter), validated by the same models and
saved by the same services, so the portal accepts exactly what the API accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from api.portal.schema_errors import Errors, schema_errors
from core.errors import Conflict, Problem
from i18n.translate import N_, gettext, translated
from models.contact_schemas import ContactCreate, SegmentFilter

CONTACT_FIELDS = (
    "email",
    "name",
    "phone",
    "locale",
    "consent_status",
    "consent_source",
    "sms_consent_status",
    "sms_consent_source",
    "channel",
    "tags",
)
RULE_FIELDS = ("tags_any", "tags_all", "locale_in", "attributes")
CONSENT_LABELS = {
    "granted": N_("Consent given"),
    "denied": N_("Consent refused"),
    "unknown": N_("Consent not asked"),
}
CHANNEL_LABELS = {"email": N_("Email"), "sms": N_("SMS")}
# The fields as the forms label them, to name a field in its message.
FIELD_LABELS = {
    "email": N_("Email"),
    "name": N_("Name"),
    "phone": N_("Mobile number"),
    "locale": N_("Language"),
    "consent_status": N_("Email consent"),
    "consent_source": N_("Where consent was given"),
    "sms_consent_status": N_("SMS consent"),
    "sms_consent_source": N_("Where SMS consent was given"),
    "channel": N_("Prefers"),
    "tags": N_("Tags"),
    "tags_any": N_("Has any of these tags"),
    "tags_all": N_("Has all of these tags"),
    "locale_in": N_("Speaks one of these languages"),
    "attributes": N_("Own fields"),
}

# What a service's refusal of a field means, said in the reader's language (the services speak
# to API clients in English; the form speaks to a person).
_FIELD_MESSAGES = {
    "email": N_("Enter a valid email address, such as name@example.com."),
    "phone": N_("Enter a mobile number with its country code (+31 6 ...) or as a national number."),
    "locale": N_("Enter a language code such as nl, de or en-GB, or leave it empty."),
    "consent_source": N_("Consent given needs its source: where and how it was given."),
    "sms_consent_source": N_("SMS consent given needs its source: where and how it was given."),
    "channel": N_("SMS needs a phone number."),
}


def _values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {n: str(form.get(n) or "").strip() for n in names}


def contact_form(form: Mapping[str, Any]) -> tuple[dict[str, str], ContactCreate | None, Errors]:
    """The add form's values as typed, the API body they make, or the errors by field."""
    values = _values(form, CONTACT_FIELDS)
    if not values["email"]:
        return values, None, {"email": gettext("Fill in the email address.")}
    body: dict[str, Any] = {
        "email": values["email"],
        "name": values["name"],
        "phone": values["phone"],
        "consent_status": values["consent_status"] or "unknown",
        "consent_source": values["consent_source"],
        "sms_consent_status": values["sms_consent_status"] or "unknown",
        "sms_consent_source": values["sms_consent_source"],
        "channel": values["channel"] or "email",
        "tags": values["tags"].split(","),
    }
    if values["locale"]:
        body["locale"] = values["locale"]
    try:
        return values, ContactCreate.model_validate(body), {}
    except ValidationError as err:
        return values, None, schema_errors(err, CONTACT_FIELDS, FIELD_LABELS)


def contact_errors(err: Problem) -> Errors:
    """A service's refusal of a new contact, by field, in the reader's language."""
    if isinstance(err, Conflict):
        return {"email": gettext("A contact with this email address already exists.")}
    out: Errors = {}
    for e in err.errors or []:
        field = str(e.get("field", ""))
        if field in _FIELD_MESSAGES:
            out.setdefault(field, gettext(_FIELD_MESSAGES[field]))
    return out or {"email": gettext("Check this field: %(reason)s", reason=translated(err.detail))}


# Segments --------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rules_values(rules: Mapping[str, Any]) -> dict[str, str]:
    """A saved filter as the form shows it: lists comma-separated, one attribute condition a
    line (`key=value`, several values `key=a|b`)."""
    lines = []
    for cond in rules.get("attributes") or []:
        if "in" in cond:
            lines.append(f"{cond['key']}=" + "|".join(_shown(v) for v in cond["in"]))
        else:
            lines.append(f"{cond['key']}={_shown(cond.get('equals'))}")
    return {
        "tags_any": ", ".join(rules.get("tags_any") or []),
        "tags_all": ", ".join(rules.get("tags_all") or []),
        "locale_in": ", ".join(rules.get("locale_in") or []),
        "attributes": "\n".join(lines),
    }


def _typed(text: str, known: Mapping[str, Any]) -> Any:
    """A value typed in the form: the saved value it shows (a number or true/false set
    through the API stays one), else text, as a CSV import stores attributes."""
    return known.get(text, text)


def _known_values(rules: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cond in rules.get("attributes") or []:
        for value in cond.get("in") or [cond.get("equals")]:
            if value is not None:
                out.setdefault(_shown(value), value)
    return out


def _conditions(text: str, known: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip() or not raw.strip():
            return [], gettext(
                "Line %(line)d: write name=value (several values: name=a|b).", line=number
            )
        parts = [p.strip() for p in raw.split("|") if p.strip()]
        cond: dict[str, Any] = {"key": key.strip().lower()}
        if len(parts) == 1:
            cond["equals"] = _typed(parts[0], known)
        else:
            cond["in"] = [_typed(p, known) for p in parts]
        out.append(cond)
    return out, None


def _listed(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]


def rules_form(
    form: Mapping[str, Any], saved: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], SegmentFilter | None, Errors]:
    """The rule fields as typed, the SegmentFilter they make, or the errors by field."""
    values = _values(form, RULE_FIELDS)
    conditions, problem = _conditions(values["attributes"], _known_values(saved or {}))
    if problem:
        return values, None, {"attributes": problem}
    try:
        rules = SegmentFilter.model_validate(
            {
                "tags_any": _listed(values["tags_any"]),
                "tags_all": _listed(values["tags_all"]),
                "locale_in": _listed(values["locale_in"]),
                "attributes": conditions,
            }
        )
    except ValidationError as err:
        return values, None, schema_errors(err, RULE_FIELDS, FIELD_LABELS)
    return values, rules, {}


def segment_name_errors(err: Problem) -> Errors:
    """A service's refusal of a segment's name."""
    if err.status == 409:
        return {"name": gettext("This partner already has a segment with this name.")}
    return {"name": gettext("Give the segment a name.")}
