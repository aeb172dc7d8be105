"""The brand's approval policies: created, versioned (a change is a new version), archived;
resolved for a campaign (a built-in by name or a policy by id) and pinned at launch.

A version is never changed once written: chains that pinned it keep running it, whatever HQ
edits afterwards. Archiving stops new campaigns from choosing the policy; campaigns that use it
keep their pinned version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from approvals.builtin import LABELS, BuiltinPolicy, builtin_spec, pinned_builtin
from approvals.policy import Approver, Fact, PinnedPolicy, PolicySpec
from approvals.validate import PolicyError, check_against_template, check_policy
from content.spec import TemplateContent
from core.errors import Conflict, FieldError, Forbidden, NotFound, Problem
from core.policy import Permission, Principal, Target, allows, allows_in_brand
from domain.roles import Role, ScopeType
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion
from models.base import utcnow
from models.campaigns import Campaign
from models.org import Membership, User
from models.templates import TemplateVersion
from services.audit import begin_write
from services.org import Actor, record, snapshot


def refuse_spec(errors: list[dict[str, str]]) -> None:
    if errors:
        raise Problem(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            status=422,
            title="Invalid approval policy",
            errors=errors,
        )


def brand_reviewer_count(session: Session, brand_id: int) -> int:
    return int(
        session.exec(
            select(func.count(func.distinct(Membership.user_id)))
            .join(User, col(User.id) == col(Membership.user_id))
            .where(
                Membership.brand_id == brand_id,
                Membership.role == Role.brand_reviewer.value,
                Membership.scope_type == ScopeType.brand.value,
                col(User.is_active),
            )
        ).one()
    )


def brand_slot_names(session: Session, brand_id: int) -> set[str]:
    """Every slot name any template version of the brand declares."""
    contents = session.exec(
        select(TemplateVersion.content).where(TemplateVersion.brand_id == brand_id)
    ).all()
    return {
        str(slot["name"])
        for content in contents
        for slot in (content or {}).get("slots") or []
        if isinstance(slot, dict) and "name" in slot
    }


def _check(session: Session, brand_id: int, spec: PolicySpec, prefix: str = "spec") -> None:
    """Every rule the spec breaks, with what only the database knows: named approvers are
    active users of the brand, a quorum of brand reviewers can be reached, a condition on a
    slot names a slot some template of the brand has (a slot no template has never holds)."""
    found = check_policy(spec, brand_reviewers=brand_reviewer_count(session, brand_id))
    named = {a.user_id for a in named_approvers(spec)}
    if named:
        known = set(
            session.exec(
                select(User.id).where(
                    col(User.id).in_(sorted(named)),
                    User.brand_id == brand_id,
                    col(User.is_active),
                )
            ).all()
        )
        for i, stage in enumerate(spec.stages):
            for j, approver in enumerate(stage.approvers):
                if approver.user_id is not None and approver.user_id not in known:
                    found.append(_missing_user(f"stages.{i}.approvers.{j}", approver.user_id))
            for t, timeout in enumerate(stage.timeouts):
                for j, approver in enumerate(timeout.to):
                    if approver.user_id is not None and approver.user_id not in known:
                        where = f"stages.{i}.timeouts.{t}.to.{j}"
                        found.append(_missing_user(where, approver.user_id))
    if any(s.when is not None and s.when.fact == Fact.slot for s in spec.stages):
        slots = brand_slot_names(session, brand_id)
        for i, stage in enumerate(spec.stages):
            when = stage.when
            if when is not None and when.fact == Fact.slot and when.slot not in slots:
                found.append(
                    PolicyError(
                        f"stages.{i}.when.slot",
                        f"no template of the brand has a slot {when.slot!r}: the condition "
                        "could never hold",
                    )
                )
    refuse_spec([{"field": f"{prefix}.{e.field}", "message": e.message} for e in found])


def named_approvers(spec: PolicySpec) -> list[Approver]:
    """The named users of a spec: approvers and the people timeouts escalate to."""
    out = [a for s in spec.stages for a in s.approvers if a.user_id is not None]
    out += [a for s in spec.stages for t in s.timeouts for a in t.to if a.user_id is not None]
    return out


def _missing_user(field: str, user_id: int) -> PolicyError:
    return PolicyError(f"{field}.user_id", f"user {user_id} is not an active user of your brand")


def require_manage(principal: Principal, brand_id: int) -> None:
    if not allows(principal, Permission.approval_policy_manage, Target(brand_id)):
        raise Forbidden(f"Your roles do not allow {Permission.approval_policy_manage.value}")


# Reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyView:
    policy: ApprovalPolicy
    versions: list[ApprovalPolicyVersion]

    @property
    def current(self) -> ApprovalPolicyVersion:
        return self.versions[-1]


def load(session: Session, principal: Principal, policy_id: int) -> PolicyView:
    policy = session.get(ApprovalPolicy, policy_id)
    if policy is None or not allows_in_brand(
        principal, Permission.approval_policy_read, policy.brand_id
    ):
        raise NotFound("approval policy", policy_id)
    versions = list(
        session.exec(
            select(ApprovalPolicyVersion)
            .where(ApprovalPolicyVersion.policy_id == policy_id)
            .order_by(col(ApprovalPolicyVersion.number))
        ).all()
    )
    return PolicyView(policy, versions)


def list_policies(
    session: Session, principal: Principal, *, archived: bool = False
) -> list[PolicyView]:
    if not allows_in_brand(principal, Permission.approval_policy_read, principal.brand_id):
        return []
    stmt = select(ApprovalPolicy).where(ApprovalPolicy.brand_id == principal.brand_id)
    if not archived:
        stmt = stmt.where(col(ApprovalPolicy.archived_at).is_(None))
    rows = session.exec(stmt.order_by(col(ApprovalPolicy.name))).all()
    return [load(session, principal, r.id or 0) for r in rows]


def builtins() -> list[tuple[BuiltinPolicy, str, PolicySpec]]:
    """The built-in policies with the campaign defaults' timeouts (for listing and diagrams)."""
    return [(b, LABELS[b], builtin_spec(b)) for b in BuiltinPolicy]


# Writing --------------------------------------------------------------------------------------


def create(
    session: Session, actor: Actor, name: str, description: str, spec: PolicySpec
) -> PolicyView:
    principal = actor.principal
    require_manage(principal, principal.brand_id)
    name = name.strip()
    if name in {b.value for b in BuiltinPolicy}:
        raise FieldError("name", f"{name!r} is a built-in policy's name")
    taken = session.exec(
        select(ApprovalPolicy.id).where(
            ApprovalPolicy.brand_id == principal.brand_id, ApprovalPolicy.name == name
        )
    ).first()
    if taken is not None:
        raise Problem(
            f"name: the brand already has a policy named {name!r}",
            status=409,
            title="Conflict",
            errors=[{"field": "name", "message": f"the brand already has a policy named {name!r}"}],
        )
    _check(session, principal.brand_id, spec)
    policy = ApprovalPolicy(
        brand_id=principal.brand_id,
        name=name,
        description=description,
        created_by=principal.user_id,
    )
    session.add(policy)
    session.flush()
    version = ApprovalPolicyVersion(
        policy_id=policy.id or 0,
        brand_id=principal.brand_id,
        number=1,
        spec=spec.model_dump(mode="json"),
        created_by=principal.user_id,
    )
    session.add(version)
    session.flush()
    record(session, actor, "approval_policy.created", policy, None, _state(policy, version))
    return PolicyView(policy, [version])


def new_version(session: Session, actor: Actor, view: PolicyView, spec: PolicySpec) -> PolicyView:
    """A new version; running chains keep the one they pinned, new launches pin this one."""
    policy = view.policy
    require_manage(actor.principal, policy.brand_id)
    _check(session, policy.brand_id, spec)
    # The policy and its latest version are read again under the write lock (SQLite: BEGIN
    # IMMEDIATE; PostgreSQL: the policy row locked), so two versions posted at once get
    # distinct numbers and an archive that just committed is seen; a race the lock did not
    # prevent is a 409, never a failed insert.
    begin_write(session)
    lock = select(ApprovalPolicy).where(ApprovalPolicy.id == policy.id)
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update()
    policy = session.exec(lock.execution_options(populate_existing=True)).one()
    if policy.archived_at is not None:
        raise Conflict(f"approval policy {policy.id} is archived")
    latest = session.exec(
        select(ApprovalPolicyVersion)
        .where(ApprovalPolicyVersion.policy_id == policy.id)
        .order_by(col(ApprovalPolicyVersion.number).desc())
    ).first()
    number = (latest.number if latest else 0) + 1
    version = ApprovalPolicyVersion(
        policy_id=policy.id or 0,
        brand_id=policy.brand_id,
        number=number,
        spec=spec.model_dump(mode="json"),
        created_by=actor.principal.user_id,
    )
    before = _state(policy, latest or view.current)
    policy.current_version = number
    policy.updated_at = utcnow()
    session.add_all([version, policy])
    try:
        session.flush()
    except IntegrityError as err:
        raise Conflict(
            f"approval policy {policy.id}: another version was saved at the same moment; "
            "reload it and try again"
        ) from err
    record(session, actor, "approval_policy.versioned", policy, before, _state(policy, version))
    return load(session, actor.principal, policy.id or 0)


def archive(session: Session, actor: Actor, view: PolicyView) -> PolicyView:
    policy = view.policy
    require_manage(actor.principal, policy.brand_id)
    if policy.archived_at is None:
        before = snapshot(policy)
        policy.archived_at = utcnow()
        session.add(policy)
        session.flush()
        record(session, actor, "approval_policy.archived", policy, before, snapshot(policy))
    return view


def _state(policy: ApprovalPolicy, version: ApprovalPolicyVersion) -> dict[str, object]:
    return {"name": policy.name, "version": version.number, "spec": version.spec}


# For campaigns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What a campaign's `approval_policy` names: a built-in, or a policy of the brand."""

    name: str
    policy_id: int | None = None


def choose(session: Session, brand_id: int, value: BuiltinPolicy | int | str) -> Choice:
    if isinstance(value, BuiltinPolicy):
        return Choice(value.value)
    if isinstance(value, str):
        return Choice(BuiltinPolicy(value).value)
    policy = session.get(ApprovalPolicy, value)
    if policy is None or policy.brand_id != brand_id:
        raise FieldError("approval_policy", f"approval policy {value} does not exist in your brand")
    if policy.archived_at is not None:
        raise FieldError("approval_policy", f"approval policy {policy.name!r} is archived")
    return Choice(policy.name, policy.id)


def pin(session: Session, campaign: Campaign, content: TemplateContent) -> PinnedPolicy:
    """The policy version the campaign's partner campaigns run (the current one at launch),
    checked against the template (conditions on slots it lacks are refused)."""
    if campaign.approval_policy_id is None:
        return pinned_builtin(
            campaign.approval_policy, campaign.remind_after, campaign.escalate_after
        )
    version = session.exec(
        select(ApprovalPolicyVersion)
        .where(ApprovalPolicyVersion.policy_id == campaign.approval_policy_id)
        .order_by(col(ApprovalPolicyVersion.number).desc())
    ).first()
    if campaign.approval_policy_version_id is not None:
        version = session.get(ApprovalPolicyVersion, campaign.approval_policy_version_id)
    if version is None:
        raise FieldError("approval_policy", "the campaign's approval policy has no version")
    spec = PolicySpec.model_validate(version.spec)
    errors = check_against_template(spec, (s.name for s in content.slots))
    refuse_spec([{"field": f"approval_policy.{e.field}", "message": e.message} for e in errors])
    return PinnedPolicy(
        name=campaign.approval_policy,
        spec=spec,
        policy_id=campaign.approval_policy_id,
        version_id=version.id,
        version=version.number,
    )
