"""Quality: what the platform caught before an approver saw it (content rules that refused a
partner's save or submit, by rule), and how many rounds a submission needed.

`rounds_per_submission` = submissions (every `submit` event, resubmissions included) divided
by the distinct partner campaigns that submitted in the period: 1.0 means every partner got it
right the first time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from models.reporting import ContentRefusal, TransitionFact
from services.reporting.periods import window
from services.reporting.scope import ReportScope
from services.reporting.shapes import QualityReport, ReportQuery, RuleCount

# The validation codes of content.validate, as a person reads them.
RULE_LABELS: dict[str, str] = {
    "restricted_word": "Restricted word",
    "restricted_pattern": "Restricted phrase",
    "too_long": "Too long",
    "too_short": "Too short",
    "pattern": "Wrong format",
    "choice": "Not one of the choices",
    "wrong_type": "Wrong kind of value",
    "not_a_number": "Not a number",
    "out_of_range": "Number out of range",
    "bad_date": "Not a date",
    "outside_window": "Date outside the campaign",
    "bad_url": "Not a web address",
    "bad_phone": "Not a phone number",
    "bad_email": "Not an email address",
    "bad_color": "Not a colour",
    "not_in_palette": "Colour not in the brand palette",
    "bad_asset": "Not an image of the library",
    "unknown_asset": "Unknown image",
    "asset_not_approved": "Image not approved",
    "asset_wrong_tags": "Image not meant for this slot",
    "asset_expired": "Expired image licence",
    "asset_region": "Image not licensed for the region",
    "asset_no_alt_text": "Image without alt text",
    "bad_characters": "Invisible characters",
    "locked": "Field set by headquarters",
    "not_overridable": "Field not to be changed",
    "required": "Required field missing",
    "unknown_field": "Unknown field",
}


def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule.replace("_", " ").capitalize())


def _in_period(column: Any, q: ReportQuery) -> list[Any]:
    start, end = window(q)
    out = []
    if start is not None:
        out.append(col(column) >= start)
    if end is not None:
        out.append(col(column) < end)
    return out


def quality(session: Session, scope: ReportScope, q: ReportQuery) -> QualityReport:
    r = ContentRefusal
    refused = session.exec(
        select(col(r.rule), func.count())
        .where(
            *scope.clause(
                q, col(r.brand_id), col(r.region_id), col(r.partner_id), col(r.campaign_id)
            ),
            *_in_period(r.at, q),
        )
        .group_by(col(r.rule))
    ).all()
    refusals = sorted(
        (RuleCount(rule, rule_label(rule), int(n)) for rule, n in refused),
        key=lambda c: (-c.count, c.rule),
    )
    f = TransitionFact
    where = [
        *scope.clause(q, col(f.brand_id), col(f.region_id), col(f.partner_id), col(f.campaign_id)),
        *_in_period(f.at, q),
    ]
    submissions, submitters = session.exec(
        select(func.count(), func.count(distinct(col(f.partner_campaign_id)))).where(
            *where, col(f.event) == "submit"
        )
    ).one()
    changes = session.exec(
        select(func.count()).select_from(f).where(*where, col(f.event) == "request_changes")
    ).one()
    return QualityReport(
        refusals=refusals,
        refusals_total=sum(c.count for c in refusals),
        submissions=int(submissions),
        changes_requested=int(changes),
        rounds_per_submission=round(submissions / submitters, 2) if submitters else None,
    )
