"""What every experiment's task records in its log, in one place."""

from __future__ import annotations

from typing import Any

from therapy_audit.prompts import PROMPTS_REVISION
from therapy_audit.stimulus_files import StimulusSet


def task_metadata(experiment: str, stimulus_set: StimulusSet, prompt_label: str) -> dict[str, Any]:
    """What every task records about its stimuli and prompts (read back by the analysis)."""
    return {
        "experiment": experiment,
        "stimulus_set_version": stimulus_set.version,
        "stimulus_fingerprint": stimulus_set.fingerprint,
        "stimulus_source": stimulus_set.source,
        "system_prompt": prompt_label,
        "prompts_revision": PROMPTS_REVISION,
    }
