"""The PrintOrderWorkflow's inputs, signals, updates and activity payloads (pydantic, through
the pydantic data converter): small values and ids, never the PDF itself."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from approvals.facts import ApprovalFacts
from approvals.policy import PinnedPolicy
from domain.money import PrintOrderState


class PrintOrderInput(BaseModel):
    print_order_id: int
    brand_id: int
    region_id: int
    partner_id: int
    ordered_by: int  # the chain's submitter: four eyes, the orderer cannot approve
    policy: PinnedPolicy  # the partner campaign's pinned chain (chain_tasks.print_order_policy)
    facts: ApprovalFacts
    wanted_by: date
    accept_within_hours: float = 24.0
    submit_timeout_seconds: float = 60.0  # one submission attempt, the vendor's timeout included
    documents_task_queue: str = ""  # empty: the workflow's own queue


class VendorStatus(BaseModel):
    """A vendor callback, verified and deduplicated by the API, as the workflow's signal."""

    event_id: str
    status: Literal["accepted", "printed", "shipped", "delivered"]
    tracking_number: str = ""
    tracking_url: str = ""
    invoice_minor: int | None = None
    proof_of_delivery: dict[str, Any] = Field(default_factory=dict)


class PrintOrderCancel(BaseModel):
    user_id: int
    comment: str = Field(default="", max_length=2000)


class PrintProjection(BaseModel):
    """One transition of the order to the database row and the audit trail."""

    print_order_id: int
    state: PrintOrderState
    actor: str
    event: str  # the audit action's suffix: "approved", "vendor.accepted", ...
    fields: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""
    error: str = ""


class QuoteResult(BaseModel):
    total_minor: int
    currency: str
    error: str = ""  # the vendor refused to quote (the order fails)


class PdfResult(BaseModel):
    key: str = ""
    sha256: str = ""
    error: str = ""  # the PDF cannot be made (the order fails)


class SubmitResult(BaseModel):
    vendor_order_id: str = ""
    total_minor: int = 0
    error: str = ""  # the vendor refused the order (the order fails)


class VendorLate(BaseModel):
    print_order_id: int
    missed: Literal["accepted", "shipped"]
    due: str  # ISO time the vendor was due


class PrintMoney(BaseModel):
    """reserve at approval; release when the order ends undelivered; book at delivery."""

    print_order_id: int
    action: Literal["reserve", "release", "book"]


class ClaimStart(BaseModel):
    """Part of the claims' contract: what the `start_claim` activity takes."""

    partner_campaign_id: int | None = None
    print_order_id: int | None = None
