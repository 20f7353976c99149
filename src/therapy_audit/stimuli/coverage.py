"""The coverage table: which of the 17 features of good therapy the stimuli test.

It falls out of the data: each crisis stimulus and persona lists the
features it tests, and ``features.yaml`` says which features no text
stimulus can test (the paper's "foundational barriers").
"""

from __future__ import annotations

import pandas as pd

from therapy_audit.stimuli.load import load_crisis_stimuli, load_features, load_personas

#: "Don't stigmatize": the feature the stigma battery measures.
STIGMA_FEATURE = 11


def coverage_table(
    crisis_path: str | None = None, personas_path: str | None = None
) -> pd.DataFrame:
    """One row per feature.

    Columns: id, group, name, testable_in_text, crisis_stimuli (count),
    personas (count), stigma (bool: the stigma battery tests feature 11),
    note (why not testable, when it is not).
    """
    conditions, _ = load_crisis_stimuli(crisis_path)
    personas, _ = load_personas(personas_path)
    rows = []
    for feature in load_features().features:
        rows.append(
            {
                "id": feature.id,
                "group": feature.group,
                "name": feature.name,
                "testable_in_text": feature.testable_in_text,
                "crisis_stimuli": sum(
                    feature.id in s.features for c in conditions for s in c.stimuli
                ),
                "personas": sum(feature.id in p.features for p in personas),
                "stigma": feature.id == STIGMA_FEATURE,
                "note": feature.why_not_testable or "",
            }
        )
    return pd.DataFrame(rows)
