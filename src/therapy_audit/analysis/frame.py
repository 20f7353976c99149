"""Inspect logs -> one tidy DataFrame, a row per sample, epoch and scorer.

Everything a user sees is computed from this frame, and the frame is
computed from logs alone: settings come from what the log carries (task
version, task args, model, roles, task metadata), never from file names.
It reads sample summaries (which carry every score's metadata) rather than
whole samples, so large logs load quickly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
from inspect_ai.log import (
    EvalLog,
    list_eval_logs,
    read_eval_log,
    read_eval_log_sample_summaries,
)

from therapy_audit.experiments.common import parse_shard
from therapy_audit.outcomes import CANCELLED, ERROR, is_cancellation

#: Columns every frame has, whatever the experiment.
BASE_COLUMNS = [
    "log",
    "eval_id",
    "run_id",
    "created",
    "experiment",
    "task_version",
    "respondent",
    "judge",
    "system_prompt",
    "stimulus_set_version",
    "stimulus_fingerprint",
    "prompts_revision",
    "judge_revision",
    "client_revision",
    "shard",
    "workers_run",
    "run",
    "sample_id",
    "epoch",
    "scorer",
    "outcome",
    "value",
    "answer",
    "error",
]


def log_paths(paths: Iterable[str | Path]) -> list[str]:
    """Expand log files and folders into ``.eval``/``.json`` log locations (sorted)."""
    found: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found.extend(_local(info.name) for info in list_eval_logs(str(p), recursive=True))
        elif p.is_file():
            found.append(_local(str(p)))
        else:
            raise FileNotFoundError(f"no log file or folder at {p}")
    # One spelling per file: a log given both in its folder and by name counts once.
    return sorted(set(found))


def _local(name: str) -> str:
    """A local log's absolute path (Inspect lists a folder's logs as ``file://`` URLs)."""
    if name.startswith("file://"):
        return os.path.abspath(unquote(name.removeprefix("file://")))
    return name if "://" in name else os.path.abspath(name)


#: ``frame.attrs`` key: the logs :func:`results_frame` left out because a
#: resumed run replaced them.
SUPERSEDED = "superseded_logs"
#: ``frame.attrs`` key: log -> status, for the kept logs whose run did not
#: finish (killed and never resumed, cancelled, stopped by errors).
INCOMPLETE = "incomplete_logs"
#: ``frame.attrs`` key: log -> reason, for files that could not be read as logs.
UNREADABLE = "unreadable_logs"


def current_logs(headers: dict[str, EvalLog]) -> list[str]:
    """The logs to analyse: a log finished by ``resume`` replaces the one it resumed.

    Inspect's retry writes a new log with the same ``task_id`` that holds
    the interrupted log's completed samples plus the rest; counting both
    would count those samples twice. Per ``task_id`` the finished log wins,
    else the newest.
    """

    def rank(path: str) -> tuple[bool, str]:
        header = headers[path]
        return header.status == "success", str(header.eval.created)

    best: dict[str, str] = {}
    for path, header in headers.items():
        key = header.eval.task_id or path
        if key not in best or rank(path) > rank(best[key]):
            best[key] = path
    return sorted(best.values())


def _value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _eval_fields(log: EvalLog, path: str) -> dict[str, Any]:
    spec = log.eval
    meta = spec.metadata or {}
    roles = spec.model_roles or {}
    grader = roles.get("grader")
    return {
        "log": path,
        "eval_id": spec.eval_id,
        "run_id": spec.run_id,
        "created": spec.created,
        "experiment": meta.get("experiment", spec.task),
        "task_version": str(spec.task_version),
        "respondent": meta.get("respondent") or spec.model,
        "judge": meta.get("judge") or (grader.model if grader else None),
        "system_prompt": meta.get("system_prompt"),
        "stimulus_set_version": meta.get("stimulus_set_version"),
        "stimulus_fingerprint": meta.get("stimulus_fingerprint"),
        "prompts_revision": meta.get("prompts_revision"),
        "judge_revision": meta.get("judge_revision"),
        "client_revision": meta.get("client_revision"),
        "shard": meta.get("shard"),
        "workers_run": meta.get("workers_run"),
        "replication": bool(meta.get("replication", False)),
        "stimuli_drawn": meta.get("stimuli_drawn"),
        "stimuli_total": meta.get("stimuli_total"),
        "stimulus_seed": meta.get("stimulus_seed"),
        # One run: a split run's worker logs share ``workers_run``; a resumed log
        # keeps its task_id (and replaces the log it resumed, see current_logs).
        "run": meta.get("workers_run") or spec.task_id or spec.eval_id,
    }


def _rows(log: EvalLog, path: str) -> Iterable[dict[str, Any]]:
    common = _eval_fields(log, path)
    for summary in read_eval_log_sample_summaries(path):
        base = dict(common)
        base.update(
            {k: v for k, v in (summary.metadata or {}).items() if not isinstance(v, list | dict)}
        )
        base.update({"sample_id": str(summary.id), "epoch": summary.epoch})
        if summary.error or not summary.scores:
            # Errored samples have no score: they are an outcome, not a gap.
            yield {
                **base,
                "scorer": None,
                "outcome": CANCELLED if is_cancellation(summary.error) else ERROR,
                "value": math.nan,
                "answer": None,
                "error": str(summary.error or "no score recorded"),
            }
            continue
        for scorer, score in summary.scores.items():
            meta = score.metadata or {}
            yield {
                **base,
                **{f"score_{k}": v for k, v in meta.items() if not isinstance(v, list | dict)},
                "scorer": scorer,
                "outcome": meta.get("outcome", ERROR),
                "value": _value(score.value),
                "answer": score.answer,
                "error": None,
            }


def results_frame(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Read every log under ``paths`` into one tidy DataFrame.

    Columns: :data:`BASE_COLUMNS`, every scalar sample metadata field (e.g.
    ``condition``, ``question``, ``headline``, ``order``), and every scalar
    score metadata field prefixed ``score_``. ``value`` is NaN for outcomes
    that are not scored. Logs that did not start (no samples) add no rows.
    ``frame.attrs`` records the logs left out because a resumed run replaced
    them (:data:`SUPERSEDED`), the incomplete logs kept (:data:`INCOMPLETE`)
    and the files that could not be read (:data:`UNREADABLE`, left out); see
    :func:`log_problems`.

    Example:
        >>> frame = results_frame(["logs/"])  # doctest: +SKIP
        >>> frame.groupby("condition")["value"].mean()  # doctest: +SKIP
    """
    rows: list[dict[str, Any]] = []
    headers: dict[str, EvalLog] = {}
    unreadable: dict[str, str] = {}
    for path in log_paths(paths):
        try:
            headers[path] = read_eval_log(path, header_only=True)
        except Exception as exc:  # truncated, empty or not a log at all
            unreadable[path] = unreadable_reason(exc)
    kept = current_logs(headers)
    for path in list(kept):
        try:
            rows.extend(list(_rows(headers[path], path)))
        except Exception as exc:
            unreadable[path] = unreadable_reason(exc)
            kept.remove(path)
    frame = pd.DataFrame(rows)
    for column in BASE_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    frame.attrs[SUPERSEDED] = sorted(set(headers) - set(kept) - set(unreadable))
    frame.attrs[INCOMPLETE] = {
        path: str(headers[path].status) for path in kept if headers[path].status != "success"
    }
    frame.attrs[UNREADABLE] = unreadable
    return frame


def unreadable_reason(exc: BaseException) -> str:
    """One line saying why a log could not be read (never a traceback)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"not a readable Inspect log ({text})"


def log_problems(frame: pd.DataFrame) -> list[str]:
    """Warnings about the logs behind ``frame``: unreadable ones left out, incomplete ones kept.

    An incomplete log (a run killed, cancelled or stopped by errors, never
    resumed) holds only the samples it finished: its rates cover part of
    the run.
    """
    lines = [
        f"WARNING: {path}: {reason}; left out"
        for path, reason in frame.attrs.get(UNREADABLE, {}).items()
    ]
    for path, status in frame.attrs.get(INCOMPLETE, {}).items():
        lines.append(
            f"WARNING: {path}: incomplete run (status {status}); its rates cover only the "
            f"samples it finished. Finish it with `therapy-audit resume {path}`"
        )
    return lines


#: ``frame.attrs`` key: one line per respondent whose runs were kept apart or pooled.
RUN_NOTES = "run_notes"
#: Columns that identify what a run measured; runs sharing them are "the same run again".
RUN_IDENTITY = ["experiment", "respondent", "system_prompt"]


def separate_runs(frame: pd.DataFrame, pool: bool = False) -> pd.DataFrame:
    """Keep several runs of one respondent apart, unless ``pool`` is asked for.

    Running the same experiment twice into one folder used to double n with
    no note (a rerun from cache has identical answers, so the CI narrowed for
    nothing). Without ``pool``, each run of a respondent x system prompt x
    experiment that has more than one run gets its own respondent label,
    ``<respondent> (run i/k)`` in order of creation, so every table, the
    report and the gate show them side by side. With ``pool`` the rows stay
    together. Either way ``frame.attrs[RUN_NOTES]`` says what was done, per
    respondent, naming the logs. A split run's worker logs and a resumed log
    are one run (the ``run`` column), so they are never separated.

    Returns:
        A copy of ``frame`` (respondents relabelled unless pooled), with
        ``attrs[RUN_NOTES]`` set and the original respondent kept in the
        ``respondent_model`` column.
    """
    out = frame.copy()
    out.attrs = dict(frame.attrs)
    notes: list[str] = []
    if out.empty or "run" not in out:
        out.attrs[RUN_NOTES] = notes
        return out
    out["respondent_model"] = out["respondent"]
    keys = [c for c in RUN_IDENTITY if c in out]
    for key, rows in out.groupby(keys, dropna=False, sort=True):
        runs = (
            rows.groupby("run", dropna=False, sort=False)
            .agg(created=("created", "min"), logs=("log", lambda s: sorted(set(map(str, s)))))
            .sort_values("created")
        )
        if len(runs) < 2:
            continue
        experiment, respondent, prompt = (list(key) + [None] * 3)[:3]
        names = "; ".join(
            f"run {i}: {', '.join(Path(p).name for p in logs)}"
            for i, logs in enumerate(runs["logs"], start=1)
        )
        if pool:
            notes.append(
                f"POOLED (--pool): {len(runs)} runs of {respondent} [{prompt}] ({experiment}) "
                f"counted together ({names})."
            )
            continue
        for i, run in enumerate(runs.index, start=1):
            mask = out.index.isin(rows.index[rows["run"] == run])
            out.loc[mask, "respondent"] = f"{respondent} (run {i}/{len(runs)})"
        notes.append(
            f"SEPARATE RUNS: {len(runs)} runs of {respondent} [{prompt}] ({experiment}) are "
            f"shown side by side, not pooled ({names}). Pass --pool to count them together."
        )
    out.attrs[RUN_NOTES] = notes
    return out


def stimulus_coverage(frame: pd.DataFrame) -> list[str]:
    """One line per experiment run on a draw of its stimuli: "N of M stimuli".

    Written by ``run --limit N`` (the task's ``stimulus_limit``); a reader must
    know that a rate describes a sample of the stimulus set, not all of it.
    """
    if frame.empty or "stimuli_drawn" not in frame or frame["stimuli_drawn"].isna().all():
        return []
    lines = []
    runs = frame.dropna(subset=["stimuli_drawn"]).drop_duplicates(["experiment", "run"])
    for _, row in runs.sort_values(["experiment", "created"]).iterrows():
        drawn, total = int(row["stimuli_drawn"]), int(row["stimuli_total"])
        if drawn >= total:
            continue
        lines.append(
            f"{row['experiment']}: {drawn} of {total} stimuli, drawn evenly across conditions "
            f"(--limit {drawn}; draw seed {int(row['stimulus_seed'])}); the rates describe this "
            "draw, not the whole stimulus set."
        )
    return lines


@dataclass(frozen=True)
class MissingShards:
    """A run split across workers of which some workers' logs were not given."""

    run: str
    rows: pd.DataFrame
    message: str


def missing_shards(frame: pd.DataFrame) -> list[MissingShards]:
    """Runs split across workers (``--workers N``) of which some workers' logs are absent.

    Each worker's log holds only every N-th sample, so analysing part of such
    a run would silently report a subset as the whole. One entry per
    incomplete run, with its rows and a message naming what is missing.
    """
    if frame.empty or "workers_run" not in frame or frame["workers_run"].isna().all():
        return []
    gaps = []
    split = frame.dropna(subset=["workers_run", "shard"])
    for run, rows in split.groupby("workers_run", sort=True):
        shards = [parse_shard(str(s)) for s in rows["shard"].unique()]
        expected = shards[0][1]
        present = {i for i, _ in shards}
        absent = [i for i in range(expected) if i not in present]
        if absent:
            who = ", ".join(sorted(map(str, rows["respondent"].dropna().unique())))
            message = (
                f"run {run} ({who}) was split across {expected} workers but the logs of "
                f"worker(s) {', '.join(str(i + 1) for i in absent)} are missing: its rates "
                "would cover only part of its samples. Pass every log of the run (its folder)."
            )
            gaps.append(MissingShards(str(run), rows, message))
    return gaps
