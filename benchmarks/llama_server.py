"""The embedded model behind llama.cpp's own HTTP server vs in-process: the same runs, both ways.

``therapy_audit.providers.llama_server`` starts llama.cpp's server (xllamacpp)
on 127.0.0.1 and Inspect's ``openai-api`` provider talks to it over HTTP,
as respondent (and judge); the ``local`` provider calls the same server code
in-process. Each way runs in a fresh process (one loaded model at a time)
and prints wall time, generated tokens/s and how the stigma letters were
read (``logprobs`` from the server's own responses).

    python benchmarks/llama_server.py [--stigma 42] [--crisis 4] [--slots 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report, timed

SERVED = "openai-api/llamacpp/smollm2"
LOCAL = "local/smollm2"


def one(way: str, stigma: int, crisis: int, slots: int, threads: int) -> dict:
    """Both tasks one way in this process; their figures."""
    from contextlib import nullcontext

    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from therapy_audit.analysis.frame import results_frame
    from therapy_audit.execution import run_settings
    from therapy_audit.experiments.crisis.task import crisis as crisis_task
    from therapy_audit.experiments.stigma.task import stigma as stigma_task
    from therapy_audit.providers.llama_server import llama_server

    figures: dict = {}
    os.environ.setdefault("LLAMACPP_API_KEY", "unused")
    serving = llama_server(slots=slots, n_threads=threads) if way == "server" else nullcontext()
    with serving as base_url, tempfile.TemporaryDirectory() as log_dir:
        if way == "server":
            model = get_model(SERVED, base_url=base_url, config=_config(slots))
        else:
            model = get_model(LOCAL, n_threads=threads, slots=slots)
        settings = {**run_settings(), "log_dir": log_dir, "display": "none"}
        for name, task, limit in (
            ("stigma", stigma_task(variants="full", counterbalance=False), stigma),
            ("crisis", crisis_task(reply_tokens=300), crisis),
        ):
            with timed() as t:
                [log] = inspect_eval(task, model=model, limit=limit, **settings)
            frame = results_frame([log.location])
            usage = next(iter(log.stats.model_usage.values()))
            figures[name] = {
                "wall": t.wall,
                "generated": usage.output_tokens,
                "samples": len(frame),
                "answer_method": sorted(set(frame.get("answer_method", []))),
                "outcomes": frame["outcome"].value_counts().to_dict(),
            }
    return figures


def _config(slots: int):
    from inspect_ai.model import GenerateConfig

    return GenerateConfig(max_connections=slots)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stigma", type=int, default=42, help="stigma questions")
    parser.add_argument("--crisis", type=int, default=4, help="crisis stimuli")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.stigma, args.crisis, args.slots, args.threads)))
        return
    for way in ("server", "in_process"):
        command = [sys.executable, str(Path(__file__)), "--one", way]
        command += ["--stigma", str(args.stigma), "--crisis", str(args.crisis)]
        command += ["--slots", str(args.slots), "--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        for task, f in figures.items():
            name = f"{way}_{task}"
            report(f"{name}_samples", f["samples"], "samples", 0)
            report(f"{name}_wall", f["wall"], "s", 1)
            report(f"{name}_generation_rate", f["generated"] / f["wall"], "tokens/s", 1)
            print(f"{name}_answer_method: {','.join(f['answer_method']) or '-'}")
            print(f"{name}_outcomes: {f['outcomes']}")


if __name__ == "__main__":
    main()
