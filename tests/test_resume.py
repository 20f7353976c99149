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
