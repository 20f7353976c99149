"""Refuse to pool runs of different tests, or label them apart when asked.

A rate pooled over two stimulus-set versions mixes two different tests; so
does one pooled over two task versions, judge-template revisions or
simulated-client revisions. Every log records its stimulus-set version, a
fingerprint of the stimulus files' bytes, its task version and its prompt
revisions; logs of one experiment must agree on all of them, and all logs
on the stimulus-set version, before their rows may be pooled. Different
system prompts (none vs steel-man) are the comparison itself: each is its
own series, never pooled, so they stay allowed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

VERSION_COLUMNS = ["stimulus_set_version", "stimulus_fingerprint"]
#: What else must agree within one experiment: the test's own revisions.
REVISION_COLUMNS = ["task_version", "prompts_revision", "judge_revision", "client_revision"]
#: The option of ``report`` that shows each version separately instead of refusing.
ALLOW_MIXED_HINT = (
    "Re-run them on one version, give them separately, or use `therapy-audit report "
    "--allow-mixed-versions` to show each version separately."
)


class MixedVersionsError(ValueError):
    """Logs of different stimulus-set versions were given together."""


def log_versions(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per log: log, experiment, the stimulus-set and revision columns (as text)."""
    columns = ["log", "experiment", *VERSION_COLUMNS, *REVISION_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    present = frame.reindex(columns=columns)
    return present.astype("string").fillna("unknown").drop_duplicates().reset_index(drop=True)


def _mixed_within(versions: pd.DataFrame) -> list[str]:
    """The columns on which one experiment's logs disagree."""
    per_experiment = ["stimulus_fingerprint", *REVISION_COLUMNS]
    counts = versions.groupby("experiment")[per_experiment].nunique()
    return [c for c in per_experiment if (counts[c] > 1).any()]


def is_mixed(frame: pd.DataFrame) -> bool:
    """True when the logs disagree on the stimulus-set version, or one experiment's on the rest."""
    versions = log_versions(frame)
    if versions.empty:
        return False
    if versions["stimulus_set_version"].nunique() > 1:
        return True
    return bool(_mixed_within(versions))


def _label(row: pd.Series, experiments: str) -> str:
    parts = [f"fingerprint {row['stimulus_fingerprint'][:12]}"]
    parts.extend(f"{c} {row[c]}" for c in REVISION_COLUMNS if row[c] != "unknown")
    return f"stimulus set {row['stimulus_set_version']} ({'; '.join([*parts, experiments])})"


def mixed_versions_message(frame: pd.DataFrame, hint: str = ALLOW_MIXED_HINT) -> str:
    """A message naming each version (stimulus set, task, prompt revisions) and its logs.

    ``hint`` ends the message: what the command reading the logs lets the user do.
    """
    lines = ["These logs were run on different versions of the test and cannot be pooled:"]
    versions = log_versions(frame)
    keys = [*VERSION_COLUMNS, *REVISION_COLUMNS]
    for _, logs in versions.groupby(keys, sort=True):
        names = ", ".join(sorted(Path(p).name for p in logs["log"]))
        experiments = ", ".join(sorted(logs["experiment"].unique()))
        lines.append(f"  {_label(logs.iloc[0], experiments)}: {names}")
    lines.append(hint)
    return "\n".join(lines)


def check_versions(frame: pd.DataFrame) -> None:
    """Raise :class:`MixedVersionsError` (with :func:`mixed_versions_message`) when mixed."""
    if is_mixed(frame):
        raise MixedVersionsError(mixed_versions_message(frame))


def separate_versions(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``respondent`` names the test version, so each version is its own series.

    Unchanged when the logs are not mixed.
    """
    if not is_mixed(frame):
        return frame
    labelled = frame.copy()
    version = labelled["stimulus_set_version"].astype("string").fillna("unknown")
    fingerprint = labelled["stimulus_fingerprint"].astype("string").fillna("unknown").str[:8]
    label = "[stimuli " + version + " " + fingerprint
    for column in _mixed_within(log_versions(frame)):
        if column != "stimulus_fingerprint":
            label = label + f" {column} " + labelled[column].astype("string").fillna("unknown")
    labelled["respondent"] = labelled["respondent"].astype("string") + " " + label + "]"
    return labelled
