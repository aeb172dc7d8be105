"""The audit trail: scoped reading, chain verification, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.deps import EngineDep, SessionDep
from api.routers.params import PagingDep
from api.security import AuditReader, AuditVerifier
from core.errors import FieldError
from core.policy import Permission
from models.audit import AuditEvent
from models.base import ZonedDatetime
from models.schemas import AuditEventRead, Page
from services import audit
from services.access import scope_filter
from services.org import page

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def audit_filter(
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: ZonedDatetime | None = None,
    until: ZonedDatetime | None = None,
) -> audit.AuditFilter:
    if since and until and since >= until:
        raise FieldError("until", "must be after since")
    return audit.AuditFilter(entity_type, entity_id, actor, action, since, until)


FilterDep = Annotated[audit.AuditFilter, Depends(audit_filter)]


def _where(principal: AuditReader) -> object:
    return scope_filter(
        principal,
        AuditEvent.brand_id,
        AuditEvent.region_id,
        AuditEvent.partner_id,
        Permission.audit_read,
    )


@router.get("", response_model=Page[AuditEventRead])
def list_events(
    principal: AuditReader, session: SessionDep, paging: PagingDep, flt: FilterDep
) -> Page[AuditEventRead]:
    rows, total = page(session, audit.filtered(_where(principal), flt), paging.limit, paging.offset)
    return Page(
        items=[AuditEventRead.model_validate(e) for e in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/verify")
def verify(principal: AuditVerifier, session: SessionDep) -> dict[str, object]:
    """Recompute the caller's brand chain: ok, or the first event that does not fit."""
    return audit.verify_chain(session, principal.brand_id).as_dict()


@router.get("/export.csv", response_class=StreamingResponse)
def export_csv(principal: AuditReader, engine: EngineDep, flt: FilterDep) -> StreamingResponse:
    stmt = audit.filtered(_where(principal), flt)

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(audit.CSV_COLUMNS)
        with Session(engine) as session:
            for event in session.exec(stmt.execution_options(yield_per=500)):
                writer.writerow(audit.csv_row(event))
                if buf.tell() > 65536:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
