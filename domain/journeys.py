"""The states and kinds of lifecycle journeys, spelled once (see states.py)."""

from __future__ import annotations

from enum import StrEnum


class TriggerKind(StrEnum):
    """What enrols a contact of a partner that switched the journey on."""

    contact_created = "contact_created"  # a new contact of the partner
    consent_granted = "consent_granted"  # a contact's email consent became granted
    date_attribute = "date_attribute"  # a date attribute (birthday) recurs today, local time
    inactivity = "inactivity"  # no event for `days` days


class StepKind(StrEnum):
    send = "send"  # send a published template version's email
    wait = "wait"  # wait N days, or until a local time of day
    branch = "branch"  # go one way or the other on a contact attribute or the last message
    end = "end"


class BranchOn(StrEnum):
    attribute = "attribute"  # a contact attribute compared with a value
    opened = "opened"  # the previous message was opened (tracking on)
    clicked = "clicked"  # a link in the previous message was clicked (tracking on)


class JourneyState(StrEnum):
    """HQ's design: drafts are edited; a published journey may be switched on by partners;
    a retired one enrols nobody new."""

    draft = "draft"
    published = "published"
    retired = "retired"


class ActivationState(StrEnum):
    """One partner's switch for one journey (the dealer releasing its data to HQ's design)."""

    pending_approval = "pending_approval"  # the GM's content waits for the approval chain
    active = "active"  # enrols and runs
    rejected = "rejected"  # the chain refused the content; the partner may try again
    off = "off"  # switched off: nobody new enrols, running contacts exit


class EnrolmentState(StrEnum):
    running = "running"
    completed = "completed"  # reached an end step
    exited = "exited"  # left by the exit rule (unsubscribed, erased, converted) or switch-off


class ExitReason(StrEnum):
    unsubscribed = "unsubscribed"
    erased = "erased"
    converted = "converted"
    switched_off = "switched_off"
    no_consent = "no_consent"
