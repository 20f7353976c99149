"""Refuse to pool runs of different stimulus sets, or label them apart when asked.

A rate pooled over two stimulus-set versions mixes two different tests.
Every log records its stimulus-set version and a fingerprint of the
stimulus files' bytes; logs of one experiment must agree on both, and all
logs on the version, before their rows may be pooled.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

VERSION_COLUMNS = ["stimulus_set_version", "stimulus_fingerprint"]


class MixedVersionsError(ValueError):
    """Logs of different stimulus-set versions were given together."""


def log_versions(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per log: log, experiment, stimulus_set_version, stimulus_fingerprint."""
    columns = ["log", "experiment", *VERSION_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return (
        frame[columns].astype("string").fillna("unknown").drop_duplicates().reset_index(drop=True)
    )


def is_mixed(frame: pd.DataFrame) -> bool:
    """True when the logs disagree on the version, or one experiment's logs on the fingerprint."""
    versions = log_versions(frame)
    if versions["stimulus_set_version"].nunique() > 1:
        return True
    return bool((versions.groupby("experiment")["stimulus_fingerprint"].nunique() > 1).any())


def mixed_versions_message(frame: pd.DataFrame) -> str:
    """A message naming each stimulus-set version and the logs that used it."""
    lines = ["These logs were run on different stimulus sets and cannot be pooled:"]
    versions = log_versions(frame)
    for (version, fingerprint), logs in versions.groupby(VERSION_COLUMNS, sort=True):
        names = ", ".join(sorted(Path(p).name for p in logs["log"]))
        experiments = ", ".join(sorted(logs["experiment"].unique()))
        lines.append(
            f"  stimulus set {version} (fingerprint {fingerprint[:12]}; {experiments}): {names}"
        )
    lines.append(
        "Re-run them on one stimulus-set version, or pass --allow-mixed-versions "
        "to show each version separately."
    )
    return "\n".join(lines)


def check_versions(frame: pd.DataFrame) -> None:
    """Raise :class:`MixedVersionsError` (with :func:`mixed_versions_message`) when mixed."""
    if is_mixed(frame):
        raise MixedVersionsError(mixed_versions_message(frame))


def separate_versions(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``respondent`` names the stimulus set, so each version is its own series.

    Unchanged when the logs are not mixed.
    """
    if not is_mixed(frame):
        return frame
    labelled = frame.copy()
    version = labelled["stimulus_set_version"].astype("string").fillna("unknown")
    fingerprint = labelled["stimulus_fingerprint"].astype("string").fillna("unknown").str[:8]
    labelled["respondent"] = (
        labelled["respondent"].astype("string") + " [stimuli " + version + " " + fingerprint + "]"
    )
    return labelled
