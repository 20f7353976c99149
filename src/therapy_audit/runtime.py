"""Process settings for long runs: the cyclic garbage collector's pace.

Why: Inspect allocates tens of thousands of container objects per sample
(pydantic events, the copies it makes to log a sample). With CPython's
default first-generation threshold (700 allocations) the cyclic collector ran
about two collections per sample and took ~20% of the harness's CPU time in
``benchmarks/harness_overhead.py``; that CPU is what limits how many API
requests one event loop can keep in flight. Freezing the objects that exist
before the run (imported modules, loaded stimuli) and collecting less often
cut the collector's time by three quarters for ~20 MB more memory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: First-generation threshold during a run (CPython's default is 700).
RUN_GC_THRESHOLD = 10_000


@contextmanager
def lean_gc(threshold: int = RUN_GC_THRESHOLD) -> Iterator[None]:
    """Collect less often while a run is in progress; restore the previous settings after."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
