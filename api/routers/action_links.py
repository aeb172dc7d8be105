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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlmodel import Session
from temporalio.client import Client

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.security import PublicRoute
from core.errors import Problem
from core.settings import Settings
from core.temporal import SERVICE_DOWN
from domain.states import PartnerCampaignState
from i18n.context import current_locale, speaking
from i18n.translate import N_, gettext, ngettext, translated
from i18n.translate import gettext as _
from models.campaigns import Campaign, PartnerCampaign
from models.org import Partner, User
from models.template_schemas import ValuesBody
from models.templates import TemplateVersion
from services import campaign_actions as flow
from services import previews
from services.accounts import principal_for
from services.action_links import ActionToken, read_token
from services.audience import audience_of
from services.preferences import Preferences, preferences_for, preferences_for_visitor
from services.templates import content_of
from services.workflow_updates import StaleDecision

router = APIRouter(tags=["action-links"])

MAX_COMMENT = 2000
DONE = {"approve": N_("Approved"), "request_changes": N_("Changes requested")}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    # Images as in the portal's preview (the srcdoc frame inherits this policy), so the
    # approver sees the email's pictures; still no script, and no Referer carries the token.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
INVALID = N_("This link is invalid or has expired. Open the campaign in the portal instead.")

_PAGES = Environment(
    loader=DictLoader(
        {
            "page.html": """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - Brandrelay</title>
<style>body{font-family:Arial,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;\
color:#1a1a1a;line-height:1.5}textarea{width:100%;min-height:8em}\
button{padding:8px 16px;background:#0b3d91;color:#fff;border:0;border-radius:4px}\
.note{color:#555}.sms{white-space:pre-wrap;background:#e9e9eb;border-radius:12px;\
padding:10px 14px;max-width:24em}.phone{width:360px;max-width:100%;height:640px;\
border:1px solid #ccc;border-radius:12px;background:#fff}</style></head>
<body><h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if preview %}<h2>{{ _("The email as recipients will see it") }}</h2>
<iframe id="email-preview" class="phone" sandbox \
title="{{ _("Email preview, phone width") }}" srcdoc="{{ preview }}"></iframe>
{% endif %}{% if preview_problem %}<p class="note">{{ preview_problem }}</p>
{% endif %}{% if sms %}<h2>{{ _("The SMS") }}</h2>
<p class="note">{{
_("Contacts who prefer SMS get this instead of the email; you approve both.") }}</p>
<p class="sms">{{ sms }}</p>
{% endif %}{% if audience is not none %}<h2>{{ _("Who receives it") }}</h2>
<p id="audience"><strong>{{ ngettext("%(num)d contact will receive it.", \
"%(num)d contacts will receive it.", audience) }}</strong></p>
{% endif %}{% if form %}<form method="post">
<p><label for="comment">{{ form.label }}</label></p>
<p><textarea id="comment" name="comment" maxlength="{{ max_comment }}"\
{% if form.required %} required{% endif %}></textarea></p>
<p><button type="submit">{{ form.button }}</button></p>
</form>
{% endif %}{% if portal_url %}<p class="note"><a href="{{ portal_url }}">\
{{ _("Review it in the portal: what changed, and all three decisions") }}</a></p>{% endif %}
</body></html>
"""
        }
    ),
    autoescape=True,
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
_PAGES.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]


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
    preview: str = "",
    preview_problem: str = "",
    audience: int | None = None,
) -> HTMLResponse:
    """In the language being spoken (`speaking` around the call)."""
    html = _PAGES.get_template("page.html").render(
        lang=current_locale(),
        title=title,
        paragraphs=paragraphs,
        form=form,
        portal_url=portal_url,
        max_comment=MAX_COMMENT,
        sms=sms,
        preview=preview,
        preview_problem=preview_problem,
        audience=audience,
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


def _language(session: Session, request: Request, subject: _Subject | None) -> Preferences:
    """The token's user's language and zone (their own, else their partner's or the
    browser's); the browser's for a link that names nobody."""
    accept = request.headers.get("accept-language")
    if subject is None:
        return preferences_for_visitor(accept)
    return preferences_for(session, subject.user, accept)


def _portal_url(settings: Settings, row: PartnerCampaign) -> str:
    return f"{settings.public_base_url.rstrip('/')}/partner-campaigns/{row.id}"


def _refused() -> HTMLResponse:
    return _page(_("Link not valid"), [_(INVALID)], status=403)


def _submission(subject: _Subject) -> int:
    """The submission the link is about; a link from before links named theirs can only be
    trusted for the first (the workflow refuses it once there was a second)."""
    return subject.token.revision if subject.token.revision is not None else 1


def _what(subject: _Subject) -> str:
    return _(
        'the campaign "%(campaign)s" for %(partner)s',
        campaign=subject.campaign_name,
        partner=subject.partner_name,
    )


def _changed(subject: _Subject, portal: str, *, status: int = 200) -> HTMLResponse:
    return _page(
        _("The content has changed"),
        [
            _(
                'The campaign "%(campaign)s" for %(partner)s was changed and submitted again '
                "after this email was sent, so this link no longer decides anything: nothing "
                "was changed.",
                campaign=subject.campaign_name,
                partner=subject.partner_name,
            ),
            _(
                "Review the current version in the portal; the email about it carries links "
                "of its own."
            ),
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
    _public: PublicRoute,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
) -> HTMLResponse:
    """The confirmation page; changes nothing. Before the button: the email as recipients
    will see it (phone width) and how many contacts will receive it."""
    subject = _load(session, settings, token)
    found = _language(session, request, subject)
    with speaking(found.locale, found.zone):
        if subject is None:
            return _refused()
        return _confirmation(session, settings, subject)


def _confirmation(session: Session, settings: Settings, subject: _Subject) -> HTMLResponse:
    action = subject.token.action
    who = subject.user.full_name or subject.user.email
    portal = _portal_url(settings, subject.row)
    if subject.row.state != PartnerCampaignState.pending_approval:
        return _page(
            _("Nothing to decide"),
            [
                _(
                    'The campaign "%(campaign)s" for %(partner)s is %(state)s: nothing waits '
                    "for a decision.",
                    campaign=subject.campaign_name,
                    partner=subject.partner_name,
                    state=str(subject.row.state).replace("_", " "),
                )
            ],
            portal_url=portal,
        )
    if subject.row.revision and _submission(subject) != subject.row.revision:
        return _changed(subject, portal)
    if action == "approve":
        title = _("Approve campaign?")
        about = _("%(name)s, you are about to approve %(what)s.", name=who, what=_what(subject))
        form = _Form(_("Comment (optional)"), _("Approve"), required=False)
    else:
        title = _("Request changes?")
        about = _(
            "%(name)s, you are about to request changes to %(what)s.",
            name=who,
            what=_what(subject),
        )
        form = _Form(_("What must change? (required)"), _("Request changes"), required=True)
    shown = _shown(session, settings, subject)
    return _page(
        title,
        [about, _("Check the email and the audience below; nothing happens until you confirm.")],
        form=form,
        portal_url=portal,
        sms=shown.sms,
        preview=shown.email,
        preview_problem=shown.problem,
        audience=int(audience_of(session, subject.row).get("eligible", 0)),
    )


@dataclass(frozen=True)
class _Shown:
    email: str = ""  # the email's HTML, for the sandboxed frame's srcdoc
    sms: str = ""
    problem: str = ""


def _shown(session: Session, settings: Settings, subject: _Subject) -> _Shown:
    """The submitted email and SMS in the campaign's language as recipients get them (the
    portal's preview, services.previews), so the approver sees what a decision approves;
    empty parts when the template has none, and a plain note when they cannot be shown."""
    row = subject.row
    campaign = session.get(Campaign, row.campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None:
        return _Shown()
    content = content_of(version)
    body = ValuesBody(values=row.values, locale=row.locale, partner_id=row.partner_id)
    principal = principal_for(session, subject.user)
    email = sms = ""
    try:
        if content.email is not None:
            found = previews.render_preview(
                session, settings, principal, version, body, "html", row.locale
            )
            email = found.body if isinstance(found.body, str) else found.body.decode()
        if content.sms is not None:
            sms = previews.sms_preview(session, settings, principal, version, body, row.locale).text
    except Problem:
        return _Shown(
            email=email,
            sms=sms,
            problem=_("The preview cannot be shown here; review the campaign in the portal."),
        )
    return _Shown(email=email, sms=sms)


@router.post("/a/{token}", response_class=HTMLResponse, summary="Confirm a one-click decision link")
async def confirm_action_link(
    _public: PublicRoute,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    token: str,
    comment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Act as the token's user, with the user's roles as they are now."""
    subject = _load(session, settings, token)
    found = _language(session, request, subject)
    with speaking(found.locale, found.zone):
        if subject is None:
            return _refused()
        return await _decide(session, client.get, subject, settings, comment.strip())


async def _decide(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    subject: _Subject,
    settings: Settings,
    comment: str,
) -> HTMLResponse:
    portal = _portal_url(settings, subject.row)
    if len(comment) > MAX_COMMENT:
        return _page(
            _("Comment too long"),
            [_("Keep the comment under %(max)s characters.", max=MAX_COMMENT)],
            status=422,
            portal_url=portal,
        )
    principal = principal_for(session, subject.user)
    action = subject.token.action
    try:
        row = await flow.decide(
            session,
            connect,
            principal,
            subject.row.id or 0,
            decision=action,
            comment=comment or None,
            revision=_submission(subject),
        )
    except StaleDecision:
        return _changed(subject, portal, status=409)
    except Problem as err:
        return _page(
            _("Not done"),
            [translated(err.detail), _("Nothing was changed.")],
            status=err.status,
            portal_url=portal,
        )
    except SERVICE_DOWN:
        return _page(
            _("Try again shortly"),
            [_("The workflow service is not reachable; nothing was changed.")],
            status=503,
            portal_url=portal,
        )
    return _page(
        _(DONE[action]),
        [
            _(
                'Thank you. The campaign "%(campaign)s" for %(partner)s is now %(state)s.',
                campaign=subject.campaign_name,
                partner=subject.partner_name,
                state=str(row.state).replace("_", " "),
            )
        ],
        portal_url=portal,
    )
