"""Shared parts of the embedded-model benchmarks: the run, its figures, and its limit.

:func:`run_local` runs a request the way ``therapy-audit run`` does and
prints the figures every local benchmark reports. :func:`replay` sends a
list of chat-completion requests, in order, to a freshly loaded embedded
model in a fresh process. It has to be a fresh process: the run's own
loaded model would serve the replay from its prompt cache, and a second
copy loaded beside the first would compete with the first one's idle,
spinning threads (measured: half the speed on 2 cores).

    python benchmarks/_local_model.py REQUESTS.json --threads N   # prints JSON figures
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from _common import report, timed
from inspect_ai.log import read_eval_log
from inspect_ai.model import ModelUsage

from therapy_audit.analysis.frame import results_frame
from therapy_audit.execution import RunRequest, run_in_process
from therapy_audit.outcomes import is_scored


@dataclass
class LocalRun:
    """What a local benchmark keeps of its run (the log itself lives in ``request.log_dir``)."""

    location: str
    wall: float
    frame: pd.DataFrame
    usage: ModelUsage


def run_local(name: str, request: RunRequest) -> LocalRun:
    """Run ``request`` in this process, timed, and print samples, speed and prompt tokens."""
    with timed() as t:
        [result] = run_in_process(request)
    frame = results_frame([result.location])
    usage = read_eval_log(result.location, header_only=True).stats.model_usage[request.model]
    evaluated = usage.input_tokens
    reused = usage.input_tokens_cache_read or 0
    unusable = (~frame["outcome"].map(is_scored)).mean()
    report(f"{name}_samples", len(frame), "samples", 0)
    report(f"{name}_wall", t.wall, "s", 1)
    report(f"{name}_throughput", len(frame) / t.wall, "samples/s")
    report(f"{name}_unusable_share", 100 * unusable, "%", 1)
    report(f"{name}_prompt_tokens_total", evaluated + reused, "tokens", 0)
    report(f"{name}_prompt_tokens_evaluated", evaluated, "tokens", 0)
    report(f"{name}_prefix_reuse_factor", (evaluated + reused) / max(evaluated, 1), "x")
    return LocalRun(result.location, t.wall, frame, usage)


def replay(requests: list[dict[str, Any]], threads: int) -> dict[str, float]:
    """Wall seconds and token counts of the requests replayed in a fresh process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(requests, f)
    try:
        done = subprocess.run(
            [sys.executable, __file__, f.name, "--threads", str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(f.name).unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


def _replay_here(requests: list[dict[str, Any]], threads: int) -> dict[str, float]:
    from therapy_audit.providers.local_api import DEFAULT_N_CTX, _Engine, _EngineKey
    from therapy_audit.providers.model_files import resolve_model_file

    engine = _Engine(_EngineKey(resolve_model_file("smollm2"), DEFAULT_N_CTX, threads))
    figures = {"requests": len(requests), "prompt_tokens": 0, "evaluated": 0, "generated": 0}
    with timed() as t:
        for request in requests:
            response = engine.chat(dict(request))
            usage = response.get("usage") or {}
            figures["prompt_tokens"] += usage.get("prompt_tokens", 0)
            figures["generated"] += usage.get("completion_tokens", 0)
            figures["evaluated"] += (response.get("timings") or {}).get("prompt_n", 0)
    return {**figures, "wall": t.wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("requests")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    requests = json.loads(Path(args.requests).read_text(encoding="utf-8"))
    print(json.dumps(_replay_here(requests, args.threads)), flush=True)


if __name__ == "__main__":
    main()
