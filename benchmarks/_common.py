"""Shared helpers for benchmark scripts: timing, CPU time, and ``name: value unit`` output."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process so far (and of its finished children)."""
    who = [resource.RUSAGE_SELF] + ([resource.RUSAGE_CHILDREN] if children else [])
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, who))


@dataclass
class Timing:
    """Wall and CPU seconds of a block."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed(children: bool = False) -> Iterator[Timing]:
    """Measure the wall and CPU time of the ``with`` block (``children``: with worker processes)."""
    timing = Timing()
    wall0, cpu0 = time.perf_counter(), cpu_seconds(children)
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - wall0
        timing.cpu = cpu_seconds(children) - cpu0


def report(name: str, value: float, unit: str, digits: int = 2) -> None:
    """Print one figure as ``name: value unit``."""
    print(f"{name}: {value:.{digits}f} {unit}", flush=True)
