"""One-click decisions from notification emails: GET shows what will happen, only POST acts.

The signed token is the credential (services.action_links), so the routes are public. GET
never changes anything, because mail scanners and link previewers fetch links on their own;
the person confirms with a POST from the page. The POST acts as the token's user with the
user's current memberships, through the same workflow Update as the API, so the workflow's
validators (roles, stage, four eyes, the comment rule) decide exactly as they do there.

Every value on these pages is autoescaped; the pages send no referrer (the token is in the
URL), are never cached, and cannot be framed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.security import PublicRoute
from core.errors import Problem
from core.settings import Settings
from core.temporal import SERVICE_DOWN
from domain.states import PartnerCampaignState
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, User
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from services import campaign_actions as flow
from services import previews
from services.accounts import principal_for
from services.action_links import ActionToken, read_token
from services.templates import content_of
from services.workflow_updates import StaleDecision

router = APIRouter(tags=["action-links"])

MAX_COMMENT = 2000
VERBS = {"approve": "approve", "request_changes": "request changes to"}
DONE = {"approve": "Approved", "request_changes": "Changes requested"}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
INVALID = "This link is invalid or has expired. Open the campaign in the portal instead."

_PAGES = Environment(
    loader=DictLoader(
        {
            "page.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - Brandrelay</title>
<style>body{font-family:Arial,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;\
color:#1a1a1a;line-height:1.5}textarea{width:100%;min-height:8em}\
button{padding:8px 16px;background:#0b3d91;color:#fff;border:0;border-radius:4px}\
.note{color:#555}.sms{white-space:pre-wrap;background:#e9e9eb;border-radius:12px;\
padding:10px 14px;max-width:24em}</style></head>
<body><h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if sms %}<h2>The SMS</h2>
<p class="note">Contacts who prefer SMS get this instead of the email; you approve both.</p>
<p class="sms">{{ sms }}</p>
{% endif %}{% if form %}<form method="post">
<p><label for="comment">{{ form.label }}</label></p>
<p><textarea id="comment" name="comment" maxlength="{{ max_comment }}"\
{% if form.required %} required{% endif %}></textarea></p>
<p><button type="submit">{{ form.button }}</button></p>
</form>
{% endif %}{% if portal_url %}<p class="note"><a href="{{ portal_url }}">Review it in the portal: \
the email as recipients see it, what changed, and all three decisions</a></p>{% endif %}
</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
)


@dataclass(frozen=True)
class _Form:
    label: str
    button: str
    required: bool


def _page(
    title: str,
    paragraphs: list[str],
    *,
    status: int = 200,
    form: _Form | None = None,
    portal_url: str | None = None,
    sms: str = "",
) -> HTMLResponse:
    html = _PAGES.get_template("page.html").render(
        title=title,
        paragraphs=paragraphs,
        form=form,
        portal_url=portal_url,
        max_comment=MAX_COMMENT,
        sms=sms,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


@dataclass(frozen=True)
class _Subject:
    token: ActionToken
    user: User
    row: PartnerCampaign
    campaign_name: str
    partner_name: str


def _load(session: Session, settings: Settings, raw: str) -> _Subject | None:
    """What the token names, or None when the link must not be used (bad token, unknown or
    inactive user, a partner campaign of another brand)."""
    token = read_token(settings, raw)
    if token is None:
        return None
    user = session.get(User, token.user_id)
    row = session.get(PartnerCampaign, token.partner_campaign_id)
    if user is None or row is None or not user.is_active or user.brand_id != row.brand_id:
        return None
    campaign = session.get(Campaign, row.campaign_id)
    partner = session.get(Partner, row.partner_id)
    return _Subject(
        token=token,
        user=user,
        row=row,
        campaign_name=campaign.name if campaign else f"campaign {row.campaign_id}",
        partner_name=partner.display_name if partner else f"partner {row.partner_id}",
    )


def _portal_url(settings: Settings, row: PartnerCampaign) -> str:
    return f"{settings.public_base_url.rstrip('/')}/partner-campaigns/{row.id}"


def _refused() -> HTMLResponse:
    return _page("Link not valid", [INVALID], status=403)


def _submission(subject: _Subject) -> int:
    """The submission the link is about; a link from before links named theirs can only be
    trusted for the first (the workflow refuses it once there was a second)."""
    return subject.token.revision if subject.token.revision is not None else 1


def _changed(what: str, portal: str, *, status: int = 200) -> HTMLResponse:
    return _page(
        "The content has changed",
        [
            f"{what[0].upper()}{what[1:]} was changed and submitted again after this email was "
            "sent, so this link no longer decides anything: nothing was changed.",
            "Review the current version in the portal; the email about it carries links of "
            "its own.",
        ],
        status=status,
        portal_url=portal,
    )


@router.get(
    "/a/{token}",
    response_class=HTMLResponse,
    summary="Show a one-click decision link's confirmation page",
)
def action_link_page(
    _: PublicRoute, session: SessionDep, settings: SettingsDep, token: str
) -> HTMLResponse:
    """The confirmation page; changes nothing."""
    subject = _load(session, settings, token)
    if subject is None:
        return _refused()
    action = subject.token.action
    who = subject.user.full_name or subject.user.email
    what = f'the campaign "{subject.campaign_name}" for {subject.partner_name}'
    portal = _portal_url(settings, subject.row)
    if subject.row.state != PartnerCampaignState.pending_approval:
        return _page(
            "Nothing to decide",
            [f"{what[0].upper()}{what[1:]} is {subject.row.state}: nothing waits for a decision."],
            portal_url=portal,
        )
    if subject.row.revision and _submission(subject) != subject.row.revision:
        return _changed(what, portal)
    title = "Approve campaign?" if action == "approve" else "Request changes?"
    paragraphs = [
        f"{who}, you are about to {VERBS[action]} {what}.",
        "Nothing happens until you confirm below.",
    ]
    form = (
        _Form("Comment (optional)", "Approve", required=False)
        if action == "approve"
        else _Form("What must change? (required)", "Request changes", required=True)
    )
    sms = _sms_text(session, settings, subject)
    return _page(title, paragraphs, form=form, portal_url=portal, sms=sms)


def _sms_text(session: Session, settings: Settings, subject: _Subject) -> str:
    """The submitted SMS in the campaign's language as its recipients read it, so the approver
    sees what a decision approves besides the email; "" when the template has no SMS (or it
    cannot be shown: the portal then says why)."""
    row = subject.row
    campaign = session.get(Campaign, row.campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None or content_of(version).sms is None:
        return ""
    body = ValuesBody(values=row.values, locale=row.locale, partner_id=row.partner_id)
    try:
        principal = principal_for(session, subject.user)
        return previews.sms_preview(session, settings, principal, version, body, row.locale).text
    except Problem:
        return ""


@router.post("/a/{token}", response_class=HTMLResponse, summary="Confirm a one-click decision link")
async def confirm_action_link(
    _: PublicRoute,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    token: str,
    comment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Act as the token's user, with the user's roles as they are now."""
    subject = _load(session, settings, token)
    if subject is None:
        return _refused()
    comment = comment.strip()
    portal = _portal_url(settings, subject.row)
    if len(comment) > MAX_COMMENT:
        return _page(
            "Comment too long",
            [f"Keep the comment under {MAX_COMMENT} characters."],
            status=422,
            portal_url=portal,
        )
    principal = principal_for(session, subject.user)
    action = subject.token.action
    try:
        row = await flow.decide(
            session,
            client.get,
            principal,
            subject.row.id or 0,
            decision=action,
            comment=comment or None,
            revision=_submission(subject),
        )
    except StaleDecision:
        what = f'the campaign "{subject.campaign_name}" for {subject.partner_name}'
        return _changed(what, portal, status=409)
    except Problem as err:
        return _page(
            "Not done", [err.detail, "Nothing was changed."], status=err.status, portal_url=portal
        )
    except SERVICE_DOWN:
        return _page(
            "Try again shortly",
            ["The workflow service is not reachable; nothing was changed."],
            status=503,
            portal_url=portal,
        )
    state = str(row.state).replace("_", " ")
    return _page(
        DONE[action],
        [
            f'Thank you. The campaign "{subject.campaign_name}" for {subject.partner_name} '
            f"is now {state}."
        ],
        portal_url=portal,
    )
