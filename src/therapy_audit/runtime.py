"""Process settings for long runs: the garbage collector's pace, the HTTP connection pool.

Why: Inspect allocates tens of thousands of container objects per sample
(pydantic events, the copies it makes to log a sample). With CPython's
default first-generation threshold (700 allocations) the cyclic collector ran
about two collections per sample and took ~20% of the harness's CPU time in
``benchmarks/harness_overhead.py``; that CPU is what limits how many API
requests one event loop can keep in flight. Freezing the objects that exist
before the run (imported modules, loaded stimuli) and collecting less often
cut the collector's time by three quarters for ~20 MB more memory.

The HTTP pool: Inspect's providers share one connection pool per model,
capped at 1,000 connections (so ``--max-connections 1008`` silently left 8
requests for a second round) and keeping every idle connection alive. The
pool probes each idle connection's socket whenever a request starts or ends,
so after a burst of 1,008 replies that was ~360,000 socket probes, 20% of
the harness's CPU in ``benchmarks/paper_stigma.py``. Keeping at most
``KEEPALIVE_CONNECTIONS`` idle connections cut its CPU from 14.2 s to 10.7 s.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

#: First-generation threshold during a run (CPython's default is 700).
RUN_GC_THRESHOLD = 10_000
#: Inspect's own cap on a provider's HTTP pool (``INSPECT_HTTP_POOL_CONNECTIONS``).
INSPECT_POOL_CONNECTIONS = 1000
#: Idle connections kept open for reuse during a run; a run with more
#: connections than this reopens the surplus (cheap next to probing them all).
KEEPALIVE_CONNECTIONS = 64
POOL_ENV = "INSPECT_HTTP_POOL_CONNECTIONS"
KEEPALIVE_ENV = "INSPECT_HTTP_POOL_KEEPALIVE_CONNECTIONS"


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


@contextmanager
def http_pool(max_connections: int | None) -> Iterator[None]:
    """Size Inspect's HTTP pools for a run of ``max_connections``; restore the environment after.

    The pool holds at least ``max_connections`` (Inspect's cap is 1,000) and
    keeps at most ``KEEPALIVE_CONNECTIONS`` idle ones. Either variable set by
    the user wins.
    """
    wanted = {KEEPALIVE_ENV: str(KEEPALIVE_CONNECTIONS)}
    if max_connections is not None and max_connections > INSPECT_POOL_CONNECTIONS:
        wanted[POOL_ENV] = str(max_connections)
    added = [name for name in wanted if name not in os.environ]
    for name in added:
        os.environ[name] = wanted[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
