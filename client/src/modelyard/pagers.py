"""Pagers: iterate a list call's items across pages, fetching each page when it is needed.

As in Google's generated clients, a list method fetches the first page before it returns
(so a bad filter or a missing group raises at the call), iterating the pager yields the
items of every page in order, and ``.pages`` yields the raw responses::

    for version in registry.list_versions("fraud", filter="stage = PRODUCTION"):
        print(version.name)
    for page in registry.list_versions("fraud").pages:
        print(len(page.model_versions), page.next_page_token)

Each iteration starts again from the first page (kept from the call); later pages are
fetched again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar, cast

from google.protobuf.message import Message

from modelyard.v1 import (
    approval_service_pb2,
    audit_service_pb2,
    registry_service_pb2,
    resources_pb2,
    webhook_service_pb2,
)

__all__ = [
    "AliasesPager",
    "ApprovalsPager",
    "AsyncAliasesPager",
    "AsyncApprovalsPager",
    "AsyncAuditEventsPager",
    "AsyncListPager",
    "AsyncModelGroupsPager",
    "AsyncModelVersionsPager",
    "AsyncPager",
    "AsyncWebhookDeliveriesPager",
    "AsyncWebhooksPager",
    "AuditEventsPager",
    "ListPager",
    "ModelGroupsPager",
    "ModelVersionsPager",
    "Pager",
    "WebhookDeliveriesPager",
    "WebhooksPager",
]

ItemT = TypeVar("ItemT", bound=Message, covariant=True)
PageT = TypeVar("PageT", bound=Message)


class _Page(Protocol):
    """What every List response has: a token for the page after it."""

    @property
    def next_page_token(self) -> str: ...


def _next_token(page: Message) -> str:
    return cast(_Page, page).next_page_token


class Pager(ABC, Generic[ItemT]):
    """The items of a list call, in order, across all its pages."""

    @abstractmethod
    def __iter__(self) -> Iterator[ItemT]:
        """Yields every item of every page, fetching pages as they are reached."""

    @property
    @abstractmethod
    def pages(self) -> Iterator[Message]:
        """Yields the raw List responses, one per page."""


class ListPager(Pager[ItemT], Generic[ItemT, PageT]):
    """The pager of every list call: ``fetch(token)`` returns the page that ``token``
    names, and ``items(page)`` the items on it."""

    def __init__(
        self,
        fetch: Callable[[str], PageT],
        first: PageT,
        items: Callable[[PageT], Sequence[ItemT]],
    ) -> None:
        self._fetch = fetch
        self._first = first
        self._items = items

    @property
    def pages(self) -> Iterator[PageT]:
        """Yields the raw List responses, one per page."""
        page = self._first
        yield page
        while _next_token(page):
            page = self._fetch(_next_token(page))
            yield page

    def __iter__(self) -> Iterator[ItemT]:
        for page in self.pages:
            yield from self._items(page)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} first page: {len(self._items(self._first))} items>"


ModelGroupsPager: TypeAlias = ListPager[
    resources_pb2.ModelGroup, registry_service_pb2.ListModelGroupsResponse
]
ModelVersionsPager: TypeAlias = ListPager[
    resources_pb2.ModelVersion, registry_service_pb2.ListModelVersionsResponse
]
AliasesPager: TypeAlias = ListPager[resources_pb2.Alias, registry_service_pb2.ListAliasesResponse]
ApprovalsPager: TypeAlias = ListPager[
    resources_pb2.ApprovalDecision, approval_service_pb2.ListApprovalsResponse
]
AuditEventsPager: TypeAlias = ListPager[
    resources_pb2.AuditEvent, audit_service_pb2.ListAuditEventsResponse
]
WebhooksPager: TypeAlias = ListPager[
    webhook_service_pb2.Webhook, webhook_service_pb2.ListWebhooksResponse
]
WebhookDeliveriesPager: TypeAlias = ListPager[
    webhook_service_pb2.WebhookDelivery, webhook_service_pb2.ListWebhookDeliveriesResponse
]


class AsyncPager(ABC, Generic[ItemT]):
    """The items of a list call, in order, across all its pages, for ``async for``."""

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
        return self._page_iter()

    async def _page_iter(self) -> AsyncIterator[PageT]:
        page = self._first
        yield page
        while _next_token(page):
            page = await self._fetch(_next_token(page))
            yield page

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._item_iter()

    async def _item_iter(self) -> AsyncIterator[ItemT]:
        async for page in self._page_iter():
            for item in self._items(page):
                yield item

    def __repr__(self) -> str:
        return f"<{type(self).__name__} first page: {len(self._items(self._first))} items>"


AsyncModelGroupsPager: TypeAlias = AsyncListPager[
    resources_pb2.ModelGroup, registry_service_pb2.ListModelGroupsResponse
]
AsyncModelVersionsPager: TypeAlias = AsyncListPager[
    resources_pb2.ModelVersion, registry_service_pb2.ListModelVersionsResponse
]
AsyncAliasesPager: TypeAlias = AsyncListPager[
    resources_pb2.Alias, registry_service_pb2.ListAliasesResponse
]
AsyncApprovalsPager: TypeAlias = AsyncListPager[
    resources_pb2.ApprovalDecision, approval_service_pb2.ListApprovalsResponse
]
AsyncAuditEventsPager: TypeAlias = AsyncListPager[
    resources_pb2.AuditEvent, audit_service_pb2.ListAuditEventsResponse
]
AsyncWebhooksPager: TypeAlias = AsyncListPager[
    webhook_service_pb2.Webhook, webhook_service_pb2.ListWebhooksResponse
]
AsyncWebhookDeliveriesPager: TypeAlias = AsyncListPager[
    webhook_service_pb2.WebhookDelivery, webhook_service_pb2.ListWebhookDeliveriesResponse
]
