"""modelyard.v1.ArtifactService: blobs in, artifact bytes out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from modelyard.v1 import artifact_service_pb2 as arts
from modelyard.v1 import artifact_service_pb2_grpc as arts_grpc

from modelyard_server.api.auth import current_principal
from modelyard_server.api.errors import client_stream_rpc, rpc, stream_rpc
from modelyard_server.domain.artifacts import Artifacts
from modelyard_server.observability import metrics

Context = grpc.aio.ServicerContext[Any, Any]


class ArtifactServicer(arts_grpc.ArtifactServiceServicer):
    def __init__(self, artifacts: Artifacts) -> None:
        self.artifacts = artifacts

    @rpc
    async def FindMissingBlobs(
        self, request: arts.FindMissingBlobsRequest, context: Context
    ) -> arts.FindMissingBlobsResponse:
        missing = await self.artifacts.find_missing(
            current_principal(), request.parent, request.blob_digests
        )
        return arts.FindMissingBlobsResponse(missing_blob_digests=missing)

    @client_stream_rpc
    async def WriteBlob(
        self, requests: AsyncIterator[arts.WriteBlobRequest], context: Context
    ) -> arts.WriteBlobResponse:
        committed = await self.artifacts.write(current_principal(), _counted(requests))
        return arts.WriteBlobResponse(committed_size=committed)

    @rpc
    async def QueryWriteStatus(
        self, request: arts.QueryWriteStatusRequest, context: Context
    ) -> arts.QueryWriteStatusResponse:
        committed, complete = await self.artifacts.write_status(
            current_principal(), request.resource_name
        )
        return arts.QueryWriteStatusResponse(committed_size=committed, complete=complete)

    @rpc
    async def GetArtifactManifest(
        self, request: arts.GetArtifactManifestRequest, context: Context
    ) -> arts.ArtifactManifest:
        seconds = request.url_seconds if request.download_urls else None
        return await self.artifacts.manifest(current_principal(), request.name, seconds)

    @stream_rpc
    async def ReadArtifact(
        self, request: arts.ReadArtifactRequest, context: Context
    ) -> AsyncIterator[arts.ReadArtifactResponse]:
        chunks = await self.artifacts.read(
            current_principal(),
            request.name,
            request.path,
            request.read_offset,
            request.read_limit,
        )
        async for chunk in chunks:
            metrics.ARTIFACT_BYTES_OUT.inc(len(chunk))
            yield arts.ReadArtifactResponse(data=chunk)


async def _counted(
    requests: AsyncIterator[arts.WriteBlobRequest],
) -> AsyncIterator[arts.WriteBlobRequest]:
    """The requests of a WriteBlob stream, their bytes counted for the metrics."""
    async for request in requests:
        metrics.ARTIFACT_BYTES_IN.inc(len(request.data))
        yield request
