"""Per-send tags: which brand, campaign, partner and delivery a message belongs to.

Tags travel beside the message (`transport.send(msg, tags=...)`), never as headers in it: a
header would reach the recipient unless every transport remembered to strip it. SES publishes
them as message tags on its events (so bounces and complaints name the delivery); the outbox
stores brand, partner campaign and delivery on its row; SMTP ignores them.

Names and values are limited to what SES accepts everywhere (ASCII letters, digits, `_` and
`-`, at most 256 characters), so a tag that works with the outbox never fails on SES later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BRAND = "brand"
CAMPAIGN = "campaign"
PARTNER = "partner"
PARTNER_CAMPAIGN = "partner_campaign"
DELIVERY = "delivery"
TEST = "test"  # "yes" on a test send (services.send_tests): never a delivery

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

Tags = Mapping[str, str]


def make_tags(
    *,
    brand: int | None = None,
    campaign: int | None = None,
    partner: int | None = None,
    partner_campaign: int | None = None,
    delivery: str | None = None,
) -> dict[str, str]:
    """The well-known tags, leaving out what is None."""
    raw = {
        BRAND: brand,
        CAMPAIGN: campaign,
        PARTNER: partner,
        PARTNER_CAMPAIGN: partner_campaign,
        DELIVERY: delivery,
    }
    return check({k: str(v) for k, v in raw.items() if v is not None})


def check(tags: Tags | None) -> dict[str, str]:
    """A plain dict of the tags; ValueError names the first name or value SES would refuse."""
    out: dict[str, str] = {}
    for name, value in (tags or {}).items():
        if not _SAFE.match(name):
            raise ValueError(f"tag name {name!r}: letters, digits, _ and - only (1-256)")
        if not _SAFE.match(value):
            raise ValueError(f"tag {name}: value {value!r}: letters, digits, _ and - only (1-256)")
        out[name] = value
    return out


def int_tag(tags: Tags, name: str) -> int | None:
    """A numeric tag as int, None when absent or not a number."""
    value = tags.get(name)
    return int(value) if value is not None and value.isdigit() else None
