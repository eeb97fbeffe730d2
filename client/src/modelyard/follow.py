"""Followed views: :class:`Followed` (sync) and :class:`AsyncFollowed`, made by
``registry.follow(groups)``.

A service that asks "which version is in production?" or "what does champion point to?" on
every request gets the answer from memory, kept current by the registry's event stream,
instead of a round trip. The view falls back to the server before it has loaded, for
groups it does not follow, and whenever the stream has been silent for longer than its
``max_staleness``: it never answers from a state older than that bound. ``seq`` is the log
position it is current to, ``lag`` the seconds since the server last confirmed it.
"""

from modelyard._async.follow import DEFAULT_MAX_STALENESS, AsyncFollowed
from modelyard._sync.follow import Followed

__all__ = ["DEFAULT_MAX_STALENESS", "AsyncFollowed", "Followed"]
