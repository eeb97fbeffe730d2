"""Event streams that resume by themselves: :class:`Watch` (sync) and :class:`AsyncWatch`.

::

    with registry.watch(groups=["fraud"], actions=["STAGE_CHANGED"], start_after=cursor) as events:
        for event in events:
            deploy(event)
            save(events.cursor)

A watch follows the registry's log in seq order. When the stream breaks (the server
restarts, the network drops, or the server ends a stream that fell too far behind), it
reconnects with backoff and resumes after the last seq it handed out, so each event is
handed to the caller exactly once, with no gap. Heartbeats advance :attr:`Watch.cursor`
while nothing matches the filters, so a persisted cursor never falls far behind the log.
"""

from modelyard._async.watch import AsyncWatch
from modelyard._sync.watch import Watch
from modelyard._watch_cursor import RESUMABLE_CODES, watch_request

__all__ = ["RESUMABLE_CODES", "AsyncWatch", "Watch", "watch_request"]
