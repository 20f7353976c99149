"""What every experiment's task shares: its log metadata and how it is split across workers."""

from __future__ import annotations

from typing import Any, TypeVar

from therapy_audit.prompts import PROMPTS_REVISION
from therapy_audit.stimuli.load import StimulusSet

T = TypeVar("T")


def task_metadata(
    experiment: str, stimulus_set: StimulusSet, prompt_label: str, shard: str | None = None
) -> dict[str, Any]:
    """What every task records about its stimuli and prompts (read back by the analysis)."""
    return {
        "experiment": experiment,
        "stimulus_set_version": stimulus_set.version,
        "stimulus_fingerprint": stimulus_set.fingerprint,
        "stimulus_source": stimulus_set.source,
        "system_prompt": prompt_label,
        "prompts_revision": PROMPTS_REVISION,
        "shard": shard,
    }


def parse_shard(shard: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``; anything else is a named error."""
    index, sep, count = shard.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"shard must be 'i/N' with 0 <= i < N (e.g. '0/2'), got {shard!r}")
    return i, n


def keep_shard(samples: list[T], shard: str | None) -> list[T]:
    """The samples worker ``i`` of ``N`` asks: every N-th one, starting at the i-th.

    Interleaving (rather than contiguous blocks) keeps every worker's share a
    mix of conditions, and the first ``k`` samples of all shards together are
    the first ``k x N`` samples of the whole task, so a ``--limit`` split
    across workers asks the same samples as one process would.
    """
    if shard is None:
        return samples
    i, n = parse_shard(shard)
    return samples[i::n]


def shard_limit(limit: int, shard: str) -> int:
    """How many of its samples shard ``i/N`` asks so that all shards ask the first ``limit``."""
    i, n = parse_shard(shard)
    return len(range(i, limit, n))
