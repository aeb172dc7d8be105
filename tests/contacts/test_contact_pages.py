"""The portal's contacts and segments pages: list, search, add with errors at their fields,
CSV import with its row report, segments with a live count, partner boundaries and CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.portal import session as cookies
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.contact_schemas import SegmentFilter
from models.contacts import Contact, Segment
from models.org import Membership, Partner, User
from scripts.demo.contacts import seed_demo_contacts
from services import segments
from storage.local import LocalBlobStore

EDITOR_AMS = "editor.amsterdam@northwind.example"
INJECTION = "<script>alert(1)</script>{{ 7*7 }}{% raw %}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _app_client(settings: Settings, engine: Engine, blob_store: LocalBlobStore) -> TestClient:
    app = create_app(
        settings, engine=engine, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def contacts_demo(demo: Engine) -> Engine:
    """The demo with contacts; Amsterdam's editor chose English (the pages' own words are
    asserted in English; test_the_pages_speak_the_partners_language covers the others)."""
    with Session(demo) as s:
        seed_demo_contacts(s)
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
        editor.locale = "en"
        s.add(editor)
        s.commit()
    return demo


@pytest.fixture
def portal(
    settings: Settings, contacts_demo: Engine, blob_store: LocalBlobStore
) -> Iterator[TestClient]:
    with _app_client(settings, contacts_demo, blob_store) as c:
        yield c


def sign_in_as(client: TestClient, settings: Settings, engine: Engine, email: str) -> str:
    """The session cookie of `email` (no password hashing per test); returns its CSRF token."""
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    assert user.id is not None
    found = cookies.new_session(settings, user.id, generation=user.session_generation)
    client.cookies.set(cookies.COOKIE, cookies.encode(settings, found))
    page = client.get("/contacts")
    token = CSRF.search(page.text)
    assert token, page.text[:500]
    return token.group(1)


def partner_id(engine: Engine, slug: str) -> int:
    with Session(engine) as s:
        return s.exec(select(Partner.id).where(Partner.slug == slug)).one() or 0


def emails_of(engine: Engine, slug: str) -> list[str]:
    pid = partner_id(engine, slug)
    with Session(engine) as s:
        return list(
            s.exec(select(Contact.email).where(Contact.partner_id == pid).order_by(Contact.id))
        )


def segment_of(engine: Engine, slug: str, name: str) -> Segment:
    pid = partner_id(engine, slug)
    with Session(engine) as s:
        return s.exec(select(Segment).where(Segment.partner_id == pid, Segment.name == name)).one()


# The list and the search ---------------------------------------------------------------------


def test_the_list_shows_the_partners_own_contacts_with_their_consent(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    page = portal.get("/contacts")
    assert page.status_code == 200
    assert 'href="/contacts"' in page.text and 'href="/segments"' in page.text  # navigation
    first = emails_of(contacts_demo, "amsterdam")[0]
    assert first in page.text
    assert not set(emails_of(contacts_demo, "hamburg")) & set(
        re.findall(r"[\w.+-]+@[\w.-]+", page.text)
    )
    assert "Consent given" in page.text or "Consent not asked" in page.text
    assert 'rel="next"' in page.text  # more than one page of contacts: paged


def test_search_finds_by_email_name_and_phone(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    with Session(contacts_demo) as s:
        texted = s.exec(
            select(Contact).where(Contact.partner_id == pid, Contact.phone.is_not(None))  # type: ignore[union-attr]
        ).first()
        other = s.exec(select(Contact).where(Contact.partner_id == pid)).all()[-1]
    assert texted is not None and texted.phone
    by_email = portal.get("/contacts", params={"q": other.email.upper()})
    assert other.email in by_email.text
    by_phone = portal.get("/contacts", params={"q": "0" + texted.phone[3:]})  # national: 06...
    assert texted.email in by_phone.text and other.email not in by_phone.text
    none = portal.get("/contacts", params={"q": "nobody-at-all"})
    assert "No contact matches" in none.text


# Adding a contact ------------------------------------------------------------------------------


def test_the_add_form_puts_each_error_next_to_its_field(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    form = {
        "csrf_token": token,
        "partner_id": str(pid),
        "email": "not-an-address",
        "consent_status": "granted",
        "name": "Kept as typed",
    }
    bad = portal.post("/contacts", data=form)
    assert bad.status_code == 422
    assert 'id="email-error"' in bad.text and 'aria-describedby="email-error"' in bad.text
    assert "Kept as typed" in bad.text  # nothing typed is lost
    form["email"] = "new.member@example.com"
    no_source = portal.post("/contacts", data=form)
    assert no_source.status_code == 422
    assert 'id="consent_source-error"' in no_source.text
    form["channel"] = "sms"
    form["consent_source"] = "front desk"
    no_phone = portal.post("/contacts", data=form)
    assert 'id="channel-error"' in no_phone.text and "SMS needs a phone number" in no_phone.text
    form["channel"] = "email"
    form["phone"] = "12"
    assert 'id="phone-error"' in portal.post("/contacts", data=form).text
    assert "new.member@example.com" not in emails_of(contacts_demo, "amsterdam")


def test_adding_a_contact_keeps_its_text_inert(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    form = {
        "csrf_token": token,
        "partner_id": str(pid),
        "email": "inert@example.com",
        "name": INJECTION,
        "phone": "06 1234 5678",
        "consent_status": "granted",
        "consent_source": "{{ 7*7 }}",
        "tags": "yoga, family",
    }
    done = portal.post("/contacts", data=form)
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == f"/contacts?partner_id={pid}&done=added"
    with Session(contacts_demo) as s:
        made = s.exec(select(Contact).where(Contact.email == "inert@example.com")).one()
    assert made.phone == "+31612345678" and made.tags == ["yoga", "family"]
    page = portal.get("/contacts", params={"q": "inert@"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}{% raw %}" in page.text
    assert "<script>alert" not in page.text and "49" not in page.text.split("inert@")[1][:400]
    again = portal.post("/contacts", data=form)
    assert again.status_code == 422 and "already exists" in again.text


def test_forms_without_the_csrf_token_are_refused(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    seg = segment_of(contacts_demo, "amsterdam", "Yoga fans")
    for url, data in (
        ("/contacts", {"partner_id": str(pid), "email": "x@example.com"}),
        ("/segments", {"partner_id": str(pid), "name": "Sneaky"}),
        (f"/segments/{seg.id}", {"name": "Renamed"}),
    ):
        resp = portal.post(url, data=data)
        assert resp.status_code == 403 and "form has expired" in resp.text, url
    files = {"file": ("c.csv", b"email,consent_status\na@example.com,granted\n", "text/csv")}
    resp = portal.post("/contacts/import", data={"partner_id": str(pid)}, files=files)
    assert resp.status_code == 403
    assert "x@example.com" not in emails_of(contacts_demo, "amsterdam")
    assert segment_of(contacts_demo, "amsterdam", "Yoga fans").name == "Yoga fans"


# Import ----------------------------------------------------------------------------------------


def _import(client: TestClient, token: str, pid: int, data: bytes) -> str:
    files = {"file": ("contacts.csv", data, "text/csv")}
    resp = client.post(
        "/contacts/import", data={"csrf_token": token, "partner_id": str(pid)}, files=files
    )
    return f"{resp.status_code}\n{resp.text}"


def test_import_reports_each_row_and_a_poisoned_row_stops_nothing(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    existing = emails_of(contacts_demo, "amsterdam")[0]
    csv_text = (
        "email,name,consent_status,consent_source\n"
        "fresh@example.com,Fresh,granted,web form\n"
        'poison@example.com,"<script>alert(1)</script>{{ 7*7 }}",maybe,\n'
        "not an email,Nobody,granted,desk\n"
        f"{existing},Renamed Person,denied,\n"
        "fresh@example.com,Twice,granted,web form\n"
    )
    out = _import(portal, token, pid, csv_text.encode())
    status, html = out.split("\n", 1)
    assert status == "200", html[:500]
    assert "1 added, 1 updated, 0 unchanged, 3 refused." in html
    assert "unknown consent_status &#39;maybe&#39;" in html or "unknown consent_status" in html
    assert "bad email" in html and "duplicate within the file" in html
    assert "<script>alert" not in html and ">49<" not in html
    emails = emails_of(contacts_demo, "amsterdam")
    assert "fresh@example.com" in emails and "poison@example.com" not in emails
    with Session(contacts_demo) as s:
        renamed = s.exec(select(Contact).where(Contact.email == existing)).one()
    assert renamed.name == "Renamed Person"


def test_a_malformed_or_missing_file_changes_nothing_and_says_why(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    before = emails_of(contacts_demo, "amsterdam")
    for data, words in (
        (b"\xff\xfe\x00b\x00i\x00n", "is not UTF-8 text"),
        (b"mail,phone_number\nx@example.com,1\n", "has unknown columns"),
        (b"", "is empty"),
    ):
        status, html = _import(portal, token, pid, data).split("\n", 1)
        assert status == "422" and "Nothing was imported" in html and words in html, html[:800]
    missing = portal.post("/contacts/import", data={"csrf_token": token, "partner_id": str(pid)})
    assert missing.status_code == 422 and "Choose a CSV file" in missing.text
    assert emails_of(contacts_demo, "amsterdam") == before


def test_a_file_over_the_import_limit_is_refused_in_plain_words(
    settings: Settings, contacts_demo: Engine, blob_store: LocalBlobStore
) -> None:
    small = settings.model_copy(update={"contact_import_max_bytes": 2048})
    with _app_client(small, contacts_demo, blob_store) as client:
        token = sign_in_as(client, small, contacts_demo, EDITOR_AMS)
        pid = partner_id(contacts_demo, "amsterdam")
        rows = "".join(f"big{i}@example.com,granted,desk\n" for i in range(200))
        data = ("email,consent_status,consent_source\n" + rows).encode()
        assert len(data) > 2048
        status, html = _import(client, token, pid, data).split("\n", 1)
        assert status == "422" and "The file is larger than 2 KB" in html
    assert not [e for e in emails_of(contacts_demo, "amsterdam") if e.startswith("big")]


def test_a_signed_in_portal_import_may_be_larger_than_the_body_limit(
    settings: Settings, contacts_demo: Engine, blob_store: LocalBlobStore
) -> None:
    """The import page has the API's import limit (not the 1 MiB body limit), for signed-in
    people only: a stranger's large body is refused before it is read."""
    with _app_client(settings, contacts_demo, blob_store) as client:
        token = sign_in_as(client, settings, contacts_demo, EDITOR_AMS)
        pid = partner_id(contacts_demo, "amsterdam")
        filler = "x" * 200
        rows = "".join(f"bulk{i}@example.com,unknown,{filler}\n" for i in range(5000))
        data = ("email,consent_status,name\n" + rows).encode()
        assert len(data) > settings.max_body_bytes
        status, html = _import(client, token, pid, data).split("\n", 1)
        assert status == "200" and 'class="import-report"' in html
        bulk = [e for e in emails_of(contacts_demo, "amsterdam") if e.startswith("bulk")]
        assert len(bulk) == 5000
        client.cookies.clear()
        files = {"file": ("c.csv", data, "text/csv")}
        stranger = client.post("/contacts/import", data={"partner_id": str(pid)}, files=files)
        assert stranger.status_code == 401


# Segments --------------------------------------------------------------------------------------


def test_a_segment_is_created_and_edited_with_a_live_count(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    pid = partner_id(contacts_demo, "amsterdam")
    listing = portal.get("/segments")
    assert listing.status_code == 200 and "Yoga fans" in listing.text
    assert 'hx-get="/segments/count"' in listing.text
    with Session(contacts_demo) as s:
        partner = s.get(Partner, pid)
        assert partner is not None
        expected = segments.audience_breakdown(
            s, partner.brand_id, pid, SegmentFilter(tags_any=["swimming"], locale_in=["nl"])
        )
    live = portal.get(
        "/segments/count",
        params={"partner_id": pid, "tags_any": "swimming", "locale_in": "nl", "attributes": ""},
        headers={"HX-Request": "true"},
    )
    assert live.status_code == 200
    assert f"<strong>{expected.eligible}</strong>" in live.text
    broken = portal.get(
        "/segments/count", params={"partner_id": pid, "attributes": "no equals sign"}
    )
    assert broken.status_code == 200 and "Correct the rules" in broken.text
    made = portal.post(
        "/segments",
        data={
            "csrf_token": token,
            "partner_id": str(pid),
            "name": "Swimmers",
            "tags_any": "swimming",
            "locale_in": "nl",
            "attributes": "tier=gold|silver",
        },
    )
    assert made.status_code == 303, made.text[:500]
    seg = segment_of(contacts_demo, "amsterdam", "Swimmers")
    assert seg.filter == {
        "tags_any": ["swimming"],
        "locale_in": ["nl"],
        "attributes": [{"key": "tier", "in": ["gold", "silver"]}],
    }
    page = portal.get(made.headers["location"])
    assert page.status_code == 200 and "Segment created." in page.text
    assert "tier=gold|silver" in page.text
    bad = portal.post(
        f"/segments/{seg.id}",
        data={"csrf_token": token, "name": "Yoga fans", "tags_any": "swimming"},
    )
    assert bad.status_code == 422 and 'id="name-error"' in bad.text and "already has" in bad.text
    bad_rule = portal.post(
        f"/segments/{seg.id}",
        data={"csrf_token": token, "name": "Swimmers", "attributes": "Tier Level=1"},
    )
    assert bad_rule.status_code == 422 and 'id="attributes-error"' in bad_rule.text
    saved = portal.post(
        f"/segments/{seg.id}",
        data={"csrf_token": token, "name": INJECTION, "tags_all": "yoga"},
    )
    assert saved.status_code == 303
    shown = portal.get(f"/segments/{seg.id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in shown.text
    assert "<script>alert" not in shown.text
    assert segment_of(contacts_demo, "amsterdam", INJECTION).filter == {"tags_all": ["yoga"]}


# Boundaries ------------------------------------------------------------------------------------


def test_amsterdam_never_sees_or_changes_hamburgs_contacts_or_segments(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    hamburg = partner_id(contacts_demo, "hamburg")
    theirs = segment_of(contacts_demo, "hamburg", "Yoga fans")
    before = emails_of(contacts_demo, "hamburg")
    for url in (
        f"/contacts?partner_id={hamburg}",
        f"/contacts?partner_id={hamburg}&q=a",
        f"/contacts/import?partner_id={hamburg}",
        f"/segments?partner_id={hamburg}",
        f"/segments/{theirs.id}",
        f"/segments/count?partner_id={hamburg}&tags_any=yoga",
    ):
        resp = portal.get(url)
        assert resp.status_code == 404, url
        assert not set(before) & set(re.findall(r"[\w.+-]+@[\w.-]+", resp.text)), url
    posts = (
        ("/contacts", {"partner_id": str(hamburg), "email": "spy@example.com"}),
        ("/segments", {"partner_id": str(hamburg), "name": "Spy"}),
        (f"/segments/{theirs.id}", {"partner_id": str(hamburg), "name": "Taken over"}),
    )
    for url, data in posts:
        resp = portal.post(url, data={**data, "csrf_token": token})
        assert resp.status_code == 404, url
    files = {"file": ("c.csv", b"email,consent_status\nspy@example.com,unknown\n", "text/csv")}
    resp = portal.post(
        "/contacts/import", data={"csrf_token": token, "partner_id": str(hamburg)}, files=files
    )
    assert resp.status_code == 404
    assert emails_of(contacts_demo, "hamburg") == before
    assert segment_of(contacts_demo, "hamburg", "Yoga fans").filter == theirs.filter
    with Session(contacts_demo) as s:
        assert s.exec(select(Segment).where(Segment.name == "Spy")).first() is None


def test_hq_sees_only_partners_that_share_and_several_partners_get_a_picker(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    sign_in_as(portal, settings, contacts_demo, "marketing@northwind.example")
    closed = portal.get("/contacts")
    assert closed.status_code == 200 and "You have no contacts to open here" in closed.text
    hamburg = partner_id(contacts_demo, "hamburg")
    assert portal.get(f"/contacts?partner_id={hamburg}").status_code == 403
    with Session(contacts_demo) as s:
        partner = s.get(Partner, hamburg)
        assert partner is not None
        partner.contacts_shared_with_brand = True
        s.add(partner)
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
        s.add(
            Membership(
                user_id=editor.id or 0,
                brand_id=partner.brand_id,
                role="partner_editor",
                scope_type="partner",
                partner_id=hamburg,
            )
        )
        s.commit()
    shared = portal.get("/contacts")
    assert shared.status_code == 200 and emails_of(contacts_demo, "hamburg")[0] in shared.text
    sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    both = portal.get("/contacts")
    assert '<select id="partner_id" name="partner_id">' in both.text
    assert "Amsterdam</option>" in both.text and "Hamburg</option>" in both.text
    assert (
        emails_of(contacts_demo, "hamburg")[0] in portal.get(f"/contacts?partner_id={hamburg}").text
    )


def test_the_pages_speak_the_partners_language(
    portal: TestClient, settings: Settings, contacts_demo: Engine
) -> None:
    token = sign_in_as(portal, settings, contacts_demo, "editor.hamburg@northwind.example")
    page = portal.get("/contacts")
    assert 'lang="de"' in page.text and "Kontakt hinzufügen" in page.text
    assert "Zeiten in" in page.text
    hamburg = partner_id(contacts_demo, "hamburg")
    bad = portal.post(
        "/contacts",
        data={
            "csrf_token": token,
            "partner_id": str(hamburg),
            "email": "x@example.com",
            "consent_status": "granted",
        },
    )
    assert "Bei erteilter Einwilligung ist die Quelle nötig" in bad.text
    segs = portal.get("/segments")
    assert "Neues Segment" in segs.text and "Kontakte erreichbar" in segs.text


@pytest.mark.parametrize(
    ("locale", "name", "channel"),
    [
        ("nl", "Naam: hoogstens 200 tekens.", "Voorkeur: kies een van de opties."),
        (
            "de",
            "Name: höchstens 200 Zeichen.",
            "Bevorzugt: Wählen Sie einen der angebotenen Werte.",
        ),
    ],
)
def test_the_add_form_names_the_field_in_the_readers_language(
    portal: TestClient,
    settings: Settings,
    contacts_demo: Engine,
    locale: str,
    name: str,
    channel: str,
) -> None:
    with Session(contacts_demo) as s:
        editor = s.exec(select(User).where(User.email == EDITOR_AMS)).one()
        editor.locale = locale
        s.add(editor)
        s.commit()
    token = sign_in_as(portal, settings, contacts_demo, EDITOR_AMS)
    form = {
        "csrf_token": token,
        "partner_id": str(partner_id(contacts_demo, "amsterdam")),
        "email": "member@example.com",
        "name": "<script>x</script>{{7*7}}" * 20,
    }
    bad = portal.post("/contacts", data=form)
    assert bad.status_code == 422 and name in bad.text and 'id="name-error"' in bad.text
    assert "<script>x" not in bad.text and "String should" not in bad.text
    bad = portal.post("/contacts", data={**form, "name": "Ann", "channel": "{{7*7}}"})
    assert bad.status_code == 422 and channel in bad.text
