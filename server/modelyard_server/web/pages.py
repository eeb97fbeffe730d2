"""The pages that read: groups, a group's versions, a version, a comparison, the audit log.

Each is a few lines that call the registry's use cases with the signed-in principal and hand
plain dicts to a template; errors in what the visitor typed (a filter) show inline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from modelyard.v1 import resources_pb2 as pb
from starlette.requests import Request
from starlette.responses import Response

from modelyard_server.domain import contracts, names, permits
from modelyard_server.domain.errors import DomainError, InvalidArgument
from modelyard_server.domain.principal import Permission
from modelyard_server.domain.repositories import AuditQuery
from modelyard_server.domain.webhooks import visible_entry
from modelyard_server.web import display
from modelyard_server.web.site import Site, Visitor, status_of

GROUPS_PAGE = 20
VERSIONS_PAGE = 100
TIMELINE = 50
AUDIT_PAGE = 50
MAX_COMPARED = 6
# A search that is a bare group-id prefix, not a filter expression.
PREFIX = re.compile(r"[a-z][a-z0-9-]{0,62}")


def query(request: Request, name: str, default: str = "") -> str:
    return request.query_params.get(name, default).strip()


def group_filter(search: str) -> str:
    """Returns the list filter of a search: a bare word finds the groups whose id starts with
    it; anything else is taken as a filter in the API's grammar."""
    if PREFIX.fullmatch(search):
        return f'name >= "groups/{search}" AND name < "groups/{search}~"'
    return search


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.registry = site.registry

    async def groups(self, request: Request, visitor: Visitor) -> Response:
        me = visitor.principal
        search = query(request, "q")
        token = query(request, "page_token")
        problem = ""
        groups: Sequence[pb.ModelGroup]
        try:
            groups, next_token = await self.registry.groups.page(
                me, GROUPS_PAGE, token, group_filter(search), ""
            )
        except InvalidArgument as error:
            groups, next_token, problem = [], "", error.message
        overviews = await self.registry.overview.groups(me, [g.name for g in groups])
        rows = []
        for group, overview in zip(groups, overviews, strict=True):
            rows.append(
                {
                    **display.plain(group),
                    "id": group.name.removeprefix("groups/"),
                    "counts": overview.counts,
                    "total": overview.total,
                    "production": [v.version for v in overview.production],
                }
            )
        return self.site.render(
            request,
            "groups.html",
            visitor=visitor,
            groups=rows,
            search=search,
            problem=problem,
            next_token=next_token,
            first_page=not token,
        )

    async def group(
        self, request: Request, visitor: Visitor, group: str, error: DomainError | None = None
    ) -> Response:
        me = visitor.principal
        name = names.group_name(group)
        filter_text = query(request, "filter")
        order_by = query(request, "order_by")
        token = query(request, "page_token")
        found, overview, policy = await asyncio.gather(
            self.registry.groups.get(me, name),
            self.registry.overview.group(me, name),
            self.registry.approvals.get_policy(me, names.policy_name(group)),
        )
        problem = ""
        versions: Sequence[pb.ModelVersion]
        try:
            versions, next_token = await self.registry.versions.page(
                me, name, VERSIONS_PAGE, token, filter_text, order_by
            )
        except InvalidArgument as refused:
            versions, next_token, problem = [], "", refused.message
        aliases, _ = await self.registry.aliases.page(me, name, 100, "")
        metrics = sorted({key for v in versions for key in v.metrics})
        return self.site.render(
            request,
            "group.html",
            status=400 if problem else (status_of(error) if error else 200),
            visitor=visitor,
            group={**display.plain(found), "id": group},
            counts=overview.counts,
            production=[v.version for v in overview.production],
            versions=[display.version_row(v) for v in versions],
            metrics=metrics,
            aliases=[display.plain(a) for a in aliases],
            filter=filter_text,
            order_by=order_by,
            problem=problem,
            next_token=next_token,
            first_page=not token,
            permits=permits.group_permits(me, group, policy),
            policy=policy,
            error=error,
        )

    async def version(
        self,
        request: Request,
        visitor: Visitor,
        group: str,
        version: str,
        error: DomainError | None = None,
    ) -> Response:
        me = visitor.principal
        found = await self.registry.versions.get(me, readable(group, version))
        policy = await self.registry.approvals.get_policy(me, names.policy_name(group))
        decisions, _ = await self.registry.approvals.page(me, found.name, 100, "")
        timeline, _ = await self.registry.audit.page(
            me, AuditQuery(resource=found.name, newest_first=True), TIMELINE, ""
        )
        files: list[dict[str, Any]] = []
        if found.artifact.held:
            manifest = await self.registry.artifacts.manifest(me, found.name)
            files = [display.plain(f) for f in manifest.files]
        needed_by = await self.registry.dependencies.dependents(me, found.name)
        allowed = permits.version_permits(me, found, policy)
        return self.site.render(
            request,
            "version.html",
            status=status_of(error) if error else 200,
            visitor=visitor,
            group_id=group,
            v=display.plain(found),
            files=files,
            decisions=[display.plain(d) for d in decisions],
            timeline=[display.entry(visible_entry(me, e)) for e in timeline],
            dependents=[
                {
                    "name": d.name,
                    "stage": pb.Stage.Name(d.stage),  # type: ignore[arg-type]
                    "depth": d.depth,
                    "through": f"groups/{d.depends_on[0]}/versions/{d.depends_on[1]}",
                }
                for d in needed_by
            ],
            permits=allowed,
            protected=list(policy.protected_aliases),
            policy=display.plain(policy),
            error=error,
        )

    async def compare(self, request: Request, visitor: Visitor, group: str) -> Response:
        me = visitor.principal
        wanted = [v.strip() for v in request.query_params.getlist("v") if v.strip()]
        if not 2 <= len(wanted) <= MAX_COMPARED:
            return self.site.render(
                request,
                "compare.html",
                status=400 if wanted else 200,
                visitor=visitor,
                group_id=group,
                versions=[],
                wanted=" ".join(wanted),
                problem=f"Name 2 to {MAX_COMPARED} versions to compare." if wanted else "",
            )
        found = [await self.registry.versions.get(me, readable(group, v)) for v in wanted]
        # Oldest first: the schemas' changes read as what each later version changed.
        found.sort(key=lambda v: v.version)
        base = found[0]
        schema_changes = []
        for other in found[1:]:  # read above already: compared here, not fetched again
            changes = contracts.compare(base.schema, other.schema)
            schema_changes.append(
                {"version": other.version, "changes": [display.plain(c) for c in changes]}
            )
        return self.site.render(
            request,
            "compare.html",
            visitor=visitor,
            group_id=group,
            versions=[display.plain(v) for v in found],
            wanted=" ".join(wanted),
            metrics=metric_rows(found),
            hyperparameters=text_rows(found, "hyperparameters"),
            tags=text_rows(found, "tags"),
            schema_changes=schema_changes,
            base=base.version,
            problem="",
        )

    async def audit(self, request: Request, visitor: Visitor) -> Response:
        me = visitor.principal
        resource, actor, action = (
            query(request, "resource"),
            query(request, "actor"),
            query(request, "action").upper(),
        )
        token = query(request, "page_token")
        problem = ""
        since, until = query(request, "since"), query(request, "until")
        actions = tuple(a.strip() for a in action.split(",") if a.strip())
        unknown = [a for a in actions if f"ACTION_{a}" not in pb.Action.keys()]  # noqa: SIM118
        entries: list[Any] = []
        next_token = ""
        try:
            start_us = day_us(since)
            end_us = day_us(until) + DAY_US if until else 0
        except ValueError:
            start_us = end_us = 0
            problem = "Dates are YYYY-MM-DD (UTC), e.g. 2026-01-31."
        if unknown:
            problem = f"'{unknown[0]}' is not an action; choose one from the list"
        elif not problem:
            try:
                entries, next_token = await self.registry.audit.page(
                    me,
                    AuditQuery(
                        resource=resource,
                        actor=actor,
                        actions=actions,
                        start_us=start_us,
                        end_us=end_us,
                        newest_first=True,
                    ),
                    AUDIT_PAGE,
                    token,
                )
            except InvalidArgument as error:
                problem = error.message
        verdict = None
        if query(request, "verify"):
            verdict = await self.registry.audit.verify(me)
        return self.site.render(
            request,
            "audit.html",
            status=400 if problem else 200,
            visitor=visitor,
            entries=[display.entry(visible_entry(me, e)) for e in entries],
            resource=resource,
            actor=actor,
            action=action,
            since=since,
            until=until,
            actions=[a.removeprefix("ACTION_") for a in pb.Action.keys()[1:]],
            problem=problem,
            next_token=next_token,
            first_page=not token,
            verdict=verdict,
            tenant_reader=Permission.READ in me.permissions(None),
        )


DAY_US = 86_400_000_000


def day_us(text: str) -> int:
    """Returns the start of a UTC day (YYYY-MM-DD) in microseconds; 0 for no day."""
    if not text:
        return 0
    moment = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000


def readable(group: str, version: str) -> str:
    """Returns the name of a version given as a number, `latest`, or an alias."""
    if version.isdigit() or version == names.LATEST:
        return f"groups/{group}/versions/{version}"
    return f"groups/{group}/aliases/{version}"


def metric_rows(versions: list[pb.ModelVersion]) -> list[dict[str, Any]]:
    """Returns one row per metric: each version's value, the best one marked, and whether
    the values differ. Lower is better for metrics named like a loss or an error."""
    keys = sorted({k for v in versions for k in v.metrics})
    rows = []
    for key in keys:
        values: list[float | None] = [v.metrics.get(key) for v in versions]
        present = [x for x in values if x is not None]
        lower = any(word in key.lower() for word in LOWER_IS_BETTER)
        best = (min if lower else max)(present) if len(set(present)) > 1 else None
        top = max(abs(x) for x in present) if present else 0.0
        rows.append(
            {
                "name": key,
                "lower": lower,
                "cells": [
                    {
                        "value": x,
                        "best": x is not None and x == best,
                        "bar": 0 if x is None or not top else round(100 * abs(x) / top),
                    }
                    for x in values
                ],
                "differs": len(set(values)) > 1,
            }
        )
    return rows


LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse", "latency", "cost")


def text_rows(versions: list[pb.ModelVersion], field: str) -> list[dict[str, Any]]:
    """Returns one row per key of a string map, and whether the versions differ on it."""
    maps = [dict(getattr(v, field)) for v in versions]
    keys = sorted({k for m in maps for k in m})
    return [
        {
            "name": key,
            "cells": [m.get(key) for m in maps],
            "differs": len({m.get(key) for m in maps}) > 1,
        }
        for key in keys
    ]
