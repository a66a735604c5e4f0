"""Pausing Python's cyclic garbage collector around work that makes many objects without cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic collector during the block and give it back as it was (on, or off if it was off).

    Used where a burst of long-lived or cycle-free objects would start a collection every 700 allocations:
    building the app (modules, mappers, schemas, routes) and turning a block of result rows into arrays.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
