"""Rerunning a finished run reads every answer from Inspect's cache: 0 model calls.

Runs the quick stigma profile and a crisis slice on the embedded model twice
with the cache our CLI enables (no expiry), in a private cache folder, and
prints the second run's wall time and how many model calls it made.
"""

from __future__ import annotations

import os
import tempfile

from _common import report, timed


def model_calls(log_location: str) -> tuple[int, int]:
    """(calls answered by the model, calls answered from the cache) in one log."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(log_location)
    events = [e for s in log.samples or [] for e in s.events if e.event == "model"]
    cached = sum(1 for e in events if e.cache == "read")
    return len(events) - cached, cached


def main() -> None:
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["INSPECT_CACHE_DIR"] = cache_dir
        from inspect_ai import eval as inspect_eval
        from inspect_ai.model import CachePolicy

        from therapy_audit.cli import run_settings
        from therapy_audit.tasks.crisis import crisis
        from therapy_audit.tasks.stigma import stigma

        for name, make in (
            ("stigma_quick", lambda: stigma()),
            ("crisis_slice", lambda: crisis(conditions="mania", judge="checks", reply_tokens=120)),
        ):
            with tempfile.TemporaryDirectory() as log_dir:
                with timed() as first:
                    [log1] = inspect_eval(
                        make(),
                        model="local/smollm2",
                        log_dir=log_dir,
                        display="none",
                        cache=CachePolicy(expiry=None),
                        **run_settings(),
                    )
                with timed() as second:
                    [log2] = inspect_eval(
                        make(),
                        model="local/smollm2",
                        log_dir=log_dir,
                        display="none",
                        cache=CachePolicy(expiry=None),
                        **run_settings(),
                    )
                live1, _ = model_calls(log1.location)
                live2, cached2 = model_calls(log2.location)
            report(f"{name}_first_run_wall", first.wall, "s", 1)
            report(f"{name}_first_run_model_calls", live1, "calls", 0)
            report(f"{name}_rerun_wall", second.wall, "s", 1)
            report(f"{name}_rerun_model_calls", live2, "calls", 0)
            report(f"{name}_rerun_cache_hits", cached2, "calls", 0)


if __name__ == "__main__":
    main()
