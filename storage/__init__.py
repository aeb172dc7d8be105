"""Blob storage for the asset library: embedded (local files) or S3, behind one interface."""

from storage.base import (
    BlobExists,
    BlobNotFound,
    BlobStore,
    Retention,
    StorageError,
    WriteOnceStore,
    brand_key,
    content_disposition,
    validate_key,
)
from storage.factory import make_blob_store, make_checkpoint_store
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore

__all__ = [
    "BlobExists",
    "BlobNotFound",
    "BlobStore",
    "LocalBlobStore",
    "Retention",
    "S3BlobStore",
    "StorageError",
    "WriteOnceStore",
    "brand_key",
    "content_disposition",
    "make_blob_store",
    "make_checkpoint_store",
    "validate_key",
]
