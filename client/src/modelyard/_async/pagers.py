"""The one pager of every list call, and its names per call (see :mod:`modelyard.pagers`).

Each iteration starts again from the first page (kept from the call); later pages are
fetched again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar, cast

from google.protobuf.message import Message

from modelyard import types
from modelyard.v1 import (
    approval_service_pb2,
    audit_service_pb2,
    registry_service_pb2,
    token_service_pb2,
    webhook_service_pb2,
)

__all__ = [
    "AsyncAliasesPager",
    "AsyncApprovalsPager",
    "AsyncAuditEventsPager",
    "AsyncListPager",
    "AsyncModelGroupsPager",
    "AsyncModelVersionsPager",
    "AsyncPager",
    "AsyncTokensPager",
    "AsyncWebhookDeliveriesPager",
    "AsyncWebhooksPager",
]

ItemT = TypeVar("ItemT", covariant=True)
PageT = TypeVar("PageT", bound=Message)


class _Page(Protocol):
    """What every List response has: a token for the page after it."""

    @property
    def next_page_token(self) -> str: ...


def _next_token(page: Message) -> str:
    return cast(_Page, page).next_page_token


class AsyncPager(ABC, Generic[ItemT]):
    """The items of a list call, in order, across all its pages."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[ItemT]:
        """Yields every item of every page, fetching pages as they are reached."""

    @property
    @abstractmethod
    def pages(self) -> AsyncIterator[Message]:
        """Yields the raw List responses, one per page."""


class AsyncListPager(AsyncPager[ItemT], Generic[ItemT, PageT]):
    """The pager of every list call: ``fetch(token)`` returns the page that ``token``
    names, and ``items(page)`` the items on it."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[PageT]],
        first: PageT,
        items: Callable[[PageT], Sequence[ItemT]],
    ) -> None:
        self._fetch = fetch
        self._first = first
        self._items = items

    @property
    def pages(self) -> AsyncIterator[PageT]:
        """Yields the raw List responses, one per page."""
        return self._pages()

    async def _pages(self) -> AsyncIterator[PageT]:
        page = self._first
        yield page
        while _next_token(page):
            page = await self._fetch(_next_token(page))
            yield page

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items_of_pages()

    async def _items_of_pages(self) -> AsyncIterator[ItemT]:
        async for page in self._pages():
            for item in self._items(page):
                yield item

    def __repr__(self) -> str:
        return f"<{type(self).__name__} first page: {len(self._items(self._first))} items>"


AsyncModelGroupsPager: TypeAlias = AsyncListPager[
    types.ModelGroup, registry_service_pb2.ListModelGroupsResponse
]
AsyncModelVersionsPager: TypeAlias = AsyncListPager[
    types.ModelVersion, registry_service_pb2.ListModelVersionsResponse
]
AsyncAliasesPager: TypeAlias = AsyncListPager[types.Alias, registry_service_pb2.ListAliasesResponse]
AsyncApprovalsPager: TypeAlias = AsyncListPager[
    types.ApprovalDecision, approval_service_pb2.ListApprovalsResponse
]
AsyncAuditEventsPager: TypeAlias = AsyncListPager[
    types.AuditEvent, audit_service_pb2.ListAuditEventsResponse
]
AsyncWebhooksPager: TypeAlias = AsyncListPager[
    types.Webhook, webhook_service_pb2.ListWebhooksResponse
]
AsyncWebhookDeliveriesPager: TypeAlias = AsyncListPager[
    types.WebhookDelivery, webhook_service_pb2.ListWebhookDeliveriesResponse
]
AsyncTokensPager: TypeAlias = AsyncListPager[types.Token, token_service_pb2.ListTokensResponse]
