"""The shared send-rate clock: one row per transport key, read and advanced under a lock."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class SendRateSlot(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=200)
    # Epoch seconds at which the next message may go; reservations move it forward.
    next_free_at: float = Field(default=0.0)
