"""Which rows of reporting a principal may read, decided once per request.

Brand roles read their whole brand, a region manager the regions it manages, a partner's users
only their partner (and, through `my_report`, anonymous aggregates of their region). Every
report narrows its queries with `ReportScope.where`; the query's own filters must lie inside
the scope (`check`), and a filter outside it answers "not found" like any object of another
tenant (services.access).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_
from sqlmodel import Session, col, select

from core.errors import NotFound
from core.policy import Permission, Principal, visibility
from models.campaigns import Campaign
from models.org import Partner, Region
from services.reporting.shapes import ReportQuery


@dataclass(frozen=True)
class ReportScope:
    """The brand, and within it all of it or some regions and partners."""

    brand_id: int
    whole_brand: bool
    region_ids: frozenset[int] = frozenset()
    partner_ids: frozenset[int] = frozenset()

    @property
    def partner_only(self) -> bool:
        """Only partner grants: such a reader gets its own figures and anonymous aggregates."""
        return not self.whole_brand and not self.region_ids

    def covers(self, region_id: int | None, partner_id: int | None) -> bool:
        if self.whole_brand:
            return True
        if region_id is not None and region_id in self.region_ids:
            return True
        return partner_id is not None and partner_id in self.partner_ids

    def where(self, brand_col: Any, region_col: Any, partner_col: Any) -> Any:
        """A WHERE clause limiting rows to the scope."""
        brand = brand_col == self.brand_id
        if self.whole_brand:
            return brand
        parts = []
        if self.region_ids:
            parts.append(region_col.in_(sorted(self.region_ids)))
        if self.partner_ids:
            parts.append(partner_col.in_(sorted(self.partner_ids)))
        if not parts:
            return false()
        return and_(brand, or_(*parts))

    def filters(self, q: ReportQuery, region_col: Any, partner_col: Any, campaign_col: Any) -> Any:
        """The query's own filters (campaign, region, partner) as a clause."""
        clauses = []
        if q.campaign_id is not None:
            clauses.append(campaign_col == q.campaign_id)
        if q.region_id is not None:
            clauses.append(region_col == q.region_id)
        if q.partner_id is not None:
            clauses.append(partner_col == q.partner_id)
        return and_(*clauses) if clauses else None

    def clause(
        self, q: ReportQuery, brand_col: Any, region_col: Any, partner_col: Any, campaign_col: Any
    ) -> list[Any]:
        """Scope and filters together, ready for `.where(*...)`."""
        out = [self.where(brand_col, region_col, partner_col)]
        extra = self.filters(q, region_col, partner_col, campaign_col)
        if extra is not None:
            out.append(extra)
        return out

    def keeps(self, q: ReportQuery, region_id: int, partner_id: int, campaign_id: int) -> bool:
        """The same test in Python (for counts made from live tables)."""
        return (
            self.covers(region_id, partner_id)
            and (q.campaign_id is None or q.campaign_id == campaign_id)
            and (q.region_id is None or q.region_id == region_id)
            and (q.partner_id is None or q.partner_id == partner_id)
        )


def scope_for(session: Session, principal: Principal) -> ReportScope:
    """Brand and region reach from grants carrying report.read; partners from grants that read
    their partner's campaigns (editors and GMs read their own report)."""
    del session  # grants decide; kept in the signature so a future rule may look rows up
    reports = visibility(principal, Permission.report_read)
    own = visibility(principal, Permission.partner_campaign_read)
    return ReportScope(
        brand_id=principal.brand_id,
        whole_brand=reports.whole_brand,
        region_ids=reports.region_ids,
        partner_ids=reports.partner_ids | own.partner_ids,
    )


def check(session: Session, scope: ReportScope, q: ReportQuery) -> None:
    """Filters naming a region, partner or campaign outside the scope: not found, as anywhere
    else in the API, so ids of other tenants reveal nothing."""
    if q.region_id is not None:
        region = session.get(Region, q.region_id)
        if region is None or region.brand_id != scope.brand_id:
            raise NotFound("region", q.region_id)
        if not scope.whole_brand and q.region_id not in scope.region_ids:
            raise NotFound("region", q.region_id)
    if q.partner_id is not None:
        partner = session.get(Partner, q.partner_id)
        if (
            partner is None
            or partner.brand_id != scope.brand_id
            or not scope.covers(partner.region_id, partner.id)
        ):
            raise NotFound("partner", q.partner_id)
    if q.campaign_id is not None:
        campaign = session.get(Campaign, q.campaign_id)
        if campaign is None or campaign.brand_id != scope.brand_id:
            raise NotFound("campaign", q.campaign_id)


def labels(session: Session, group: str, ids: set[int]) -> dict[int, str]:
    """Names of the campaigns, regions or partners a report groups by."""
    if not ids:
        return {}
    wanted = sorted(ids)
    if group == "campaign":
        rows = session.exec(select(Campaign.id, Campaign.name).where(col(Campaign.id).in_(wanted)))
    elif group == "region":
        rows = session.exec(select(Region.id, Region.name).where(col(Region.id).in_(wanted)))
    else:
        rows = session.exec(
            select(Partner.id, Partner.display_name).where(col(Partner.id).in_(wanted))
        )
    return {i: name for i, name in rows.all() if i is not None}
