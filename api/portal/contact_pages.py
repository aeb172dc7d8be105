"""A partner's contacts in the portal: the paged list with search, the add form, and the CSV
import with its row-by-row report.

Thin pages over the API's services (services.contacts, services.contact_csv): the same
access check (contact_partner), the same validation and the same import, so a contact the
portal accepts is one the API would have accepted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.portal.contact_form import CHANNEL_LABELS, CONSENT_LABELS, contact_errors, contact_form
from api.portal.contact_partners import Choice, PortalContactReader, choose
from api.portal.paging import CursorQuery, IdFilter, pager, portal_page
from api.portal.web import PortalRoute, render
from core.errors import Problem
from core.policy import Permission, Principal, may_see_contacts
from core.said import said_of
from core.settings import Settings
from i18n.formats import number
from i18n.translate import N_, gettext, translated
from models.contact_schemas import ImportReport
from models.org import Partner
from services import contact_csv
from services import contacts as svc
from services.access import target_of
from services.org import Actor

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
PORTAL_REPORT_ROWS = 1000  # rows listed on the import page; the counts cover every row
DONE = {"added": N_("Contact added.")}
STATUS_LABELS = {
    "created": N_("Added"),
    "updated": N_("Updated"),
    "unchanged": N_("Unchanged"),
    "rejected": N_("Refused"),
}


def may_manage(principal: Principal, partner: Partner) -> bool:
    return may_see_contacts(
        principal,
        Permission.contact_manage,
        target_of(partner),
        shared=partner.contacts_shared_with_brand,
    )


def _list_page(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    choice: Choice,
    *,
    q: str | None = None,
    cursor: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {"rows": [], "pager": None, "may_manage": False}
    partner = choice.partner
    if partner is not None:
        result = svc.list_contacts(session, partner, portal_page(settings, cursor), q=q)
        context = {
            "rows": svc.contact_reads(session, result.items),
            "pager": pager(request, result, {"partner_id": partner.id, "q": q}),
            "may_manage": may_manage(principal, partner),
        }
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "contacts.html",
        status=status,
        title=gettext("Contacts"),
        choice=choice,
        q=q or "",
        values=values or {},
        errors=errors or {},
        consent_labels=CONSENT_LABELS,
        channel_labels=CHANNEL_LABELS,
        flash=gettext(done) if done else "",
        **context,
    )


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_id: IdFilter = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: CursorQuery = None,
) -> HTMLResponse:
    """`q`: part of a name, an email address or a phone number."""
    choice = choose(session, principal, partner_id)
    return _list_page(request, session, settings, principal, choice, q=q, cursor=cursor)


@router.post("/contacts", response_class=HTMLResponse, response_model=None)
async def add_contact(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> Response:
    form = await request.form()
    choice = choose(session, principal, partner_id, Permission.contact_manage)
    assert choice.partner is not None
    values, body, errors = contact_form(form)
    if body is not None:
        try:
            svc.create_contact(session, Actor(principal, rid), choice.partner, body)
        except Problem as err:
            errors = contact_errors(err)
    if errors:
        return _list_page(
            request, session, settings, principal, choice, values=values, errors=errors, status=422
        )
    return RedirectResponse(f"/contacts?partner_id={partner_id}&done=added", status_code=303)


def _import_page(
    request: Request,
    settings: Settings,
    choice: Choice,
    *,
    report: ImportReport | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "contact_import.html",
        status=status,
        title=gettext("Import contacts"),
        choice=choice,
        report=report,
        error=error,
        max_size=_size(settings.contact_import_max_bytes),
        columns=contact_csv.BASE_COLUMNS,
        report_rows=PORTAL_REPORT_ROWS,
        status_labels=STATUS_LABELS,
    )


@router.get("/contacts/import", response_class=HTMLResponse)
def import_page(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    partner_id: IdFilter = None,
) -> HTMLResponse:
    return _import_page(
        request, settings, choose(session, principal, partner_id, Permission.contact_manage)
    )


def _size(size: int) -> str:
    """A size limit as people write it: "200 MB", "64 KB"."""
    if size >= 1024 * 1024:
        return f"{number(size // (1024 * 1024))} MB"
    return f"{number(max(size // 1024, 1))} KB"


@router.post("/contacts/import", response_class=HTMLResponse)
async def import_contacts(
    principal: PortalContactReader,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """The file is imported whole: refused rows are listed with their reasons and do not stop
    the others; an unusable file (too large, not text, no known header) changes nothing."""
    choice = choose(session, principal, partner_id, Permission.contact_manage)
    assert choice.partner is not None
    limit = settings.contact_import_max_bytes
    if file is None or not file.filename:
        error = gettext("Choose a CSV file to import.")
    elif file.size is not None and file.size > limit:
        error = gettext(
            "The file is larger than %(size)s: split it into smaller files.", size=_size(limit)
        )
    else:
        try:
            report = await run_in_threadpool(
                contact_csv.import_file,
                session,
                Actor(principal, rid),
                choice.partner,
                file.file,
                chunk_size=settings.contact_import_chunk,
                report_rows=PORTAL_REPORT_ROWS,
            )
        except contact_csv.ImportFileError as err:
            error = gettext(
                "Nothing was imported: the file %(reason)s.", reason=translated(said_of(err))
            )
        else:
            return _import_page(request, settings, choice, report=report)
    return _import_page(request, settings, choice, error=error, status=422)
