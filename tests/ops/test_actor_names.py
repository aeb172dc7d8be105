"""Timelines name who acted: people by name (else email), automatic steps as "system", with
one user query per timeline; demo users carry people's names and a re-seed keeps them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, event
from sqlmodel import Session, select

from models.org import User
from models.workflow_io import TimelineEntry
from scripts.demo.organisation import DEMO_NAMES, seed_demo
from services.actor_names import audit_actor_names, named_timeline, user_id_of


def _user(s: Session, email: str) -> User:
    return s.exec(select(User).where(User.email == email)).one()


def _entry(seq: int, actor_id: int | None, on_behalf_of: int | None = None) -> TimelineEntry:
    return TimelineEntry(
        seq=seq,
        at=datetime(2026, 3, 1, 9, seq, tzinfo=UTC),
        event="submit",
        from_state="drafting",
        to_state="submitted",
        actor_id=actor_id,
        on_behalf_of=on_behalf_of,
    )


def test_audit_actor_strings() -> None:
    assert user_id_of("12") == 12 and user_id_of("user:7") == 7
    assert user_id_of("system") is None and user_id_of("workflow:pc-1") is None
    assert user_id_of("contact:3") is None


def test_names_in_one_query_with_fallbacks(demo: Engine) -> None:
    with Session(demo) as s:
        gm = _user(s, "gm.amsterdam@northwind.example")
        editor = _user(s, "editor.amsterdam@northwind.example")
        editor.full_name = ""  # no name: the email stands in
        s.add(editor)
        s.commit()
        gm_id, editor_id, brand_id = gm.id, editor.id, gm.brand_id
        queries: list[str] = []

        def count(*args: object) -> None:
            queries.append(str(args[2]))

        event.listen(demo, "before_cursor_execute", count)
        try:
            rows = named_timeline(
                s,
                [_entry(1, None), _entry(2, editor_id), _entry(3, gm_id, on_behalf_of=editor_id)],
                brand_id,
            )
            audit = audit_actor_names(
                s, [str(gm_id), f"user:{gm_id}", "system", "workflow:x", "contact:4"], brand_id
            )
        finally:
            event.remove(demo, "before_cursor_execute", count)
        assert len(queries) == 2, queries  # one per timeline, not one per row
    assert [r.actor_name for r in rows] == [
        "system",
        "editor.amsterdam@northwind.example",
        "Daan Bakker, Amsterdam",
    ]
    assert rows[2].on_behalf_of_name == "editor.amsterdam@northwind.example"
    assert rows[0].on_behalf_of_name is None and rows[1].actor_id == editor_id  # ids stay
    assert audit == {
        str(gm_id): "Daan Bakker, Amsterdam",
        f"user:{gm_id}": "Daan Bakker, Amsterdam",
        "system": "system",
        "workflow:x": "system",
        "contact:4": "contact",
    }


def test_another_brands_user_is_not_named(demo: Engine) -> None:
    with Session(demo) as s:
        other = _user(s, "admin@contoso.example")
        gm = _user(s, "gm.amsterdam@northwind.example")
        names = audit_actor_names(s, [str(other.id)], gm.brand_id)
    assert names == {str(other.id): f"user {other.id}"}


def test_demo_users_have_peoples_names_and_a_reseed_keeps_edits(demo: Engine) -> None:
    with Session(demo) as s:
        users = {u.email: u for u in s.exec(select(User)).all()}
        for email, name in DEMO_NAMES.items():
            assert users[email].full_name == name
        assert users["editor.amsterdam@northwind.example"].full_name == "Sanne de Vries, Amsterdam"
        assert "_" not in " ".join(u.full_name for u in users.values())  # no role slugs left
        # Seeded before names existed: a re-seed gives the person a name; a name someone chose
        # stays.
        users["gm.berlin@northwind.example"].full_name = "Berlin partner_manager"
        users["gm.hamburg@northwind.example"].full_name = "Frau Fischer-Wagner"
        s.commit()
        seed_demo(s, "x")
        s.commit()
        assert _user(s, "gm.berlin@northwind.example").full_name == "Jonas Weber, Berlin"
        assert _user(s, "gm.hamburg@northwind.example").full_name == "Frau Fischer-Wagner"
        assert _user(s, "gm.berlin@northwind.example").password_hash != "x"  # nothing else
