"""What the funds API takes and answers. Amounts go in as decimal strings ("1000.00") and come
out both as integer minor units and as the same decimal text, never as floats."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.said import SaidText
from domain.money import CostChannel, LedgerKind


class FundAllocate(BaseModel):
    """Give co-op money to one partner, every partner of a region, or every partner of the
    brand. A fund for that partner and period is created on first allocation; later ones add
    an allocation entry (its terms must then match the fund's)."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field(min_length=4, max_length=16, examples=["2026-Q4"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    amount: str = Field(
        min_length=1, max_length=32, description="per partner, e.g. 1000.00", examples=["1000.00"]
    )
    coop_share_percent: str = Field(
        min_length=1, max_length=8, description="HQ's share of eligible spend", examples=["50"]
    )
    eligible_channels: list[CostChannel] = Field(min_length=1, max_length=3)
    partner_id: int | None = Field(None, ge=1, le=2**53)
    region_id: int | None = Field(None, ge=1, le=2**53)
    all_partners: bool = False
    note: str = Field("", max_length=500)

    @model_validator(mode="after")
    def _one_target(self) -> FundAllocate:
        given = sum((self.partner_id is not None, self.region_id is not None, self.all_partners))
        if given != 1:
            raise ValueError("name exactly one of partner_id, region_id or all_partners")
        return self


class BalanceRead(BaseModel):
    allocated_minor: int
    reserved_minor: int
    spent_minor: int
    paid_minor: int
    available_minor: int
    available: str = Field(description="available_minor as a decimal amount")


class FundRead(BaseModel):
    id: int
    brand_id: int
    region_id: int
    partner_id: int
    partner_name: str
    period: str
    starts_on: date
    ends_on: date
    currency: str
    coop_share_bp: int
    eligible_channels: list[str]
    claim_window_days: int
    created_at: datetime
    balance: BalanceRead


class AllocationRead(BaseModel):
    funds: list[FundRead]
    created: int = Field(description="funds created by this allocation")
    allocated: int = Field(description="allocation entries written (0 when replayed)")


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    fund_id: int
    kind: LedgerKind
    amount_minor: int
    gross_minor: int
    paid_minor: int
    channel: str
    quantity: int
    partner_campaign_id: int | None
    print_order_id: int | None
    claim_id: int | None
    key: str
    note: str
    by_user_id: int | None
    at: datetime


class CheckRead(BaseModel):
    fund_id: int
    balanced: bool
    problems: list[str]
    balance: BalanceRead


class CostRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: CostChannel
    format: str = Field("", max_length=8, pattern=r"^[A-Za-z0-9]*$")
    min_quantity: int = Field(1, ge=1, le=10**9)
    max_quantity: int | None = Field(None, ge=1, le=10**9)
    unit: str = Field(min_length=1, max_length=32, description="per unit, e.g. 0.05")
    currency: str = Field(min_length=3, max_length=3)


class CostRatesPut(BaseModel):
    """The brand's whole rate card: it replaces every rate the brand had."""

    model_config = ConfigDict(extra="forbid")
    rates: list[CostRateIn] = Field(max_length=200)


class CostRateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: CostChannel
    format: str
    min_quantity: int
    max_quantity: int | None
    unit_minor: int
    currency: str
    updated_at: datetime


class SheetRowProblem(BaseModel):
    row: int
    column: str
    message: SaidText  # the portal shows it in the reader's language; JSON: the English


class ImportReport(BaseModel):
    """A sheet booked in full (a refused sheet is a 422 problem listing its cells)."""

    imported: bool
    rows: int
    funds: list[FundRead] = Field(default_factory=list)
