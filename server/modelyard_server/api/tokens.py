"""modelyard.v1.TokenService: issuing, listing and revoking bearer tokens."""

from __future__ import annotations

from typing import Any

import grpc
from modelyard.v1 import token_service_pb2 as ts
from modelyard.v1 import token_service_pb2_grpc as ts_grpc

from modelyard_server.api.auth import current_principal
from modelyard_server.api.convert import mutation
from modelyard_server.api.errors import rpc
from modelyard_server.domain.tokens import Tokens

Context = grpc.aio.ServicerContext[Any, Any]


class TokenServicer(ts_grpc.TokenServiceServicer):
    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    @rpc
    async def CreateToken(
        self, request: ts.CreateTokenRequest, context: Context
    ) -> ts.CreateTokenResponse:
        change = mutation("CreateToken", request, "")
        ttl = request.ttl if request.HasField("ttl") else None
        return await self.tokens.create(change, request.token, ttl)

    @rpc
    async def ListTokens(
        self, request: ts.ListTokensRequest, context: Context
    ) -> ts.ListTokensResponse:
        tokens, page = await self.tokens.page(
            current_principal(), request.page_size, request.page_token
        )
        return ts.ListTokensResponse(tokens=tokens, next_page_token=page)

    @rpc
    async def RevokeToken(self, request: ts.RevokeTokenRequest, context: Context) -> ts.Token:
        return await self.tokens.revoke(mutation("RevokeToken", request, ""), request.name)
