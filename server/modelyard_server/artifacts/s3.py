"""The blob store on S3 (or an S3-compatible store), shared by every replica.

Uploads are staged on the local disk (see local.py: resumable, locked, hashed as they
come); a sealed, verified upload is then put under ``PREFIX/sha256/ab/abcd…`` in one
upload (multipart for large ones), and S3 shows an object only once it is complete. A
stream that resumes on another replica finds no staged bytes there and starts again from
0: correct, only slower. Reads are ranged GETs. boto3 is blocking: every call runs in a
thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from modelyard_server.artifacts.local import CHUNK, LocalBlobStore, LocalUpload
from modelyard_server.domain.blobs import StoredBlob
from modelyard_server.domain.manifests import Digest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Upload:
    """An upload staged locally and published to S3 (implements domain's Upload)."""

    def __init__(self, store: S3BlobStore, staged: LocalUpload) -> None:
        self.store = store
        self.staged = staged

    @property
    def committed(self) -> int:
        return self.staged.committed

    async def append(self, data: bytes) -> None:
        await self.staged.append(data)

    async def seal(self) -> Digest:
        return await self.staged.seal()

    async def publish(self, digest: Digest) -> None:
        if not await self.store.exists(digest):
            await asyncio.to_thread(
                self.store.client.upload_file,
                str(self.staged.path),
                self.store.bucket,
                self.store.key(digest),
            )

    async def discard(self) -> None:
        await self.staged.discard()


class S3BlobStore:
    """Blobs in an S3 bucket under a prefix (implements domain's BlobStore)."""

    def __init__(self, url: str, staging: Path, *, endpoint_url: str = "") -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket = bucket
        prefix = prefix.strip("/")
        self.root = f"{prefix}/sha256/" if prefix else "sha256/"  # every blob's key starts so
        self.staging = LocalBlobStore(staging)
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    def key(self, digest: Digest) -> str:
        return f"{self.root}{digest.sha256[:2]}/{digest.sha256}"

    @contextlib.asynccontextmanager
    async def upload(self, key: str) -> AsyncIterator[S3Upload]:
        async with self.staging.upload(key) as staged:
            yield S3Upload(self, staged)

    async def committed(self, key: str) -> int:
        return await self.staging.committed(key)

    async def exists(self, digest: Digest) -> bool:
        def head() -> bool:
            try:
                found: Any = self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return bool(found["ContentLength"] == digest.size)

        return await asyncio.to_thread(head)

    async def read(self, digest: Digest, offset: int, limit: int) -> AsyncIterator[bytes]:
        end = digest.size if limit == 0 else min(digest.size, offset + limit)
        if end <= offset:
            return
        response = await asyncio.to_thread(
            self.client.get_object,
            Bucket=self.bucket,
            Key=self.key(digest),
            Range=f"bytes={offset}-{end - 1}",
        )
        body = response["Body"]
        try:
            while block := await asyncio.to_thread(body.read, CHUNK):
                yield block
        finally:
            body.close()

    async def stored(self) -> AsyncIterator[StoredBlob]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self.root))
        while (page := await asyncio.to_thread(next, pages, None)) is not None:
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                digest = Digest(name, item["Size"])
                yield StoredBlob(digest, item["LastModified"].timestamp())

    async def delete(self, digest: Digest) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.key(digest))

    async def url(self, digest: Digest, seconds: int) -> str | None:
        # Signing is local (no request to S3): cheap enough for every file of a manifest.
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.key(digest)},
            ExpiresIn=seconds,
        )
        return url

    async def sweep(self, older_than_seconds: float) -> int:
        return await self.staging.sweep(older_than_seconds)
