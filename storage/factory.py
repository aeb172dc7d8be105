"""Settings to store: the one place that knows which implementation a deployment uses."""

from __future__ import annotations

from core.settings import AssetStore, Settings
from storage.base import BlobStore
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore


def make_blob_store(settings: Settings) -> BlobStore:
    """Does not create the S3 bucket: production buckets are provisioned, not made on start."""
    if settings.asset_store == AssetStore.s3:
        secret = settings.aws_secret_access_key
        return S3BlobStore(
            settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            sse=settings.s3_sse,
        )
    return LocalBlobStore(
        settings.data_dir / "assets",
        settings.secret_key.get_secret_value(),
        settings.public_base_url,
    )
