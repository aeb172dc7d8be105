"""What images cost: the demo hero's sizes, publication per send batch, the public route, and
the print PDF with the embedded original. `python -m bench.images` (a temporary SQLite
database and local store, the demo seed; nothing outside a temporary directory is touched)."""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from content.render import render_pdf, render_print_html
from content.validate import resolve_values
from core.db import make_engine
from core.settings import AppEnv, Settings
from core.temporal import LazyTemporalClient
from models.assets import Asset, AssetVersion
from models.base import utcnow
from models.org import Partner
from models.templates import Template, TemplateVersion
from scripts.demo.assets import seed_demo_assets
from scripts.demo.organisation import seed_demo
from scripts.migrate import upgrade
from services import asset_publication as publication
from services.templates import content_of, render_context, validation_context


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(
            _env_file=None,
            app_env=AppEnv.test,
            data_dir=data,
            database_url=f"sqlite:///{data / 'bench.db'}",
        )
        engine = make_engine(settings.resolved_database_url)
        with engine.begin() as conn:
            upgrade(conn)
        store = publication.store_for(settings)
        with Session(engine) as s:
            seed_demo(s)
            seed_demo_assets(s, store)
            s.commit()
        with Session(engine) as s:
            hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
            version = s.exec(select(AssetVersion).where(AssetVersion.asset_id == hero.id)).one()
            web = version.renditions["web"]
            print(
                f"demo hero: original {version.content_type} {version.width}x{version.height} "
                f"{version.size:,} bytes; web {web['content_type']} {web['width']}x"
                f"{web['height']} {len(store.get(web['key'])):,} bytes"
            )
            template = s.exec(select(Template).where(Template.name == "Open day")).one()
            email_version = s.exec(
                select(TemplateVersion).where(TemplateVersion.template_id == template.id)
            ).one()
            content = content_of(email_version)
            resolved = {"hero_image": "ast_openday01"}

            def refs() -> object:
                return publication.for_send(
                    s, settings, content, resolved, brand_id=hero.brand_id, state="sending"
                )

            first = timed(refs, 1)[0]
            print(f"publication, first use (row + commit): {first:.2f} ms")
            print(f"publication, every later batch and locale: {summary(timed(refs, 200))}")
            token = publication.image_refs(
                s,
                settings,
                store,
                content,
                resolved,
                brand_id=hero.brand_id,
                publish_images=True,
            )["ast_openday01"].url.rsplit("/i/", 1)[1]

            flyer = s.exec(select(Template).where(Template.name == "Open day flyer (A5)")).one()
            flyer_version = s.exec(
                select(TemplateVersion).where(TemplateVersion.template_id == flyer.id)
            ).one()
            flyer_content = content_of(flyer_version)
            partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
            values = {"event_date": "2027-05-01"}
            ctx = validation_context(
                s,
                flyer.brand_id,
                partner,
                "en",
                None,
                None,
                content=flyer_content,
                values=values,
                today=utcnow().date(),
            )
            flyer_values = resolve_values(flyer_content, values, ctx)
            render_ctx = render_context(s, flyer.brand_id, partner, settings.public_base_url)
            found = publication.print_images(
                s, store, flyer_content, flyer_values, brand_id=flyer.brand_id
            )
            with_image = publication.with_images(flyer_content, flyer_values, found.refs)
            without = {**flyer_values, "hero_image": ""}
            for label, slots, files in (
                ("with the original embedded", with_image, found.files),
                ("without an image", without, {}),
            ):
                html = render_print_html("bench", flyer_content, slots, render_ctx, "A5")
                pdf = render_pdf(html, files=files)
                ms = timed(functools.partial(render_pdf, html, files=files), 5)
                print(f"print PDF {label}: {len(pdf):,} bytes, {summary(ms)}")

        app = create_app(
            settings, engine=engine, temporal=LazyTemporalClient(settings), blob_store=store
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
        with TestClient(app) as client:
            assert client.get(f"/i/{token}").status_code == 200
            ms = timed(lambda: client.get(f"/i/{token}"), args.requests)
            print(f"GET /i/{{token}} in process (local store, SQLite): {summary(ms)}")
        engine.dispose()


if __name__ == "__main__":
    main()
