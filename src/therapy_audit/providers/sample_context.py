"""Which sample a provider is answering for, from inside ``ModelAPI.generate``.

Inspect gives a model provider the messages, not the sample. Two of ours need
more: the ``responses`` provider looks up a stored answer by sample id, and
the ``http-bot`` provider opens one server-side session per sample and epoch.

- Per-sample *state* has a public home: :func:`inspect_ai.util.store`, the
  active sample's store (each sample and epoch has its own). The http-bot
  provider keeps its session there.
- The sample *id* has no public accessor in inspect-ai 0.3.285. The only
  source is ``inspect_ai.log._samples.sample_active()``, a private module, so
  it is read here, in this one function, guarded: if a future Inspect moves
  it, :func:`current_sample` returns None and callers fall back to matching
  the message text (the ``responses`` provider documents that fallback).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampleKey:
    """The sample being answered: its id and epoch (1-based)."""

    id: str
    epoch: int


def current_sample() -> SampleKey | None:
    """The active sample's id and epoch, or None outside a sample (or if Inspect changed)."""
    try:
        from inspect_ai.log._samples import sample_active  # no public accessor exists
    except ImportError:
        return None
    try:
        active = sample_active()
    except Exception:  # noqa: BLE001 (a private API: any change means "unknown")
        return None
    if active is None:
        return None
    sample = getattr(active, "sample", None)
    sample_id = getattr(sample, "id", None)
    if sample_id is None:
        return None
    return SampleKey(id=str(sample_id), epoch=int(getattr(active, "epoch", 1) or 1))
