"""A partner's contacts: rows for the partner's users (and HQ where shared), counts for HQ."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.routers.params import PagingDep, page_of
from api.security import ContactCounter, ContactManager, ContactReader
from core.errors import FieldError
from core.policy import Permission
from models.contact_schemas import (
    ContactCreate,
    ContactRead,
    ContactSummary,
    ContactUpdate,
    ImportReport,
    SharingUpdate,
)
from models.contacts import Channel, ConsentStatus
from models.schemas import Page, PartnerRead
from services import contact_csv
from services import contacts as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1/partners/{partner_id}/contacts", tags=["contacts"])
REPORT_ROWS = 10_000  # rows listed in an import report; the counts always cover every row


@router.get("", response_model=Page[ContactRead], summary="List a partner's contacts")
def list_contacts(
    principal: ContactReader,
    session: SessionDep,
    paging: PagingDep,
    partner_id: int,
    q: Annotated[str | None, Query(max_length=200, description="part of email or name")] = None,
    consent_status: ConsentStatus | None = None,
    channel: Channel | None = None,
    sms_consent_status: ConsentStatus | None = None,
    sort: str = svc.CONTACTS.sort_query(),
) -> Page[ContactRead]:
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_read)
    result = svc.list_contacts(
        session,
        partner,
        paging,
        q=q,
        consent_status=consent_status.value if consent_status else None,
        channel=channel.value if channel else None,
        sms_consent_status=sms_consent_status.value if sms_consent_status else None,
        sort=sort,
    )
    return page_of(result, paging, svc.contact_reads(session, result.items))


@router.post("", response_model=ContactRead, status_code=201, summary="Create a contact")
def create_contact(
    principal: ContactManager,
    session: SessionDep,
    rid: RequestIdDep,
    partner_id: int,
    body: ContactCreate,
) -> ContactRead:
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_manage)
    contact = svc.create_contact(session, Actor(principal, rid), partner, body)
    return svc.contact_reads(session, [contact])[0]


@router.get("/summary", response_model=ContactSummary, summary="Count a partner's contacts")
def read_contact_summary(
    principal: ContactCounter, session: SessionDep, partner_id: int
) -> ContactSummary:
    """Counts only: what HQ and region managers see of a partner's contacts."""
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_count)
    return svc.summary(session, partner)


@router.put(
    "/sharing",
    response_model=PartnerRead,
    summary="Share (or stop sharing) a partner's contacts with HQ",
)
def set_contact_sharing(
    principal: ContactManager,
    session: SessionDep,
    rid: RequestIdDep,
    partner_id: int,
    body: SharingUpdate,
) -> PartnerRead:
    """The partner's GM shares (or stops sharing) the contact rows with brand roles."""
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_manage)
    return PartnerRead.model_validate(
        svc.set_sharing(session, Actor(principal, rid), partner, body.shared)
    )


@router.post("/import", response_model=ImportReport, summary="Import contacts from CSV")
def import_contacts(
    principal: ContactManager,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_id: int,
    file: Annotated[UploadFile, File(description="CSV, UTF-8, first line names the columns")],
) -> ImportReport:
    """Rows with problems are reported (200) and skipped; an unusable file is a 422 on `file`."""
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_manage)
    if file.size is not None and file.size > settings.contact_import_max_bytes:
        raise FieldError("file", f"is larger than {settings.contact_import_max_bytes} bytes")
    try:
        return contact_csv.import_file(
            session,
            Actor(principal, rid),
            partner,
            file.file,
            chunk_size=settings.contact_import_chunk,
            report_rows=REPORT_ROWS,
        )
    except contact_csv.ImportFileError as err:
        raise FieldError("file", str(err)) from err


@router.get(
    "/export", response_class=StreamingResponse, summary="Export a partner's contacts as CSV"
)
def export_contacts(
    principal: ContactReader, session: SessionDep, partner_id: int
) -> StreamingResponse:
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_read)
    assert partner.id is not None
    return StreamingResponse(
        contact_csv.export_csv(session, partner.id),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="contacts-partner-{partner.id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{contact_id}", response_model=ContactRead, summary="Read a contact")
def read_contact(
    principal: ContactReader, session: SessionDep, partner_id: int, contact_id: int
) -> ContactRead:
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_read)
    return svc.contact_reads(session, [svc.load_contact(session, partner, contact_id)])[0]


@router.patch("/{contact_id}", response_model=ContactRead, summary="Update a contact")
def update_contact(
    principal: ContactManager,
    session: SessionDep,
    rid: RequestIdDep,
    partner_id: int,
    contact_id: int,
    body: ContactUpdate,
) -> ContactRead:
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_manage)
    contact = svc.load_contact(session, partner, contact_id)
    contact = svc.update_contact(session, Actor(principal, rid), partner, contact, body)
    return svc.contact_reads(session, [contact])[0]


@router.delete("/{contact_id}", status_code=204, summary="Erase a contact (GDPR)")
def erase_contact(
    principal: ContactManager,
    session: SessionDep,
    rid: RequestIdDep,
    partner_id: int,
    contact_id: int,
) -> Response:
    """GDPR erasure: the contact is deleted, an anonymous count remains."""
    partner = svc.contact_partner(session, principal, partner_id, Permission.contact_manage)
    svc.erase(
        session, Actor(principal, rid), partner, svc.load_contact(session, partner, contact_id)
    )
    return Response(status_code=204)
