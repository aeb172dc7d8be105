"""The brand's phone suppression list (STOP replies, numbers the provider refused): HQ reads it.
Entries from a partner's contacts show their number only where HQ may see that partner's
contact data (services.sms.suppression). No removal: a STOP is the recipient's word."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.routers.params import PagingDep, page_of
from api.security import SuppressionManager
from models.contact_schemas import PhoneSuppressionRead
from models.contacts import SuppressionReason
from models.schemas import Page
from services.access import brand_contact_data_partners
from services.sms import suppression as svc

router = APIRouter(prefix="/api/v1/phone-suppressions", tags=["suppressions"])


@router.get(
    "",
    response_model=Page[PhoneSuppressionRead],
    summary="List the brand's phone suppression list",
)
def list_phone_suppressions(
    principal: SuppressionManager,
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=40, description="digits of the number")] = None,
    reason: SuppressionReason | None = None,
    sort: str = svc.PHONE_SUPPRESSIONS.sort_query(),
) -> Page[PhoneSuppressionRead]:
    partners = brand_contact_data_partners(session, principal)
    result = svc.list_phone_suppressions(
        session,
        principal.brand_id,
        partners=partners,
        q=q,
        paging=paging,
        reason=reason.value if reason else None,
        sort=sort,
    )
    return page_of(result, paging, (svc.read_of(r, partners) for r in result.items))
