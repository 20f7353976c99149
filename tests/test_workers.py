"""A run split across worker processes asks exactly the samples one process would.

``therapy-audit run --workers N`` starts N Inspect processes, worker i asking
every N-th sample. These tests run the real CLI in a subprocess against a real
local OpenAI-compatible server: the shards must be disjoint, cover the same
samples as an unsharded run, pool in the results table, and a sharded run that
stops on errors must be finished by one ``therapy-audit resume`` of its logs.
"""

from __future__ import annotations

import os
import subprocess
import threading
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from inspect_ai.log import read_eval_log

from cli_subprocess import CLI, checked_crisis_run, server_env
from fault_server import FaultServer
from therapy_audit.analysis.frame import SUPERSEDED, missing_shards, results_frame
from therapy_audit.commands.main import main
from therapy_audit.execution import (
    RunRequest,
    RunResult,
    WorkerFailure,
    auto_workers,
    build_tasks,
    in_worker_processes,
    run_samples,
    worker_context,
)
from therapy_audit.experiments.common import keep_shard, parse_shard, shard_limit
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.report.build import build_report

LIMIT = 7


def test_shards_partition_the_samples_and_split_a_limit_exactly():
    items = list(range(23))
    shards = [keep_shard(items, f"{i}/3") for i in range(3)]
    assert sorted(x for shard in shards for x in shard) == items
    assert keep_shard(items, None) == items
    for limit in (0, 1, 5, 7, 23):
        asked = [x for i, shard in enumerate(shards) for x in shard[: shard_limit(limit, f"{i}/3")]]
        assert sorted(asked) == items[:limit]


@pytest.mark.parametrize("bad", ["2/2", "-1/2", "1", "a/b", "0/0", ""])
def test_a_bad_shard_is_named(bad):
    with pytest.raises(ValueError, match="shard must be 'i/N'"):
        parse_shard(bad)


def test_the_task_records_its_shard():
    task = crisis(judge="checks", shard="1/4")
    assert task.metadata["shard"] == "1/4"
    whole = crisis(judge="checks")
    assert [s.id for s in task.dataset] == [s.id for s in whole.dataset][1::4]


def _cli(args: list[str], server: FaultServer, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=server_env(server, key, INSPECT_DISPLAY="none"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _run_args(logs: Path) -> list[str]:
    return checked_crisis_run(logs, LIMIT, 4, "--workers", "2")


def _first_ids(limit: int) -> list[str]:
    """The samples ``--limit`` asks: a stratified draw of whole stimuli (same in every worker)."""
    return [str(s.id) for s in crisis(judge="checks", stimulus_limit=limit).dataset]


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    """One crisis run split across two workers: its log folder, CLI output and request count."""
    logs = tmp_path_factory.mktemp("sharded") / "logs"
    with FaultServer(token="local-test-key") as server:
        done = _cli(_run_args(logs), server, "local-test-key")
        requests = server.stats.chat_requests
    assert done.returncode == 0, done.stdout + done.stderr
    return logs, done.stdout, requests


def test_two_workers_ask_the_same_samples_as_one_process(sharded_run):
    logs, stdout, requests = sharded_run
    assert requests == LIMIT
    paths = sorted(logs.glob("*.eval"))
    assert len(paths) == 2
    headers = [read_eval_log(str(p), header_only=True) for p in paths]
    assert sorted(h.eval.metadata["shard"] for h in headers) == ["0/2", "1/2"]
    assert len({h.eval.metadata["workers_run"] for h in headers}) == 1
    assert all(h.plan.config.max_connections == 2 for h in headers)
    frame = results_frame([logs])
    assert sorted(frame["sample_id"].astype(str)) == sorted(_first_ids(LIMIT))
    assert not missing_shards(frame)
    assert "Running on 2 worker processes" in stdout
    assert "appropriate" in stdout  # the closing summary
    assert "WARNING" not in stdout
    assert stdout.count("Inspect log (success)") == 2


def test_one_workers_log_alone_is_flagged_everywhere(sharded_run, tmp_path):
    """Half of a split run must never pass for the whole run."""
    logs, _, _ = sharded_run
    one = str(sorted(logs.glob("*.eval"))[0])
    runner = CliRunner()
    results = runner.invoke(main, ["results", one])
    assert "WARNING: run" in results.output and "are missing" in results.output
    gate = runner.invoke(main, ["gate", one, "--min-appropriate", "0.1", "--bound", "point"])
    assert gate.exit_code == 3, gate.output
    assert "missing" in gate.output
    whole = runner.invoke(main, ["gate", str(logs), "--min-appropriate", "0.1", "--bound", "point"])
    # The whole run is not flagged as partial (it may still miss the boilerplate floor).
    assert "missing" not in whole.output, whole.output
    assert "no baseline/boilerplate run" in whole.output
    compare = runner.invoke(main, ["compare", one, str(logs)])
    assert compare.exit_code != 0 and "are missing" in compare.output
    context = build_report([one])
    assert "missing_shards" in [w.kind for w in context.warnings]
    assert "missing_shards" not in [w.kind for w in build_report([logs]).warnings]


def test_a_stopped_sharded_run_is_finished_by_one_resume(tmp_path):
    logs = tmp_path / "logs"
    with FaultServer(token="local-test-key") as server:
        # A wrong key: every request is refused, both shards stop on their error budget.
        failed = _cli(_run_args(logs), server, "wrong-key")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "To finish: therapy-audit resume" in failed.stdout
        stopped = sorted(logs.glob("*.eval"))
        assert len(stopped) == 2
        assert {read_eval_log(str(p), header_only=True).status for p in stopped} == {"error"}
        resumed = _cli(["resume", *map(str, stopped)], server, "local-test-key")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stdout.count("Inspect log (success)") == 2
    folder = CliRunner().invoke(main, ["results", str(logs)])
    assert "2 interrupted log(s) left out, replaced by their resumed run" in folder.output
    # The folder holds the stopped logs and the resumed ones: each sample counts once.
    frame = results_frame([logs])
    replaced = frame.attrs[SUPERSEDED]
    assert sorted(Path(p).name for p in replaced) == sorted(p.name for p in stopped)
    assert sorted(frame["sample_id"].astype(str)) == sorted(_first_ids(LIMIT))
    assert frame["score_outcome"].notna().all()
    assert not missing_shards(frame)


def _job(name: str) -> list[RunResult]:
    """A worker job that reports which process ran it."""
    return [RunResult(f"{name}@{os.getpid()}", "success")]


def _failing_job(name: str) -> list[RunResult]:
    raise RuntimeError(f"{name} could not start")


def test_workers_are_spawned_while_threads_run_and_failures_keep_other_logs():
    """With a second thread alive, fork is unsafe: workers start as fresh interpreters."""
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()
    try:
        assert worker_context().get_start_method() == "spawn"
        results = in_worker_processes([partial(_job, "a"), partial(_job, "b")])
        pids = {r.location.split("@")[1] for r in results}
        assert sorted(r.location.split("@")[0] for r in results) == ["a", "b"]
        assert str(os.getpid()) not in pids
        with pytest.raises(WorkerFailure) as failure:
            in_worker_processes([partial(_job, "kept"), partial(_failing_job, "lost")])
    finally:
        stop.set()
    assert [r.location.split("@")[0] for r in failure.value.results] == ["kept"]
    assert "worker 2 of 2: RuntimeError: lost could not start" in str(failure.value)


def test_auto_workers_follow_cores_and_run_size():
    assert auto_workers("openai-api/vllm/m", 1008, cores=2) == 2
    assert auto_workers("openai-api/vllm/m", 1008, cores=8) == 2
    assert auto_workers("openai/gpt-4o", 200, cores=8) == 1
    assert auto_workers("local/smollm2", 5000, cores=8) == 1


def test_run_samples_counts_limit_and_epochs():
    request = RunRequest(experiment="stigma", model="openai/gpt-4o", limit=10, epochs=3)
    assert run_samples(request) == 30
    whole = RunRequest(experiment="stigma", model="openai/gpt-4o", task_args={"variants": "full"})
    assert run_samples(whole) == len(build_tasks("stigma", {"variants": "full"}, [])[0].dataset)


# Issue 19, item 22: workers die with their parent.
PARENT_SCRIPT = """
import os, sys, time
from functools import partial
from therapy_audit.execution import in_worker_processes

def job(folder, number):
    with open(os.path.join(folder, f"worker-{number}.pid"), "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(120)
    return []

if __name__ == "__main__":
    in_worker_processes([partial(job, sys.argv[1], n) for n in range(2)])
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is dead
        return handle.read().split()[2] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see the workers")
def test_workers_die_when_the_parent_is_killed(tmp_path):
    import signal
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker-*.pid"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(p.read_text()) for p in tmp_path.glob("worker-*.pid")]
        assert len(pids) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in pids)
    finally:
        parent.kill()
        for path in tmp_path.glob("worker-*.pid"):
            try:
                os.kill(int(path.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
