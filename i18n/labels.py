"""What a state's badge says, in the reader's language: the stored values stay English
identifiers; the labels are marked here once and translated where they are shown."""

from __future__ import annotations

from i18n.translate import N_, gettext

STATE_LABELS: dict[str, str] = {
    "invited": N_("invited"),
    "drafting": N_("drafting"),
    "changes_requested": N_("changes requested"),
    "pending_approval": N_("pending approval"),
    "approved": N_("approved"),
    "scheduled": N_("scheduled"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "partially_sent": N_("partially sent"),
    "rejected": N_("rejected"),
    "declined": N_("declined"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "draft": N_("draft"),
    "running": N_("running"),
    "completed": N_("completed"),
    "in_review": N_("in review"),
    "published": N_("published"),
    "retired": N_("retired"),
    "pending": N_("pending"),
    "failed": N_("failed"),
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
    "paid": N_("paid"),
}


def state_label(value: object) -> str:
    """'pending_approval' -> 'Freigabe ausstehend'; an unknown state reads as its words."""
    text = str(getattr(value, "value", value))
    label = STATE_LABELS.get(text) or STATE_LABELS.get(text.lower().replace(" ", "_"))
    return gettext(label) if label is not None else text.replace("_", " ")
