"""A brand's campaign history at scale, on top of scripts.bulk.network, for bench.portal_scale:
campaigns, their partner campaigns in every state, the open inbox tasks, the delivery ledger
of the big send, outbox rows, partner assets and audit events.

The shape (defaults: 100 campaigns over 10,000 partners):
- campaign 1 went to every partner and is completed: every partner campaign sent, each with
  one ledger row per contact (10,000 x 200 = 2 million rows: 97 % sent, 2 % failed, 1 %
  suppressed), the first `outbox_partners` partners' messages also as outbox rows;
- campaigns 2-21 went to every partner and are running: partner campaigns spread over the
  states before sending, with an open task each (personalise, or approve at the GM stage; one
  in 20 waiting for brand review);
- the other campaigns went to one region each: a third completed (sent), a third running,
  a third drafts not launched (no partner campaigns);
- one approved local asset per partner (rows sharing a demo asset's files);
- one audit event per partner campaign (its invitation) and per sent partner campaign,
  chained and keyed like every other event (services.audit.keyed_hash), so /audit/verify
  still holds.

The rows are what the workflows' projections write, without running workflows: there are no
Temporal executions behind them (reads never need them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

from sqlalchemy import text
from sqlmodel import Session, col, select

from core.audit_keys import current_keys
from domain.states import CampaignState, TemplateState
from domain.states import PartnerCampaignState as PC
from domain.workflow_ids import campaign_workflow_id, partner_campaign_workflow_id
from models.assets import Asset, AssetVersion
from models.audit import AuditChainHead, AuditEvent
from models.base import utcnow
from models.org import Brand, Partner, User
from models.templates import Template, TemplateVersion
from scripts.bulk.rows import analyze, indexes_rebuilt_after, reserve_ids, write_rows
from services.audit import GENESIS_HASH, MAC_HMAC, keyed_hash

ALL_PARTNER_CAMPAIGNS = 20  # running campaigns to every partner (after the big sent one)
RUNNING_MIX = (
    (PC.invited, 30),
    (PC.drafting, 25),
    (PC.changes_requested, 5),
    (PC.pending_approval, 20),
    (PC.approved, 5),
    (PC.scheduled, 10),
    (PC.declined, 5),
)
_RUNNING = [state for state, weight in RUNNING_MIX for _ in range(weight)]
_GM = json.dumps([{"role": "partner_gm"}])
_REVIEWER = json.dumps([{"role": "brand_reviewer"}])


@dataclass(frozen=True)
class ActivitySeeded:
    campaigns: int
    partner_campaigns: int
    tasks: int
    deliveries: int
    outbox: int
    assets: int
    audit_events: int
    big_campaign_id: int


def _template_version(session: Session, brand_id: int) -> TemplateVersion:
    return session.exec(
        select(TemplateVersion)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(
            Template.brand_id == brand_id,
            Template.name == "Open day",
            TemplateVersion.state == TemplateState.published,
        )
    ).one()


def seed_activity(
    session: Session,
    *,
    campaigns: int = 100,
    brand_slug: str = "northwind",
    outbox_partners: int = 500,
) -> ActivitySeeded:
    """Adds the campaign history to the brand's generated partners (scale-*). Not idempotent:
    run it once on a network (bench.portal_scale checks for its campaigns first)."""
    brand = session.exec(select(Brand).where(Brand.slug == brand_slug)).one()
    assert brand.id is not None
    brand_id = brand.id
    domain = f"{brand_slug}.example"
    marketer = session.exec(select(User).where(User.email == f"marketing@{domain}")).one()
    assert marketer.id is not None
    version = _template_version(session, brand_id)
    partners = session.exec(
        select(Partner.id, Partner.region_id, Partner.slug)
        .where(Partner.brand_id == brand_id, col(Partner.slug).like("scale-%"))
        .order_by(col(Partner.id))
    ).all()
    if not partners:
        raise ValueError("no generated partners: seed the network first (scripts.bulk.network)")
    by_region: dict[int, list[tuple[int, int]]] = {}
    for pid, rid, _ in partners:
        by_region.setdefault(int(rid), []).append((int(pid or 0), int(rid)))
    regions = sorted(by_region)
    everyone = [(int(pid or 0), int(rid)) for pid, rid, _ in partners]
    now = utcnow()

    # Campaigns --------------------------------------------------------------------------
    campaign_ids = reserve_ids(session, "campaign", campaigns)
    plans: list[tuple[int, CampaignState, list[tuple[int, int]], dict[str, object]]] = []
    for k, cid in enumerate(campaign_ids):
        if k == 0:
            plans.append((cid, CampaignState.completed, everyone, {"all": True}))
        elif k <= ALL_PARTNER_CAMPAIGNS:
            plans.append((cid, CampaignState.running, everyone, {"all": True}))
        else:
            rid = regions[k % len(regions)]
            kind = (
                CampaignState.completed,
                CampaignState.running,
                CampaignState.draft,
            )[k % 3]
            targets = by_region[rid] if kind != CampaignState.draft else []
            plans.append((cid, kind, targets, {"regions": [rid]}))

    def campaign_rows() -> Iterator[tuple[object, ...]]:
        for k, (cid, state, _, target) in enumerate(plans):
            created = now - timedelta(days=campaigns - k)
            launched = None if state == CampaignState.draft else created + timedelta(hours=1)
            yield (
                cid,
                brand_id,
                f"Scale campaign {k + 1:03d}",
                version.id,
                json.dumps(target),
                created + timedelta(days=7),
                created + timedelta(days=14),
                "opt_in",
                "gm",
                None,
                None,
                2 * 86400,
                4 * 86400,
                "{}",
                state.value,
                None,
                None,
                None if state == CampaignState.draft else campaign_workflow_id(cid),
                "{}",
                marketer.id,
                launched,
                created,
                created,
            )

    write_rows(
        session,
        "campaign",
        "id brand_id name template_version_id target personalise_until send_by mode"
        " approval_policy approval_policy_id approval_policy_version_id remind_after"
        " escalate_after defaults state idempotency_key idempotency_fingerprint workflow_id"
        " summary created_by launched_at created_at updated_at",
        campaign_rows(),
    )

    # Partner campaigns and their tasks -------------------------------------------------------
    n_pcs = sum(len(t) for _, _, t, _ in plans)
    pc_ids = iter(reserve_ids(session, "partnercampaign", n_pcs))
    # (pc id, campaign id, partner id, region id, state)
    pcs: list[tuple[int, int, int, int, PC]] = []
    for k, (cid, state, targets, _) in enumerate(plans):
        for j, (pid, rid) in enumerate(targets):
            if state == CampaignState.completed:
                pc_state = PC.sent
            else:
                pc_state = _RUNNING[(j * 7 + k * 13) % len(_RUNNING)]
            pcs.append((next(pc_ids), cid, pid, rid, pc_state))

    def pc_rows() -> Iterator[tuple[object, ...]]:
        for pc_id, cid, pid, rid, state in pcs:
            at = now - timedelta(minutes=pc_id % 10_000)
            yield (
                pc_id,
                cid,
                brand_id,
                rid,
                pid,
                state.value,
                "gm" if state == PC.pending_approval else None,
                None,
                "{}",
                "en",
                None,
                None,
                None,
                None,
                0,
                1 if state == PC.pending_approval else 0,
                0,
                None,
                "{}",
                partner_campaign_workflow_id(cid, pid),
                at,
                at,
            )

    with indexes_rebuilt_after(session, "partnercampaign", n_pcs):
        write_rows(
            session,
            "partnercampaign",
            "id campaign_id brand_id region_id partner_id state approval_stage"
            " approval_policy_version_id values locale send_at submitted_by decided_by"
            " decision_comment escalation_level revision last_seq segment_id audience"
            " workflow_id created_at updated_at",
            pc_rows(),
        )
    personalise = {PC.invited, PC.drafting, PC.changes_requested}

    def task_rows() -> Iterator[tuple[object, ...]]:
        for pc_id, cid, pid, rid, state in pcs:
            due = now + timedelta(days=(pc_id % 9) - 2)  # some overdue
            if state in personalise:
                yield (
                    pc_id,
                    cid,
                    brand_id,
                    rid,
                    pid,
                    "personalise",
                    True,
                    due,
                    0,
                    None,
                    "",
                    "[]",
                    "[]",
                    1,
                    0,
                    None,
                    now,
                    now,
                )
            elif state == PC.pending_approval:
                hq = pc_id % 20 == 0
                yield (
                    pc_id,
                    cid,
                    brand_id,
                    rid,
                    pid,
                    "approve",
                    True,
                    due,
                    0,
                    "brand_review" if hq else "gm",
                    "Brand review" if hq else "The partner's GM",
                    _REVIEWER if hq else _GM,
                    "[]",
                    1,
                    0,
                    None,
                    now,
                    now,
                )

    with indexes_rebuilt_after(session, "approvaltask", n_pcs // 2):
        tasks = write_rows(
            session,
            "approvaltask",
            "partner_campaign_id campaign_id brand_id region_id partner_id kind open due_at"
            " escalation_level stage stage_label approvers excluded_user_ids required approvals"
            " blocked created_at updated_at",
            task_rows(),
        )

    # The big send's ledger and its outbox rows, written by the database from the contacts ---
    big = plans[0][0]
    sent_at = now - timedelta(days=campaigns - 1)
    ledger = {"b": brand_id, "big": big, "at": sent_at, "domain": domain}
    n_deliveries = int(
        session.execute(
            text(
                "SELECT count(*) FROM partnercampaign pc JOIN contact c"
                " ON c.partner_id = pc.partner_id WHERE pc.campaign_id = :big"
            ),
            ledger,
        ).scalar_one()
    )
    # Status by contact id: 2 % failed, 1 % suppressed, the rest sent; the Message-ID names
    # the partner campaign and the contact (unique per ledger row).
    with indexes_rebuilt_after(session, "delivery", n_deliveries):
        session.execute(
            text(
                "INSERT INTO delivery (partner_campaign_id, brand_id, partner_id, contact_id,"
                " email, status, attempts, message_id, provider_message_id, error, permanent,"
                " created_at, updated_at, sent_at)"
                " SELECT pc.id, :b, pc.partner_id, c.id, c.email,"
                " CASE WHEN c.id % 100 < 2 THEN 'failed' WHEN c.id % 100 < 3 THEN 'suppressed'"
                " ELSE 'sent' END, 1,"
                " CASE WHEN c.id % 100 >= 3 THEN '<d' || pc.id || '.' || c.id || '@' || :domain"
                " || '>' END, NULL,"
                " CASE WHEN c.id % 100 < 2 THEN 'InvalidRecipient: mailbox unavailable' END,"
                " c.id % 100 < 2, :at, :at, CASE WHEN c.id % 100 >= 3 THEN :at END"
                " FROM partnercampaign pc JOIN contact c ON c.partner_id = pc.partner_id"
                " WHERE pc.campaign_id = :big ORDER BY pc.id, c.id"
            ),
            ledger,
        )
    first_pcs = [pc_id for pc_id, cid, *_ in pcs if cid == big][:outbox_partners]
    outbox = 0
    if first_pcs:
        outbox = int(
            session.execute(  # type: ignore[attr-defined]
                text(
                    'INSERT INTO outboxmessage (message_id, "to", subject, brand_id,'
                    " partner_campaign_id, delivery_id, path, sent_at)"
                    " SELECT message_id, email, 'Open day at your club', brand_id,"
                    " partner_campaign_id, CAST(id AS VARCHAR), 'seed-' || id || '.eml', sent_at"
                    " FROM delivery WHERE partner_campaign_id BETWEEN :lo AND :hi"
                    " AND status = 'sent' ORDER BY id"
                ),
                {"lo": first_pcs[0], "hi": first_pcs[-1]},
            ).rowcount
        )
    # Partner assets, sharing one demo image's files -------------------------------------------
    assets = _partner_assets(session, brand_id, [(pid, rid) for pid, rid in everyone], now)

    # Audit events, chained after the brand's head ----------------------------------------------
    events = _audit(session, brand_id, pcs, plans, big, now)
    analyze(
        session,
        "campaign",
        "partnercampaign",
        "approvaltask",
        "delivery",
        "outboxmessage",
        "asset",
        "assetversion",
        "auditevent",
    )
    return ActivitySeeded(
        campaigns=len(plans),
        partner_campaigns=len(pcs),
        tasks=tasks,
        deliveries=n_deliveries,
        outbox=outbox,
        assets=assets,
        audit_events=events,
        big_campaign_id=big,
    )


def _partner_assets(
    session: Session, brand_id: int, partners: list[tuple[int, int]], now: datetime
) -> int:
    source = session.exec(
        select(Asset).where(Asset.brand_id == brand_id, Asset.uid == "ast_team0001")
    ).first()
    if source is None or source.id is None:
        return 0
    version = session.exec(select(AssetVersion).where(AssetVersion.asset_id == source.id)).first()
    if version is None:
        return 0
    ids = reserve_ids(session, "asset", len(partners))
    write_rows(
        session,
        "asset",
        "id uid brand_id partner_id region_id title description tags_index tags"
        " allowed_region_ids licence_expires_on state current_version content_type size width"
        " height checksum uploaded_by decided_by decision_comment created_at updated_at",
        (
            (
                aid,
                f"ast_s{aid:010d}",
                brand_id,
                pid,
                rid,
                f"Local photo {aid}",
                "",
                ",local,",
                '["local"]',
                "[]",
                None,
                "approved",
                1,
                source.content_type,
                source.size,
                source.width,
                source.height,
                source.checksum,
                source.uploaded_by,
                source.uploaded_by,
                None,
                now,
                now,
            )
            for aid, (pid, rid) in zip(ids, partners, strict=True)
        ),
    )
    write_rows(
        session,
        "assetversion",
        "asset_id number filename storage_key content_type size width height checksum"
        " renditions uploaded_by created_at",
        (
            (
                aid,
                1,
                version.filename,
                version.storage_key,
                version.content_type,
                version.size,
                version.width,
                version.height,
                version.checksum,
                json.dumps(version.renditions),
                version.uploaded_by,
                now,
            )
            for aid in ids
        ),
    )
    return len(ids)


def _audit(
    session: Session,
    brand_id: int,
    pcs: list[tuple[int, int, int, int, PC]],
    plans: list[tuple[int, CampaignState, list[tuple[int, int]], dict[str, object]]],
    big: int,
    now: datetime,
) -> int:
    key = current_keys().current
    head = session.get(AuditChainHead, brand_id)
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    launched = {cid: now - timedelta(days=len(plans) - k) for k, (cid, *_) in enumerate(plans)}
    specs: list[tuple[int, int, int, int, str, str, dict[str, str]]] = []
    for pc_id, cid, pid, rid, state in pcs:
        specs.append((pc_id, cid, pid, rid, "invited", "partner_campaign.invited", {}))
        if cid == big:
            specs.append((pc_id, cid, pid, rid, "sent", "partner_campaign.sent", {}))
        elif state != PC.invited:
            specs.append((pc_id, cid, pid, rid, state.value, f"partner_campaign.{state.value}", {}))
    rows: list[tuple[object, ...]] = []
    for pc_id, cid, pid, rid, to_state, action, _ in specs:
        seq += 1
        at = (launched[cid] + timedelta(seconds=seq % 86_400)).astimezone(UTC)
        # The fields services.audit.canonical_json reads, on a plain object: building
        # 400,000 ORM rows only to hash them cost five times the hashing.
        event = SimpleNamespace(
            brand_id=brand_id,
            seq=seq,
            event_key=f"seed:{pc_id}:{to_state}",
            at=datetime.fromisoformat(at.isoformat(timespec="microseconds")),
            actor="system",
            action=action,
            entity_type="partnercampaign",
            entity_id=str(pc_id),
            region_id=rid,
            partner_id=pid,
            before=None,
            after={"state": to_state},
            comment=None,
            request_id=None,
            workflow_id=partner_campaign_workflow_id(cid, pid),
            run_id=None,
            prev_hash=prev,
        )
        event.hash = keyed_hash(key, prev, cast(AuditEvent, event))
        prev = event.hash
        rows.append(
            (
                brand_id,
                seq,
                event.event_key,
                event.at,
                "system",
                action,
                "partnercampaign",
                str(pc_id),
                rid,
                pid,
                None,
                json.dumps({"state": to_state}),
                None,
                None,
                event.workflow_id,
                None,
                event.prev_hash,
                event.hash,
                MAC_HMAC,
                key.key_id,
            )
        )
    with indexes_rebuilt_after(session, "auditevent", len(rows)):
        write_rows(
            session,
            "auditevent",
            "brand_id seq event_key at actor action entity_type entity_id region_id partner_id"
            " before after comment request_id workflow_id run_id prev_hash hash mac_version"
            " key_id",
            rows,
        )
    if head is None:
        head = AuditChainHead(brand_id=brand_id, seq=seq, hash=prev)
    else:
        head.seq, head.hash = seq, prev
    session.add(head)
    session.flush()
    return len(rows)
