"""The states and kinds of co-op funds, print orders and claims, spelled once (see states.py)."""

from __future__ import annotations

from enum import StrEnum


class LedgerKind(StrEnum):
    """One movement in a fund's append-only ledger. `amount_minor` is its signed effect on the
    money still available: allocation +, reservation -, release +, spend -; a claim payment
    moves no available money (it pays out spend already booked) and carries `paid_minor`."""

    allocation = "allocation"  # HQ gives the fund money (or takes it back: negative)
    reservation = "reservation"  # expected cost held at approval
    release = "release"  # a reservation given back (rejected, expired, cancelled, booked)
    spend = "spend"  # the real cost, booked from the delivery ledger or a vendor invoice
    claim_paid = "claim_paid"  # HQ paid an approved claim


class CostChannel(StrEnum):
    email = "email"  # per message
    sms = "sms"  # per segment
    print = "print"  # per copy, by format and quantity band


class PrintOrderState(StrEnum):
    quoted = "quoted"
    pending_approval = "pending_approval"
    approved = "approved"
    submitting = "submitting"  # the PDF is made and the order is being placed at the vendor
    ordered = "ordered"  # the vendor took the order
    accepted = "accepted"
    printed = "printed"
    shipped = "shipped"
    delivered = "delivered"
    rejected = "rejected"
    cancelled = "cancelled"
    failed = "failed"  # the vendor refused or production could not go on; `error` says why


class ClaimState(StrEnum):
    draft = "draft"  # written by the ClaimWorkflow, waiting for the GM
    pending_approval = "pending_approval"  # confirmed by the GM, in HQ's approval chain
    approved = "approved"
    paid = "paid"
    rejected = "rejected"
    expired = "expired"  # the claim window closed before it was confirmed or decided


class ChainSubject(StrEnum):
    """What a non-campaign approval chain decides (models.chain_tasks.ChainTask)."""

    print_order = "print_order"
    claim = "claim"
    journey_activation = "journey_activation"  # a partner's content for a journey it switches on
