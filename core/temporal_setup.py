"""`python -m core.temporal_setup`: register the custom search attributes on a cluster."""

from __future__ import annotations

import asyncio

from core.settings import get_settings
from core.temporal import connect, ensure_search_attributes
from domain import search_attributes


async def main() -> None:
    client = await connect(get_settings())
    await ensure_search_attributes(client)
    print("search attributes present:", ", ".join(k.name for k in search_attributes.ALL))


if __name__ == "__main__":
    asyncio.run(main())
