"""The audit trail: scoped reading, chain verification against the checkpoints, anchoring now,
CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.deps import CheckpointStoreDep, EngineDep, SessionDep, SettingsDep
from api.routers.params import PagingDep, page_of
from api.security import AuditCheckpointer, AuditReader, AuditVerifier
from core import audit_keys
from core.errors import Conflict, FieldError, Problem
from core.policy import Permission
from models.audit import AuditEvent
from models.base import ZonedDatetime, utcnow
from models.schemas import AuditCheckpointRead, AuditEventRead, AuditVerifyRead, Page
from services import audit, audit_checkpoints
from services.access import scope_filter
from services.paging import fetch
from storage.base import StorageError

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


@router.get("", response_model=Page[AuditEventRead], summary="List audit events")
def list_audit_events(
    principal: AuditReader,
    session: SessionDep,
    paging: PagingDep,
    flt: FilterDep,
    sort: str = audit.EVENTS.sort_query("(`seq`: the brand chain's sequence number)"),
) -> Page[AuditEventRead]:
    """Newest first by default, within the caller's scope and filters."""
    result = fetch(session, audit.filtered(_where(principal), flt), audit.EVENTS, sort, paging)
    return page_of(result, paging, (AuditEventRead.model_validate(e) for e in result.items))


@router.get(
    "/verify",
    response_model=AuditVerifyRead,
    summary="Verify the audit chain against its checkpoints",
)
def verify_audit_chain(
    principal: AuditVerifier, session: SessionDep, store: CheckpointStoreDep
) -> dict[str, object]:
    """Recompute the caller's brand chain and compare it with its newest signed checkpoint:
    ok, or the first problem, with what was checked."""
    keys = audit_keys.current_keys()
    anchor = audit_checkpoints.anchor_for(store, keys, principal.brand_id)
    return audit.verify_chain(session, principal.brand_id, keys, anchor).as_dict()


@router.post(
    "/checkpoints",
    response_model=AuditCheckpointRead,
    status_code=201,
    summary="Write a signed audit checkpoint",
)
def write_audit_checkpoint(
    principal: AuditCheckpointer,
    session: SessionDep,
    store: CheckpointStoreDep,
    settings: SettingsDep,
) -> AuditCheckpointRead:
    """Anchor the caller's brand chain now (the schedule does it every
    AUDIT_CHECKPOINT_INTERVAL). 409 when the chain no longer continues the latest checkpoint."""
    try:
        written = audit_checkpoints.write_checkpoint(
            session,
            store,
            principal.brand_id,
            policy=audit_checkpoints.CheckpointPolicy.from_settings(settings),
            now=utcnow(),
            force=True,
        )
    except audit_checkpoints.CheckpointRefused as err:
        raise Conflict(f"checkpoint refused: {err.reason}") from None
    except StorageError as err:
        raise Problem(
            f"checkpoint store unavailable: {err}", status=503, title="Service unavailable"
        ) from None
    assert written is not None  # forced
    cp = written.checkpoint
    return AuditCheckpointRead(
        brand_id=cp.brand_id,
        seq=cp.seq,
        hash=cp.hash,
        at=cp.at,
        legacy_until=cp.legacy_until,
        key_id=cp.key_id,
        location=written.location,
        lock=written.lock,
        retain_until=written.retain_until,
    )


@router.get("/export.csv", response_class=StreamingResponse, summary="Export audit events as CSV")
def export_audit_csv(
    principal: AuditReader, engine: EngineDep, flt: FilterDep
) -> StreamingResponse:
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
