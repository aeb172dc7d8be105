"""The partner campaign workflow's refusals in words a person reads.

A refusal crosses from the workflow to the API as an ApplicationError: its message is the
English the API has always answered; its details also carry the catalogue message and values
(`carried`), so the portal shows the refusal in the reader's language
(services.workflow_updates rebuilds a core.said.Said with `rebuilt`). Pure: the workflow
imports it. Changing these words changes no command, so running workflows replay as before.
"""

from __future__ import annotations

from typing import Any

from core.said import Said, Word, said
from i18n.labels import state_word
from i18n.translate import N_

# One whole sentence per action, so each language can order its words.
_CANNOT = {
    "save": N_("Cannot save a partner campaign that is %(state)s"),
    "submit": N_("Cannot submit a partner campaign that is %(state)s"),
    "decline": N_("Cannot decline a partner campaign that is %(state)s"),
    "schedule": N_("Cannot schedule a partner campaign that is %(state)s"),
}
CANNOT_DECIDE = N_("Cannot decide on a partner campaign that is %(state)s")
NOT_YOURS = N_("Your roles do not allow partner_campaign.edit")
WINDOW_CLOSED = N_("The personalisation window has closed")
CHANGED = N_(
    "The content changed since you saw it (submission %(seen)s; now %(now)s): review the "
    "current version before deciding"
)


def cannot(event: str, state: str) -> Said:
    """The action is not allowed in the state the campaign is in."""
    message = _CANNOT.get(event)
    if message is None:
        return Said(f"Cannot {event.replace('_', ' ')} a partner campaign that is {state}")
    return said(message, state=state_word(state))


def carried(message: str) -> dict[str, Any] | None:
    """The catalogue message and values of a refusal, for the error's details (JSON)."""
    if not isinstance(message, Said):
        return None
    values: dict[str, Any] = {}
    for name, value in message.values.items():
        if isinstance(value, Word):
            values[name] = {"value": str(value), "word": value.message}
        elif isinstance(value, int | float):
            values[name] = value
        else:
            values[name] = str(value)
    return {"message": message.message, "values": values}


def rebuilt(data: object) -> Said | None:
    """The Said that `carried` describes, or None when the details carry none (refusals of
    executions that started before, and plain English)."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    values: dict[str, Any] = {}
    raw = data.get("values")
    for name, value in (raw if isinstance(raw, dict) else {}).items():
        if isinstance(value, dict) and {"value", "word"} <= set(value):
            values[str(name)] = Word(str(value["value"]), str(value["word"]))
        elif isinstance(value, int | float | str):
            values[str(name)] = value
        else:
            return None
    try:
        return Said(data["message"], values)
    except (KeyError, TypeError, ValueError):  # placeholders and values disagree
        return None
