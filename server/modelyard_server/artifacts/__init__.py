"""Blob stores: where the registry keeps the bytes of the artifacts it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard_server.artifacts.local import LocalBlobStore
from modelyard_server.config import Settings

if TYPE_CHECKING:
    from modelyard_server.artifacts.s3 import S3BlobStore


def open_blob_store(settings: Settings) -> LocalBlobStore | S3BlobStore:
    """Returns the blob store the settings name: S3, or blobs/ in the data directory."""
    if settings.artifact_store:
        # boto3 takes a fifth of the server's start-up to import: only a server on S3 pays it.
        from modelyard_server.artifacts.s3 import S3BlobStore

        return S3BlobStore(
            settings.artifact_store,
            settings.blob_dir / "staging",
            endpoint_url=settings.s3_endpoint_url,
        )
    return LocalBlobStore(settings.blob_dir)
