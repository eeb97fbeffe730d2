"""modelyard.v1.ApprovalService: decisions and group policies."""

from __future__ import annotations

from typing import Any

import grpc
from modelyard.v1 import approval_service_pb2 as aps
from modelyard.v1 import approval_service_pb2_grpc as aps_grpc
from modelyard.v1 import resources_pb2 as pb

from modelyard_server.api.auth import current_principal
from modelyard_server.api.errors import rpc
from modelyard_server.api.references import version_out
from modelyard_server.api.registry import mutation
from modelyard_server.domain.governance import Governance

Context = grpc.aio.ServicerContext[Any, Any]


class ApprovalServicer(aps_grpc.ApprovalServiceServicer):
    def __init__(self, governance: Governance) -> None:
        self.governance = governance

    @rpc
    async def ApproveModelVersion(
        self, request: aps.ApproveModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        approved = await self.governance.approve(
            mutation("ApproveModelVersion", request, request.request_id, request.reason),
            request.name,
            request.etag,
        )
        return version_out(approved)

    @rpc
    async def RejectModelVersion(
        self, request: aps.RejectModelVersionRequest, context: Context
    ) -> pb.ModelVersion:
        rejected = await self.governance.reject(
            mutation("RejectModelVersion", request, request.request_id, request.reason),
            request.name,
            request.etag,
        )
        return version_out(rejected)

    @rpc
    async def ListApprovals(
        self, request: aps.ListApprovalsRequest, context: Context
    ) -> aps.ListApprovalsResponse:
        decisions, token = await self.governance.list_approvals(
            current_principal(), request.parent, request.page_size, request.page_token
        )
        return aps.ListApprovalsResponse(approvals=decisions, next_page_token=token)

    @rpc
    async def GetApprovalPolicy(
        self, request: aps.GetApprovalPolicyRequest, context: Context
    ) -> pb.ApprovalPolicy:
        return await self.governance.get_policy(current_principal(), request.name)

    @rpc
    async def UpdateApprovalPolicy(
        self, request: aps.UpdateApprovalPolicyRequest, context: Context
    ) -> pb.ApprovalPolicy:
        return await self.governance.update_policy(
            mutation("UpdateApprovalPolicy", request, request.request_id),
            request.approval_policy,
            request.update_mask.paths,
        )
