"""The asyncio client: :class:`AsyncRegistry`, over ``grpc.aio``.

::

    from modelyard import AsyncRegistry

    async with AsyncRegistry() as registry:
        await registry.create_group("fraud", description="Card fraud scores")
        pager = await registry.list_versions("fraud", filter="metrics.auc > 0.9")
        async for version in pager:
            print(version.name, version.metrics["auc"])

Its code, written by hand in ``modelyard._async``, is also the source of the sync client's.
"""

from modelyard._async.client import AsyncRegistry

__all__ = ["AsyncRegistry"]
