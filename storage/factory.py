"""Settings to store: the one place that knows which implementation a deployment uses."""

from __future__ import annotations

from core.settings import AssetStore, Settings
from storage.base import BlobStore, WriteOnceStore
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore

CHECKPOINT_DIR = "audit-checkpoints"  # under DATA_DIR for the local store
CHECKPOINT_PREFIX = "audit-checkpoints/"  # inside the checkpoint bucket for S3


def _s3(settings: Settings, bucket: str, prefix: str = "") -> S3BlobStore:
    secret = settings.aws_secret_access_key
    return S3BlobStore(
        bucket,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        access_key_id=settings.aws_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
        sse=settings.s3_sse,
        prefix=prefix,
    )


def make_blob_store(settings: Settings) -> BlobStore:
    """Does not create the S3 bucket: production buckets are provisioned, not made on start."""
    if settings.asset_store == AssetStore.s3:
        return _s3(settings, settings.s3_bucket)
    return LocalBlobStore(
        settings.data_dir / "assets",
        settings.secret_key.get_secret_value(),
        settings.public_base_url,
    )


def make_checkpoint_store(settings: Settings) -> WriteOnceStore:
    """Where audit checkpoints live: the same kind of store as the assets (ASSET_STORE), but
    their own directory, or their own bucket when AUDIT_CHECKPOINT_BUCKET names one (Object
    Lock must be switched on when a bucket is created, and an asset bucket should not need it).
    """
    if settings.asset_store == AssetStore.s3:
        return _s3(settings, settings.resolved_audit_checkpoint_bucket, CHECKPOINT_PREFIX)
    return LocalBlobStore(
        settings.data_dir / CHECKPOINT_DIR,
        settings.secret_key.get_secret_value(),
        settings.public_base_url,
    )
