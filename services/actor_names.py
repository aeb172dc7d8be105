"""Who acted, as people read it: audit actors and workflow actor ids turned into names.

Audit rows store the actor as a string ("12", "user:12", "system", "workflow:<id>",
"contact:<id>"); workflow timelines store a user id or None. Both are resolved with one
query per timeline, never one per row.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from models.template_schemas import TimelineEntryRead
from models.workflow_io import TimelineEntry
from services.accounts import display_names

SYSTEM = "system"
CONTACT = "contact"


def user_id_of(actor: str) -> int | None:
    """The user id an audit actor string names, else None (system, workflow, contact)."""
    raw = actor.removeprefix("user:")
    return int(raw) if raw.isdigit() else None


def names_by_id(
    session: Session, ids: Iterable[int | None], brand_id: int | None = None
) -> dict[int, str]:
    """Display names of the given user ids (None skipped), in one query."""
    return display_names(session, (i for i in ids if i is not None), brand_id)


def name_of(names: dict[int, str], user_id: int | None) -> str:
    """A user's name from a looked-up map; "system" when no person acted."""
    if user_id is None:
        return SYSTEM
    return names.get(user_id) or f"user {user_id}"


def audit_actor_names(
    session: Session, actors: Iterable[str], brand_id: int | None = None
) -> dict[str, str]:
    """Each distinct audit actor string mapped to what a person reads."""
    distinct = set(actors)
    names = names_by_id(session, (user_id_of(a) for a in distinct), brand_id)
    return {
        a: CONTACT if a.startswith("contact:") else name_of(names, user_id_of(a)) for a in distinct
    }


def named_timeline(
    session: Session, entries: Iterable[TimelineEntry], brand_id: int | None = None
) -> list[TimelineEntryRead]:
    """A workflow timeline with actor (and on-behalf-of) names, one user query in all."""
    rows = list(entries)
    names = names_by_id(
        session, [e.actor_id for e in rows] + [e.on_behalf_of for e in rows], brand_id
    )
    return [
        TimelineEntryRead(
            **e.model_dump(),
            actor_name=name_of(names, e.actor_id),
            on_behalf_of_name=name_of(names, e.on_behalf_of) if e.on_behalf_of else None,
        )
        for e in rows
    ]
