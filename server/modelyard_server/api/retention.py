"""modelyard.v1.RetentionService: retention policies, their plans, and legal holds."""

from __future__ import annotations

from typing import Any

import grpc
from modelyard.v1 import resources_pb2 as pb
from modelyard.v1 import retention_service_pb2 as rets
from modelyard.v1 import retention_service_pb2_grpc as rets_grpc

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import mutation
from modelyard_server.api.errors import rpc
from modelyard_server.domain.holds import LegalHolds
from modelyard_server.domain.retention import Retention

Context = grpc.aio.ServicerContext[Any, Any]


class RetentionServicer(rets_grpc.RetentionServiceServicer):
    def __init__(self, retention: Retention, holds: LegalHolds) -> None:
        self.retention = retention
        self.holds = holds

    @rpc
    async def GetRetentionPolicy(
        self, request: rets.GetRetentionPolicyRequest, context: Context
    ) -> rets.RetentionPolicy:
        return await self.retention.get_policy(current_principal(), request.name)

    @rpc
    async def UpdateRetentionPolicy(
        self, request: rets.UpdateRetentionPolicyRequest, context: Context
    ) -> rets.RetentionPolicy:
        return await self.retention.update_policy(
            mutation("UpdateRetentionPolicy", request, request.request_id),
            request.retention_policy,
            request.update_mask.paths,
        )

    @rpc
    async def PlanRetention(
        self, request: rets.PlanRetentionRequest, context: Context
    ) -> rets.PlanRetentionResponse:
        policy, actions = await self.retention.plan(current_principal(), request.parent)
        return rets.PlanRetentionResponse(policy=policy, actions=actions)

    @rpc
    async def ApplyRetention(
        self, request: rets.ApplyRetentionRequest, context: Context
    ) -> rets.ApplyRetentionResponse:
        actions = await self.retention.apply(current_principal(), request.parent)
        return rets.ApplyRetentionResponse(actions=actions)

    @rpc
    async def SetLegalHold(
        self, request: rets.SetLegalHoldRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.holds.set(
            mutation("SetLegalHold", request, request.request_id, request.reason), request.name
        )

    @rpc
    async def ClearLegalHold(
        self, request: rets.ClearLegalHoldRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.holds.clear(
            mutation("ClearLegalHold", request, request.request_id, request.reason), request.name
        )
