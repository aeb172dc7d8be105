"""Reports at scale: every report of issue 20 on PostgreSQL with 10,000 partners, 1,000
campaigns, about 200,000 partner campaigns and 10 million delivery rows; goal < 500 ms each.

    python -m bench.reports --database-url postgresql://postgres@127.0.0.1:5432/brandrelay_reports
    python -m bench.reports --scale 0.01   # quick: 100 partners, 10 campaigns, 100,000 rows
    python -m bench.reports --reuse        # time again on the seeded data

Without --reuse the database's public schema is dropped and recreated, migrated and seeded (see
docs/reporting-bench.md for the shape): the demo organisation; scripts.bulk.network's partners
(in 20 regions, no contacts: reports never read them) and a region manager; then a year of
campaigns, each to about 200 partners of one region, whose partner campaigns went through the
lifecycle (open, saves, refused saves, submit, approval stages with reminders, escalations and
requested changes, approve, schedule, start_sending, finish; or decline, expiry, rejection),
written as the projections write them: TransitionFact, CycleTime, ContentRefusal, the partner
campaign row and its open task. Campaigns of the last month are still running: only the
facts before now are kept. Sent partner campaigns get delivery rows and delivery events
(delivered, bounces, complaints, opens, clicks, unsubscribes), and the days before today are
rolled up into ReportDaily with the brand's RollupWatermark, as the rollup writes them. The
load ends with VACUUM (ANALYZE).

Then each report is called `--requests` times with a brand admin's scope (my_report with a
partner's; funnel, delivery and time to market also with a region manager's, and with a
campaign and a region filter), next to a plain count(*) over the rows the report reads.
Prints p50/p95 per report, the baseline's p50 and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, select

import models  # noqa: F401 - registers the tables
from bench.portal_scale import _settings, percentile
from core.db import make_engine
from core.security import hash_password
from domain.roles import Role, ScopeType
from domain.states import CampaignState
from domain.workflow_ids import campaign_workflow_id, partner_campaign_workflow_id
from models.org import Membership, Partner, Region, User
from scripts.bulk.activity import _template_version
from scripts.bulk.network import gm_email, seed_network
from scripts.bulk.rows import analyze, indexes_rebuilt_after, reserve_ids, write_rows
from scripts.demo.organisation import DEMO_PASSWORD, seed_demo
from scripts.migrate import upgrade

GOAL_MS = 500.0
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/brandrelay_reports"
FULL_PARTNERS = 10_000
FULL_CAMPAIGNS = 1_000
FULL_DELIVERIES = 10_000_000
REGIONS = 20
DAYS = 365  # campaigns launched over the last year
RUNNING_DAYS = 30  # campaigns launched in the last month still run
PERSONALISE_DAYS = 14
HQ = "admin@northwind.example"
REGION_MANAGER = "rm.scale-region-01@northwind.example"
TWO_STAGES = ("gm", "brand_review")
STAGE_LABELS = {"gm": "The partner's GM", "brand_review": "Brand review"}
APPROVERS = {"gm": '[{"role": "partner_gm"}]', "brand_review": '[{"role": "brand_reviewer"}]'}
RULES = (
    ("too_long", "headline"),
    ("restricted_word", "body"),
    ("bad_url", "cta_url"),
    ("asset_not_approved", "hero_image"),
    ("outside_window", "event_date"),
    ("restricted_pattern", "body"),
)
CAMPAIGNS_PER_BATCH = 50  # partner campaigns and facts are built and written this many at a time


@dataclass(frozen=True)
class Shape:
    """What `--scale` asks for."""

    partners: int
    campaigns: int
    deliveries: int

    @classmethod
    def of(cls, scale: float) -> Shape:
        return cls(
            partners=max(REGIONS * 5, round(FULL_PARTNERS * scale)),
            campaigns=max(10, round(FULL_CAMPAIGNS * scale)),
            deliveries=max(10_000, round(FULL_DELIVERIES * scale)),
        )


# Partner campaign paths ----------------------------------------------------------------------


@dataclass
class Timeline:
    """One partner campaign's planned timeline (facts, the cycle times they end, refusals),
    built the way services.reporting.facts derives them from the transitions."""

    facts: list[tuple[str, str, str, str | None, str | None, int, datetime]] = field(
        default_factory=list
    )  # event, from, to, stage, next_stage, revision, at
    cycles: list[tuple[int, str, str | None, datetime, datetime]] = field(
        default_factory=list
    )  # fact index, kind, stage, started, ended
    refusals: list[tuple[str, str, str, datetime]] = field(default_factory=list)


def _hours(rng: random.Random, median: float, sigma: float = 1.0) -> timedelta:
    """A log-normal wait: most are short, some take days (what medians and p90s are for)."""
    return timedelta(hours=median * rng.lognormvariate(0.0, sigma))


def plan_path(rng: random.Random, launched: datetime, stages: tuple[str, ...]) -> Timeline:
    p = Timeline()
    state = "invited"
    revision = 0
    last_submit: datetime | None = None
    stage_start: dict[str, datetime] = {}
    deadline = launched + timedelta(days=PERSONALISE_DAYS)

    def add(
        event: str, to: str, at: datetime, stage: str | None = None, nxt: str | None = None
    ) -> int:
        nonlocal state
        p.facts.append((event, state, to, stage, nxt, revision, at))
        state = to
        return len(p.facts) - 1

    roll = rng.random()
    at = launched + _hours(rng, 10, 1.2)
    if roll < 0.06:  # never opened: expires with the personalisation window
        add("expire", "expired", deadline)
        return p
    opened = at
    add("open", "drafting", at)
    if roll < 0.12:
        add("decline", "declined", at + _hours(rng, 20))
        return p
    for _ in range(rng.randint(1, 3)):
        at += _hours(rng, 6, 1.3)
        if rng.random() < 0.15:
            for rule, fld in rng.sample(RULES, rng.randint(1, 2)):
                p.refusals.append(("save", rule, fld, at))
        add("save", "drafting", at)
    if roll < 0.20 and at + _hours(rng, 24) > deadline:
        add("expire", "expired", deadline)
        return p
    rounds = 1 + (rng.random() < 0.18) + (rng.random() < 0.04)
    for r in range(rounds):
        at += _hours(rng, 30, 1.0) if r == 0 else _hours(rng, 8, 1.0)
        if rng.random() < 0.05:
            rule, fld = rng.choice(RULES)
            p.refusals.append(("submit", rule, fld, at))
        revision += 1
        i = add("submit", "pending_approval", at, None, stages[0])
        if revision == 1:
            p.cycles.append((i, "to_submission", None, opened, at))
        last_submit = at
        stage_start = {stages[0]: at}
        for k, stage in enumerate(stages):
            wait = _hours(rng, 8 if stage == "gm" else 20, 1.1)
            if wait > timedelta(days=2):
                add(
                    "remind",
                    "pending_approval",
                    stage_start[stage] + timedelta(days=2),
                    stage,
                    stage,
                )
            if wait > timedelta(days=4):
                add(
                    "escalate",
                    "pending_approval",
                    stage_start[stage] + timedelta(days=4),
                    stage,
                    stage,
                )
            at = stage_start[stage] + wait
            last = k == len(stages) - 1
            if r < rounds - 1 and k == 0:
                event, to, nxt = "request_changes", "changes_requested", None
            elif rng.random() < 0.02:
                event, to, nxt = "reject", "rejected", None
            elif last:
                event, to, nxt = "approve", "approved", None
            else:
                event, to, nxt = "advance", "pending_approval", stages[k + 1]
            i = add(event, to, at, stage, nxt)
            p.cycles.append((i, "stage", stage, stage_start[stage], at))
            if event in ("approve", "request_changes", "reject"):
                p.cycles.append((i, "to_approval", None, last_submit, at))
            if event == "advance" and nxt:
                stage_start[nxt] = at
                continue
            break
        if state == "rejected":
            return p
        if state == "changes_requested":
            at += _hours(rng, 5)
            add("save", "drafting", at)
            continue
    at += _hours(rng, 2)
    add("schedule", "scheduled", at)
    send = max(at + timedelta(hours=1), launched + timedelta(days=PERSONALISE_DAYS + 1))
    add("start_sending", "sending", send)
    add("finish", "sent", send + timedelta(minutes=10 + rng.random() * 50))
    return p


# Seeding ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    steps: list[tuple[str, float]] = field(default_factory=list)

    def step(self, label: str, started: float) -> None:
        seconds = time.perf_counter() - started
        self.steps.append((label, seconds))
        print(f"  {'seed':<8} {seconds:7.1f} s  {label}", flush=True)


def seed(engine: Engine, shape: Shape, now: datetime) -> Seeded:
    out = Seeded()
    t = time.perf_counter()
    password_hash = hash_password(DEMO_PASSWORD)
    with Session(engine) as s:
        seed_demo(s, password_hash)
        s.commit()
    out.step("demo organisation", t)
    t = time.perf_counter()
    with Session(engine) as s:
        net = seed_network(
            s,
            shape.partners,
            0,
            password_hash=password_hash,
            partners_per_region=-(-shape.partners // REGIONS),
        )
        _region_manager(s, net.brand_id, password_hash)
        s.commit()
    out.step(f"network: {net.partners_added:,} partners in {net.regions} regions", t)
    t = time.perf_counter()
    with Session(engine) as s:
        counts = _campaigns(s, net.brand_id, shape, now)
        s.commit()
    out.step(
        f"campaigns: {counts['campaigns']:,} campaigns, {counts['pcs']:,} partner campaigns"
        f" ({counts['sent']:,} sent), {counts['facts']:,} transition facts,"
        f" {counts['cycles']:,} cycle times, {counts['refusals']:,} refusals,"
        f" {counts['tasks']:,} open tasks",
        t,
    )
    t = time.perf_counter()
    with Session(engine) as s:
        n = _deliveries(s, net.brand_id, shape.deliveries, counts["sent"])
        s.commit()
    out.step(f"deliveries: {n:,} rows", t)
    t = time.perf_counter()
    with Session(engine) as s:
        events = _delivery_events(s, net.brand_id)
        s.commit()
    out.step(f"delivery events: {events}", t)
    t = time.perf_counter()
    with Session(engine) as s:
        daily = roll_up_sql(s, net.brand_id, now.date())
        s.commit()
    out.step(f"rollup: {daily:,} ReportDaily rows before {now.date()} (SQL, per metric family)", t)
    t = time.perf_counter()
    with engine.connect() as conn:  # as autovacuum would have done by the time HQ looks
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))
    out.step("vacuum (analyze)", t)
    return out


def _region_manager(session: Session, brand_id: int, password_hash: str) -> None:
    region = session.exec(
        select(Region).where(Region.brand_id == brand_id, Region.name == "Scale region 01")
    ).one()
    user = User(brand_id=brand_id, email=REGION_MANAGER, full_name="Scale region 01 manager")
    user.password_hash = password_hash
    session.add(user)
    session.flush()
    assert user.id is not None
    session.add(
        Membership(
            user_id=user.id,
            brand_id=brand_id,
            role=Role.region_manager,
            scope_type=ScopeType.region,
            region_id=region.id,
        )
    )
    session.flush()


def _campaigns(session: Session, brand_id: int, shape: Shape, now: datetime) -> dict[str, int]:
    """Campaigns, partner campaigns with their facts, cycle times, refusals and open tasks,
    built and written CAMPAIGNS_PER_BATCH campaigns at a time (memory stays flat)."""
    marketer = session.exec(select(User).where(User.email == "marketing@northwind.example")).one()
    version = _template_version(session, brand_id)
    partners = session.exec(
        select(Partner.id, Partner.region_id)
        .where(Partner.brand_id == brand_id, Partner.slug.like("scale-%"))  # type: ignore[attr-defined]
        .order_by(Partner.id)  # type: ignore[arg-type]
    ).all()
    by_region: dict[int, list[int]] = {}
    for pid, rid in partners:
        by_region.setdefault(int(rid), []).append(int(pid or 0))
    regions = sorted(by_region)
    start = now - timedelta(days=DAYS)
    step = timedelta(days=(DAYS - 1) / shape.campaigns)
    campaign_ids = list(reserve_ids(session, "campaign", shape.campaigns))
    plans: list[tuple[int, datetime, int, list[int], tuple[str, ...]]] = []
    for k, cid in enumerate(campaign_ids):
        launched = start + step * k
        rid = regions[k % len(regions)]
        density = (0.2, 0.4, 0.6)[k % 3]  # 40 % of the region on average: ~200 partners
        targets = [p for p in by_region[rid] if random.Random(p * 7919 + k).random() < density]
        stages = TWO_STAGES if k % 3 == 0 else TWO_STAGES[:1]
        plans.append((cid, launched, rid, targets or by_region[rid][:1], stages))
    n_pcs = sum(len(t) for *_, t, _ in plans)
    counts = dict.fromkeys(("pcs", "sent", "facts", "cycles", "refusals", "tasks"), 0)
    counts["campaigns"] = len(plans)
    write_rows(
        session,
        "campaign",
        "id brand_id name template_version_id target personalise_until send_by mode"
        " approval_policy approval_policy_id approval_policy_version_id remind_after"
        " escalate_after defaults state idempotency_key idempotency_fingerprint workflow_id"
        " summary created_by launched_at created_at updated_at",
        (
            (
                cid, brand_id, f"Report campaign {k + 1:04d}", version.id,
                f'{{"regions": [{rid}]}}', launched + timedelta(days=PERSONALISE_DAYS),
                launched + timedelta(days=PERSONALISE_DAYS + 7), "opt_in",
                "gm" if len(stages) == 1 else "gm_then_brand", None, None, 2 * 86400,
                4 * 86400, "{}",
                (
                    CampaignState.running
                    if launched > now - timedelta(days=RUNNING_DAYS)
                    else CampaignState.completed
                ).value,
                None, None, campaign_workflow_id(cid), "{}", marketer.id, launched,
                launched - timedelta(hours=1), launched,
            )
            for k, (cid, launched, rid, _, stages) in enumerate(plans)
        ),
    )  # fmt: skip
    pc_ids = iter(reserve_ids(session, "partnercampaign", n_pcs))
    rng = random.Random(20)
    with ExitStack() as stack:
        for table, expected in (
            ("partnercampaign", n_pcs),
            ("transitionfact", n_pcs * 8),
            ("cycletime", n_pcs * 3),
            ("contentrefusal", n_pcs // 4),
            ("approvaltask", n_pcs // 10),
        ):
            stack.enter_context(indexes_rebuilt_after(session, table, expected))
        for b in range(0, len(plans), CAMPAIGNS_PER_BATCH):
            rows = _batch(rng, brand_id, plans[b : b + CAMPAIGNS_PER_BATCH], pc_ids, now)
            for name, (table, columns, data) in rows.items():
                write_rows(session, table, columns, data)
                counts[name] += len(data)
            counts["sent"] += sum(1 for r in rows["pcs"][2] if r[5] == "sent")
    analyze(
        session,
        "campaign",
        "partnercampaign",
        "transitionfact",
        "cycletime",
        "contentrefusal",
        "approvaltask",
    )
    return counts


def _batch(
    rng: random.Random,
    brand_id: int,
    plans: list[tuple[int, datetime, int, list[int], tuple[str, ...]]],
    pc_ids: Iterator[int],
    now: datetime,
) -> dict[str, tuple[str, str, list[tuple[Any, ...]]]]:
    pcs: list[tuple[Any, ...]] = []
    facts: list[tuple[Any, ...]] = []
    cycles: list[tuple[Any, ...]] = []
    refusals: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    for cid, launched, rid, targets, stages in plans:
        deadline = launched + timedelta(days=PERSONALISE_DAYS)
        for pid in targets:
            pc = next(pc_ids)
            path = plan_path(rng, launched, stages)
            kept = [f for f in path.facts if f[6] <= now]
            state = kept[-1][2] if kept else "invited"
            waiting = kept[-1][4] if kept and state == "pending_approval" else None
            last_at = kept[-1][6] if kept else launched
            revision = kept[-1][5] if kept else 0
            escalated = sum(1 for f in kept if f[0] == "escalate" and f[6] >= _since_submit(kept))
            send_at = next((f[6] for f in kept if f[0] == "start_sending"), None)
            wf = partner_campaign_workflow_id(cid, pid)
            pcs.append(
                (
                    pc, cid, brand_id, rid, pid, state, waiting, None, "{}", "en", send_at,
                    None, None, None, escalated if waiting else 0, revision, len(kept), None,
                    "{}", wf, launched, last_at,
                )
            )  # fmt: skip
            for seq, (event, frm, to, stage, nxt, rev, at) in enumerate(kept, start=1):
                facts.append(
                    (
                        f"bench:{pc}:{seq}", brand_id, rid, pid, cid, pc, seq, event, frm, to,
                        stage, nxt, None, None, rev, at,
                    )
                )  # fmt: skip
            for i, kind, stage, started, ended in path.cycles:
                if ended <= now:
                    cycles.append(
                        (
                            f"bench:{pc}:{i + 1}:{kind}", brand_id, rid, pid, cid, pc, kind,
                            stage, path.facts[i][0], started, ended,
                            int((ended - started).total_seconds()),
                        )
                    )  # fmt: skip
            for action, rule, fld, at in path.refusals:
                if at <= now:
                    refusals.append((brand_id, rid, pid, cid, pc, None, action, rule, fld, at))
            if state in ("invited", "drafting", "changes_requested"):
                tasks.append(
                    (
                        pc, cid, brand_id, rid, pid, "personalise", True, deadline, 0, None, "",
                        "[]", "[]", 1, 0, None, last_at, last_at,
                    )
                )  # fmt: skip
            elif waiting:
                tasks.append(
                    (
                        pc, cid, brand_id, rid, pid, "approve", True,
                        last_at + timedelta(days=2), escalated, waiting, STAGE_LABELS[waiting],
                        APPROVERS[waiting], "[]", 1, 0, None, last_at, last_at,
                    )
                )  # fmt: skip
    return {
        "pcs": (
            "partnercampaign",
            "id campaign_id brand_id region_id partner_id state approval_stage"
            " approval_policy_version_id values locale send_at submitted_by decided_by"
            " decision_comment escalation_level revision last_seq segment_id audience"
            " workflow_id created_at updated_at",
            pcs,
        ),
        "facts": (
            "transitionfact",
            "key brand_id region_id partner_id campaign_id partner_campaign_id seq event"
            " from_state to_state stage next_stage actor_id on_behalf_of revision at",
            facts,
        ),
        "cycles": (
            "cycletime",
            "key brand_id region_id partner_id campaign_id partner_campaign_id kind stage"
            " outcome started_at ended_at seconds",
            cycles,
        ),
        "refusals": (
            "contentrefusal",
            "brand_id region_id partner_id campaign_id partner_campaign_id actor_id action"
            " rule field at",
            refusals,
        ),
        "tasks": (
            "approvaltask",
            "partner_campaign_id campaign_id brand_id region_id partner_id kind open due_at"
            " escalation_level stage stage_label approvers excluded_user_ids required approvals"
            " blocked created_at updated_at",
            tasks,
        ),
    }


def _since_submit(kept: list[tuple[Any, ...]]) -> datetime:
    submits = [f[6] for f in kept if f[0] == "submit"]
    return submits[-1] if submits else datetime.min.replace(tzinfo=UTC)


def _fk_checks_off(session: Session) -> None:
    """The generated rows name existing parents by construction; PostgreSQL's per-row foreign
    key triggers would double the load time of 10 million rows (this transaction only)."""
    session.execute(text("SET LOCAL session_replication_role = replica"))


def _deliveries(session: Session, brand_id: int, wanted: int, sent_pcs: int) -> int:
    """Ledger rows of every sent partner campaign, written by the database itself (no row
    crosses the wire, memory stays flat): a number of recipients per partner campaign that
    averages to `wanted` in total; 97 % sent, 2 % failed, 1 % suppressed; minimal columns
    (no e-mail address or Message-ID: reports never read them)."""
    per_pc = max(1, round(wanted / max(1, sent_pcs)))
    _fk_checks_off(session)
    with indexes_rebuilt_after(session, "delivery", wanted):
        session.execute(
            text(
                "INSERT INTO delivery (partner_campaign_id, brand_id, partner_id, contact_id,"
                " email, status, attempts, error, permanent, created_at, updated_at, sent_at)"
                " SELECT pc.id, pc.brand_id, pc.partner_id, g, '',"
                " CASE WHEN h < 2 THEN 'failed' WHEN h < 3 THEN 'suppressed' ELSE 'sent' END, 1,"
                " CASE WHEN h < 2 THEN 'InvalidRecipient: mailbox unavailable' END, h < 2,"
                " pc.send_at, pc.send_at + g * interval '40 ms',"
                " CASE WHEN h >= 3 THEN pc.send_at + g * interval '40 ms' END"
                " FROM partnercampaign pc"
                " CROSS JOIN LATERAL generate_series(1,"
                "   greatest(1, (:per * (50 + (pc.id * 7919) % 101) / 100)::int)) g"
                " CROSS JOIN LATERAL (SELECT (pc.id * 31 + g * 17) % 100 AS h) x"
                " WHERE pc.brand_id = :b AND pc.state = 'sent' ORDER BY pc.id, g"
            ),
            {"b": brand_id, "per": per_pc},
        )
    analyze(session, "delivery")
    return int(
        session.execute(
            text("SELECT count(*) FROM delivery WHERE brand_id = :b"), {"b": brand_id}
        ).scalar_one()
    )


# What happened after the send, by a hash of the delivery id: 2 % bounced, the rest delivered;
# of those 0.1 % complained, 25 % opened (a quarter of them twice), 5 % clicked (a fifth of
# them twice), 0.3 % unsubscribed.
EVENT_KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("delivered", "ses", "(d.id * 37) % 1000 >= 20", "interval '5 seconds'"),
    ("bounced", "ses", "(d.id * 37) % 1000 < 20", "interval '30 seconds'"),
    ("complained", "ses", "(d.id * 37) % 1000 = 500", "interval '3 hours'"),
    (
        "opened",
        "tracking",
        "(d.id * 37) % 1000 >= 20 AND (d.id * 53) % 100 < 25",
        "(d.id % 72) * interval '1 hour' + n * interval '7 hours'",
    ),
    (
        "clicked",
        "tracking",
        "(d.id * 37) % 1000 >= 20 AND (d.id * 53) % 100 < 5",
        "(d.id % 72) * interval '1 hour' + n * interval '7 hours' + interval '2 minutes'",
    ),
    (
        "unsubscribed",
        "preferences",
        "(d.id * 37) % 1000 >= 20 AND (d.id * 53) % 1000 >= 990 AND (d.id * 53) % 1000 < 993",
        "interval '1 day'",
    ),
)
REPEATS = {
    "opened": "CASE WHEN d.id % 4 = 0 THEN 2 ELSE 1 END",
    "clicked": "1 + (d.id % 5 = 0)::int",
}


def _delivery_events(session: Session, brand_id: int) -> str:
    _fk_checks_off(session)
    made: dict[str, int] = {}
    with indexes_rebuilt_after(session, "deliveryevent", 10_000_000):
        for kind, source, where, after in EVENT_KINDS:
            repeats = REPEATS.get(kind, "1")
            url = "'https://northwind.example/open-day'" if kind == "clicked" else "NULL"
            result = session.execute(
                text(
                    "INSERT INTO deliveryevent (delivery_id, brand_id, partner_id,"
                    " partner_campaign_id, kind, source, url, detail, key, at)"
                    f" SELECT d.id, d.brand_id, d.partner_id, d.partner_campaign_id, '{kind}',"
                    f" '{source}', {url}, NULL, '{kind}:' || d.id || ':' || n, d.sent_at + {after}"
                    f" FROM delivery d CROSS JOIN LATERAL generate_series(1, {repeats}) n"
                    f" WHERE d.brand_id = :b AND d.status = 'sent' AND {where}"
                ),
                {"b": brand_id},
            )
            made[kind] = int(result.rowcount)  # type: ignore[attr-defined]
    analyze(session, "deliveryevent")
    return ", ".join(f"{n:,} {kind}" for kind, n in made.items())


# The rollup in SQL ---------------------------------------------------------------------------

_GROUPED = "date({at}), {t}.region_id, {t}.partner_id, {t}.campaign_id"
_PC_GROUPED = "date({at}), pc.region_id, pc.partner_id, pc.campaign_id"
# One INSERT ... SELECT per metric family of services.reporting.metrics.count_metrics, with
# its definitions (checked against count_metrics by --check-rollup at small scales).
ROLLUP_FAMILIES: tuple[tuple[str, str, str], ...] = (
    (
        "'state.' || f.to_state",
        "transitionfact f",
        "f.brand_id = :b AND f.at < :end AND f.to_state <> f.from_state",
    ),
    ("'event.' || f.event", "transitionfact f", "f.brand_id = :b AND f.at < :end"),
    ("'refused.' || f.rule", "contentrefusal f", "f.brand_id = :b AND f.at < :end"),
)


def roll_up_sql(session: Session, brand_id: int, today: date) -> int:
    """ReportDaily for every day before `today` and the brand's watermark at `today`, as the
    rollup would leave them, one grouped INSERT per metric family."""
    end = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    head = (
        "INSERT INTO reportdaily (brand_id, day, region_id, partner_id, campaign_id, channel,"
        " metric, value) SELECT :b, "
    )
    statements = [
        f"{head}{_GROUPED.format(at='f.at', t='f')}, 'email', {metric}, count(*)"
        f" FROM {source} WHERE {where} GROUP BY 2, 3, 4, 5, 7"
        for metric, source, where in ROLLUP_FAMILIES
    ]
    pc_join = "JOIN partnercampaign pc ON pc.id = d.partner_campaign_id"
    statements += [
        f"{head}{_PC_GROUPED.format(at='d.created_at')}, 'email', 'delivery.recipients',"
        f" count(*) FROM delivery d {pc_join} WHERE d.brand_id = :b AND d.created_at < :end"
        " GROUP BY 2, 3, 4, 5",
        f"{head}{_PC_GROUPED.format(at='d.sent_at')}, 'email', 'delivery.sent', count(*)"
        f" FROM delivery d {pc_join} WHERE d.brand_id = :b AND d.status = 'sent'"
        " AND d.sent_at < :end GROUP BY 2, 3, 4, 5",
        f"{head}{_PC_GROUPED.format(at='d.updated_at')}, 'email', 'delivery.' || d.status,"
        f" count(*) FROM delivery d {pc_join} WHERE d.brand_id = :b"
        " AND d.status IN ('failed', 'suppressed') AND d.updated_at < :end GROUP BY 2, 3, 4, 5, 7",
        f"{head}{_PC_GROUPED.format(at='e.at')}, 'email', 'engagement.' || e.kind, count(*)"
        " FROM deliveryevent e JOIN partnercampaign pc ON pc.id = e.partner_campaign_id"
        " WHERE e.brand_id = :b AND e.at < :end GROUP BY 2, 3, 4, 5, 7",
        f"{head}{_PC_GROUPED.format(at='e.first_at')}, 'email',"
        " 'engagement.' || e.kind || '_unique', count(*) FROM (SELECT delivery_id,"
        " partner_campaign_id, kind, min(at) AS first_at FROM deliveryevent WHERE brand_id = :b"
        " AND kind IN ('opened', 'clicked') GROUP BY 1, 2, 3) e"
        " JOIN partnercampaign pc ON pc.id = e.partner_campaign_id WHERE e.first_at < :end"
        " GROUP BY 2, 3, 4, 5, 7",
    ]
    written = 0
    with indexes_rebuilt_after(session, "reportdaily", 1_000_000):
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        for sql in statements:
            written += int(session.execute(text(sql), {"b": brand_id, "end": end}).rowcount)  # type: ignore[attr-defined]
    session.execute(
        text(
            "INSERT INTO rollupwatermark (brand_id, closed_until, updated_at)"
            " VALUES (:b, :d, now()) ON CONFLICT (brand_id) DO UPDATE SET"
            " closed_until = excluded.closed_until, updated_at = excluded.updated_at"
        ),
        {"b": brand_id, "d": today},
    )
    analyze(session, "reportdaily", "rollupwatermark")
    return written


def check_rollup(engine: Engine, brand_id: int, today: date) -> str:
    """ReportDaily against services.reporting.metrics.count_metrics over the same closed days
    (feasible at small scales: count_metrics builds its answer in memory)."""
    from services.reporting.metrics import count_metrics

    end = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    with Session(engine) as s:
        live = {
            (k.day, k.region_id, k.partner_id, k.campaign_id, k.channel, k.metric): v
            for k, v in count_metrics(s, brand_id, datetime(2000, 1, 1, tzinfo=UTC), end).items()
        }
        stored = {
            (d, r, p, c, ch, m): int(v)
            for d, r, p, c, ch, m, v in s.execute(
                text(
                    "SELECT day, region_id, partner_id, campaign_id, channel, metric, value"
                    " FROM reportdaily WHERE brand_id = :b"
                ),
                {"b": brand_id},
            ).all()
        }
    if live == stored:
        return f"ReportDaily equals count_metrics ({len(stored):,} rows)"
    differ = {k for k in live.keys() | stored.keys() if live.get(k) != stored.get(k)}
    sample = sorted(differ, key=str)[:3]
    return f"ReportDaily DIFFERS from count_metrics in {len(differ):,} keys, e.g. " + "; ".join(
        f"{k}: live {live.get(k)} stored {stored.get(k)}" for k in sample
    )


# Timing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    who: str  # "hq", "region" or "partner"
    module: str  # services.reporting.<module>
    function: str
    query: dict[str, Any]
    baseline: str  # a plain count(*) over the rows the report reads


def _ids(engine: Engine, now: datetime) -> dict[str, Any]:
    with Session(engine) as s:

        def one(sql: str, **params: Any) -> Any:
            return s.execute(text(sql), params).scalar_one()

        brand = one("SELECT id FROM brand WHERE slug = 'northwind'")
        region = one(
            "SELECT id FROM region WHERE brand_id = :b AND name = 'Scale region 01'", b=brand
        )
        # A completed campaign of region 01 (about two months old), with its sends.
        campaign = one(
            "SELECT c.id FROM campaign c JOIN partnercampaign pc ON pc.campaign_id = c.id"
            " WHERE c.brand_id = :b AND pc.region_id = :r AND c.state = 'completed'"
            " GROUP BY c.id ORDER BY c.id DESC LIMIT 1",
            b=brand,
            r=region,
        )
        partner = s.exec(select(Partner).where(Partner.slug == "scale-00001")).one()
        counts = {
            t: int(one(f"SELECT count(*) FROM {t}"))
            for t in (
                "partner",
                "campaign",
                "partnercampaign",
                "transitionfact",
                "cycletime",
                "contentrefusal",
                "delivery",
                "deliveryevent",
                "reportdaily",
            )
        }
        return {
            "brand": brand,
            "region": region,
            "campaign": campaign,
            "partner": partner.id,
            "partner_region": partner.region_id,
            "since": now.date() - timedelta(days=DAYS),
            "until": now.date() + timedelta(days=1),
            "counts": counts,
        }


def cases() -> list[Case]:
    period = "brand_id = :b AND {at} >= :since AND {at} < :until"
    pcs = "SELECT count(*) FROM partnercampaign WHERE brand_id = :b"
    cyc = "SELECT count(*) FROM cycletime WHERE " + period.format(at="ended_at")
    facts = "SELECT count(*) FROM transitionfact WHERE " + period.format(at="at")
    dlv = "SELECT count(*) FROM delivery WHERE " + period.format(at="created_at")
    dlv_pc = (
        "SELECT count(*) FROM delivery d JOIN partnercampaign pc ON pc.id ="
        " d.partner_campaign_id WHERE d.brand_id = :b AND d.created_at >= :since"
        " AND d.created_at < :until"
    )
    daily = "SELECT count(*) FROM reportdaily WHERE " + period.format(at="day")
    c, r = {"campaign_id": "campaign"}, {"region_id": "region"}
    by_c, by_r = " AND campaign_id = :c", " AND region_id = :r"
    pc_c, pc_r = " AND pc.campaign_id = :c", " AND pc.region_id = :r"
    tm, dl = ("timing", "time_to_market"), ("engagement", "delivery")
    fn, ql, tr = ("funnel", "funnel"), ("quality", "quality"), ("trend", "trend")
    week, month = {"period": "week"}, {"period": "month"}
    my = ("mine", "my_report")
    table: list[tuple[str, str, tuple[str, str], dict[str, Any], str]] = [
        ("funnel", "hq", fn, {}, pcs),
        ("funnel, one campaign", "hq", fn, c, pcs + by_c),
        ("funnel, one region", "hq", fn, r, pcs + by_r),
        ("funnel, region manager", "region", fn, {}, pcs + by_r),
        ("time to market", "hq", tm, {}, cyc),
        ("time to market, one campaign", "hq", tm, c, cyc + by_c),
        ("time to market, one region", "hq", tm, r, cyc + by_r),
        ("time to market, region manager", "region", tm, {}, cyc + by_r),
        ("quality", "hq", ql, {}, facts),
        ("quality, one campaign", "hq", ql, c, facts + by_c),
        ("quality, one region", "hq", ql, r, facts + by_r),
        ("delivery", "hq", dl, {}, dlv),
        ("delivery, one campaign", "hq", dl, c, dlv_pc + pc_c),
        ("delivery, one region", "hq", dl, r, dlv_pc + pc_r),
        ("delivery, region manager", "region", dl, {}, dlv_pc + pc_r),
        ("delivery by campaign", "hq", dl, {"group": "campaign"}, dlv),
        ("delivery by partner", "hq", dl, {"group": "partner"}, dlv),
        ("trend (week)", "hq", tr, week, daily),
        ("trend (month)", "hq", tr, month, daily),
        ("trend (week), one campaign", "hq", tr, {**week, **c}, daily + by_c),
        ("trend (month), one region", "hq", tr, {**month, **r}, daily + by_r),
        ("my report (partner GM)", "partner", my, {}, daily + " AND region_id = :pr"),
    ]  # fmt: skip
    return [Case(label, who, m, f, q, sql) for label, who, (m, f), q, sql in table]


@dataclass
class Timed:
    case: Case
    times: list[float]
    baseline: list[float]
    error: str | None = None


def _principals(engine: Engine) -> dict[str, Any]:
    from services.accounts import principal_for

    with Session(engine) as s:
        out = {}
        for who, email in (("hq", HQ), ("region", REGION_MANAGER), ("partner", gm_email(1))):
            user = s.exec(select(User).where(User.email == email)).one()
            out[who] = principal_for(s, user)
        return out


def time_reports(engine: Engine, ids: dict[str, Any], n: int, budget_s: float) -> list[Timed]:
    from services.reporting.scope import scope_for
    from services.reporting.shapes import ReportQuery

    principals = _principals(engine)
    params = {
        "b": ids["brand"],
        "c": ids["campaign"],
        "r": ids["region"],
        "pr": ids["partner_region"],
        "since": ids["since"],
        "until": ids["until"],
    }
    results: list[Timed] = []
    for case in cases():
        values = {k: ids[v] if k.endswith("_id") else v for k, v in case.query.items()}
        q = ReportQuery(since=ids["since"], until=ids["until"], **values)
        try:
            report: Callable[..., Any] = getattr(
                importlib.import_module(f"services.reporting.{case.module}"), case.function
            )
        except (ImportError, AttributeError) as exc:
            results.append(Timed(case, [], [], f"not available ({exc})"))
            print(f"  {case.label:<32} not available: {exc}", flush=True)
            continue
        times: list[float] = []
        base: list[float] = []
        error = None
        with Session(engine) as s:
            scope = scope_for(s, principals[case.who])
            try:
                report(s, scope, q)  # warm up (imports, plans)
                for i in range(n):
                    if i >= 3 and sum(times) > budget_s * 1000:
                        break
                    t = time.perf_counter()
                    report(s, scope, q)
                    times.append((time.perf_counter() - t) * 1000)
                    s.rollback()  # a fresh snapshot per request, as the API has
                    t = time.perf_counter()
                    s.execute(text(case.baseline), params).scalar_one()
                    base.append((time.perf_counter() - t) * 1000)
                    s.rollback()
            except Exception as exc:  # reported; the other reports are still timed
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
                s.rollback()
        timed = Timed(case, times, base, error)
        results.append(timed)
        print(f"  {_line(timed)}", flush=True)
    return results


def _line(t: Timed) -> str:
    if not t.times:
        return f"{t.case.label:<32} {t.case.who:<8} FAILED {t.error}"
    p50, p95 = statistics.median(t.times), percentile(t.times, 95)
    b50 = statistics.median(t.baseline)
    return (
        f"{t.case.label:<32} {t.case.who:<8} p50 {p50:8.1f}  p95 {p95:8.1f} ms"
        f"  count(*) p50 {b50:8.1f} ms  ratio {p50 / max(b50, 0.01):6.1f}x"
        f"  {'ok' if p95 < GOAL_MS else 'SLOW'}"
        + (f" ({len(t.times)} runs)" if t.error is None else f" then {t.error}")
    )


def time_rollup(engine: Engine, brand_id: int, today: date, runs: int = 3) -> str:
    """The hourly rollup at this scale (services.reporting.rollup.roll_up: re-closes the last
    days before the watermark, deleting and inserting their rows; the figures stay the same,
    both use count_metrics' definitions)."""
    from services.reporting.rollup import roll_up

    times: list[float] = []
    rows = 0
    for _ in range(runs):
        t = time.perf_counter()
        result = roll_up(engine, brand_id, today)
        times.append((time.perf_counter() - t) * 1000)
        rows = result.rows
    return (
        f"rollup (hourly run, re-closes {result.days} days, {rows:,} rows):"
        f" p50 {statistics.median(times):.0f} ms over {runs} runs"
    )


def _seeded(engine: Engine) -> bool:
    with Session(engine) as s:
        try:
            found = s.execute(text("SELECT count(*) FROM rollupwatermark")).scalar_one()
            return int(found) > 0
        except Exception:  # no tables yet
            return False


def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="brandrelay-reports-bench-"))
    settings = _settings(data_dir, args.database_url)
    engine = make_engine(settings.resolved_database_url)
    if engine.dialect.name != "postgresql":
        print("this benchmark runs on PostgreSQL (--database-url or DATABASE_URL postgresql://...)")
        return 2
    shape = Shape.of(args.scale)
    now = datetime.now(UTC)
    started = time.perf_counter()
    if not args.reuse or not _seeded(engine):
        print(
            f"scale {args.scale}: {shape.partners:,} partners, {shape.campaigns:,} campaigns,"
            f" about {shape.deliveries:,} delivery rows",
            flush=True,
        )
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        with engine.begin() as conn:
            upgrade(conn)
        print(f"  {'migrate':<8} {time.perf_counter() - started:7.1f} s", flush=True)
        seed(engine, shape, now)
        print(f"seeding total {time.perf_counter() - started:.1f} s", flush=True)
    else:
        print("seed: reused the seeded database")
    ids = _ids(engine, now)
    print("data: " + ", ".join(f"{n:,} {t}" for t, n in ids["counts"].items()), flush=True)
    if args.check_rollup:
        print(check_rollup(engine, ids["brand"], now.date()), flush=True)
    print(
        f"period {ids['since']} to {ids['until']} (excluded); campaign filter {ids['campaign']},"
        f" region filter {ids['region']} (Scale region 01); {args.requests} runs per report",
        flush=True,
    )
    if importlib.util.find_spec("services.reporting.scope") is None:
        print("reports: services.reporting.scope is not there yet: nothing to time")
        engine.dispose()
        return 1
    t = time.perf_counter()
    results = time_reports(engine, ids, args.requests, args.budget)
    timed = [r for r in results if r.times]
    met = [r for r in timed if percentile(r.times, 95) < GOAL_MS]
    print(f"timing total {time.perf_counter() - t:.1f} s")
    if args.time_rollup:
        print(time_rollup(engine, ids["brand"], now.date()), flush=True)
    print(
        f"goal p95 < {GOAL_MS:.0f} ms: {len(met)} of {len(results)} met"
        + (
            "; not met: " + ", ".join(r.case.label for r in results if r not in met)
            if len(met) < len(results)
            else ""
        )
    )
    engine.dispose()
    return 0


def main() -> None:
    import os

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = os.environ.get("DATABASE_URL") or DEFAULT_URL
    parser.add_argument(
        "--database-url", default=default, help=f"default: DATABASE_URL or {DEFAULT_URL}"
    )
    parser.add_argument("--reuse", action="store_true", help="time the seeded data (seed if empty)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full shape")
    parser.add_argument("--requests", type=int, default=20, help="runs per report")
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds per report: a slower one stops after 3 runs",
    )
    parser.add_argument(
        "--check-rollup",
        action="store_true",
        help="compare ReportDaily with count_metrics (small scales: it counts in memory)",
    )
    parser.add_argument(
        "--time-rollup",
        action="store_true",
        help="also time the hourly rollup (services.reporting.rollup.roll_up) on the data",
    )
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
