"""Approval policies as the API reads them: any policy by key (built-ins by name, a brand's
policies by id, another brand's never), pages of them, and diagrams with named users by name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from approvals.builtin import LABELS, BuiltinPolicy, builtin_spec
from approvals.diagram import mermaid
from approvals.facts import describe
from approvals.policy import Approver, PolicySpec
from core.errors import Conflict, NotFound
from core.policy import Permission, Principal, allows_in_brand
from models.approval_schemas import (
    ApproverRead,
    DiagramRead,
    DiagramStage,
    PolicyDetail,
    PolicyRead,
    PolicyVersionRead,
    TimeoutRead,
)
from models.approvals import ApprovalPolicy
from services.accounts import display_names
from services.approvals.policies import PolicyView, load, named_approvers, require_manage
from services.paging import (
    Key,
    Listing,
    Paged,
    PageRequest,
    after,
    capped_count,
    encode_cursor,
    start,
)

KEY = re.compile(r"[0-9]{1,19}")
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class PolicyRef:
    """A policy as the API addresses it: `key` is a brand policy's id or a built-in's name."""

    key: str
    name: str
    description: str
    spec: PolicySpec
    brand_id: int
    view: PolicyView | None = None

    @property
    def builtin(self) -> bool:
        return self.view is None


def _builtin_ref(builtin: BuiltinPolicy, brand_id: int) -> PolicyRef:
    return PolicyRef(builtin.value, builtin.value, LABELS[builtin], builtin_spec(builtin), brand_id)


def _view_ref(view: PolicyView) -> PolicyRef:
    policy = view.policy
    return PolicyRef(
        str(policy.id),
        policy.name,
        policy.description,
        PolicySpec.model_validate(view.current.spec),
        policy.brand_id,
        view,
    )


def _can_read(principal: Principal) -> bool:
    return allows_in_brand(principal, Permission.approval_policy_read, principal.brand_id)


def resolve(session: Session, principal: Principal, key: str) -> PolicyRef:
    """A built-in by name (every brand has them) or one of the brand's policies by id; 404
    for anything else, another brand's policies included."""
    if not _can_read(principal):
        raise NotFound("approval policy", key)
    if key in {b.value for b in BuiltinPolicy}:
        return _builtin_ref(BuiltinPolicy(key), principal.brand_id)
    if KEY.fullmatch(key) and int(key) <= INT64_MAX:
        return _view_ref(load(session, principal, int(key)))
    raise NotFound("approval policy", key)


def resolve_own(session: Session, principal: Principal, key: str) -> PolicyView:
    """A brand policy to change; the built-ins are fixed (409)."""
    ref = resolve(session, principal, key)
    if ref.view is None:
        require_manage(principal, principal.brand_id)
        raise Conflict(f"{key!r} is a built-in policy: it cannot be changed or archived")
    return ref.view


POLICIES = Listing(
    "approval-policies",
    col(ApprovalPolicy.id),
    {"name": Key(col(ApprovalPolicy.name), "str")},
    default="name",
    ascending_only=True,
)
BUILTINS = list(BuiltinPolicy)


def _builtin_position(index: int) -> tuple[str, int]:
    """A built-in's place in a cursor: its name and a negative id (they have no row), -3 for
    the first of three, so a cursor tells the built-ins from the brand's policies."""
    return BUILTINS[index].value, index - len(BUILTINS)


def list_page(
    session: Session,
    principal: Principal,
    *,
    archived: bool | None,
    paging: PageRequest,
    sort: str = POLICIES.default,
) -> Paged[PolicyRef]:
    """The built-ins first (never archived), then the brand's policies by name.
    `archived`: True archived only, False active only, None both."""
    POLICIES.order(sort)
    if not _can_read(principal):
        return Paged([], None, 0)
    position = start(paging, POLICIES, sort)
    first_builtin = 0 if position is None else len(BUILTINS) + min(position[1], 0) + 1
    if archived:
        first_builtin = len(BUILTINS)
    head = [
        (_builtin_position(i), _builtin_ref(BUILTINS[i], principal.brand_id))
        for i in range(first_builtin, len(BUILTINS))
    ]
    skip_builtins = min(paging.offset, len(head)) if position is None else 0
    head = head[skip_builtins:]
    stmt = select(ApprovalPolicy).where(ApprovalPolicy.brand_id == principal.brand_id)
    if archived is True:
        stmt = stmt.where(col(ApprovalPolicy.archived_at).is_not(None))
    elif archived is False:
        stmt = stmt.where(col(ApprovalPolicy.archived_at).is_(None))
    rows_stmt = stmt
    if position is not None and position[1] > 0:
        rows_stmt = rows_stmt.where(after(POLICIES, sort, position))
    elif position is None:
        rows_stmt = rows_stmt.offset(paging.offset - skip_builtins)
    want = paging.limit + 1 - len(head)
    rows = (
        session.exec(
            rows_stmt.order_by(col(ApprovalPolicy.name), col(ApprovalPolicy.id)).limit(want)
        ).all()
        if want > 0
        else []
    )
    found = head + [
        ((r.name, r.id or 0), _view_ref(load(session, principal, r.id or 0))) for r in rows
    ]
    page = found[: paging.limit]
    next_cursor = None
    if len(found) > paging.limit and page:
        next_cursor = encode_cursor(paging.secret, POLICIES, sort, page[-1][0])
    total = None
    if position is None:
        brand_total = capped_count(session, stmt)
        total = None if brand_total is None else brand_total + (0 if archived else len(BUILTINS))
    return Paged([ref for _, ref in page], next_cursor, total)


def policy_read(ref: PolicyRef) -> PolicyRead:
    return PolicyRead(**_read_fields(ref))


def policy_detail(ref: PolicyRef) -> PolicyDetail:
    versions = []
    if ref.view is not None:
        versions = [
            PolicyVersionRead(
                id=v.id or 0, number=v.number, created_by=v.created_by, created_at=v.created_at
            )
            for v in ref.view.versions
        ]
    return PolicyDetail(**_read_fields(ref), versions=versions)


def _read_fields(ref: PolicyRef) -> dict[str, object]:
    fields: dict[str, object] = {
        "key": ref.key,
        "builtin": ref.builtin,
        "name": ref.name,
        "description": ref.description,
        "spec": ref.spec,
    }
    if ref.view is not None:
        policy, current = ref.view.policy, ref.view.current
        fields |= {
            "id": policy.id,
            "current_version": current.number,
            "current_version_id": current.id,
            "archived_at": policy.archived_at,
            "created_at": policy.created_at,
            "updated_at": policy.updated_at,
        }
    return fields


def approver_reads(approvers: Iterable[Approver], names: dict[int, str]) -> list[ApproverRead]:
    return [ApproverRead(role=a.role, user_id=a.user_id, name=a.label(names)) for a in approvers]


def diagram(session: Session, ref: PolicyRef) -> DiagramRead:
    """The current version drawn (mermaid) and as JSON, named users by name."""
    spec = ref.spec
    names = display_names(session, (a.user_id or 0 for a in named_approvers(spec)), ref.brand_id)
    stages = [
        DiagramStage(
            name=s.name,
            label=s.title,
            approvers=approver_reads(s.approvers, names),
            rule=s.rule,
            quorum=s.quorum,
            when=describe(s.when) if s.when else None,
            timeouts=[
                TimeoutRead(after=t.after, action=t.action, to=approver_reads(t.to, names))
                for t in s.timeouts
            ],
        )
        for s in spec.stages
    ]
    return DiagramRead(
        key=ref.key,
        name=ref.name,
        version=ref.view.current.number if ref.view else None,
        mermaid=mermaid(spec, names),
        stages=stages,
    )
