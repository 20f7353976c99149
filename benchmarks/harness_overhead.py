"""Harness overhead: how close does a crisis run get to the API's own limit?

A fixed-latency OpenAI-compatible server (its own process) answers N samples
of the crisis task (deterministic checks as the judge, so every sample is one
call). The ideal wall time is ``samples x latency / connections``; the ratio
of measured to ideal is the harness's overhead, and the harness's CPU
seconds per sample (every harness process, workers included; not the
server's) is what it costs on the machine running the audit.

Profiles:

- ``inspect-defaults``: :func:`inspect_ai.eval` with Inspect's defaults;
- ``therapy-audit``: what ``therapy-audit run`` does in one process (its
  eval settings and garbage-collector settings);
- ``therapy-audit-workers``: the same split across ``--workers`` processes
  (``therapy-audit run --workers N``), the connections shared between them.

Each measurement runs in a fresh interpreter, so no setting, import or model
client carries over from one to the next.

    python benchmarks/harness_overhead.py --samples 2000 --latency 0.05 1.0 --connections 64
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import timed

HERE = Path(__file__).resolve().parent
PROFILES = ("inspect-defaults", "therapy-audit", "therapy-audit-workers")


def start_server(
    latency: float, quiet: bool = False, reply: str | None = None
) -> tuple[subprocess.Popen[str], int]:
    """Start the fixed-latency server in its own process and return it with its port.

    ``quiet``: drop its stderr (a killed client makes it print connection resets).
    ``reply``: what it answers (default: a short supportive reply).
    """
    command = [sys.executable, str(HERE / "fixed_latency_server.py"), "--latency", str(latency)]
    proc = subprocess.Popen(
        command + (["--reply", reply] if reply is not None else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening:"):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, int(line.split(":")[1])


def run_once(profile: str, epochs: int, connections: int, workers: int, log_dir: str) -> None:
    """One measurement in this (fresh) process; prints a JSON line of raw figures."""
    # Imported before the clock starts, as a CLI process has them before it runs.
    import inspect_ai  # noqa: F401

    import therapy_audit.execution  # noqa: F401
    import therapy_audit.experiments.crisis.task  # noqa: F401

    model = "openai-api/bench/fixed"
    # Worker processes are reaped before the block ends, so their CPU counts;
    # the server is not a child of this process, so its CPU does not.
    with timed(children=True) as t:
        locations = _run(profile, model, epochs, connections, workers, log_dir)
    print(json.dumps({"wall_s": t.wall, "cpu_s": t.cpu, "logs": locations}), flush=True)


def _run(
    profile: str, model: str, epochs: int, connections: int, workers: int, log_dir: str
) -> list[str]:
    from inspect_ai import eval as inspect_eval

    from therapy_audit.execution import RunRequest, run_in_workers
    from therapy_audit.experiments.crisis.task import crisis

    if profile == "inspect-defaults":
        [log] = inspect_eval(
            crisis(judge="checks"),
            model=model,
            log_dir=log_dir,
            epochs=epochs,
            max_connections=connections,
            display="none",
        )
        return [str(log.location)]
    request = RunRequest(
        experiment="crisis",
        model=model,
        task_args={"judge": "checks"},
        log_dir=log_dir,
        epochs=epochs,
        cache=False,
        eval_settings={"max_connections": connections, **_log_buffer()},
        display="none",
    )
    return [r.location for r in run_in_workers(request, workers)]


def _log_buffer() -> dict[str, int]:
    """``log_buffer`` given by ``--log-buffer`` (through the environment), else ours."""
    given = os.environ.get("BENCH_LOG_BUFFER")
    return {"log_buffer": int(given)} if given else {}


def completed_samples(location: str) -> int:
    """Samples a log reports completed (0 for a log without results)."""
    from inspect_ai.log import read_eval_log

    results = read_eval_log(location, header_only=True).results
    return results.completed_samples if results else 0


def measure(
    samples: int,
    latency: float,
    connections: int,
    profile: str,
    workers: int,
    log_buffer: int | None = None,
) -> dict[str, float]:
    """Start the server, run one measurement in a fresh interpreter, and derive the ratios."""
    from therapy_audit.experiments.crisis.task import crisis

    per_epoch = len(crisis(judge="checks").dataset)
    epochs = math.ceil(samples / per_epoch)
    proc, port = start_server(latency)
    env = {
        **os.environ,
        "BENCH_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "BENCH_API_KEY": "benchmark-not-a-secret",
        "BENCH_LOG_BUFFER": str(log_buffer or ""),
    }
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--run-once",
                    profile,
                    str(epochs),
                    str(connections),
                    str(workers if profile == "therapy-audit-workers" else 1),
                    log_dir,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            completed = sum(completed_samples(p) for p in figures["logs"])
            size = sum(p.stat().st_size for p in Path(log_dir).glob("*.eval"))
    finally:
        proc.kill()
    n = per_epoch * epochs
    ideal = n * latency / connections
    return {
        "samples": n,
        "samples_completed": completed,
        "wall_s": figures["wall_s"],
        "ideal_s": ideal,
        "ratio": figures["wall_s"] / ideal,
        "cpu_ms_per_sample": 1000 * figures["cpu_s"] / n,
        "log_mb": size / 1e6,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-once":
        profile, epochs, connections, workers, log_dir = sys.argv[2:7]
        run_once(profile, int(epochs), int(connections), int(workers), log_dir)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.05, 1.0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", choices=PROFILES, nargs="+", default=list(PROFILES))
    parser.add_argument(
        "--log-buffer",
        type=int,
        default=None,
        help="therapy-audit profiles: this log_buffer instead of ours (1%% of the samples)",
    )
    args = parser.parse_args()
    for profile in args.profile:
        for latency in args.latency:
            r = measure(
                args.samples, latency, args.connections, profile, args.workers, args.log_buffer
            )
            tag = f"{profile}_latency_{int(latency * 1000)}ms"
            if args.log_buffer and profile != "inspect-defaults":
                tag += f"_log_buffer_{args.log_buffer}"
            print(f"{tag}_samples: {r['samples']} samples")
            print(f"{tag}_samples_completed: {r['samples_completed']} samples")
            print(f"{tag}_wall: {r['wall_s']:.1f} s")
            print(f"{tag}_ideal: {r['ideal_s']:.1f} s")
            print(f"{tag}_ratio: {r['ratio']:.2f} x")
            print(f"{tag}_cpu_per_sample: {r['cpu_ms_per_sample']:.1f} ms")
            print(f"{tag}_log_size: {r['log_mb']:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
