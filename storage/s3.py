"""The S3 blob store (AWS, or anything S3-compatible such as MinIO or moto via endpoint_url).

boto3 ships no type information here (boto3-stubs is not installed), so the client is Any;
every call on it is wrapped in _errors() so callers only ever see BlobNotFound/StorageError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from storage.base import (
    BlobNotFound,
    Retention,
    StorageError,
    content_disposition,
    validate_content_type,
    validate_expires_in,
    validate_key,
    validate_prefix,
)

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# What S3 (and moto, MinIO) answer for a bucket or object without Object Lock.
_NO_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration", "InvalidRequest"}
)


class S3BlobStore:
    """One client per store: clients are thread-safe and expensive to build, sessions are not."""

    def __init__(
        self,
        bucket: str,
        *,
        region: str,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        sse: str | None,
        prefix: str = "",
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self._object_lock: bool | None = None  # learnt on the first write-once put
        self.region = region
        self.prefix = validate_prefix(prefix)
        self.sse = sse
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            # Custom endpoints (MinIO, moto) rarely resolve virtual-host bucket names.
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        # None credentials fall back to boto3's default chain (instance role, profile).
        self._client: Any = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    @property
    def client(self) -> Any:
        """The underlying boto3 client, for operations this interface does not cover."""
        return self._client

    def _full_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    @contextlib.contextmanager
    def _errors(
        self, operation: str, key: str | None = None, *, prefix: str = ""
    ) -> Iterator[None]:
        where = f"s3://{self.bucket}/{self.prefix}{key or prefix}"
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            if key is not None and code in _NOT_FOUND_CODES:
                raise BlobNotFound(key) from None
            message = error.get("Message") or exc
            raise StorageError(f"S3 {operation} {where} failed: {code}: {message}") from exc
        except BotoCoreError as exc:  # no credentials, endpoint unreachable, ...
            raise StorageError(f"S3 {operation} {where} failed: {exc}") from exc

    def ensure_bucket(self, *, object_lock: bool = False) -> None:
        """For dev and tests (MinIO, moto); production buckets are provisioned, and the role
        serving requests should not need CreateBucket. `object_lock` only applies when the
        bucket is created here."""
        with self._errors("HeadBucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket"):
                    raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if object_lock:
            kwargs["ObjectLockEnabledForBucket"] = True
        if self.region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with self._errors("CreateBucket"):
            try:
                self._client.create_bucket(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise  # lost a creation race to ourselves: fine

    def put(self, key: str, data: bytes, content_type: str) -> None:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._full_key(key),
            "Body": data,
            "ContentType": validate_content_type(content_type),
        }
        if self.sse:
            kwargs["ServerSideEncryption"] = self.sse
        with self._errors("PutObject", key):
            self._client.put_object(**kwargs)

    def get(self, key: str) -> bytes:
        with self._errors("GetObject", key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._full_key(key))
            body: bytes = response["Body"].read()
            return body

    def content_type(self, key: str) -> str:
        with self._errors("HeadObject", key):
            response = self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
        return str(response.get("ContentType") or "application/octet-stream")

    def delete(self, key: str) -> None:
        # S3's DeleteObject already succeeds for missing keys.
        with self._errors("DeleteObject", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._full_key(key))

    def exists(self, key: str) -> bool:
        try:
            with self._errors("HeadObject", key):
                self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
        except BlobNotFound:
            return False
        return True

    def keys(self, prefix: str, *, limit: int | None = None) -> list[str]:
        """S3 lists in key order, so a limit stops after the first pages."""
        full_prefix = self.prefix + validate_prefix(prefix)
        found: list[str] = []
        with self._errors("ListObjectsV2", prefix=prefix):
            paginator = self._client.get_paginator("list_objects_v2")
            pages = {"PageSize": min(limit, 1000)} if limit else {}
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=full_prefix, PaginationConfig=pages
            ):
                found.extend(
                    str(item["Key"])[len(self.prefix) :] for item in page.get("Contents", [])
                )
                if limit is not None and len(found) >= limit:
                    break
        return sorted(found)[:limit]

    def object_lock_enabled(self) -> bool:
        """Whether the bucket was made with Object Lock (asked once per store)."""
        if self._object_lock is None:
            with self._errors("GetObjectLockConfiguration"):
                try:
                    answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
                    config = answer.get("ObjectLockConfiguration", {})
                    self._object_lock = config.get("ObjectLockEnabled") == "Enabled"
                except ClientError as exc:
                    if str(exc.response.get("Error", {}).get("Code")) not in _NO_LOCK_CODES:
                        raise
                    self._object_lock = False
        return self._object_lock

    def put_new(
        self, key: str, data: bytes, content_type: str, *, retain_until: datetime, mode: str
    ) -> Retention:
        """Written with an Object Lock retention (`mode` until `retain_until`) when the bucket
        has Object Lock; without it the object is still written, and the answer says it is
        unprotected. Keys are unique by construction; with Object Lock an overwrite would only
        add a version and leave the locked one in place."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._full_key(key),
            "Body": data,
            "ContentType": validate_content_type(content_type),
        }
        if self.sse:
            kwargs["ServerSideEncryption"] = self.sse
        locked = self.object_lock_enabled()
        if locked:
            kwargs["ObjectLockMode"] = mode
            kwargs["ObjectLockRetainUntilDate"] = retain_until
        with self._errors("PutObject", key):
            self._client.put_object(**kwargs)
        if not locked:
            return self._unlocked()
        return Retention(mode, retain_until, f"S3 Object Lock {mode}")

    def _unlocked(self) -> Retention:
        return Retention(
            None,
            None,
            f"bucket {self.bucket} has no Object Lock: the object is not protected from "
            "deletion or overwrite",
        )

    def retention(self, key: str) -> Retention:
        """From HeadObject, which carries the lock headers for a caller allowed to read the
        retention (GetObjectRetention itself answers a server error on moto 5.2)."""
        with self._errors("HeadObject", key):
            answer = self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
        mode, until = answer.get("ObjectLockMode"), answer.get("ObjectLockRetainUntilDate")
        if not mode:
            return self._unlocked()
        if isinstance(until, datetime):
            until = until.astimezone(UTC)
        return Retention(str(mode), until, f"S3 Object Lock {mode}")

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full_key(key)}"

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """Signed locally, no request is made: a missing key only shows when the URL is used."""
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._full_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors("presign GetObject", key):
            url: str = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=validate_expires_in(expires_in)
            )
        return url
