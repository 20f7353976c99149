"""The whole embedded suite: each part's wall time on the embedded model, and the total.

Parts: the full stigma battery in one option order and counterbalanced
(the suite's total counts the counterbalanced run, which contains the
other), the crisis set (``reply_tokens`` as given, 300 by default as at 28ca4cb) and
the multi-turn conversations (the embedded model as respondent and client).
Each runs the way ``therapy-audit run`` does, without the cache, in a fresh
process (one loaded model at a time). ``--share F`` runs the first F of
each part's samples and extrapolates to the whole part (printed as
``..._estimated_wall``): the full suite takes tens of minutes.

    python benchmarks/suite_local.py [--share 0.1] [--slots 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

MODEL = "local/smollm2"
PARTS: dict[str, tuple[str, dict]] = {
    "stigma_full_one_order": ("stigma", {"variants": "full", "counterbalance": False}),
    "stigma_full_counterbalanced": ("stigma", {"variants": "full", "counterbalance": True}),
    "crisis": ("crisis", {}),
    "conversation": ("conversation", {}),
}


def one(part: str, share: float, slots: int, threads: int, reply_tokens: int) -> dict:
    """One part in this process: samples asked, samples in the part, wall seconds, tokens."""
    from _local_model import run_local

    from therapy_audit.execution import RunRequest, build_tasks

    experiment, task_args = PARTS[part]
    task_args = dict(task_args)
    if experiment == "crisis":
        task_args["reply_tokens"] = reply_tokens
    total = len(build_tasks(experiment, task_args, [])[0].dataset)
    limit = None if share >= 1 else max(1, math.ceil(total * share))
    with tempfile.TemporaryDirectory() as log_dir:
        run = run_local(
            part,
            RunRequest(
                experiment=experiment,
                model=MODEL,
                model_args={"n_threads": threads, "slots": slots},
                task_args=task_args,
                log_dir=log_dir,
                limit=limit,
                cache=False,
                display="none",
            ),
        )
    return {
        "asked": limit or total,
        "total": total,
        "wall": run.wall,
        "input_tokens": run.usage.input_tokens,
        "output_tokens": run.usage.output_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", type=float, default=1.0)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--slots", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--reply-tokens", type=int, default=300)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from therapy_audit.providers.local_api import DEFAULT_SLOTS, default_threads

    slots = args.slots or DEFAULT_SLOTS
    threads = args.threads or default_threads()
    if args.one:
        print(json.dumps(one(args.one, args.share, slots, threads, args.reply_tokens)))
        return
    total = 0.0
    for part in args.parts:
        command = [sys.executable, str(Path(__file__)), "--one", part, "--share", str(args.share)]
        command += ["--slots", str(slots), "--threads", str(threads)]
        command += ["--reply-tokens", str(args.reply_tokens)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        estimate = figures["wall"] * figures["total"] / figures["asked"]
        if part != "stigma_full_one_order":  # part of the counterbalanced run
            total += estimate
        report(f"{part}_samples_asked", figures["asked"], "samples", 0)
        report(f"{part}_wall", figures["wall"], "s", 1)
        report(f"{part}_prompt_tokens_evaluated", figures["input_tokens"], "tokens", 0)
        report(f"{part}_generated_tokens", figures["output_tokens"], "tokens", 0)
        report(f"{part}_estimated_wall", estimate, "s", 1)
    report("suite_estimated_total_counterbalanced_crisis_conversation", total / 60, "min", 1)


if __name__ == "__main__":
    main()
