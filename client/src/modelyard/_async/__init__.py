"""The clients' modules: written by hand for asyncio in ``modelyard._async``, and generated
from there for code that does not use asyncio into ``modelyard._sync``.

After changing a module in ``_async``, run ``make unasync`` (``scripts/unasync.py``);
``make lint`` fails while ``_sync`` differs from what the script writes.
"""
