"""A small brand of regions and partners with campaigns, facts and deliveries written as the
projections write them, for the report tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from domain.roles import Role, ScopeType
from domain.states import DeliveryStatus
from domain.states import PartnerCampaignState as PC
from models.campaigns import Campaign, PartnerCampaign
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand, Membership, Partner, Region, User
from models.reporting import CycleTime, TransitionFact
from models.templates import Template, TemplateVersion

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
_ids = itertools.count(1)


@dataclass
class World:
    brand_id: int
    user_id: int
    version_id: int
    regions: dict[str, int] = field(default_factory=dict)
    partners: dict[str, int] = field(default_factory=dict)
    region_of: dict[int, int] = field(default_factory=dict)

    @classmethod
    def build(cls, s: Session, slug: str, regions: dict[str, int]) -> World:
        """A brand (or the existing one of that slug) with `regions` name -> partner count;
        partners are named '<region>-<n>'."""
        brand = s.exec(select(Brand).where(Brand.slug == slug)).first()
        if brand is None:
            brand = Brand(slug=slug, name=slug.title())
            s.add(brand)
            s.flush()
        assert brand.id is not None
        user = User(brand_id=brand.id, email=f"hq{next(_ids)}@{slug}.example", full_name="HQ")
        s.add(user)
        s.flush()
        assert user.id is not None
        template = Template(brand_id=brand.id, name="T", created_by=user.id)
        s.add(template)
        s.flush()
        version = TemplateVersion(
            template_id=template.id or 0,
            brand_id=brand.id,
            number=1,
            author_id=user.id,
            workflow_id=f"tv-{next(_ids)}",
        )
        s.add(version)
        s.flush()
        w = cls(brand.id, user.id, version.id or 0)
        for name, count in regions.items():
            region = Region(brand_id=brand.id, name=name)
            s.add(region)
            s.flush()
            assert region.id is not None
            w.regions[name] = region.id
            for n in range(1, count + 1):
                partner = Partner(
                    brand_id=brand.id,
                    region_id=region.id,
                    slug=f"{name.lower()}-{n}-{next(_ids)}",
                    display_name=f"{name}-{n}",
                )
                s.add(partner)
                s.flush()
                assert partner.id is not None
                w.partners[f"{name}-{n}"] = partner.id
                w.region_of[partner.id] = region.id
        return w

    @classmethod
    def existing(cls, s: Session, slug: str) -> World:
        """A seeded brand (the demo's), its regions by name and partners by display name."""
        w = cls.build(s, slug, {})
        for region in s.exec(select(Region).where(Region.brand_id == w.brand_id)).all():
            w.regions[region.name] = region.id or 0
        for partner in s.exec(select(Partner).where(Partner.brand_id == w.brand_id)).all():
            w.partners[partner.display_name] = partner.id or 0
            w.region_of[partner.id or 0] = partner.region_id
        return w

    def member(self, s: Session, role: Role, *, region: str = "", partner: str = "") -> User:
        user = User(
            brand_id=self.brand_id,
            email=f"{role.value}{next(_ids)}@example.com",
            full_name=f"{role.value.title()} {region}{partner}",
        )
        s.add(user)
        s.flush()
        scope = ScopeType.partner if partner else ScopeType.region if region else ScopeType.brand
        s.add(
            Membership(
                user_id=user.id or 0,
                brand_id=self.brand_id,
                role=role.value,
                scope_type=scope.value,
                region_id=self.regions[region] if region else None,
                partner_id=self.partners[partner] if partner else None,
            )
        )
        s.flush()
        return user

    def campaign(
        self,
        s: Session,
        name: str = "Spring",
        *,
        personalise_until: datetime | None = None,
        send_by: datetime | None = None,
    ) -> int:
        c = Campaign(
            brand_id=self.brand_id,
            name=name,
            template_version_id=self.version_id,
            personalise_until=personalise_until or T0 + timedelta(days=60),
            send_by=send_by or T0 + timedelta(days=70),
            created_by=self.user_id,
        )
        s.add(c)
        s.flush()
        assert c.id is not None
        return c.id

    def invite(
        self, s: Session, campaign_id: int, partner: str, *, at: datetime = T0
    ) -> PartnerCampaign:
        pid = self.partners[partner]
        row = PartnerCampaign(
            campaign_id=campaign_id,
            brand_id=self.brand_id,
            region_id=self.region_of[pid],
            partner_id=pid,
            state=PC.invited,
            workflow_id=f"pc-{next(_ids)}",
            created_at=at,
        )
        s.add(row)
        s.flush()
        return row

    def move(
        self,
        s: Session,
        row: PartnerCampaign,
        event: str,
        to: PC | None,
        at: datetime,
        *,
        stage: str | None = None,
    ) -> None:
        """A transition fact as the projection writes it (to None: a note, state unchanged)."""
        assert row.id is not None
        row.last_seq += 1
        before = row.state
        after = to or before
        s.add(
            TransitionFact(
                key=f"t-{row.id}-{row.last_seq}",
                brand_id=row.brand_id,
                region_id=row.region_id,
                partner_id=row.partner_id,
                campaign_id=row.campaign_id,
                partner_campaign_id=row.id,
                seq=row.last_seq,
                event=event,
                from_state=before.value,
                to_state=after.value,
                stage=stage,
                at=at,
            )
        )
        row.state = after
        s.add(row)
        s.flush()

    def cycle(
        self,
        s: Session,
        row: PartnerCampaign,
        kind: str,
        seconds: int,
        *,
        ended: datetime = T0,
        stage: str | None = None,
        outcome: str = "approve",
    ) -> None:
        assert row.id is not None
        s.add(
            CycleTime(
                key=f"c-{row.id}-{next(_ids)}",
                brand_id=row.brand_id,
                region_id=row.region_id,
                partner_id=row.partner_id,
                campaign_id=row.campaign_id,
                partner_campaign_id=row.id,
                kind=kind,
                stage=stage,
                outcome=outcome,
                started_at=ended - timedelta(seconds=seconds),
                ended_at=ended,
                seconds=seconds,
            )
        )

    def deliveries(
        self,
        s: Session,
        row: PartnerCampaign,
        n: int,
        at: datetime,
        *,
        opened: int = 0,
        clicked: int = 0,
        bounced: int = 0,
        channel: str = "email",
    ) -> None:
        """`n` sent messages; the first `opened` opened twice (unique once), a day later."""
        assert row.id is not None
        for i in range(n):
            d = Delivery(
                partner_campaign_id=row.id,
                brand_id=row.brand_id,
                partner_id=row.partner_id,
                email=f"r{i}@example.com",
                channel=channel,
                phone=f"+3162000{i:04d}" if channel == "sms" else "",
                status=DeliveryStatus.sent,
                created_at=at,
                updated_at=at,
                sent_at=at,
            )
            s.add(d)
            s.flush()
            kinds = ["delivered"]
            if i < opened:
                kinds += ["opened", "opened"]
            if i < clicked:
                kinds += ["clicked"]
            if i < bounced:
                kinds = ["bounced"]
            for k, kind in enumerate(kinds):
                s.add(
                    DeliveryEvent(
                        delivery_id=d.id or 0,
                        brand_id=row.brand_id,
                        partner_id=row.partner_id,
                        partner_campaign_id=row.id,
                        kind=kind,
                        key=f"e-{d.id}-{k}-{next(_ids)}",
                        at=at + timedelta(days=1 if kind != "delivered" else 0, minutes=k),
                    )
                )
        s.flush()
