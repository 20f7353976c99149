"""The crisis set on the embedded model: wall time and tokens/s, against the raw runtime.

Runs the whole packaged crisis set the way ``therapy-audit run crisis`` does
(no ``--judge``: deterministic checks decide where a stimulus has one, the
embedded model judges the rest as a smoke test), then replays every model
call the run made (the exact llama.cpp requests recorded in the log, in the
order they were made) straight through the runtime. The replay is the limit:
the harness's overhead is the ratio of the two wall times.

    python benchmarks/crisis_local.py [--threads 2] [--limit N]
"""

from __future__ import annotations

import argparse
import tempfile

from _common import report
from _local_model import replay, run_local
from inspect_ai.log import read_eval_log

from therapy_audit.execution import RunRequest
from therapy_audit.providers.local_api import default_threads

MODEL = "local/smollm2"


def recorded_requests(location: str) -> list[dict]:
    """Every llama.cpp request of the run, in the order the runtime received them."""
    log = read_eval_log(location, resolve_attachments=True)
    events = [
        event
        for sample in log.samples or []
        for event in sample.events
        if event.event == "model" and event.call is not None
    ]
    events.sort(key=lambda e: e.timestamp)
    return [e.call.request for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument("--limit", type=int, default=None, help="only the first N samples")
    parser.add_argument("--skip-raw", action="store_true")
    args = parser.parse_args()
    threads = args.threads or default_threads()
    name = f"crisis_{'all' if args.limit is None else args.limit}_{threads}thread"
    with tempfile.TemporaryDirectory() as log_dir:
        run = run_local(
            name,
            RunRequest(
                experiment="crisis",
                model=MODEL,
                model_args={"n_threads": threads},
                log_dir=log_dir,
                limit=args.limit,
                cache=False,
                display="none",
            ),
        )
        requests = recorded_requests(run.location)
    usage = run.usage
    report(f"{name}_model_calls", len(requests), "calls", 0)
    report(f"{name}_generated_tokens", usage.output_tokens, "tokens", 0)
    report(f"{name}_generation_rate", usage.output_tokens / run.wall, "tokens/s", 1)
    if args.skip_raw:
        return
    raw = replay(requests, threads)
    report(f"{name}_raw_runtime_wall", raw["wall"], "s", 1)
    report(f"{name}_raw_generated_tokens", raw["generated"], "tokens", 0)
    report(f"{name}_raw_generation_rate", raw["generated"] / raw["wall"], "tokens/s", 1)
    report(f"{name}_raw_prompt_tokens_evaluated", raw["evaluated"], "tokens", 0)
    report(f"{name}_harness_over_raw_wall", run.wall / raw["wall"], "x")
    # Replies can differ by a few tokens between runs (prompt-cache numerics), so
    # the fair per-unit comparison is seconds per generated token.
    per_token = (run.wall / max(usage.output_tokens, 1)) / (raw["wall"] / max(raw["generated"], 1))
    report(f"{name}_harness_over_raw_per_generated_token", per_token, "x")


if __name__ == "__main__":
    main()
