"""What every portal page shares: the session guard with its CSRF check, the route class that
turns refusals into pages (or a redirect to sign in), and rendering with the portal's own
Jinja2 environment.

The environment is separate from the content engine's sandbox: it renders the portal's own
trusted templates with autoescape on, while partner content is rendered only by the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import SessionDep, SettingsDep
from api.portal import session as cookies
from core.db import release_connection
from core.errors import Forbidden, Problem, Unauthorized
from core.policy import Permission, Principal, has_permission_somewhere
from core.settings import AppEnv, EmailTransport, Settings, SmsTransportKind
from core.temporal import SERVICE_DOWN
from i18n import formats
from i18n.context import current_locale, current_zone, set_current
from i18n.labels import mode_label, state_label
from i18n.translate import N_, gettext, ngettext_unformatted, translated
from models.org import User
from services.accounts import principal_for
from services.preferences import Preferences, preferences_for, preferences_for_visitor

HERE = Path(__file__).parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Inline styles only for the email previews (srcdoc frames inherit this policy); no inline
    # script anywhere.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# Newstyle: `{{ _("Send by %(date)s", date=d) }}` escapes its values and formats them in.
env.install_gettext_callables(gettext, ngettext_unformatted, newstyle=True)  # type: ignore[attr-defined]
env.filters.update(when=formats.when, day=formats.day, clock=formats.clock, number=formats.number)
env.filters.update(state_label=state_label, translated=translated)
env.globals.update(
    zone_name=formats.zone_name, input_value=formats.input_value, mode_label=mode_label
)


class LoginRequired(Exception):
    """No valid signed-in session: the route class sends the visitor to /login."""


FORM_EXPIRED = N_(
    "This form has expired or did not come from the portal. Reload the page and try again."
)


class CsrfRefused(Problem):
    status = 403
    title = N_("Form expired")

    def __init__(self) -> None:
        super().__init__(FORM_EXPIRED)


def portal_session(request: Request, settings: Settings) -> cookies.PortalSession | None:
    found: cookies.PortalSession | None = getattr(request.state, "portal_session", None)
    if found is None:
        found = cookies.decode(settings, request.cookies.get(cookies.COOKIE))
        request.state.portal_session = found
    return found


async def _check_csrf(request: Request, settings: Settings) -> None:
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if not given:
        form = await request.form()  # cached by Starlette: the route's Form() fields still work
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not cookies.csrf_ok(settings, portal_session(request, settings), given):
        raise CsrfRefused()


def _speak(request: Request, found: Preferences) -> None:
    """The page and every message the request's services produce speak this language and zone
    (the context variables live as long as the request's context)."""
    request.state.preferences = found
    set_current(found.locale, found.zone)


class PortalAuthorize:
    """A portal page's guard: signed in through the session cookie, holding `permission` in at
    least one grant, and for every state-changing request the CSRF token of this session.
    Object-level scope is checked by the services, exactly as for the API."""

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    async def __call__(
        self, request: Request, session: SessionDep, settings: SettingsDep
    ) -> Principal:
        await _check_csrf(request, settings)
        found = portal_session(request, settings)
        if found is None or found.user_id is None:
            raise LoginRequired()
        user = session.get(User, found.user_id)
        # A cookie from before the user signed out or changed the password is no session.
        if user is None or not user.is_active or user.session_generation != found.generation:
            raise LoginRequired()
        principal = principal_for(session, user)
        request.state.principal = principal
        request.state.user = user
        _speak(request, preferences_for(session, user, request.headers.get("accept-language")))
        if self.permission is not None and not has_permission_somewhere(principal, self.permission):
            raise Forbidden(N_("Your roles do not allow this page."))
        release_connection(session)  # before the page's first await (core.db says why)
        return principal


class PortalPublic:
    """A portal route open without sign-in (the sign-in page, static files); its forms still
    carry the CSRF token of the visitor's anonymous session."""

    async def __call__(self, request: Request, settings: SettingsDep) -> None:
        await _check_csrf(request, settings)
        _speak(request, preferences_for_visitor(request.headers.get("accept-language")))


def _guard(permission: Permission | None) -> Any:
    return Depends(PortalAuthorize(permission))


PortalUser = Annotated[Principal, _guard(None)]
PortalInbox = Annotated[Principal, _guard(Permission.partner_campaign_read)]
PortalCampaignReader = Annotated[Principal, _guard(Permission.campaign_read)]
PortalCampaignManager = Annotated[Principal, _guard(Permission.campaign_manage)]
PortalPartnerCampaignReader = Annotated[Principal, _guard(Permission.partner_campaign_read)]
PortalPartnerCampaignEditor = Annotated[Principal, _guard(Permission.partner_campaign_edit)]
PortalTemplateReader = Annotated[Principal, _guard(Permission.template_read)]
PortalTemplateAuthor = Annotated[Principal, _guard(Permission.template_author)]
PortalTemplateReviewer = Annotated[Principal, _guard(Permission.template_review)]
PortalAssetReader = Annotated[Principal, _guard(Permission.asset_read)]
PortalAuditReader = Annotated[Principal, _guard(Permission.audit_read)]
PortalOutboxReader = Annotated[Principal, _guard(Permission.outbox_read)]
PortalPolicyReader = Annotated[Principal, _guard(Permission.approval_policy_read)]
PortalPrintOrderReader = Annotated[Principal, _guard(Permission.print_order_read)]
PortalPrintOrderCreator = Annotated[Principal, _guard(Permission.print_order_create)]
PortalOpen = Annotated[None, Depends(PortalPublic())]
PortalCatalogueReader = Annotated[Principal, _guard(Permission.catalogue_read)]
PortalCatalogueManager = Annotated[Principal, _guard(Permission.catalogue_manage)]
PortalCatalogueOrderer = Annotated[Principal, _guard(Permission.catalogue_order)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.method in SAFE_METHODS and request.url.query:
        target += "?" + request.url.query
    location = "/login?next=" + quote(target, safe="/")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


NAV = (
    ("/inbox", N_("Inbox"), Permission.partner_campaign_read),
    ("/my-campaigns", N_("My campaigns"), Permission.partner_campaign_edit),
    ("/campaigns", N_("Campaigns"), Permission.campaign_read),
    ("/campaign-sheets", N_("Campaign sheets"), Permission.campaign_manage),
    ("/templates", N_("Templates"), Permission.template_read),
    ("/assets", N_("Assets"), Permission.asset_read),
    ("/audit", N_("Audit trail"), Permission.audit_read),
    ("/outbox", N_("Outbox"), Permission.outbox_read),
    ("/outbox-sms", N_("Outbox SMS"), Permission.outbox_read),
    ("/approval-policies", N_("Approval policies"), Permission.approval_policy_read),
    ("/reports", N_("Reports"), Permission.report_read),
    ("/funds", N_("Co-op funds"), Permission.fund_read),
    ("/my-reports", N_("My reports"), Permission.partner_campaign_edit),
    ("/claims", N_("Claims"), Permission.claim_read),
    ("/print-orders", N_("Print orders"), Permission.print_order_read),
    ("/catalogue", N_("Catalogue"), Permission.catalogue_read),
    ("/series", N_("Campaign series"), Permission.series_read),
    ("/journeys", N_("Journeys"), Permission.journey_read),
    ("/contacts", N_("Contacts"), Permission.contact_read),
    ("/segments", N_("Segments"), Permission.contact_read),
)


def nav_for(principal: Principal | None, settings: Settings) -> list[tuple[str, str]]:
    """The pages the caller may open; the outbox only where mail goes to the embedded outbox
    (with SMTP or SES it stays empty); "My reports" only for partner-only readers (HQ and
    region managers have Reports)."""
    if principal is None:
        return []
    return [
        (href, gettext(label))
        for href, label, perm in NAV
        if has_permission_somewhere(principal, perm)
        and (href != "/outbox" or settings.email_transport == EmailTransport.outbox)
        and (href != "/outbox-sms" or settings.sms_transport == SmsTransportKind.outbox)
        and (
            href != "/my-reports" or not has_permission_somewhere(principal, Permission.report_read)
        )
    ]


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A full page (or, for htmx fragments, any template) with the caller, its navigation and
    the CSRF token of its session."""
    settings: Settings = request.app.state.settings
    found = portal_session(request, settings)
    principal: Principal | None = getattr(request.state, "principal", None)
    found_prefs: Preferences | None = getattr(request.state, "preferences", None)
    if found_prefs is not None:
        set_current(found_prefs.locale, found_prefs.zone)
    html = env.get_template(template).render(
        request_path=request.url.path,
        lang=current_locale(),
        zone=current_zone(),
        principal=principal,
        user=getattr(request.state, "user", None),
        nav=nav_for(principal, settings),
        csrf_token=cookies.csrf_token(settings, found) if found else "",
        csrf_field=CSRF_FIELD,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def done_flash(messages: Mapping[str, str], request: Request) -> str:
    """The status line after a redirect (`?done=<key>`), translated: keys only, so a link
    cannot put text on the page."""
    key = request.query_params.get("done", "")
    return gettext(messages[key]) if key in messages else ""


def set_session_cookie(
    response: Response, settings: Settings, found: cookies.PortalSession
) -> None:
    response.set_cookie(
        cookies.COOKIE,
        cookies.encode(settings, found),
        max_age=max(found.expires_at - found.issued_at, 0),
        httponly=True,
        secure=settings.app_env != AppEnv.dev,
        samesite="lax",
        path="/",
    )


# The titles of core.errors' problems, as the portal shows them (the API keeps them English).
PROBLEM_TITLES = (
    N_("Bad request"),
    N_("Not found"),
    N_("Forbidden"),
    N_("Unauthorized"),
    N_("Conflict"),
    N_("Invalid input"),
    N_("Not done"),
)


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """A refusal in the reader's language: titles and fixed details are catalogue messages, a
    detail a service said (core.said.Said) is its message with its values (translated here,
    where it is shown; the API sends the English); any other detail stays as it was."""
    title, detail = translated(title), translated(detail)
    if is_htmx(request):
        return render(request, "_error.html", status=status, title=title, detail=detail)
    return render(request, "error.html", status=status, title=title, detail=detail)


class PortalRoute(APIRoute):
    """Portal routes answer in HTML: no session sends the visitor to sign in, a refusal or a
    missing object is a page in plain words (with the API's status code)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except (LoginRequired, Unauthorized):
                return login_redirect(request)
            except Problem as err:
                return error_page(request, err.status, err.title, err.detail)
            except SERVICE_DOWN:
                return error_page(
                    request,
                    503,
                    N_("Try again shortly"),
                    N_("The workflow service is not reachable; nothing was changed."),
                )
            except RequestValidationError as err:
                fields = ", ".join(".".join(map(str, e.get("loc", ())[1:])) for e in err.errors())
                return error_page(
                    request,
                    422,
                    N_("Invalid input"),
                    gettext("Please check: %(fields)s", fields=fields),
                )

        return handler
