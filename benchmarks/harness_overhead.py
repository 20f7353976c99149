"""Harness overhead: how close does a crisis run get to the API's own limit?

A fixed-latency OpenAI-compatible server (its own process) answers N samples
of the crisis task (deterministic checks as the judge, so every sample is one
call). The ideal wall time is ``samples x latency / connections``; the ratio
of measured to ideal is the harness's overhead, and the harness's CPU
seconds per sample is what it costs on the machine running the audit.

    python benchmarks/harness_overhead.py --samples 2000 --latency 0.05 1.0 --connections 64
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inspect_ai import eval as inspect_eval

from therapy_audit.cli import run_settings
from therapy_audit.tasks.crisis import crisis

HERE = Path(__file__).resolve().parent


def start_server(latency: float) -> tuple[subprocess.Popen[str], int]:
    """Start the fixed-latency server in its own process and return it with its port."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fixed_latency_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening:"):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, int(line.split(":")[1])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(samples: int, latency: float, connections: int, profile: str) -> dict[str, float]:
    """Run the crisis task against the server; return wall, ideal, ratio and CPU per sample."""
    proc, port = start_server(latency)
    # The base URL is passed explicitly: Inspect reuses a model by name within a
    # process, so an environment variable alone would leave the second
    # measurement talking to the first (stopped) server.
    base_url = f"http://127.0.0.1:{port}/v1"
    os.environ["BENCH_API_KEY"] = "benchmark-not-a-secret"
    task = crisis(judge="checks")
    per_epoch = len(task.dataset)
    epochs = math.ceil(samples / per_epoch)
    settings = run_settings(profile)
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            [log] = inspect_eval(
                task,
                model="openai-api/bench/fixed",
                model_base_url=base_url,
                log_dir=log_dir,
                epochs=epochs,
                max_connections=connections,
                display="none",
                **settings,
            )
            wall = time.perf_counter() - t0
            cpu = cpu_seconds() - cpu0
            done = len(log.samples or [])
            size = sum(p.stat().st_size for p in Path(log_dir).glob("*.eval"))
    finally:
        proc.kill()
    n = per_epoch * epochs
    ideal = n * latency / connections
    return {
        "samples": n,
        "samples_logged": done,
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "cpu_ms_per_sample": 1000 * cpu / n,
        "log_mb": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.05, 1.0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--profile",
        choices=["inspect-defaults", "therapy-audit"],
        nargs="+",
        default=["inspect-defaults", "therapy-audit"],
    )
    args = parser.parse_args()
    for profile in args.profile:
        for latency in args.latency:
            r = measure(args.samples, latency, args.connections, profile)
            tag = f"{profile}_latency_{int(latency * 1000)}ms"
            print(f"{tag}_samples: {r['samples']} samples")
            print(f"{tag}_samples_logged: {r['samples_logged']} samples")
            print(f"{tag}_wall: {r['wall_s']:.1f} s")
            print(f"{tag}_ideal: {r['ideal_s']:.1f} s")
            print(f"{tag}_ratio: {r['ratio']:.2f} x")
            print(f"{tag}_cpu_per_sample: {r['cpu_ms_per_sample']:.1f} ms")
            print(f"{tag}_log_size: {r['log_mb']:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
