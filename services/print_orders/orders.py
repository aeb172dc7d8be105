"""Creating, finding and showing print orders, scoped like the rest of the API: another
partner's order is "not found" (404), never "forbidden"."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, NotFound, Problem
from core.policy import Permission, Principal, Target, allows, can_see
from core.said import Listing as Items
from core.said import said
from domain.money import ChainSubject, PrintOrderState
from domain.states import PartnerCampaignState
from domain.workflow_ids import print_order_workflow_id
from i18n.labels import state_word
from models.audit import AuditEvent
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.chain_tasks import ChainTask
from models.print_order_schemas import PrintOrderCreate, TimelineItem
from models.print_orders import PrintOrder
from models.templates import TemplateVersion
from printing.vendor import PrintVendor, VendorError
from services import access, audit
from services.actor_names import audit_actor_names
from services.approvals import chain_tasks
from services.approvals.delegations import Identity
from services.funds import ledger
from services.org import Actor
from services.paging import Key, Listing, Paged, PageRequest, fetch
from services.print_orders.address import address_errors
from services.templates import content_of

PS = PartnerCampaignState
# A partner campaign whose content the GM approved: its print variant may be ordered.
ORDERABLE = frozenset({PS.approved, PS.scheduled, PS.sending, PS.sent, PS.partially_sent})
S = PrintOrderState
BEFORE_SUBMISSION = frozenset({S.quoted, S.pending_approval, S.approved})
# The workflow's audit actions whose names say the vendor missed a step.
LATE_ACTION = "print_order.vendor_late"

ORDERS = Listing(
    "print-orders",
    col(PrintOrder.id),
    {
        "id": Key(col(PrintOrder.id), "int"),
        "created_at": Key(col(PrintOrder.created_at), "datetime"),
    },
    default="-id",
)


def target(order: PrintOrder) -> Target:
    return Target(order.brand_id, order.region_id, order.partner_id)


def load(session: Session, principal: Principal, order_id: int) -> PrintOrder:
    order = session.get(PrintOrder, order_id)
    if order is None or not can_see(principal, target(order), Permission.print_order_read):
        raise NotFound("print order", order_id)
    return order


def require_create(principal: Principal, order: PrintOrder) -> None:
    if not allows(principal, Permission.print_order_create, target(order)):
        raise Problem(
            f"Your roles do not allow print_order.create on print order {order.id}",
            status=403,
            title="Forbidden",
        )


def approval_task(session: Session, order: PrintOrder) -> ChainTask | None:
    """The order's open approval task (the chain's projection), None when nothing waits."""
    if order.state != S.pending_approval or order.id is None:
        return None
    return chain_tasks.open_task(session, ChainSubject.print_order, order.id)


def decider(session: Session, principal: Principal, order: PrintOrder) -> Identity | None:
    """Who the caller decides the waiting stage as (themselves or an approver who delegated
    to them); None when they may not (or nothing waits)."""
    task = approval_task(session, order)
    return chain_tasks.decider(session, principal, task) if task is not None else None


def may_decide(session: Session, principal: Principal, order: PrintOrder) -> bool:
    return decider(session, principal, order) is not None


def may_cancel(principal: Principal, order: PrintOrder) -> bool:
    return order.state in BEFORE_SUBMISSION and allows(
        principal, Permission.print_order_create, target(order)
    )


def list_orders(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    sort: str,
    partner_campaign_id: int | None = None,
) -> Paged[PrintOrder]:
    stmt = select(PrintOrder).where(
        access.scope_filter(
            principal,
            col(PrintOrder.brand_id),
            col(PrintOrder.region_id),
            col(PrintOrder.partner_id),
            Permission.print_order_read,
        )
    )
    if partner_campaign_id is not None:
        stmt = stmt.where(PrintOrder.partner_campaign_id == partner_campaign_id)
    return fetch(session, stmt, ORDERS, sort, paging)


@dataclass(frozen=True)
class Created:
    order: PrintOrder
    created: bool  # False: the Idempotency-Key found the order an earlier request made


def _orderable(
    session: Session, principal: Principal, pc_id: int
) -> tuple[PartnerCampaign, TemplateVersion]:
    pc = session.get(PartnerCampaign, pc_id)
    if pc is None:
        raise FieldError("partner_campaign_id", said("partner campaign %(id)s not found", id=pc_id))
    access.require(
        principal,
        pc,
        Permission.print_order_create,
        read=Permission.partner_campaign_read,
        label="partner campaign",
        ident=pc_id,
    )
    if pc.state not in ORDERABLE:
        raise Conflict(
            said(
                "partner campaign %(id)s is %(state)s: print copies of approved campaigns only",
                id=pc_id,
                state=state_word(pc.state.value),
            )
        )
    campaign = session.get(Campaign, pc.campaign_id)
    assert campaign is not None
    version = session.get(TemplateVersion, campaign.template_version_id)
    assert version is not None
    return pc, version


def _replayed(earlier: PrintOrder, body: PrintOrderCreate) -> Created:
    """A retry finds the order its key made; the same key with another order is refused, so a
    client's bug never silently answers with an order it did not ask for."""
    asked = body.model_dump(mode="json")
    made = {
        name: getattr(earlier, name).isoformat() if name == "wanted_by" else getattr(earlier, name)
        for name in asked
    }
    made["postal_code"] = earlier.postal_code
    asked["postal_code"] = str(asked["postal_code"]).upper()
    if made != asked:
        raise FieldError(
            "Idempotency-Key",
            "this Idempotency-Key already ordered other copies: use a new key for a new order",
        )
    return Created(earlier, created=False)


def create(
    session: Session,
    actor: Actor,
    body: PrintOrderCreate,
    vendor: PrintVendor,
    request_key: str | None,
) -> Created:
    """Checks the campaign, the format, the vendor's quantity bands and the address; writes
    the order (state quoted) and its audit event. The caller starts the workflow after the
    commit."""
    principal = actor.principal
    pc, version = _orderable(session, principal, body.partner_campaign_id)
    if request_key:
        earlier = session.exec(
            select(PrintOrder).where(
                PrintOrder.partner_id == pc.partner_id, PrintOrder.request_key == request_key
            )
        ).first()
        if earlier is not None:
            return _replayed(earlier, body)
    content = content_of(version)
    if content.print is None:
        raise FieldError(
            "partner_campaign_id", said("this campaign's template has no print variant")
        )
    if body.format not in content.print.sizes:
        raise FieldError(
            "format",
            said(
                "format must be one of the template's: %(sizes)s",
                sizes=Items(content.print.sizes),
            ),
        )
    for field_name, message in address_errors(body.country, body.postal_code):
        raise FieldError(field_name, message)
    if body.wanted_by <= utcnow().date():
        raise FieldError("wanted_by", said("wanted_by must be a day after today"))
    try:
        products = {p.format: p for p in vendor.products()}
    except VendorError as err:
        raise Problem(
            f"the print vendor cannot be reached, try again later ({err})",
            status=503,
            title="Print vendor unavailable",
        ) from err
    product = products.get(body.format)
    if product is None:
        raise FieldError(
            "format", said("the print vendor does not print %(format)s", format=body.format)
        )
    band = product.band_for(body.quantity)
    if band is None:
        raise FieldError(
            "quantity",
            said(
                "quantity must be within the vendor's bands for %(format)s: %(bands)s",
                format=body.format,
                bands=product.quantity_rule(),
            ),
        )
    fund = ledger.fund_for(session, pc.partner_id, utcnow().date())
    order = PrintOrder(
        brand_id=pc.brand_id,
        region_id=pc.region_id,
        partner_id=pc.partner_id,
        partner_campaign_id=body.partner_campaign_id,
        fund_id=fund.id if fund is not None else None,
        format=body.format,
        quantity=body.quantity,
        locale=pc.locale,
        recipient_name=body.recipient_name,
        street=body.street,
        postal_code=body.postal_code.upper(),
        city=body.city,
        country=body.country,
        wanted_by=body.wanted_by,
        currency=product.currency,
        quote_minor=band.unit_minor * body.quantity,
        vendor=vendor.name,
        request_key=request_key,
        ordered_by=principal.user_id,
    )
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:  # a concurrent request with the same key won
        if order in session:  # the savepoint's rollback already dropped the pending row
            session.expunge(order)
        earlier = session.exec(
            select(PrintOrder).where(
                PrintOrder.partner_id == pc.partner_id, PrintOrder.request_key == request_key
            )
        ).one()
        return _replayed(earlier, body)
    assert order.id is not None
    # A nonce: ids come again after a database reset, the vendor remembers keys for ever.
    order.vendor_key = f"brandrelay-po-{order.id}-{uuid.uuid4().hex[:12]}"
    order.workflow_id = print_order_workflow_id(order.id)
    session.add(order)
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=order.brand_id,
            region_id=order.region_id,
            partner_id=order.partner_id,
            actor=str(principal.user_id),
            action="print_order.created",
            entity_type="print_order",
            entity_id=str(order.id),
            event_key=f"api:{actor.request_id}:print_order.created:{order.id}",
            after={
                "partner_campaign_id": order.partner_campaign_id,
                "format": order.format,
                "quantity": order.quantity,
                "quote_minor": order.quote_minor,
                "currency": order.currency,
                "wanted_by": order.wanted_by.isoformat(),
                "country": order.country,
            },
            request_id=actor.request_id,
        ),
    )
    return Created(order, created=True)


def timeline(session: Session, order: PrintOrder) -> list[TimelineItem]:
    events = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.brand_id == order.brand_id,
            AuditEvent.entity_type == "print_order",
            AuditEvent.entity_id == str(order.id),
        )
        .order_by(col(AuditEvent.seq))
    ).all()
    names = audit_actor_names(session, (e.actor for e in events), order.brand_id)
    return [
        TimelineItem(
            at=e.at, action=e.action, actor=e.actor, actor_name=names[e.actor], comment=e.comment
        )
        for e in events
    ]


def late_steps(items: list[TimelineItem]) -> list[str]:
    """The vendor's missed steps, from the audit trail (the comment names the step)."""
    return [i.comment or "" for i in items if i.action == LATE_ACTION]
