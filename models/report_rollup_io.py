"""What ReportRollupWorkflow and its activities exchange (plain data, safe to pass into the
workflow sandbox)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class BrandRollupInput(BaseModel):
    brand_id: int
    today: date


class BrandRollup(BaseModel):
    """One brand's outcome: the days (re)closed, or why it failed."""

    brand_id: int
    closed_from: date | None = None
    closed_until: date | None = None
    days: int = 0
    rows: int = 0
    error: str | None = None


class ReportRollupSummary(BaseModel):
    today: date
    brands: list[BrandRollup] = Field(default_factory=list)

    @property
    def failed(self) -> list[BrandRollup]:
        return [b for b in self.brands if b.error is not None]
