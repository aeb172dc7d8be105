"""Rich-text slots in the partner's form without a browser: the textarea is marked for the
editor (static/richtext.js) with translated labels and keeps working as a plain field, the
script is served as JavaScript and never sets HTML from a string, the live counter gets its
pattern in the reader's language, and whatever reaches the server through a rich-text slot
leaves it sanitised (kept, shown again and previewed)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.datastructures import FormData

from api.portal import slot_form
from api.portal.static_files import STATIC
from api.portal.web import env
from content.spec import Slot, SlotKind, TemplateContent
from i18n.context import speaking
from tests.approvals.test_api import campaign_row, partner_campaign
from tests.portal.test_portal import portal, sign_in  # noqa: F401  (the fixture)

EDITOR = "editor.amsterdam@northwind.example"
DAY = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
PAYLOAD = (
    '<p>Hi <b>there</b><img src=x onerror="window.__pwned=1"></p>'
    "<script>window.__pwned=2</script>"
    '<p><a href="javascript:alert(1)">click</a> {{ 7*7 }}</p>'
)
CLEAN = '<p>Hi <b>there</b></p><p><a rel="noopener noreferrer">click</a> {{ 7*7 }}</p>'


@pytest.fixture
def pc(demo: Engine) -> int:
    """Amsterdam's partner campaign of "Open day" (its intro is rich text, at most 600)."""
    return partner_campaign(demo, campaign_row(demo, "gm", launched=True), "amsterdam")


def _tag(page: str, element_id: str) -> str:
    found = re.search(rf'<(?:textarea|input)[^>]* id="{element_id}"[^>]*>', page)
    assert found, element_id
    return found.group(0)


def test_the_rich_text_field_is_marked_for_the_editor_in_dutch(
    portal: TestClient,  # noqa: F811
    pc: int,
) -> None:
    sign_in(portal, EDITOR)
    page = portal.get(f"/partner-campaigns/{pc}").text
    assert '<script src="/static/richtext.js" defer></script>' in page
    intro = _tag(page, "f-intro")
    assert intro.startswith("<textarea") and 'name="slot__intro"' in intro
    for attribute in (
        "data-richtext",
        'data-label-toolbar="Opmaak"',
        'data-label-bold="Vet"',
        'data-label-italic="Cursief"',
        'data-label-link="Link"',
        'data-label-bullets="Opsomming"',
        'data-label-numbers="Genummerde lijst"',
        'data-label-address="Linkadres"',
        'data-label-add="Link toevoegen"',
        'data-label-cancel="Annuleren"',
        'data-max="600"',
        "data-counter",
        'aria-describedby="f-intro-count"',
    ):
        assert attribute in intro, attribute
    # The server counts the visible text of rich text: no maxlength counting the markup.
    assert "maxlength" not in intro
    # HQ's text, escaped in the textarea: the form works without JavaScript.
    assert "&lt;p&gt;Bring a friend and try every class for free.&lt;/p&gt;" in page
    assert '<label for="f-intro">Inleiding</label>' in page
    # The counters carry their pattern in Dutch; the JavaScript fills in the count.
    assert 'id="f-intro-count" data-counter-text="{count} van 600 tekens"' in page
    assert 'id="f-headline-count" data-counter-text="{count} van 60 tekens"' in page
    # Plain text fields are not rich text and keep their maxlength.
    headline = _tag(page, "f-headline")
    assert "data-richtext" not in headline and 'maxlength="60"' in headline
    # The script only on the page that has slot fields.
    assert "richtext.js" not in portal.get("/inbox").text


def test_the_editor_script_is_served_as_javascript(portal: TestClient) -> None:  # noqa: F811
    resp = portal.get("/static/richtext.js")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/javascript")
    assert resp.headers["x-content-type-options"] == "nosniff"
    script = resp.text
    assert script == (STATIC / "richtext.js").read_text()
    assert "DOMParser" in script and "[data-richtext]" in script
    # Never HTML from a string into the page, never code from a string, no prompt window.
    code = "\n".join(re.sub(r"//.*", "", line) for line in script.splitlines())
    for forbidden in (
        r"innerHTML\s*=",
        r"outerHTML\s*=",
        r"insertAdjacentHTML",
        r"\beval\(",
        r"new Function",
        r"document\.write",
        r"\bprompt\(",
    ):
        assert not re.search(forbidden, code), forbidden
    # The one place that hands markup to the editor hands it the filtered copy.
    assert re.findall(r'execCommand\("insertHTML", false, ([\w.]+)\)', code) == ["box.innerHTML"]
    assert "box = cleanInto(inert(html)" in code


def _per_language_rich_text() -> slot_form.SlotField:
    content = TemplateContent(
        locales=["en", "de"],
        slots=[
            Slot(
                name="story",
                kind=SlotKind.rich_text,
                per_locale=True,
                max_length=300,
                label={"en": "Story"},
                default={"en": "<p>Our story</p>", "de": "<p>Unsere Geschichte</p>"},
            )
        ],
    )
    inputs = slot_form._language_inputs(content, "story", None, None, {})
    return slot_form.SlotField(
        name="story",
        input_name="slot__story",
        label="Story",
        help="",
        control=slot_form.CONTROL[SlotKind.rich_text],
        value="",
        default="",
        required=False,
        max_length=300,
        languages=inputs,
    )


def test_each_language_of_a_per_language_rich_text_gets_the_editor() -> None:
    field = _per_language_rich_text()
    with speaking("de"):
        page = env.get_template("_slot_field.html").render(f=field)
    for locale, text in (("en", "Our story"), ("de", "Unsere Geschichte")):
        tag = _tag(page, f"f-story-{locale}")
        assert tag.startswith("<textarea") and f'name="slot__story__{locale}"' in tag
        assert f'lang="{locale}"' in tag and "data-richtext" in tag
        assert 'data-label-bold="Fett"' in tag and 'data-label-bullets="Aufzählung"' in tag
        assert 'data-max="300"' in tag and "maxlength" not in tag
        assert f"&lt;p&gt;{text}&lt;/p&gt;</textarea>" in page
        assert f'id="f-story-{locale}-count" data-counter-text="{{count}} von 300 Zeichen"' in page


def test_posted_rich_text_is_kept_sanitised() -> None:
    content = TemplateContent(
        locales=["en", "de"],
        slots=[
            Slot(name="intro", kind=SlotKind.rich_text, label={"en": "Intro"}),
            Slot(name="story", kind=SlotKind.rich_text, per_locale=True, label={"en": "Story"}),
            Slot(name="headline", kind=SlotKind.text, label={"en": "Headline"}),
        ],
    )
    values = slot_form.values_from(
        FormData(
            [
                ("slot__intro", PAYLOAD),
                ("slot__story__en", "<p><strong>Hi</strong></p><ul><li>one</li></ul>"),
                ("slot__story__de", "<script>window.__pwned=3</script>"),  # nothing left
                ("slot__headline", "<b>not</b> rich"),
            ]
        ),
        content,
    )
    assert values == {
        "intro": CLEAN,
        "story": {"en": "<p><strong>Hi</strong></p><ul><li>one</li></ul>"},
        "headline": "<b>not</b> rich",  # plain text stays as typed: it is escaped when shown
    }


def test_a_refused_form_shows_the_rich_text_sanitised_and_the_preview_is_clean(
    portal: TestClient,  # noqa: F811
    pc: int,
) -> None:
    token = sign_in(portal, EDITOR)
    resp = portal.post(
        f"/partner-campaigns/{pc}/content",
        data={
            "csrf_token": token,
            "action": "save",
            "slot__intro": PAYLOAD,
            "slot__event_date": "morgen",  # refused: the form comes back with what was posted
        },
    )
    assert resp.status_code == 422
    page = resp.text
    assert "Datum: moet een datum zijn als JJJJ-MM-DD" in page
    textarea = page.split('id="f-intro"', 1)[1].split("</textarea>", 1)[0]
    assert html.unescape(textarea.split(">", 1)[1]) == CLEAN
    for bad in ("onerror", "__pwned", "&lt;script", "javascript:"):
        assert bad not in page, bad

    preview = portal.post(
        f"/partner-campaigns/{pc}/preview",
        data={"slot__intro": PAYLOAD, "slot__event_date": DAY, "preview_locale": "en"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert preview.status_code == 200, preview.text[:500]
    srcdoc = html.unescape(preview.text.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "Hi <b>there</b>" in srcdoc and "{{ 7*7 }}" in srcdoc  # formatting kept, text inert
    for bad in ("onerror", "__pwned", "<script", "javascript:", '<img src="x"'):
        assert bad not in srcdoc, bad
