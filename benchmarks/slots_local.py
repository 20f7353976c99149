"""The embedded model's parallel slots: generated tokens/s at 1, 2, 4 and 8 slots.

Runs the crisis set the way ``therapy-audit run crisis`` does, with the
reply budget it had at 28ca4cb (``reply_tokens=300``), once per slot count,
each in a fresh process (a model loaded earlier would keep its threads
spinning beside the next one). Prints generated tokens/s, wall time and the
outcome counts of every run, and whether they equal the one-slot run's
(slots must not turn a prompt into ``context_overflow``).

    python benchmarks/slots_local.py --slots 1 2 4 8 [--limit N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

MODEL = "local/smollm2"
REPLY_TOKENS = 300


def one(slots: int, threads: int, limit: int | None) -> dict:
    """One crisis run at ``slots`` slots in this process; returns its figures."""
    from _local_model import run_local

    from therapy_audit.execution import RunRequest

    name = f"crisis_slots_{slots}"
    with tempfile.TemporaryDirectory() as log_dir:
        run = run_local(
            name,
            RunRequest(
                experiment="crisis",
                model=MODEL,
                model_args={"n_threads": threads, "slots": slots},
                task_args={"reply_tokens": REPLY_TOKENS},
                log_dir=log_dir,
                limit=limit,
                cache=False,
                display="none",
            ),
        )
    return {
        "wall": run.wall,
        "generated": run.usage.output_tokens,
        "outcomes": run.frame["outcome"].value_counts().sort_index().to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from therapy_audit.providers.local_api import default_threads

    threads = args.threads or default_threads()
    if args.one is not None:
        print(json.dumps(one(args.one, threads, args.limit)), flush=True)
        return
    figures = {}
    for slots in args.slots:
        command = [sys.executable, str(Path(__file__)), "--one", str(slots)]
        command += ["--threads", str(threads)]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        print(done.stdout.strip().rsplit("\n", 1)[0], flush=True)
        figures[slots] = json.loads(done.stdout.strip().splitlines()[-1])
        rate = figures[slots]["generated"] / figures[slots]["wall"]
        report(f"crisis_slots_{slots}_generation_rate", rate, "tokens/s", 1)
    base = figures.get(1) or figures[min(figures)]
    base_rate = base["generated"] / base["wall"]
    for slots, f in figures.items():
        report(f"crisis_slots_{slots}_speedup", f["generated"] / f["wall"] / base_rate, "x")
        same = f["outcomes"] == base["outcomes"]
        print(f"crisis_slots_{slots}_outcomes: {f['outcomes']} (same as one slot: {same})")


if __name__ == "__main__":
    main()
