"""Finished samples a ``kill -9`` loses: answered requests that never reach the log.

A crisis run (deterministic checks as the judge, so every sample is exactly
one request) goes through ``therapy-audit run`` in its own process against a
fixed-latency OpenAI-compatible server (:mod:`fixed_latency_server`, its own
process, which counts the requests it answered). When the server has
answered a given number of requests the CLI process gets SIGKILL: no
handler, no final write. Then

    lost = requests answered - samples in the log

is the work ``resume`` has to buy again (one request per sample here). A
sample whose reply arrived in the last instant before the kill but was not
yet scored counts as lost too, so the figure is an upper bound on what the
log buffer alone loses. Optionally ``therapy-audit resume`` then finishes the
log and the extra requests the whole run cost are counted.

Each log-buffer setting runs the same kill points:

- ``inspect``: Inspect's own default buffer, passed explicitly (a third of a
  small run, max 10; a 20th of a run of 1,000 samples or more);
- ``therapy-audit``: no ``--log-buffer``, i.e. what ``therapy-audit run``
  now does (about 1% of the log's samples);
- a number: ``--log-buffer N``.

One more run is not killed but watched: Inspect replaces the log file
atomically, so the file on disk at any moment is what a kill at that moment
would leave, and ``answered - samples on disk`` every 50 ms gives the loss of
a kill at each of hundreds of moments (max, 95th percentile, mean), plus
what the setting costs (wall, and CPU per sample of the CLI and children).

    python benchmarks/kill_loss.py --samples 2000 --kill-at 20 300 900
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from _common import report, timed
from harness_overhead import start_server

CLI = [sys.executable, "-c", "from therapy_audit.commands.main import main; main()"]
MODEL = "openai-api/bench/fixed"


def inspect_default_buffer(samples: int) -> int:
    """Inspect 0.3.285's default for ``.eval`` logs (``EvalRecorder.default_log_buffer``)."""
    if samples >= 1000:
        return max(10, samples // 20)
    return max(1, min(math.floor(samples / 3), 10))


def answered(port: int) -> int:
    """Requests the fixed-latency server has answered so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5) as response:
        return int(json.load(response)["requests"])


def logged_samples(log_dir: Path) -> int:
    """Samples readable from the log(s) in ``log_dir`` (0 when no log was written yet)."""
    from inspect_ai.log import read_eval_log_sample_summaries

    total = 0
    for path in log_dir.glob("*.eval"):
        try:
            total += len(read_eval_log_sample_summaries(str(path)))
        except Exception:  # noqa: BLE001 - a log a kill left unreadable holds nothing usable
            continue
    return total


def run_args(log_dir: Path, epochs: int, connections: int, buffer: int | None) -> list[str]:
    """``therapy-audit run crisis`` against the benchmark server, one request per sample."""
    args = [
        *CLI,
        "run",
        "crisis",
        "--model",
        MODEL,
        "-T",
        "judge=checks",
        "--epochs",
        str(epochs),
        "--log-dir",
        str(log_dir),
        "--no-cache",
        "--max-connections",
        str(connections),
    ]
    return args + (["--log-buffer", str(buffer)] if buffer is not None else [])


def server_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "BENCH_API_KEY": "benchmark-not-a-secret",
        "INSPECT_DISPLAY": "none",
    }


def kill_once(
    latency: float, epochs: int, connections: int, buffer: int | None, kill_at: int, resume: bool
) -> dict[str, int]:
    """Run, SIGKILL the CLI after ``kill_at`` answers, count the loss (and resume's requests)."""
    proc, port = start_server(latency, quiet=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log_dir = Path(tmp)
            cli = subprocess.Popen(
                run_args(log_dir, epochs, connections, buffer),
                env=server_env(port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while cli.poll() is None and answered(port) < kill_at:
                time.sleep(0.002)
            cli.send_signal(signal.SIGKILL)
            at_kill = answered(port)
            cli.wait()
            time.sleep(latency * 2)  # requests in flight at the kill still count as answered
            figures = {"answered": at_kill, "logged": logged_samples(log_dir)}
            if resume:
                [log] = log_dir.glob("*.eval")
                subprocess.run(
                    [*CLI, "resume", str(log)],
                    env=server_env(port),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                figures["requests_total"] = answered(port)
            return figures
    finally:
        proc.kill()
        proc.wait()


def samples_on_disk(log: Path) -> int:
    """Samples in the log file as it is on disk now (what a kill -9 would leave)."""
    try:
        with zipfile.ZipFile(log) as archive:
            return sum(1 for n in archive.namelist() if n.startswith("samples/"))
    except (zipfile.BadZipFile, OSError):
        return 0


def observed_run(
    latency: float, epochs: int, connections: int, buffer: int | None, every: float
) -> dict[str, Any]:
    """One uninterrupted run, watched: what a kill at each moment would have lost.

    Inspect replaces the log file atomically, so the file on disk at any moment
    is exactly what a kill -9 at that moment leaves. Every ``every`` seconds
    the log is read first and the server's count second (so the figure errs
    high, never low). Also the run's wall and CPU seconds (CLI and children).
    """
    proc, port = start_server(latency, quiet=True)
    losses: list[int] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, timed(children=True) as t:
            log_dir = Path(tmp)
            cli = subprocess.Popen(
                run_args(log_dir, epochs, connections, buffer),
                env=server_env(port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while cli.poll() is None:
                logs = list(log_dir.glob("*.eval"))
                on_disk = samples_on_disk(logs[0]) if logs else 0
                done = answered(port)
                if done:
                    losses.append(done - on_disk)
                time.sleep(every)
            cli.wait()
        return {"wall_s": t.wall, "cpu_s": t.cpu, "losses": losses}
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--kill-at", type=int, nargs="*", default=[20, 300, 900])
    parser.add_argument("--buffer", nargs="+", default=["inspect", "therapy-audit"])
    parser.add_argument("--every", type=float, default=0.05, help="seconds between looks")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--no-observed-run", action="store_true")
    args = parser.parse_args()

    from therapy_audit.execution import log_buffer_for
    from therapy_audit.experiments.crisis.task import crisis

    per_epoch = len(crisis(judge="checks").dataset)
    epochs = math.ceil(args.samples / per_epoch)
    n = per_epoch * epochs
    report("samples", n, "samples", 0)
    for setting in args.buffer:
        buffer = {"inspect": inspect_default_buffer(n), "therapy-audit": None}.get(setting)
        if buffer is None and setting != "therapy-audit":
            buffer = int(setting)
        report(f"{setting}_log_buffer", buffer or log_buffer_for(n), "samples", 0)
        if not args.no_observed_run:
            r = observed_run(args.latency, epochs, args.connections, buffer, args.every)
            losses = sorted(r["losses"])
            report(f"{setting}_observed_looks", len(losses), "looks", 0)
            report(f"{setting}_observed_lost_max", losses[-1], "samples", 0)
            report(
                f"{setting}_observed_lost_p95", losses[int(0.95 * (len(losses) - 1))], "samples", 0
            )
            report(f"{setting}_observed_lost_mean", sum(losses) / len(losses), "samples", 1)
            report(f"{setting}_run_wall", r["wall_s"], "s", 1)
            report(f"{setting}_run_cpu_per_sample", 1000 * r["cpu_s"] / n, "ms", 1)
        for kill_at in args.kill_at:
            k = kill_once(
                args.latency, epochs, args.connections, buffer, kill_at, not args.no_resume
            )
            tag = f"{setting}_kill_at_{kill_at}"
            report(f"{tag}_answered", k["answered"], "requests", 0)
            report(f"{tag}_logged", k["logged"], "samples", 0)
            report(f"{tag}_lost", k["answered"] - k["logged"], "samples", 0)
            if "requests_total" in k:
                report(f"{tag}_resume_extra_requests", k["requests_total"] - n, "requests", 0)


if __name__ == "__main__":
    main()
