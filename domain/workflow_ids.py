"""Workflow ids, readable (`campaign-42`) so ops find an execution from what they know.

They are made of database ids: a database reset while Temporal keeps its history hands the
same ids out again (see docs/operations.md). Template workflows carry a nonce for that reason.
"""

from __future__ import annotations


def campaign_workflow_id(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def partner_campaign_workflow_id(campaign_id: int, partner_id: int) -> str:
    return f"partner-campaign-{campaign_id}-{partner_id}"


def send_workflow_id(partner_campaign_id: int) -> str:
    return f"send-{partner_campaign_id}"


def template_workflow_id(template_id: int, number: int, nonce: str) -> str:
    return f"template-{template_id}-v{number}-{nonce}"


def webhook_endpoint_workflow_id(endpoint_id: int) -> str:
    return f"webhook-endpoint-{endpoint_id}"


def print_order_workflow_id(print_order_id: int) -> str:
    return f"print-order-{print_order_id}"


def claim_workflow_id(claim_id: int) -> str:
    return f"claim-{claim_id}"


def series_schedule_id(series_id: int) -> str:
    """The Temporal Schedule of a campaign series (visible and pausable in the Temporal UI)."""
    return f"series-{series_id}"


def series_occurrence_workflow_id(series_id: int, occurrence: str) -> str:
    """One occurrence of a series (`occurrence` is its local date, e.g. 2027-01-04)."""
    return f"series-{series_id}-{occurrence}"


def journey_activation_workflow_id(activation_id: int) -> str:
    """A partner's switch for a journey: the approval chain of its content, then enrolment."""
    return f"journey-activation-{activation_id}"


def journey_enrolment_workflow_id(activation_id: int, contact_id: int, occurrence: str) -> str:
    """One contact in one journey for one occurrence: starting it twice enrols once."""
    return f"journey-{activation_id}-{contact_id}-{occurrence}"
