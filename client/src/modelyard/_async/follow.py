"""A followed view: the answers services ask for on every request, from memory.

Made by :meth:`modelyard.AsyncRegistry.follow`. It reads what its groups have in production
and what their aliases point at, then follows WatchEvents from the moment before that read,
so that no change is missed. ``production()``, ``by_alias()`` and ``get_version()`` answer
from memory while the view is current, and ask the server otherwise: before it has loaded,
for groups it does not follow, and whenever the stream has been silent longer than
``max_staleness`` seconds (the server sends a heartbeat every few seconds, so silence means
the stream is down). It never answers from a state older than that bound.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from modelyard import types
from modelyard._concurrency import AsyncBackground
from modelyard._follow_state import FollowedState
from modelyard.names import alias_name, group_name, version_name

if TYPE_CHECKING:
    from modelyard._async.client import AsyncRegistry
    from modelyard._async.watch import AsyncWatch

__all__ = ["AsyncFollowed"]

#: How long the stream may be silent before the view stops answering from memory.
DEFAULT_MAX_STALENESS = 15.0


class AsyncFollowed:
    """A read-only view of some groups, kept current by the registry's event stream."""

    def __init__(
        self, registry: AsyncRegistry, groups: Sequence[str], max_staleness: float
    ) -> None:
        if isinstance(groups, str) or not groups:
            raise ValueError("follow takes a list of groups, e.g. ['fraud']")
        if max_staleness <= 0:
            raise ValueError(f"max_staleness must be above 0 seconds, got {max_staleness}")
        self._registry = registry
        self._groups = [group_name(g) for g in groups]
        self.max_staleness = max_staleness
        self._state = FollowedState(self._groups)
        self._watch: AsyncWatch | None = None
        self._reader: AsyncBackground | None = None
        self._loaded = False

    async def start(self) -> AsyncFollowed:
        """Opens the stream, then reads the groups' production versions and aliases; from
        then on the view answers from memory. Returns the view."""
        watch = self._watch = await self._registry.watch(groups=self._groups)
        versions: list[types.ModelVersion] = []
        aliases: list[types.Alias] = []
        for group in self._groups:
            versions += await self._registry.production_versions(group)
            async for alias in await self._registry.list_aliases(group):
                aliases.append(alias)
                versions.append(await self._registry.get_version(alias.version))
        self._state.load([v.proto for v in versions], [a.proto for a in aliases])
        self._loaded = True
        self._reader = AsyncBackground(lambda: self._follow(watch))
        return self

    async def _follow(self, watch: AsyncWatch) -> None:
        async for event in watch:
            self._state.apply(event.proto)

    # What the view knows

    @property
    def seq(self) -> int | None:
        """The seq of the log the view is current to."""
        return None if self._watch is None else self._watch.cursor

    @property
    def lag(self) -> float | None:
        """Seconds since the server last confirmed where the log is (None before it has)."""
        heard = None if self._watch is None else self._watch.heard
        return None if heard is None else time.monotonic() - heard

    @property
    def current(self) -> bool:
        """Whether the view answers from memory now."""
        lag = self.lag
        return self._loaded and lag is not None and lag <= self.max_staleness

    def _answers(self, group: str) -> bool:
        return self.current and self._state.follows(group)

    # The questions

    async def production(self, group: str) -> types.ModelVersion | None:
        """The version in production (the most recently promoted, with several), or None."""
        if not self._answers(group):
            return await self._registry.production(group)
        found = self._state.production(group)
        return None if found is None else types.ModelVersion(found)

    async def by_alias(self, group: str, alias: str) -> types.ModelVersion:
        """The version the alias points at; raises AliasNotFound when there is no such alias."""
        if self._answers(group):
            target = self._state.alias_target(alias_name(group, alias))
            if target is not None:
                return await self.get_version(target)
        return await self._registry.by_alias(group, alias)

    async def get_version(
        self, group_or_name: str, version: int | str | None = None
    ) -> types.ModelVersion:
        """The version (a number or a full name); from memory when the view holds it."""
        name = version_name(group_or_name, version)
        if self._answers(name) and not name.endswith("/latest"):
            held = self._state.version(name)
            if held is not None:
                return types.ModelVersion(held)
        found = await self._registry.get_version(name)
        if self._state.follows(name):
            self._state.remember(found.proto)
        return found

    # Its life

    async def close(self) -> None:
        """Stops following; the view then asks the server for everything."""
        self._loaded = False
        if self._watch is not None:
            await self._watch.close()
        if self._reader is not None:
            await self._reader.stop()

    async def __aenter__(self) -> AsyncFollowed:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
