"""Ending a user's sign-ins: the per-user session generation.

Access tokens and portal session cookies are stateless; each carries the user's
`session_generation` from when it was issued, and every request compares it with the user's
row. Raising the number ends every access token and portal session of the user at once (there
is no ending just one). API tokens (brt_...) do not carry it: they are revoked one by one.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from models.org import User


def end_sessions(session: Session, user_id: int) -> None:
    """Raise the user's generation in one UPDATE (two concurrent calls both count), inside the
    caller's transaction."""
    session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(session_generation=col(User.session_generation) + 1)
    )
