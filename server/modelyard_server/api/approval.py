"""modelyard.v1.ApprovalService: decisions and group policies."""

from __future__ import annotations

from typing import Any

import grpc
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import approval_service_pb2_grpc as aps_grpc
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import mutation
from modelyard_server.api.errors import rpc
from modelyard_server.domain.approvals import Approvals

Context = grpc.aio.ServicerContext[Any, Any]


class ApprovalServicer(aps_grpc.ApprovalServiceServicer):
    def __init__(self, approvals: Approvals) -> None:
        self.approvals = approvals

    @rpc
    async def ApproveModelVersion(
        self, request: aps.ApproveModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.approvals.approve(
            mutation("ApproveModelVersion", request, request.request_id, request.reason),
            request.name,
            request.etag,
        )

    @rpc
    async def RejectModelVersion(
        self, request: aps.RejectModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        return await self.approvals.reject(
            mutation("RejectModelVersion", request, request.request_id, request.reason),
            request.name,
            request.etag,
            force=request.force,
        )

    @rpc
    async def ListApprovals(
        self, request: aps.ListApprovalsRequest, context: Context
    ) -> aps.ListApprovalsResponse:
        decisions, token = await self.approvals.page(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return aps.ListApprovalsResponse(approvals=decisions, next_page_token=token)

    @rpc
    async def GetApprovalPolicy(
        self, request: aps.GetApprovalPolicyRequest, context: Context
    ) -> pb.ApprovalPolicy:
        return await self.approvals.get_policy(current_principal(), request.name)

    @rpc
    async def UpdateApprovalPolicy(
        self, request: aps.UpdateApprovalPolicyRequest, context: Context
    ) -> pb.ApprovalPolicy:
        return await self.approvals.update_policy(
            mutation("UpdateApprovalPolicy", request, request.request_id),
            request.approval_policy,
            request.update_mask.paths,
        )
