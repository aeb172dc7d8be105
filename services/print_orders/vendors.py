"""The configured print vendor (one today: an HTTP vendor speaking the simulator's API)."""

from __future__ import annotations

from core.settings import Settings
from printing.vendor import HttpVendor, PrintVendor


def vendor_for(settings: Settings) -> PrintVendor:
    return HttpVendor(
        settings.print_vendor_name, settings.print_vendor_url, settings.print_vendor_timeout
    )
