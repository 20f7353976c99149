"""The paper's own workload: its 1,008 stigma prompts against a fixed-latency API.

The paper's harness (threads and the plain OpenAI client, every request in
flight at once) answers these prompts in 8.5 s at 1 s latency on this
2-core machine. This runs ``therapy-audit run stigma -T paper_dir=PATH`` as
a user would (a fresh CLI process, start-up included, no response cache)
against ``fixed_latency_server.py`` in its own process, and prints our wall
time, the ideal (latency x batches of ``--max-connections``) and the 8.5 s
reference. The server's request count is checked: one call per prompt.

    python benchmarks/paper_stigma.py --latency 1.0 --workers 1 2 --connections 1008
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import cpu_seconds, report
from harness_overhead import start_server

HERE = Path(__file__).resolve().parent
PAPER_DIR = Path("/work/shared/reference/llms-as-therapists")
PAPER_HARNESS_S = 8.5
PROMPTS = 1008


def served(port: int) -> int:
    """Requests the fixed-latency server has answered so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count") as response:
        return int(json.load(response)["requests"])


def run_cli(
    port: int, workers: str, connections: int, paper_dir: Path, extra: list[str]
) -> tuple[float, float]:
    """One ``therapy-audit run`` in a fresh process: its wall and CPU seconds (workers included)."""
    env = {
        **os.environ,
        "BENCH_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "BENCH_API_KEY": "bench",
    }
    with tempfile.TemporaryDirectory() as log_dir:
        command = [
            sys.executable,
            "-c",
            "from therapy_audit.commands.main import main; main()",
            "run",
            "stigma",
            "-T",
            f"paper_dir={paper_dir}",
            "--model",
            "openai-api/bench/fixed",
            "--max-connections",
            str(connections),
            "--workers",
            workers,
            "--no-cache",
            "--log-dir",
            log_dir,
            *extra,
        ]
        started, cpu0 = time.perf_counter(), cpu_seconds(children=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(children=True) - cpu0
    if done.returncode != 0:
        raise RuntimeError(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=PROMPTS)
    parser.add_argument("--workers", nargs="+", default=["auto"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--paper-dir", type=Path, default=PAPER_DIR)
    parser.add_argument("extra", nargs="*", help="more `run` options, after --")
    args = parser.parse_args()
    # A lettered answer, as a model gives one: every answer is parsed and scored.
    server, port = start_server(args.latency, reply="(B)")
    try:
        ideal = args.latency * math.ceil(PROMPTS / args.connections)
        report("paper_stigma_ideal", ideal, "s")
        report("paper_harness_reference", PAPER_HARNESS_S, "s")
        for workers in args.workers:
            for repeat in range(args.repeats):
                before = served(port)
                wall, cpu = run_cli(port, workers, args.connections, args.paper_dir, args.extra)
                calls = served(port) - before
                name = f"paper_stigma_workers_{workers}_run_{repeat + 1}"
                report(f"{name}_wall", wall, "s")
                report(f"{name}_calls", calls, "calls", 0)
                report(f"{name}_harness_cpu", cpu, "s")
                report(f"{name}_harness_cpu_per_prompt", 1000 * cpu / PROMPTS, "ms")
                report(f"{name}_vs_ideal", wall / ideal, "x")
                report(f"{name}_vs_paper_harness", wall / PAPER_HARNESS_S, "x")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
