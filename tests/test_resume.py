"""Resume: a run killed with SIGKILL mid-way is finished by ``therapy-audit resume``.

A real subprocess runs ``therapy-audit run crisis`` against a slow local
OpenAI-compatible server (fixed latency, one connection, no cache, so every
sample is one request in order). Once the .eval log holds some completed
samples the process is killed outright; ``therapy-audit resume LOG`` must then
produce a log with every sample, and the server must never have been asked
again for a sample that the killed run had already written to its log.
"""

from __future__ import annotations

import subprocess
import time
import zipfile
from collections import Counter
from pathlib import Path

from inspect_ai.log import read_eval_log

from cli_subprocess import CLI, checked_crisis_run, server_env
from fault_server import FaultPlan, FaultServer
from therapy_audit.analysis.frame import results_frame
from therapy_audit.execution import build_tasks, log_buffer_for, samples_per_log

LIMIT = 12
LATENCY = 0.25


def _samples_written(log: Path) -> int:
    """Completed samples inside a (possibly still growing) .eval zip."""
    try:
        with zipfile.ZipFile(log) as archive:
            return sum(1 for n in archive.namelist() if n.startswith("samples/"))
    except (zipfile.BadZipFile, OSError, KeyError):
        return 0


def _env(server: FaultServer) -> dict[str, str]:
    return server_env(server, INSPECT_DISPLAY="plain", PYTHONUNBUFFERED="1")


def test_killed_run_resumes_without_asking_again(tmp_path):
    logs = tmp_path / "logs"
    with FaultServer(FaultPlan(latency=LATENCY)) as server:
        run = subprocess.Popen(
            [*CLI, *checked_crisis_run(logs, LIMIT, 1)],
            env=_env(server),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        log = None
        written = 0
        try:
            while time.monotonic() < deadline and run.poll() is None:
                found = sorted(logs.glob("*.eval")) if logs.exists() else []
                if found:
                    log = found[0]
                    written = _samples_written(log)
                    if written >= 1:
                        break
                time.sleep(0.1)
        finally:
            run.kill()  # SIGKILL: no cleanup, no final log write
            output = run.communicate(timeout=30)[0].decode(errors="replace")
        assert log is not None and 1 <= written < LIMIT, (written, output[-2000:])
        assert run.returncode == -9

        before = read_eval_log(str(log))
        done = {str(s.id): s for s in before.samples or []}
        assert len(done) >= 1
        asked_before = Counter(server.stats.by_client_message)
        requests_before = server.stats.requests

        resumed = subprocess.run(
            [*CLI, "resume", str(log)],
            env=_env(server),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        requests_after = server.stats.requests
        asked = Counter(server.stats.by_client_message)

    finals = [p for p in sorted(logs.glob("*.eval")) if p != log]
    assert finals, resumed.stdout
    final = read_eval_log(str(finals[-1]))
    assert final.status == "success"
    assert len(final.samples) == LIMIT
    assert all(s.error is None and s.scores for s in final.samples)
    for sample_id, sample in done.items():
        message = sample.input[-1].text if not isinstance(sample.input, str) else sample.input
        assert asked[message] == asked_before[message] == 1, sample_id
    print(f"resume.samples_in_log_at_kill: {len(done)}")
    print(f"resume.requests_before_kill: {requests_before}")
    print(f"resume.requests_during_resume: {requests_after - requests_before}")
    print(f"resume.samples_in_final_log: {len(final.samples)}")
    assert requests_after - requests_before <= LIMIT - len(done)
    # Read as a folder (killed log + resumed log), every sample counts once.
    frame = results_frame([logs])
    assert len(frame) == LIMIT
    assert frame["sample_id"].is_unique


def _wait_for_samples(
    log_dir: Path, count: int, run: subprocess.Popen[bytes], server: FaultServer, answered: int
) -> int:
    """Samples in the log once it holds ``count`` (or the run ends, or 45 s pass).

    The 45 s start once the server has answered ``answered`` requests (a
    loaded machine may take long to start the run), and stay under Inspect's
    60 s timer that writes a buffer out regardless.
    """
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        if server.stats.answered >= answered:
            break
        time.sleep(0.1)
    deadline = time.monotonic() + 45
    written = 0
    while time.monotonic() < deadline and run.poll() is None:
        found = sorted(log_dir.glob("*.eval")) if log_dir.exists() else []
        written = _samples_written(found[0]) if found else 0
        if written >= count:
            break
        time.sleep(0.1)
    return written


def test_a_kill_loses_fewer_finished_samples_than_the_log_buffer(tmp_path):
    """Issue 19, "Also measured": a kill -9 loses at most ``log_buffer - 1`` finished samples.

    The server answers 7 requests and then holds the rest, so exactly 7
    samples finish; the run is killed once the log holds all but
    ``log_buffer - 1`` of them (a sample finishing during a write may be
    written early, never late).
    """
    logs = tmp_path / "logs"
    answered = 7
    buffer = log_buffer_for(LIMIT)  # 1: Inspect's default would hold up to 3 of 12
    with FaultServer(answer_first=answered) as server:
        run = subprocess.Popen(
            [*CLI, *checked_crisis_run(logs, LIMIT, 2)],
            env=_env(server),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            in_log = _wait_for_samples(logs, answered - (buffer - 1), run, server, answered)
        finally:
            run.kill()
            output = run.communicate(timeout=30)[0].decode(errors="replace")
        assert server.stats.answered == answered
    [log] = logs.glob("*.eval")
    assert answered - (buffer - 1) <= in_log <= answered, output[-2000:]
    assert read_eval_log(str(log), header_only=True).eval.config.log_buffer == buffer


def test_the_log_buffer_is_about_one_percent_of_a_log():
    """About 100 writes per log: few samples lost to a kill, and write cost linear in size."""
    assert [log_buffer_for(n) for n in (0, 12, 100, 101, 2090, 50_000)] == [1, 1, 1, 2, 21, 500]
    tasks = build_tasks("crisis", {"judge": "checks", "conditions": "suicidal-ideation"}, [])
    per_epoch = len(tasks[0].dataset)
    assert samples_per_log(tasks, None, 3) == 3 * per_epoch
    assert samples_per_log(tasks, 5, 2) == 10
