"""The brand's approval policies: created, versioned (a change is a new version), archived;
resolved for a campaign (a built-in by name or a policy by id) and pinned at launch.

A version is never changed once written: chains that pinned it keep running it, whatever HQ
edits afterwards. Archiving stops new campaigns from choosing the policy; campaigns that use it
keep their pinned version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from approvals import engine
from approvals.builtin import LABELS, BuiltinPolicy, builtin_spec, pinned_builtin
from approvals.diagram import mermaid
from approvals.facts import describe
from approvals.policy import Approver, Fact, PinnedPolicy, PolicySpec
from approvals.validate import PolicyError, check_against_template, check_policy
from content.spec import TemplateContent
from core.errors import Conflict, FieldError, Forbidden, NotFound, Problem
from core.policy import Permission, Principal, Target, allows, allows_in_brand
from domain.roles import Role, ScopeType
from models.approval_schemas import (
    ApproverRead,
    DiagramRead,
    DiagramStage,
    ExplainedStageRead,
    ExplainFacts,
    ExplainRead,
    Person,
    PolicyDetail,
    PolicyRead,
    PolicyVersionRead,
    TimeoutRead,
)
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion
from models.base import utcnow
from models.campaigns import Campaign
from models.org import Membership, User
from models.templates import TemplateVersion
from services import approval_facts
from services.audience import check_segment
from services.audit import begin_write
from services.org import Actor, page, record, snapshot


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
    named = {a.user_id for a in _named(spec)}
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


def _named(spec: PolicySpec) -> list[Approver]:
    """The named users of a spec: approvers and the people timeouts escalate to."""
    out = [a for s in spec.stages for a in s.approvers if a.user_id is not None]
    out += [a for s in spec.stages for t in s.timeouts for a in t.to if a.user_id is not None]
    return out


def _missing_user(field: str, user_id: int) -> PolicyError:
    return PolicyError(f"{field}.user_id", f"user {user_id} is not an active user of your brand")


def _require_manage(principal: Principal, brand_id: int) -> None:
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
    _require_manage(principal, principal.brand_id)
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
    _require_manage(actor.principal, policy.brand_id)
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
    _require_manage(actor.principal, policy.brand_id)
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


# The API: any policy by key (built-ins by name), diagrams, explain ------------------------------

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
        _require_manage(principal, principal.brand_id)
        raise Conflict(f"{key!r} is a built-in policy: it cannot be changed or archived")
    return ref.view


def list_page(
    session: Session,
    principal: Principal,
    *,
    archived: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[PolicyRef], int]:
    """The built-ins first (never archived), then the brand's policies by name.
    `archived`: True archived only, False active only, None both."""
    if not _can_read(principal):
        return [], 0
    builtin = [] if archived else [_builtin_ref(b, principal.brand_id) for b in BuiltinPolicy]
    stmt = select(ApprovalPolicy).where(ApprovalPolicy.brand_id == principal.brand_id)
    if archived is True:
        stmt = stmt.where(col(ApprovalPolicy.archived_at).is_not(None))
    elif archived is False:
        stmt = stmt.where(col(ApprovalPolicy.archived_at).is_(None))
    stmt = stmt.order_by(col(ApprovalPolicy.name), col(ApprovalPolicy.id))
    head = builtin[offset : offset + limit]
    rows, total = page(session, stmt, limit - len(head), max(0, offset - len(builtin)))
    refs = head + [_view_ref(load(session, principal, r.id or 0)) for r in rows]
    return refs, len(builtin) + total


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


def user_names(session: Session, brand_id: int, ids: Iterable[int]) -> dict[int, str]:
    """Names (else email addresses) of the brand's users among `ids`."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    users = session.exec(
        select(User).where(col(User.id).in_(wanted), User.brand_id == brand_id)
    ).all()
    return {u.id or 0: u.full_name or u.email for u in users}


def _approvers(approvers: Iterable[Approver], names: dict[int, str]) -> list[ApproverRead]:
    return [ApproverRead(role=a.role, user_id=a.user_id, name=a.label(names)) for a in approvers]


def diagram(session: Session, ref: PolicyRef) -> DiagramRead:
    """The current version drawn (mermaid) and as JSON, named users by name."""
    spec = ref.spec
    names = user_names(session, ref.brand_id, (a.user_id or 0 for a in _named(spec)))
    stages = [
        DiagramStage(
            name=s.name,
            label=s.title,
            approvers=_approvers(s.approvers, names),
            rule=s.rule,
            quorum=s.quorum,
            when=describe(s.when) if s.when else None,
            timeouts=[
                TimeoutRead(after=t.after, action=t.action, to=_approvers(t.to, names))
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


def explain(
    session: Session,
    principal: Principal,
    ref: PolicyRef,
    partner_campaign_id: int,
    segment_id: int | None = None,
) -> ExplainRead:
    """A dry run of the policy's current version for a partner campaign the caller can read
    (404 otherwise): the facts a submission would carry now (to `segment_id`, else the
    segment it was submitted to, else everyone), which stages apply and which are skipped by
    their condition, who would decide, and stages nobody could pass. Nothing changes. The
    submitter is not known before the submission, so nobody is left out for four eyes."""
    from services.campaigns import load_partner_campaign  # imports this module

    row = load_partner_campaign(session, principal, partner_campaign_id)
    if segment_id is not None:
        check_segment(session, row, segment_id)
    chosen = segment_id if segment_id is not None else row.segment_id
    facts = approval_facts.gather(session, row, segment_id=chosen)
    version = ref.view.current if ref.view else None
    pinned = PinnedPolicy(
        name=ref.name,
        spec=ref.spec,
        policy_id=ref.view.policy.id if ref.view else None,
        version_id=version.id if version else None,
        version=version.number if version else None,
    )
    explained = engine.explain(pinned, facts, submitted_by=None)
    people = {p for e in explained for p in e.people}
    names = user_names(session, row.brand_id, people | {a.user_id or 0 for a in _named(ref.spec)})
    stages = []
    for stage, done in zip(ref.spec.stages, explained, strict=True):
        gap = None
        if done.applies:
            gap = engine.staffing_gap(
                done.approvers, done.required, 0, [], facts.role_holders, done.label
            )
        stages.append(
            ExplainedStageRead(
                name=done.name,
                label=done.label,
                applies=done.applies,
                because=done.because,
                condition=describe(stage.when) if stage.when else None,
                approvers=_approvers(done.approvers, names),
                rule=done.rule,
                required=done.required,
                people=[Person(id=p, name=names.get(p, f"user {p}")) for p in done.people],
                staffing_gap=gap,
            )
        )
    problems = check_against_template(ref.spec, _template_slots(session, row.campaign_id))
    return ExplainRead(
        key=ref.key,
        name=ref.name,
        version=pinned.version,
        partner_campaign_id=partner_campaign_id,
        segment_id=chosen,
        facts=ExplainFacts(
            audience_size=facts.audience_size,
            template_tags=facts.template_tags,
            region_id=facts.region_id,
            channel=facts.channel,
        ),
        stages=stages,
        approval_needed=any(s.applies for s in stages),
        problems=[p.as_dict() for p in problems],
    )


def _template_slots(session: Session, campaign_id: int) -> list[str]:
    campaign = session.get(Campaign, campaign_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if version is None:
        return []
    return [s.name for s in TemplateContent.model_validate(version.content).slots]
