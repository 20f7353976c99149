"""Run an experiment: in this process, or split across worker processes.

One Inspect process drives all of its model requests from a single event
loop, and Inspect's own work per sample (building the sample's state,
logging and condensing its events, the provider's client) is CPU time on
that loop: with a fast API and many connections, the loop, not the API, sets
the pace (``benchmarks/harness_overhead.py``). ``workers`` > 1 runs the same
experiment as N Inspect processes, worker i asking every N-th sample
(``shard="i/N"``, a task argument recorded in its log) with its share of the
connections. Each worker writes its own log; the analysis, report and gate
read a folder of logs, so the shards pool like any set of runs, and
``therapy-audit resume`` takes all of a run's unfinished logs at once.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import click

from therapy_audit.experiments.common import shard_limit
from therapy_audit.runtime import http_pool, lean_gc
from therapy_audit.scrub import env_secrets, model_secret_names, scrub_log, scrubbed_output

DEFAULT_ATTEMPT_TIMEOUT = 180
DEFAULT_FAIL_ON_ERROR = 0.1
EXPERIMENTS = ("stigma", "crisis", "conversation")
JUDGE_ROLES = ("grader", "grader_2", "grader_3", "grader_4", "grader_5")

CONVERSATION_ARGS = {
    "system_prompt",
    "client_mode",
    "turns",
    "personas",
    "stimuli",
    "judge",
    "judges",
    "judge_seed",
    "judge_history",
    "client_seed",
    "client_temperature",
    "client_tokens",
    "reply_tokens",
    "char_limit",
    "judge_context_chars",
}
STIGMA_ARGS = {
    "system_prompt",
    "variants",
    "counterbalance",
    "paraphrases",
    "answer_mode",
    "quick_cell",
    "stimuli",
    "paper_dir",
    "stimulus_limit",
    "stimulus_seed",
}
#: ``run stigma -T paper_dir=PATH`` runs the paper's own 1,008 prompts (``paper_stigma``).
PAPER_STIGMA_ARGS = {"paper_dir", "system_prompt", "answer_mode"}
CRISIS_ARGS = {
    "system_prompt",
    "context",
    "transcripts",
    "insert_at",
    "transcripts_per_stimulus",
    "contextualize_context",
    "paraphrases",
    "conditions",
    "char_limit",
    "reply_tokens",
    "judge",
    "judges",
    "judge_seed",
    "stimuli",
    "stimulus_limit",
    "stimulus_seed",
}


#: Inspect settings that cut the harness's own cost per sample without losing
#: resume (samples are still written to the log as they complete, in batches).
#: Measured by benchmarks/harness_overhead.py; see the README's performance notes.
PERFORMANCE_SETTINGS: dict[str, Any] = {"log_realtime": False, "score_display": False}


#: How often, as a share of a log's samples, finished samples are written to
#: the log. A killed run (kill -9, a crash, a lost machine) loses the finished
#: samples not yet written, at most ``log_buffer - 1`` per log, and ``resume``
#: asks for them again. Inspect's default buffers a third of a small run (6 of
#: 20 samples) and a 20th of a large one (104 of 2,090). Each write copies the
#: whole log, so a fixed small buffer would make a long run's writes grow with
#: the square of its length; about 100 writes per log keeps the cost linear.
#: Measured by benchmarks/kill_loss.py.
LOG_WRITES_PER_RUN = 100


def log_buffer_for(samples: int) -> int:
    """Finished samples held before a log write: about 1% of ``samples``, at least 1.

    >>> log_buffer_for(20), log_buffer_for(2090), log_buffer_for(50_000)
    (1, 21, 500)
    """
    return max(1, math.ceil(samples / LOG_WRITES_PER_RUN))


def samples_per_log(tasks: Iterable[Any], limit: int | None, epochs: int | None) -> int:
    """The most samples any one of ``tasks`` will write to its log."""
    sizes = [
        min(len(task.dataset), limit if limit is not None else len(task.dataset))
        * (epochs or task.epochs or 1)
        for task in tasks
    ]
    return max(sizes, default=0)


def run_settings(profile: str = "therapy-audit") -> dict[str, Any]:
    """Eval keyword arguments our CLI applies by default (``inspect-defaults``: none)."""
    if profile == "inspect-defaults":
        return {}
    return {
        "attempt_timeout": DEFAULT_ATTEMPT_TIMEOUT,
        "fail_on_error": DEFAULT_FAIL_ON_ERROR,
        # One broken answer re-runs its sample once before it counts as an error.
        "retry_on_error": 1,
        **PERFORMANCE_SETTINGS,
    }


def model_args_for(model: str, given: dict[str, Any]) -> dict[str, Any]:
    """Provider defaults we apply: chat completions (not Responses) for OpenAI endpoints."""
    args = dict(given)
    if model.startswith("openai/"):
        args.setdefault("responses_api", False)
    return args


TASK_ARGS = {"stigma": STIGMA_ARGS, "crisis": CRISIS_ARGS, "conversation": CONVERSATION_ARGS}


def check_task_args(experiment: str, names: Iterable[str]) -> None:
    """Refuse task arguments (``-T``) that no selected task accepts (a typo runs the defaults).

    With ``all``, an argument one task accepts is passed to that task only.

    Raises:
        ValueError: naming the unknown arguments and those allowed.
    """
    chosen = EXPERIMENTS if experiment == "all" else (experiment,)
    allowed = set().union(*(TASK_ARGS[name] for name in chosen))
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValueError(
            f"unknown task argument(s) for {experiment}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def build_tasks(
    experiment: str,
    task_args: dict[str, Any],
    judge_roles: list[str],
    shard: str | None = None,
    clients: tuple[str, ...] = (),
) -> list[Any]:
    """The tasks of an experiment (``all``: every one), each given only its own arguments.

    With ``clients`` (``--client``, repeatable) the conversation experiment is
    simulated and runs once per client model, one task (and log) each, the
    client's model string in the task's metadata (``client``); results are
    pooled over them and reported per client. Without, it is scripted unless
    ``client_mode=simulated`` is asked for (the embedded model plays the client).
    """
    from therapy_audit.experiments.crisis.task import crisis
    from therapy_audit.experiments.stigma.task import stigma

    chosen = EXPERIMENTS if experiment == "all" else (experiment,)
    tasks = []
    for name in chosen:
        if name == "stigma" and "paper_dir" in task_args:
            from therapy_audit.replication.tasks import paper_stigma

            args = {k: v for k, v in task_args.items() if k in PAPER_STIGMA_ARGS}
            tasks.append(paper_stigma(**args, shard=shard))
        elif name == "stigma":
            args = {k: v for k, v in task_args.items() if k in STIGMA_ARGS}
            tasks.append(stigma(**args, shard=shard))
        elif name == "crisis":
            args = {k: v for k, v in task_args.items() if k in CRISIS_ARGS}
            if judge_roles:
                args.setdefault("judges", ",".join(judge_roles))
            tasks.append(crisis(**args, shard=shard))
        else:
            from therapy_audit.experiments.conversation.task import conversation

            args = {k: v for k, v in task_args.items() if k in CONVERSATION_ARGS}
            if judge_roles:
                args.setdefault("judges", ",".join(judge_roles))
            if not clients:
                tasks.append(conversation(**args, shard=shard))
                continue
            if args.setdefault("client_mode", "simulated") != "simulated":
                raise ValueError(
                    f"--client plays a simulated client, but client_mode={args['client_mode']}; "
                    "drop --client for a scripted run"
                )
            for client in clients:
                one = conversation(**args, shard=shard)
                one.metadata["client"] = client
                tasks.append(one)
    return tasks


def judge_roles_for(judges: tuple[str, ...]) -> list[str]:
    """The grader roles the ``--judge`` models fill, in order: grader, grader_2, ..."""
    if len(judges) > len(JUDGE_ROLES):
        raise click.BadParameter(f"at most {len(JUDGE_ROLES)} judges", param_hint="--judge")
    return list(JUDGE_ROLES[: len(judges)])


#: Providers whose Inspect model API sends requests through a batch API when
#: ``batch`` is set (about half the price, results within hours).
BATCH_PROVIDERS = frozenset({"openai", "anthropic", "google", "grok", "together"})


def batch_settings(batch: bool | int, attempt_timeout: int | None) -> dict[str, Any]:
    """Eval settings for ``run --batch`` (``batch``: True or a batch size).

    A batch is answered within hours, not seconds: the per-attempt timeout
    is the batch's own (none from us) unless one is given explicitly, so a
    request waiting in a batch is never abandoned after 180 s and resent.
    """
    if not batch:
        return {"attempt_timeout": attempt_timeout or DEFAULT_ATTEMPT_TIMEOUT}
    return {"batch": batch, "attempt_timeout": attempt_timeout}


def judge_model_roles(judges: tuple[str, ...], batch: bool | int | None = None) -> dict[str, Any]:
    """Bind each ``--judge`` to its grader role, with our provider defaults (and ``batch``)."""
    from inspect_ai.model import GenerateConfig, get_model

    config = GenerateConfig(batch=batch) if batch else GenerateConfig()
    return {
        role: get_model(judge, config=config, **model_args_for(judge, {}))
        for role, judge in zip(judge_roles_for(judges), judges, strict=True)
    }


def same_family_judges(judges: tuple[str, ...], model: str) -> list[str]:
    """Judges from the respondent's own provider (a judge may favour its own family)."""
    return [judge for judge in judges if judge.split("/")[0] == model.split("/")[0]]


@dataclass(frozen=True)
class RunRequest:
    """Everything a run needs, as plain values (it is sent to worker processes)."""

    experiment: str
    model: str
    judges: tuple[str, ...] = ()
    #: Simulated-client models (``--client``, repeatable): one conversation task each.
    clients: tuple[str, ...] = ()
    task_args: dict[str, Any] = field(default_factory=dict)
    model_args: dict[str, Any] = field(default_factory=dict)
    log_dir: str = "logs"
    limit: int | None = None
    epochs: int | None = None
    cache: bool = True
    eval_settings: dict[str, Any] = field(default_factory=dict)
    display: str | None = None
    shard: str | None = None
    #: One id shared by the logs of a run split across workers (see ``missing_shards``).
    workers_run: str | None = None


@dataclass(frozen=True)
class RunResult:
    """Where one log went and how its run ended."""

    location: str
    status: str


def model_roles_for(request: RunRequest) -> dict[str, Any]:
    """Judge roles (``grader``, ``grader_2``, ...); clients are bound per task: ``with_clients``."""
    return judge_model_roles(request.judges, request.eval_settings.get("batch"))


def with_clients(tasks: list[Any]) -> list[Any]:
    """Bind each conversation task's ``client`` (task metadata) to its ``client`` model role.

    A task's own model roles apply to that task only, so one eval runs every
    client model side by side, each in its own log.
    """
    from inspect_ai import task_with
    from inspect_ai.model import get_model

    bound = []
    for task in tasks:
        client = (task.metadata or {}).get("client")
        if client:
            task = task_with(
                task, model_roles={"client": get_model(client, **model_args_for(client, {}))}
            )
        bound.append(task)
    return bound


#: Inspect's display modules that print the end-of-task panel (inspect-ai 0.3.285).
_PANEL_MODULES = (
    "inspect_ai._display.rich.display",
    "inspect_ai._display.plain.display",
    "inspect_ai._display.textual.display",
)


@contextmanager
def quiet_end_panel() -> Iterator[None]:
    """Drop Inspect's end panel for tasks that succeeded; keep its progress and error panels.

    That panel printed ``rate 0.500`` (an average over every outcome, not one
    of our rates), ``cache: None`` while caching was on, and the log path a
    second time; ``run`` prints its own summary instead. Errors and
    cancellations still show Inspect's panel, which says how to retry.
    """
    from inspect_ai._display.core import results as inspect_results
    from rich.console import Group

    original = inspect_results.tasks_results

    def without_successes(tasks: Any) -> Any:
        kept = [t for t in tasks if not isinstance(t.result, inspect_results.TaskSuccess)]
        return original(kept) if kept else Group()

    patched = []
    for name in _PANEL_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # textual display not installed: nothing to quiet
            continue
        if getattr(module, "tasks_results", None) is original:
            module.tasks_results = without_successes  # type: ignore[attr-defined]
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            module.tasks_results = original  # type: ignore[attr-defined]


def run_in_process(request: RunRequest) -> list[RunResult]:
    """Run the request's tasks with Inspect in this process (one shard, or all of it)."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import CachePolicy

    model_roles = model_roles_for(request)
    tasks = with_clients(
        build_tasks(
            request.experiment, request.task_args, list(model_roles), request.shard, request.clients
        )
    )
    settings: dict[str, Any] = {**run_settings(), **request.eval_settings}
    if request.cache:
        settings["cache"] = CachePolicy(expiry=None)
    limit = request.limit
    if limit is not None and request.shard is not None:
        limit = shard_limit(limit, request.shard)
        if limit == 0:
            return []
    if settings.get("log_buffer") is None:
        settings["log_buffer"] = log_buffer_for(samples_per_log(tasks, limit, request.epochs))
    secrets = env_secrets(model_secret_names([request.model, *request.clients, *request.judges]))
    pool = http_pool(settings.get("max_connections"))
    with lean_gc(), pool, scrubbed_output(secrets), quiet_end_panel():
        logs = inspect_eval(
            tasks,
            model=request.model,
            model_args=model_args_for(request.model, request.model_args),
            model_roles=model_roles or None,
            log_dir=request.log_dir,
            limit=limit,
            epochs=request.epochs,
            display=request.display,
            metadata={"workers_run": request.workers_run} if request.workers_run else None,
            **settings,
        )
        for log in logs:
            scrub_log(log.location, secrets)
    return [RunResult(str(log.location), str(log.status)) for log in logs]


#: Samples per worker below which another process costs more than it saves
#: (a worker's start-up against ~14 ms of harness CPU per sample).
SAMPLES_PER_WORKER = 500
#: Providers that gain nothing from workers: the embedded model (one copy per
#: process on the same cores) and respondents that make no call.
NO_WORKER_PROVIDERS = frozenset({"local", "responses", "scripted", "mockllm", "baseline"})


def auto_workers(model: str, samples: int, cores: int | None = None) -> int:
    """``--workers auto``: one process per ``SAMPLES_PER_WORKER`` samples, at most one per core.

    One process for the embedded model and for respondents that make no
    call; for an API, as many processes as the run has 500-sample shares,
    up to the cores (``benchmarks/harness_overhead.py``: the event loop's
    CPU is the limit of a fast API with many connections).
    """
    if model.split("/", 1)[0] in NO_WORKER_PROVIDERS:
        return 1
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, samples // SAMPLES_PER_WORKER))


def run_samples(request: RunRequest) -> int:
    """How many samples a run asks (every task, within ``--limit``, times its epochs)."""
    tasks = build_tasks(request.experiment, request.task_args, judge_roles_for(request.judges))
    total = 0
    for task in tasks:
        size = len(task.dataset)
        if request.limit is not None:
            size = min(size, request.limit)
        epochs = request.epochs or getattr(getattr(task, "epochs", None), "epochs", None) or 1
        total += size * epochs
    return total


def worker_requests(request: RunRequest, workers: int) -> list[RunRequest]:
    """Split a request into one per worker: shard ``i/N`` and its share of the connections.

    ``max_connections`` is the total across workers (each gets ``ceil(total / N)``);
    only the first worker shows progress, so N displays do not overwrite each other.
    """
    per_worker = dict(request.eval_settings)
    total = per_worker.get("max_connections")
    if total is not None:
        per_worker["max_connections"] = max(1, math.ceil(total / workers))
    run_id = uuid.uuid4().hex[:12]
    return [
        replace(
            request,
            shard=f"{i}/{workers}",
            workers_run=run_id,
            eval_settings=per_worker,
            display=request.display if i == 0 else "none",
        )
        for i in range(workers)
    ]


def run_in_workers(request: RunRequest, workers: int) -> list[RunResult]:
    """Run the request as ``workers`` Inspect processes and gather every log they wrote."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        return run_in_process(request)
    # Bad task arguments fail here, once, before any worker starts (and the
    # parsed stimuli are cached for forked workers).
    build_tasks(
        request.experiment,
        request.task_args,
        judge_roles_for(request.judges),
        clients=request.clients,
    )
    return in_worker_processes(
        [partial(run_in_process, r) for r in worker_requests(request, workers)]
    )


def resume_in_process(log: str, log_dir: str | None, display: str | None = None) -> list[RunResult]:
    """Finish one interrupted log with Inspect's retry: completed samples are kept, not re-asked."""
    from inspect_ai import eval_retry
    from inspect_ai.log import read_eval_log

    spec = read_eval_log(log, header_only=True).eval
    roles = [role.model for role in (spec.model_roles or {}).values()]
    secrets = env_secrets(model_secret_names([spec.model, *roles]))
    with lean_gc(), http_pool(None), scrubbed_output(secrets):
        logs = eval_retry(log, log_dir=log_dir or str(Path(log).parent), display=display)
        for entry in logs:
            scrub_log(entry.location, secrets)
    return [RunResult(str(entry.location), str(entry.status)) for entry in logs]


def resume_logs(logs: list[str], log_dir: str | None = None) -> list[RunResult]:
    """Finish interrupted logs; several (a sharded run's) are resumed in parallel processes."""
    if len(logs) == 1:
        return resume_in_process(logs[0], log_dir)
    return in_worker_processes(
        [
            partial(resume_in_process, log, log_dir, None if i == 0 else "none")
            for i, log in enumerate(logs)
        ]
    )


#: Modules a worker would otherwise import itself before its first request
#: (~3 s of CPU per process on a 2-core machine, mostly building pydantic
#: models). Imported once in the parent, they are inherited by forked workers.
#: Some are Inspect internals that ``eval`` imports lazily; a missing one only
#: costs the worker its own import.
WORKER_PRELOAD = (
    "inspect_ai",
    "inspect_ai.agent._acp.server",
    "inspect_ai.hooks._startup",
    "openai",
    "therapy_audit.experiments.crisis.task",
    "therapy_audit.experiments.stigma.task",
    "therapy_audit.experiments.conversation.task",
)


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: forked where that is safe, else a fresh interpreter.

    ``fork`` on Linux while this process has a single thread: workers inherit
    the preloaded modules and start in milliseconds. Otherwise ``spawn``.
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        for name in WORKER_PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


#: Seconds between a worker's checks that its parent is still alive.
PARENT_POLL_SECONDS = 1.0
#: ``prctl`` option: the signal a process gets when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process exit when the process that started it dies.

    A parent killed with SIGKILL cannot stop its workers, which would go on
    running (and paying for) the whole run. On Linux the kernel sends the
    worker SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``); on
    every system a daemon thread also polls the parent's pid, so a parent
    that died before the signal was set, or a system without ``prctl``, is
    caught within :data:`PARENT_POLL_SECONDS`.
    """
    if sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the polling thread below still covers it

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(PARENT_POLL_SECONDS)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def in_worker_processes(jobs: list[Callable[[], list[RunResult]]]) -> list[RunResult]:
    """Run each job in its own process and gather their results.

    A worker that fails outright (rather than finishing with an error status
    in its log) is reported after the others finish, so no completed shard
    is lost.
    """
    results: list[RunResult] = []
    failures: list[str] = []
    with ProcessPoolExecutor(
        max_workers=len(jobs),
        mp_context=worker_context(),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(job) for job in jobs]
        for number, future in enumerate(futures, start=1):
            try:
                results.extend(future.result())
            except Exception as exc:  # one worker died: keep the others' logs
                failures.append(f"worker {number} of {len(jobs)}: {type(exc).__name__}: {exc}")
    if failures:
        raise WorkerFailure(failures, results)
    return results


class WorkerFailure(RuntimeError):
    """One or more workers failed outright; ``results`` holds the logs the others wrote."""

    def __init__(self, failures: list[str], results: list[RunResult]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures
        self.results = results
