"""Sign-in links in invitation and change-request emails (services.signin_links): the token
rules (tampered, re-encoded, expired, replayed, another user's, another partner's campaign, an
inactive user), the fallback to the sign-in page with the campaign as the next page, the
email carrying the link, and following it landing signed in on the form."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.portal import session as cookies
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.audit import AuditEvent
from models.links import UsedSignInLink
from models.org import Partner, User
from services import signin_links
from services.notifications import plan
from storage.local import LocalBlobStore
from tests.campaigns.test_notifications import EDITOR_AMS, GM_AMS, _parts, _row, _user

EDITOR_HAM = "editor.hamburg@northwind.example"


@pytest.fixture
def client(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    """A browser-like client over https (the session cookie is Secure outside dev)."""
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _page(client: TestClient, token: str) -> str:
    """GET the landing page; the CSRF token of its form."""
    resp = client.get(f"/portal-link/{token}", follow_redirects=False)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    found = re.search(r'name="csrf_token" value="([^"]+)"', resp.text)
    assert found, resp.text
    return found.group(1)


def _use(client: TestClient, token: str) -> str:
    """Follow the link as a browser does (page, then its button); the redirect's target."""
    csrf = _page(client, token)
    resp = client.post(f"/portal-link/{token}", data={"csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def _refused(client: TestClient, token: str, pc_id: int | None) -> None:
    """Both GET and (with a valid CSRF token) POST fall back to the sign-in page, naming the
    form as the next page when the token names one."""
    resp = client.get(f"/portal-link/{token}", follow_redirects=False)
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert urlsplit(location).path == "/login"
    assert query["next"] == [f"/partner-campaigns/{pc_id}" if pc_id else "/inbox"]
    page = client.get(location)
    assert page.status_code == 200
    assert "expired or was already used" in page.text
    assert "br_session" in client.cookies
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    post = client.post(
        f"/portal-link/{token}", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert post.status_code == 303 and post.headers["location"] == location


def _signed_in_as(client: TestClient, settings: Settings) -> int | None:
    found = cookies.decode(settings, client.cookies.get(cookies.COOKIE))
    return found.user_id if found else None


def test_the_link_signs_in_once_and_opens_the_form(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, state="drafting", submitted_by=None)
    editor = _user(demo, EDITOR_AMS)
    token = signin_links.make_token(settings, row.id or 0, editor.id or 0)
    before = client.get(f"/portal-link/{token}", follow_redirects=False)
    assert before.status_code == 200 and _signed_in_as(client, settings) is None  # GET: nothing
    assert _use(client, token) == f"/partner-campaigns/{row.id}"
    assert _signed_in_as(client, settings) == editor.id
    form = client.get(f"/partner-campaigns/{row.id}")
    assert form.status_code == 200 and 'id="content-form"' in form.text
    # Signed in already as that user: a second GET goes straight to the form.
    again = client.get(f"/portal-link/{token}", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/partner-campaigns/{row.id}"
    with Session(demo) as s:
        assert s.exec(select(UsedSignInLink)).one().user_id == editor.id
        events = s.exec(select(AuditEvent).where(AuditEvent.action == signin_links.ACTION)).all()
        assert [e.comment for e in events] == ["sign-in by link: signed in"]
    # Replayed in another browser: the link is used up.
    client.cookies.clear()
    _refused(client, token, row.id)


def test_a_sign_in_by_link_forgets_used_links_past_their_expiry(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, state="drafting", submitted_by=None)
    editor = _user(demo, EDITOR_AMS)
    now = datetime.now(UTC)
    with Session(demo) as s:
        for digest, expires in (
            ("a" * 64, now - timedelta(minutes=1)),
            ("b" * 64, now + timedelta(days=1)),
        ):
            s.add(
                UsedSignInLink(
                    digest=digest,
                    user_id=editor.id or 0,
                    partner_campaign_id=row.id or 0,
                    expires_at=expires,
                )
            )
        s.commit()
    token = signin_links.make_token(settings, row.id or 0, editor.id or 0)
    assert _use(client, token) == f"/partner-campaigns/{row.id}"
    with Session(demo) as s:
        kept = {u.digest[:1] for u in s.exec(select(UsedSignInLink)).all()}
    assert "a" not in kept and "b" in kept and len(kept) == 2  # the expired one went


def test_tampered_re_encoded_and_expired_links_fall_back_to_sign_in(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, state="drafting", submitted_by=None)
    editor = _user(demo, EDITOR_AMS)
    good = signin_links.make_token(settings, row.id or 0, editor.id or 0)
    body, _, mac = good.partition(".")
    padded = base64.urlsafe_b64encode(base64.urlsafe_b64decode(body + "==")).decode()
    if padded == body:  # a body of a multiple of four characters has no padding to add
        padded = body + "===="
    expired = signin_links.make_token(
        settings, row.id or 0, editor.id or 0, now=datetime.now(UTC) - timedelta(days=30)
    )
    for token, pc in (
        (good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"), row.id),  # MAC changed
        (f"{padded}.{mac}", None),  # padded: not the canonical text
        (f"{body}.{mac}=", None),
        (good.swapcase(), None),
        (expired, row.id),
        ("not-a-token", None),
    ):
        client.cookies.clear()
        _refused(client, token, pc if token == expired else None)
        assert _signed_in_as(client, settings) is None
    # An approval link is no sign-in link, even with the same claims.
    from services.action_links import make_token as action_token

    client.cookies.clear()
    _refused(client, action_token(settings, row.id or 0, editor.id or 0, "approve"), None)
    with Session(demo) as s:
        assert s.exec(select(UsedSignInLink)).all() == []


def test_other_users_other_partners_and_inactive_users_are_refused(
    client: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, state="drafting", submitted_by=None)
    hamburg = _user(demo, EDITOR_HAM)
    # A Hamburg editor's link to Amsterdam's campaign (as if HQ had once sent it): no access.
    _refused(client, signin_links.make_token(settings, row.id or 0, hamburg.id or 0), row.id)
    # A link names its user: it does not sign in anyone else, and a session of another user
    # in this browser is not reused.
    editor = _user(demo, EDITOR_AMS)
    token = signin_links.make_token(settings, row.id or 0, editor.id or 0)
    client.cookies.clear()
    with Session(demo) as s:
        other = s.exec(select(User).where(User.email == GM_AMS)).one()
    found = cookies.new_session(settings, other.id, generation=other.session_generation)
    client.cookies.set(cookies.COOKIE, cookies.encode(settings, found), domain="testserver.local")
    assert _use(client, token) == f"/partner-campaigns/{row.id}"
    assert _signed_in_as(client, settings) == editor.id
    # Inactive: refused even with a fresh link.
    with Session(demo) as s:
        user = s.get(User, editor.id)
        assert user is not None
        user.is_active = False
        s.add(user)
        s.commit()
    client.cookies.clear()
    _refused(client, signin_links.make_token(settings, row.id or 0, editor.id or 0), row.id)
    with Session(demo) as s:
        reasons = [
            (e.after or {}).get("outcome")
            for e in s.exec(
                select(AuditEvent)
                .where(AuditEvent.action == signin_links.ACTION)
                .order_by(col(AuditEvent.id))
            ).all()
        ]
    assert "no_access" in reasons and "inactive" in reasons and "signed_in" in reasons


@pytest.mark.parametrize("kind", ["invited", "changes_requested"])
def test_partner_emails_carry_each_editor_their_own_link(
    client: TestClient, demo: Engine, settings: Settings, kind: str
) -> None:
    notice, row = _row(demo, state="drafting", submitted_by=None)
    notice = notice.model_copy(update={"kind": kind, "stage": "drafting", "approval": None})
    with Session(demo) as s:
        out = plan(s, settings, notice)
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
    assert out and all(o.message for o in out)
    for outgoing in out:
        text, html = _parts(outgoing.message)
        [link] = [w for w in text.split() if "/portal-link/" in w]
        assert link.replace("&", "&amp;") in html
        token = signin_links.check(
            Session(demo), settings, link.rsplit("/portal-link/", 1)[1]
        ).token
        assert token is not None
        assert (token.user_id, token.partner_campaign_id) == (outgoing.recipient.user_id, row.id)
    assert amsterdam.id == row.partner_id
    # The editor follows the email's link and lands signed in on the form.
    editor = _user(demo, EDITOR_AMS)
    [mine] = [o for o in out if o.recipient.user_id == editor.id]
    text, _ = _parts(mine.message)
    [link] = [w for w in text.split() if "/portal-link/" in w]
    path = urlsplit(link).path
    assert _use(client, path.rsplit("/", 1)[1]) == f"/partner-campaigns/{row.id}"
    assert client.get(f"/partner-campaigns/{row.id}").status_code == 200
