"""Pagers: iterate a list call's items across pages, fetching each page when it is needed.

As in Google's generated clients, a list method fetches the first page before it returns
(so a bad filter or a missing group raises at the call), iterating the pager yields the
items of every page in order, and ``.pages`` yields the raw responses::

    for version in registry.list_versions("fraud", filter="stage = PRODUCTION"):
        print(version.name)
    for page in registry.list_versions("fraud").pages:
        print(len(page.model_versions), page.next_page_token)

One generic pager serves every list call: :class:`Pager` and :class:`AsyncPager` are what
to annotate with (``Pager[ModelVersion]``); the names per list call, such as
``ModelVersionsPager``, stand for it with the item and response types filled in.
"""

from modelyard._async.pagers import (
    AsyncAliasesPager,
    AsyncApprovalsPager,
    AsyncAuditEventsPager,
    AsyncModelGroupsPager,
    AsyncModelVersionsPager,
    AsyncPager,
    AsyncTokensPager,
    AsyncWebhookDeliveriesPager,
    AsyncWebhooksPager,
)
from modelyard._sync.pagers import (
    AliasesPager,
    ApprovalsPager,
    AuditEventsPager,
    ModelGroupsPager,
    ModelVersionsPager,
    Pager,
    TokensPager,
    WebhookDeliveriesPager,
    WebhooksPager,
)

__all__ = [
    "AliasesPager",
    "ApprovalsPager",
    "AsyncAliasesPager",
    "AsyncApprovalsPager",
    "AsyncAuditEventsPager",
    "AsyncModelGroupsPager",
    "AsyncModelVersionsPager",
    "AsyncPager",
    "AsyncTokensPager",
    "AsyncWebhookDeliveriesPager",
    "AsyncWebhooksPager",
    "AuditEventsPager",
    "ModelGroupsPager",
    "ModelVersionsPager",
    "Pager",
    "TokensPager",
    "WebhookDeliveriesPager",
    "WebhooksPager",
]
