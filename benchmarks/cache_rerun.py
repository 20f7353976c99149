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
        from therapy_audit.execution import RunRequest, run_in_process

        for name, experiment, task_args in (
            ("stigma_quick", "stigma", {}),
            (
                "crisis_slice",
                "crisis",
                {"conditions": "mania", "judge": "checks", "reply_tokens": 120},
            ),
        ):
            with tempfile.TemporaryDirectory() as log_dir:
                # The way `therapy-audit run` runs it: cache on, no expiry.
                request = RunRequest(
                    experiment=experiment,
                    model="local/smollm2",
                    task_args=task_args,
                    log_dir=log_dir,
                    display="none",
                )
                with timed() as first:
                    [run1] = run_in_process(request)
                with timed() as second:
                    [run2] = run_in_process(request)
                live1, _ = model_calls(run1.location)
                live2, cached2 = model_calls(run2.location)
            report(f"{name}_first_run_wall", first.wall, "s", 1)
            report(f"{name}_first_run_model_calls", live1, "calls", 0)
            report(f"{name}_rerun_wall", second.wall, "s", 1)
            report(f"{name}_rerun_model_calls", live2, "calls", 0)
            report(f"{name}_rerun_cache_hits", cached2, "calls", 0)


if __name__ == "__main__":
    main()
