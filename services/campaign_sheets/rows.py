"""A campaign sheet's rows as CampaignCreate bodies, validated as the API validates them.

Each row is turned into the JSON body `POST /api/v1/campaigns` takes (names -> ids), then run
through the same schema (CampaignCreate), the same database checks (check_new_campaign) and
the checks a launch makes (check_launch_window, launch_plan, on an unsaved Campaign): a row
is valid exactly when the API would create and launch it. The one check beyond the API: a
`slot:<name>` column must name a slot of the row's template (a typo would be lost silently).

Every problem of every row is reported with its sheet, row number and column (the column's
header as written in the sheet), so a planner fixes the whole sheet in one pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlmodel import Session, col, select

from approvals.builtin import BuiltinPolicy
from core.errors import FieldError
from domain.states import CampaignMode, TemplateState
from models.approvals import ApprovalPolicy
from models.campaign_schemas import CampaignCreate
from models.org import Partner, Region
from models.templates import Template, TemplateVersion
from services.campaign_actions import check_launch_window, launch_plan
from services.campaigns import campaign_of, check_new_campaign
from services.templates import content_of

SLOT_PREFIX = "slot:"
LIST_SEPARATOR = ";"
TRUE_WORDS = frozenset({"yes", "true", "1", "y", "x"})
COLUMNS: dict[str, str] = {
    "name": "the campaign's name (required)",
    "template": "a published template version: its label from the list, or its id (required)",
    "regions": "region names separated by ';' (one of regions, partners, all_partners)",
    "partners": "partner codes (slugs) separated by ';'",
    "all_partners": "yes: every partner of the brand",
    "personalise_until": "end of the partners' window, e.g. 2027-03-01 18:00 (required)",
    "send_by": "the send date: last moment a send may start, after personalise_until (required)",
    "timezone": "IANA zone of the two dates, e.g. Europe/Amsterdam (default UTC)",
    "mode": "opt_in (default) or opt_out",
    "approval_policy": "gm (default), gm_then_hq, none (opt_out only) or a brand policy's name",
    "remind_after_days": "days before the GM is reminded (default 2)",
    "escalate_after_days": "days before the task escalates (default 4)",
}
REQUIRED = ("name", "template", "personalise_until", "send_by")
TARGET_COLUMNS = ("regions", "partners", "all_partners")
# Where a CampaignCreate field's problem is shown.
FIELD_COLUMN = {
    "name": "name",
    "template_version_id": "template",
    "personalise_until": "personalise_until",
    "send_by": "send_by",
    "mode": "mode",
    "approval_policy": "approval_policy",
    "remind_after": "remind_after_days",
    "escalate_after": "escalate_after_days",
}
MAX_DAYS = 3650
LABEL_ID = re.compile(r"\(#(\d+)\)\s*$")


@dataclass
class Choices:
    """What a brand's sheet may name, by the text a planner types (lower-cased keys)."""

    # Launch plans already checked, by (version, policy, target): a brand-wide target at
    # 10,000 partners is resolved once per sheet, not once per row.
    plans: set[str] = field(default_factory=set)
    slots: dict[int, set[str]] = field(default_factory=dict)  # version id -> slot names
    templates: dict[str, int] = field(default_factory=dict)  # label -> version id
    regions: dict[str, int] = field(default_factory=dict)
    partners: dict[str, int] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)
    template_labels: list[str] = field(default_factory=list)
    region_names: list[str] = field(default_factory=list)
    partner_slugs: list[str] = field(default_factory=list)
    policy_names: list[str] = field(default_factory=list)


def version_label(template_name: str, number: int, version_id: int) -> str:
    return f"{template_name} v{number} (#{version_id})"


def brand_choices(session: Session, brand_id: int) -> Choices:
    out = Choices()
    versions = session.exec(
        select(TemplateVersion, Template)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(Template.brand_id == brand_id, TemplateVersion.state == TemplateState.published)
        .order_by(col(Template.name), col(TemplateVersion.number))
    ).all()
    for version, template in versions:
        label = version_label(template.name, version.number, version.id or 0)
        out.template_labels.append(label)
        out.templates[label.lower()] = version.id or 0
    for region in session.exec(
        select(Region).where(Region.brand_id == brand_id).order_by(col(Region.name))
    ).all():
        out.region_names.append(region.name)
        out.regions[region.name.strip().lower()] = region.id or 0
    for partner in session.exec(
        select(Partner).where(Partner.brand_id == brand_id).order_by(col(Partner.slug))
    ).all():
        out.partner_slugs.append(partner.slug)
        out.partners[partner.slug.lower()] = partner.id or 0
    for policy in session.exec(
        select(ApprovalPolicy)
        .where(ApprovalPolicy.brand_id == brand_id, col(ApprovalPolicy.archived_at).is_(None))
        .order_by(col(ApprovalPolicy.name))
    ).all():
        out.policy_names.append(policy.name)
        out.policies[policy.name.strip().lower()] = policy.id or 0
    return out


@dataclass
class Checked:
    """The rows that passed (row number, body) and every problem found."""

    bodies: list[tuple[int, CampaignCreate]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


class SheetRow:
    def __init__(self, sheet: str, number: int, cells: dict[str, str]) -> None:
        self.sheet, self.number, self.cells = sheet, number, cells
        self.problems: list[dict[str, Any]] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(
            {"sheet": self.sheet, "row": self.number, "column": column, "message": message}
        )


def check_header(sheet: str, columns: list[str]) -> list[dict[str, Any]]:
    problems = []
    for column in columns:
        if column in COLUMNS or (column.startswith(SLOT_PREFIX) and column[len(SLOT_PREFIX) :]):
            continue
        problems.append(
            {
                "sheet": sheet,
                "row": 1,
                "column": column,
                "message": "unknown column: use the columns of the template sheet "
                "(slot defaults as slot:<name>)",
            }
        )
    for column in REQUIRED:
        if column not in columns:
            problems.append(
                {"sheet": sheet, "row": 1, "column": column, "message": "required column missing"}
            )
    return problems


def check_sheet(
    session: Session,
    brand_id: int,
    sheet: str,
    columns: list[str],
    rows: list[dict[str, Any]],
) -> Checked:
    """Every row checked (all problems of all rows), nothing written."""
    out = Checked(problems=check_header(sheet, columns))
    if out.problems:
        return out
    choices = brand_choices(session, brand_id)
    for raw in rows:
        row = SheetRow(sheet, int(raw["row"]), dict(raw["cells"]))
        body = check_row(session, brand_id, choices, row)
        out.problems.extend(row.problems)
        if body is not None and not row.problems:
            out.bodies.append((row.number, body))
    return out


def check_row(
    session: Session, brand_id: int, choices: Choices, row: SheetRow
) -> CampaignCreate | None:
    data = _body_data(choices, row)
    if row.problems:
        return None
    try:
        body = CampaignCreate.model_validate(data)
    except ValidationError as err:
        for error in err.errors():
            loc = error.get("loc") or ("",)
            row.problem(_column_of(str(loc[0]), row), _message(error))
        return None
    try:
        policy = check_new_campaign(session, brand_id, body)
        unsaved = campaign_of(brand_id, body, policy, created_by=0)
        version = check_launch_window(session, unsaved)
        plan = json.dumps([version.id, policy.name, policy.policy_id, body.target], sort_keys=True)
        if plan not in choices.plans:
            launch_plan(session, unsaved, version)
            choices.plans.add(plan)
    except FieldError as err:
        for item in err.errors or [{"field": "", "message": err.detail}]:
            row.problem(_column_of(str(item["field"]), row), str(item["message"]))
        return None
    if version.id not in choices.slots:
        choices.slots[version.id or 0] = {s.name for s in content_of(version).slots}
    slots = choices.slots[version.id or 0]
    for name in body.defaults:
        if name not in slots:
            row.problem(f"{SLOT_PREFIX}{name}", "the row's template has no slot of this name")
    return None if row.problems else body


def _column_of(field_name: str, row: SheetRow) -> str:
    if field_name == "target":
        return next((c for c in TARGET_COLUMNS if c in row.cells), "regions")
    if field_name == "defaults":
        return next((c for c in row.cells if c.startswith(SLOT_PREFIX)), "slot:")
    return FIELD_COLUMN.get(field_name, field_name or "name")


def _message(error: Any) -> str:
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def _body_data(choices: Choices, row: SheetRow) -> dict[str, Any]:
    """The JSON body the API would receive for this row; problems of the cells themselves
    (unknown names, unreadable dates or numbers) are noted on the row."""
    cells = row.cells
    data: dict[str, Any] = {}
    for column in REQUIRED:
        if not cells.get(column):
            row.problem(column, "is required")
    if cells.get("name"):
        data["name"] = cells["name"]
    if cells.get("template"):
        data["template_version_id"] = _template(choices, row, cells["template"])
    target = _target(choices, row)
    if target is not None:
        data["target"] = target
    zone = _zone(row)
    for column in ("personalise_until", "send_by"):
        if cells.get(column) and zone is not None:
            data[column] = _when(row, column, cells[column], zone)
    if cells.get("mode"):
        data["mode"] = cells["mode"].strip().lower()
        if data["mode"] not in {m.value for m in CampaignMode}:
            row.problem("mode", "must be opt_in or opt_out")
    if cells.get("approval_policy"):
        data["approval_policy"] = _policy(choices, row, cells["approval_policy"])
    for column, field_name in (
        ("remind_after_days", "remind_after"),
        ("escalate_after_days", "escalate_after"),
    ):
        if cells.get(column):
            days = _number(row, column, cells[column])
            if days is not None:
                data[field_name] = timedelta(days=days).total_seconds()
    defaults = {
        column[len(SLOT_PREFIX) :]: value
        for column, value in cells.items()
        if column.startswith(SLOT_PREFIX)
    }
    if defaults:
        data["defaults"] = defaults
    return data


def _template(choices: Choices, row: SheetRow, text: str) -> int | None:
    if text.isdigit():
        return int(text)
    found = choices.templates.get(text.strip().lower())
    if found is None:
        match = LABEL_ID.search(text)
        found = int(match.group(1)) if match else None
    if found is None:
        row.problem("template", f"{text!r} is not a published template version of your brand")
    return found


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _target(choices: Choices, row: SheetRow) -> dict[str, Any] | None:
    given = [c for c in TARGET_COLUMNS if row.cells.get(c)]
    if len(given) != 1:
        column = given[1] if given else "regions"
        row.problem(column, "give exactly one of regions, partners, all_partners")
        return None
    column = given[0]
    text = row.cells[column]
    if column == "all_partners":
        if text.strip().lower() not in TRUE_WORDS:
            row.problem(column, "must be yes (or leave it empty and name regions or partners)")
            return None
        return {"all": True}
    known = choices.regions if column == "regions" else choices.partners
    label = "region" if column == "regions" else "partner code"
    ids = []
    for name in _names(text):
        found = known.get(name.lower())
        if found is None:
            row.problem(column, f"unknown {label} {name!r}")
        else:
            ids.append(found)
    if not ids:
        if not row.problems:
            row.problem(column, f"names no {label}")
        return None
    return {column: ids}


def _zone(row: SheetRow) -> ZoneInfo | None:
    name = row.cells.get("timezone", "UTC").strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        row.problem("timezone", f"{name!r} is not a time zone (use e.g. Europe/Amsterdam)")
        return None


def _when(row: SheetRow, column: str, text: str, zone: ZoneInfo) -> str | None:
    """ISO date or date-time; a date alone is midnight; without an offset, the row's zone."""
    value = text.strip().replace("T", " ", 1)
    try:
        if len(value) <= 10:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        row.problem(column, f"{text!r} is not a date (use e.g. 2027-03-01 18:00)")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat()


def _policy(choices: Choices, row: SheetRow, text: str) -> str | int | None:
    value = text.strip()
    if value.lower() in {p.value for p in BuiltinPolicy}:
        return value.lower()
    if value.isdigit():
        return int(value)
    found = choices.policies.get(value.lower())
    if found is None:
        row.problem("approval_policy", f"{text!r} is neither gm, gm_then_hq, none nor a policy")
    return found


def _number(row: SheetRow, column: str, text: str) -> float | None:
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        row.problem(column, f"{text!r} is not a number")
        return None
    if number != number or abs(number) > MAX_DAYS:
        row.problem(column, f"{text!r} is not a number of days up to {MAX_DAYS}")
        return None
    return number
