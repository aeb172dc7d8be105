"""API shapes for brand blocks (the writable fields live in content.blocks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class BrandBlockRead(BaseModel):
    kind: str
    version: int
    content: dict[str, Any]
    updated_by: int
    updated_at: datetime
    # The block as templates show it: email and print markup, and the plain-text part's text.
    html: str
    text: str
