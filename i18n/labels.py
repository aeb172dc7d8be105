"""The words people read for the states the code stores ("pending_approval" -> "Waiting for
approval"), one dict per kind of word, translated where shown (the `state_label` filter).

Keys are the raw values of the state enums (campaigns, partner campaigns, sheets, assets,
claims, catalogue items share one namespace: the same word reads the same everywhere). Pages
keep the raw value for CSS classes and form values; only the visible text goes through here."""

from __future__ import annotations

from enum import Enum

from core.said import Word
from i18n.translate import N_, gettext

STATE_LABELS: dict[str, str] = {
    # Campaigns and partner campaigns
    "draft": N_("Draft"),
    "running": N_("Running"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "invited": N_("Invited"),
    "drafting": N_("Being personalised"),
    "changes_requested": N_("Changes requested"),
    "pending_approval": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "partially_sent": N_("Partially sent"),
    "rejected": N_("Rejected"),
    "declined": N_("Declined"),
    "expired": N_("Expired"),
    # Campaign sheets
    "validating": N_("Checking"),
    "invalid": N_("Invalid"),
    "ready": N_("Ready"),
    "creating": N_("Creating"),
    "failed": N_("Failed"),
    # Assets
    "pending": N_("Pending"),
    "archived": N_("Archived"),
    # Claims
    "paid": N_("Paid"),
    # Catalogue items
    "published": N_("Published"),
    "withdrawn": N_("Withdrawn"),
    # Journeys, series, print orders, funds
    "in_review": N_("in review"),
    "retired": N_("retired"),
    "suppressed": N_("suppressed"),
    "active": N_("active"),
    "paused": N_("paused"),
    "ended": N_("ended"),
    "off": N_("off"),
    "launched": N_("launched"),
    "skipped": N_("skipped"),
    "quoted": N_("quoted"),
    "submitting": N_("submitting"),
    "accepted": N_("accepted"),
    "ordered": N_("ordered"),
    "printed": N_("printed"),
    "shipped": N_("shipped"),
    "delivered": N_("delivered"),
    "submitted": N_("submitted"),
    "delivery": N_("delivery"),
    "engagement": N_("engagement"),
    "allocation": N_("allocation"),
    "reservation": N_("reservation"),
    "release": N_("release"),
    "spend": N_("spend"),
    "claim_paid": N_("claim paid"),
}


def state_label(state: str | Enum | None) -> str:
    """The translated word for a state; an unknown one reads as its value with spaces."""
    if state is None:
        return ""
    raw = str(state.value if isinstance(state, Enum) else state)
    # Also "Pending approval" as the state diagram names it.
    known = STATE_LABELS.get(raw) or STATE_LABELS.get(raw.lower().replace(" ", "_"))
    word = gettext(known) if known else raw.replace("_", " ")
    return word[:1].upper() + word[1:]  # badges read as labels: "Active", "Actief"


# How a campaign treats a partner who does nothing.
MODE_LABELS: dict[str, str] = {
    "opt_in": N_("Opt-in"),
    "opt_out": N_("Opt-out"),
}


def mode_label(mode: str | Enum | None) -> str:
    if mode is None:
        return ""
    raw = str(mode.value if isinstance(mode, Enum) else mode)
    known = MODE_LABELS.get(raw)
    return gettext(known) if known else raw.replace("_", "-")


def state_word(value: str | Enum) -> Word:
    """A state for a sentence a service says (core.said): the raw value in English (the API's
    words stay as they were), its label where the portal translates the sentence."""
    raw = value.value if isinstance(value, Enum) else value
    return Word(str(raw), STATE_LABELS.get(str(raw), str(raw)))
