"""modelyard.v1.RegistryService: groups and versions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import registry_service_pb2_grpc as rs_grpc
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import mutation
from modelyard_server.api.errors import rpc, stream_rpc
from modelyard_server.api.watch import EventStreams
from modelyard_server.api.wire import list_response
from modelyard_server.domain.dependents import version_name
from modelyard_server.domain.registry import Registry

Context = grpc.aio.ServicerContext[Any, Any]


class RegistryServicer(rs_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry, streams: EventStreams) -> None:
        self.groups = registry.groups
        self.versions = registry.versions
        self.lifecycle = registry.lifecycle
        self.aliases = registry.aliases
        self.dependencies = registry.dependencies
        self.streams = streams

    @rpc
    async def CreateModelGroup(
        self, request: rs.CreateModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.groups.create(
            mutation("CreateModelGroup", request, request.request_id),
            request.model_group_id,
            request.model_group,
        )

    @rpc
    async def GetModelGroup(
        self, request: rs.GetModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.groups.get(current_principal(), request.name)

    @rpc
    async def ListModelGroups(
        self, request: rs.ListModelGroupsRequest, context: Context
    ) -> rs.ListModelGroupsResponse:
        groups, token = await self.groups.page(
            current_principal(),
            request.page_size,
            request.page_token,
            request.filter,
            request.order_by,
        )
        return list_response(rs.ListModelGroupsResponse, groups, token)

    @rpc
    async def UpdateModelGroup(
        self, request: rs.UpdateModelGroupRequest, context: Context
    ) -> pb.ModelGroup:
        return await self.groups.update(
            mutation("UpdateModelGroup", request, request.request_id),
            request.model_group,
            request.update_mask.paths,
        )

    @rpc
    async def DeleteModelGroup(
        self, request: rs.DeleteModelGroupRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.groups.delete(
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
        return await self.versions.create(
            mutation("CreateModelVersion", request, request.request_id),
            request.parent,
            request.model_version,
            request.artifact_files,
        )

    @rpc
    async def GetModelVersion(
        self, request: rs.GetModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.versions.get(current_principal(), request.name)

    @rpc
    async def ListModelVersions(
        self, request: rs.ListModelVersionsRequest, context: Context
    ) -> rs.ListModelVersionsResponse:
        versions, token = await self.versions.page(
            current_principal(),
            request.parent,
            request.page_size,
            request.page_token,
            request.filter,
            request.order_by,
        )
        return list_response(rs.ListModelVersionsResponse, versions, token)

    @rpc
    async def UpdateModelVersion(
        self, request: rs.UpdateModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.versions.update(
            mutation("UpdateModelVersion", request, request.request_id),
            request.model_version,
            request.update_mask.paths,
        )

    @rpc
    async def DeleteModelVersion(
        self, request: rs.DeleteModelVersionRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.versions.delete(
            mutation("DeleteModelVersion", request, request.request_id, request.reason),
            request.name,
            request.etag,
            force=request.force,
        )
        return empty_pb2.Empty()

    @rpc
    async def ListDependents(
        self, request: rs.ListDependentsRequest, context: Context
    ) -> rs.ListDependentsResponse:
        found = await self.dependencies.dependents(current_principal(), request.name)
        return rs.ListDependentsResponse(
            dependents=[
                rs.Dependent(
                    version=d.name,
                    stage=pb.Stage.ValueType(d.stage),
                    depends_on=version_name(d.depends_on),
                    depth=d.depth,
                )
                for d in found
            ]
        )

    @rpc
    async def TransitionModelVersionStage(
        self, request: rs.TransitionModelVersionStageRequest, context: Context
    ) -> rs.TransitionModelVersionStageResponse:
        moved = await self.lifecycle.transition(
            mutation("TransitionModelVersionStage", request, request.request_id, request.reason),
            request.name,
            request.stage,
            request.keep_existing_production,
            request.etag,
            force=request.force,
        )
        return rs.TransitionModelVersionStageResponse(
            model_version=moved.version, archived_versions=moved.archived
        )

    @rpc
    async def RollbackProduction(
        self, request: rs.RollbackProductionRequest, context: Context
    ) -> rs.RollbackProductionResponse:
        restored = await self.lifecycle.rollback(
            mutation("RollbackProduction", request, request.request_id, request.reason),
            request.group,
            request.target_version,
        )
        return rs.RollbackProductionResponse(
            restored_version=restored.version, archived_versions=restored.archived
        )

    @rpc
    async def CompareSchemas(
        self, request: rs.CompareSchemasRequest, context: Context
    ) -> rs.CompareSchemasResponse:
        comparison = await self.versions.compare_schemas(
            current_principal(), request.base, request.candidate
        )
        return rs.CompareSchemasResponse(
            base=comparison.base.name,
            candidate=comparison.candidate.name,
            changes=comparison.changes,
            backward_compatible=comparison.backward_compatible,
            full_compatible=comparison.full_compatible,
        )

    @rpc
    async def SetAlias(self, request: rs.SetAliasRequest, context: Context) -> pb.Alias:
        return await self.aliases.set(
            mutation("SetAlias", request, request.request_id), request.alias
        )

    @rpc
    async def GetAlias(self, request: rs.GetAliasRequest, context: Context) -> pb.Alias:
        return await self.aliases.get(current_principal(), request.name)

    @rpc
    async def ListAliases(
        self, request: rs.ListAliasesRequest, context: Context
    ) -> rs.ListAliasesResponse:
        aliases, token = await self.aliases.page(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return rs.ListAliasesResponse(aliases=aliases, next_page_token=token)

    @rpc
    async def DeleteAlias(
        self, request: rs.DeleteAliasRequest, context: Context
    ) -> empty_pb2.Empty:
        await self.aliases.delete(
            mutation("DeleteAlias", request, request.request_id), request.name, request.etag
        )
        return empty_pb2.Empty()

    @stream_rpc
    async def WatchEvents(
        self, request: rs.WatchEventsRequest, context: Context
    ) -> AsyncIterator[rs.WatchEventsResponse]:
        async for response in self.streams.watch(current_principal(), request):
            yield response
