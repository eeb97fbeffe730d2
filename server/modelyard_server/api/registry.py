"""modelyard.v1.RegistryService: groups and versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import registry_service_pb2_grpc as rs_grpc
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import request_digest
from modelyard_server.api.errors import rpc, stream_rpc
from modelyard_server.api.references import version_out, versions_out
from modelyard_server.api.watch import EventStreams
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.governance import Governance
from modelyard_server.domain.registry import Registry

Context = grpc.aio.ServicerContext[Any, Any]


def mutation(method: str, request: Message, request_id: str, reason: str = "") -> Mutation:
    return Mutation(
        principal=current_principal(),
        request_id=request_id,
        request_digest=request_digest(method, request),
        reason=reason,
    )


class RegistryServicer(rs_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry, governance: Governance, streams: EventStreams) -> None:
        self.registry = registry
        self.governance = governance
        self.streams = streams

    @rpc
    async def CreateModelGroup(
        self, request: rs.CreateModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.registry.create_group(
            mutation("CreateModelGroup", request, request.request_id),
            request.model_group_id,
            request.model_group,
        )

    @rpc
    async def GetModelGroup(
        self, request: rs.GetModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.registry.get_group(current_principal(), request.name)

    @rpc
    async def ListModelGroups(
        self, request: rs.ListModelGroupsRequest, context: Context
    ) -> rs.ListModelGroupsResponse:
        groups, token = await self.registry.list_groups(
            current_principal(),
            request.page_size,
            request.page_token,
            request.filter,
            request.order_by,
        )
        return rs.ListModelGroupsResponse(model_groups=groups, next_page_token=token)

    @rpc
    async def UpdateModelGroup(
        self, request: rs.UpdateModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.registry.update_group(
            mutation("UpdateModelGroup", request, request.request_id),
            request.model_group,
            request.update_mask.paths,
        )

    @rpc
    async def DeleteModelGroup(
        self, request: rs.DeleteModelGroupRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.registry.delete_group(
            mutation("DeleteModelGroup", request, request.request_id),
            request.name,
            request.etag,
            request.force,
        )
        return empty_pb2.Empty()

    @rpc
    async def CreateModelVersion(
        self, request: rs.CreateModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        created = await self.registry.create_version(
            mutation("CreateModelVersion", request, request.request_id),
            request.parent,
            request.model_version,
        )
        return version_out(created)

    @rpc
    async def GetModelVersion(
        self, request: rs.GetModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        return version_out(await self.registry.get_version(current_principal(), request.name))

    @rpc
    async def ListModelVersions(
        self, request: rs.ListModelVersionsRequest, context: Context
    ) -> rs.ListModelVersionsResponse:
        versions, token = await self.registry.list_versions(
            current_principal(),
            request.parent,
            request.page_size,
            request.page_token,
            request.filter,
            request.order_by,
        )
        return rs.ListModelVersionsResponse(
            model_versions=versions_out(versions), next_page_token=token
        )

    @rpc
    async def UpdateModelVersion(
        self, request: rs.UpdateModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        updated = await self.registry.update_version(
            mutation("UpdateModelVersion", request, request.request_id),
            request.model_version,
            request.update_mask.paths,
        )
        return version_out(updated)

    @rpc
    async def DeleteModelVersion(
        self, request: rs.DeleteModelVersionRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.registry.delete_version(
            mutation("DeleteModelVersion", request, request.request_id), request.name, request.etag
        )
        return empty_pb2.Empty()

    @rpc
    async def TransitionModelVersionStage(
        self, request: rs.TransitionModelVersionStageRequest, context: Context
    ) -> rs.TransitionModelVersionStageResponse:
        moved, archived = await self.governance.transition(
            mutation("TransitionModelVersionStage", request, request.request_id, request.reason),
            request.name,
            request.stage,
            request.keep_existing_production,
            request.etag,
        )
        return rs.TransitionModelVersionStageResponse(
            model_version=version_out(moved), archived_versions=versions_out(archived)
        )

    @rpc
    async def RollbackProduction(
        self, request: rs.RollbackProductionRequest, context: Context
    ) -> rs.RollbackProductionResponse:
        restored, archived = await self.governance.rollback(
            mutation("RollbackProduction", request, request.request_id, request.reason),
            request.group,
            request.target_version,
        )
        return rs.RollbackProductionResponse(
            restored_version=version_out(restored), archived_versions=versions_out(archived)
        )

    @rpc
    async def SetAlias(self, request: rs.SetAliasRequest, context: Context) -> pb.Alias:
        return await self.governance.set_alias(
            mutation("SetAlias", request, request.request_id), request.alias
        )

    @rpc
    async def GetAlias(self, request: rs.GetAliasRequest, context: Context) -> pb.Alias:
        return await self.governance.get_alias(current_principal(), request.name)

    @rpc
    async def ListAliases(
        self, request: rs.ListAliasesRequest, context: Context
    ) -> rs.ListAliasesResponse:
        aliases, token = await self.governance.list_aliases(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return rs.ListAliasesResponse(aliases=aliases, next_page_token=token)

    @rpc
    async def DeleteAlias(
        self, request: rs.DeleteAliasRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.governance.delete_alias(
            mutation("DeleteAlias", request, request.request_id), request.name, request.etag
        )
        return empty_pb2.Empty()

    @stream_rpc
    async def WatchEvents(
        self, request: rs.WatchEventsRequest, context: Context
    ) -> AsyncIterator[rs.WatchEventsResponse]:
        async for response in self.streams.watch(current_principal(), request):
            yield response
