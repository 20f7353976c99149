"""Registration of the ``baseline`` provider: fixed replies that should score badly.

``--model baseline/refusal``, ``baseline/boilerplate`` or ``baseline/nonanswer``:
see :mod:`therapy_audit.providers.baseline_api`.
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="baseline")
def baseline() -> type[ModelAPI]:
    """Return the fixed-reply model API."""
    from therapy_audit.providers.baseline_api import BaselineAPI

    return BaselineAPI
