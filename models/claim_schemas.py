"""The claims API's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.money import ClaimState


class ClaimLine(BaseModel):
    channel: str
    quantity: int
    unit: str = ""
    unit_minor: int = 0
    gross_minor: int
    eligible: bool
    source: str = Field(description="ledger, vendor_invoice or invoice (the GM's local spend)")
    description: str = ""
    cross_check: str = Field("", description="ok, or how the ledger and delivery counts differ")


class ClaimEvidence(BaseModel):
    n: int = Field(description="its number: GET /claims/{id}/evidence/{n}")
    kind: str = Field(description="email, delivery_counts, print_pdf, proof_of_delivery, invoice")
    label: str
    sha256: str = ""
    content_type: str = ""
    filename: str = ""
    amount_minor: int | None = None
    description: str = ""
    data: dict[str, Any] = Field(default_factory=dict, description="counts, proof of delivery")


class ClaimEvent(BaseModel):
    at: datetime
    action: str
    actor: str
    actor_name: str = Field(
        "", description='who acted: full name, else email; "system" for automatic steps'
    )
    comment: str | None = None


class ClaimRead(BaseModel):
    id: int
    brand_id: int
    region_id: int
    partner_id: int
    fund_id: int
    partner_campaign_id: int | None
    print_order_id: int | None
    state: ClaimState
    currency: str
    spend_minor: int
    claimed_minor: int
    coop_share_bp: int
    window_closes_at: datetime
    confirmed_by: int | None
    confirmed_at: datetime | None
    decided_at: datetime | None
    paid_at: datetime | None
    payment_reference: str
    note: str
    workflow_id: str
    created_at: datetime


class ClaimDetail(ClaimRead):
    lines: list[ClaimLine]
    evidence: list[ClaimEvidence]
    timeline: list[ClaimEvent]


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"comment": "OK"}]})
    comment: str | None = Field(None, max_length=2000)


class DecideBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "approve", "comment": "Evidence complete"}]},
    )
    decision: Literal["approve", "request_changes", "reject"]
    comment: str | None = Field(
        None, max_length=2000, description="required to request changes or reject"
    )


class PaymentBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reference": "SEPA-2026-0042"}]}
    )
    reference: str = Field(min_length=1, max_length=120)
