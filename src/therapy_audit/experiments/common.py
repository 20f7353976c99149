"""What every experiment's task shares: its log metadata and how it is split across workers."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any, TypeVar

from inspect_ai.dataset import Sample

from therapy_audit.prompts import PROMPTS_REVISION
from therapy_audit.stimuli.load import StimulusSet

T = TypeVar("T")

#: Seed of the stratified stimulus draw (``stimulus_limit``). Separate from
#: ``--seed``, which is the respondent's sampling seed; recorded in the log.
DEFAULT_STIMULUS_SEED = 20261201
#: Sample-id parts that vary within one stimulus (as ``analysis.stats.stimulus_ids``).
_WITHIN_STIMULUS = re.compile(r"/(?:forward|reverse)(?=/|$)|/wording-\d+(?=/|$)|/context/.*$")


def stimulus_of(sample_id: str) -> str:
    """The stimulus a sample asks (its id without order, wording and context parts)."""
    return _WITHIN_STIMULUS.sub("", sample_id)


def draw_stimuli(
    samples: list[Sample], limit: int | None, seed: int = DEFAULT_STIMULUS_SEED
) -> tuple[list[Sample], dict[str, Any]]:
    """Keep ``limit`` stimuli drawn evenly across conditions, each with all its samples.

    ``--limit 10`` used to take the first 10 samples, which were all about one
    condition, and then report them as "overall". Here stimuli are shuffled
    within each condition (seeded) and taken round-robin across conditions
    (in a seeded order), so 10 of 130 stimuli cover ten conditions; every
    drawn stimulus keeps both option orders, its paraphrases and contexts.
    Sample order is kept.

    Returns:
        The kept samples and what to record in the task metadata:
        ``stimulus_limit``, ``stimulus_seed``, ``stimuli_drawn``, ``stimuli_total``.
    """
    by_condition: dict[str, list[str]] = defaultdict(list)
    for sample in samples:
        stimulus = stimulus_of(str(sample.id))
        condition = str((sample.metadata or {}).get("condition", ""))
        if stimulus not in by_condition[condition]:
            by_condition[condition].append(stimulus)
    total = sum(len(v) for v in by_condition.values())
    record: dict[str, Any] = {"stimuli_total": total, "stimuli_drawn": total}
    if limit is None:
        return samples, record
    if limit < 1:
        raise ValueError(f"stimulus_limit must be a positive number of stimuli, got {limit}")
    rng = random.Random(seed)
    queues = {c: rng.sample(v, len(v)) for c, v in sorted(by_condition.items())}
    order = rng.sample(sorted(queues), len(queues))
    chosen: set[str] = set()
    while len(chosen) < min(limit, total):
        for condition in order:
            if queues[condition] and len(chosen) < limit:
                chosen.add(queues[condition].pop())
    record.update({"stimulus_limit": limit, "stimulus_seed": seed, "stimuli_drawn": len(chosen)})
    return [s for s in samples if stimulus_of(str(s.id)) in chosen], record


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
