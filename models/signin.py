"""Sign-in failures per client address, counted in fixed windows (services.accounts)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class SignInThrottle(SQLModel, table=True):
    # The client address as core.client_address gives it (an IPv6 address by its /64).
    client: str = Field(primary_key=True, max_length=64)
    # Epoch seconds at which the window starts (a multiple of the window's length).
    window_start: int = Field(primary_key=True, index=True)
    # Failed sign-ins, plus attempts still being checked (see services.accounts).
    failures: int = Field(default=0)
