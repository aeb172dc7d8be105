"""Blob storage for the asset library: embedded (local files) or S3, behind one interface."""

from storage.base import (
    BlobNotFound,
    BlobStore,
    StorageError,
    brand_key,
    content_disposition,
    validate_key,
)
from storage.factory import make_blob_store
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "StorageError",
    "brand_key",
    "content_disposition",
    "make_blob_store",
    "validate_key",
]
