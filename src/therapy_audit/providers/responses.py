"""Registration of the ``responses`` provider (answers collected by hand, read from a CSV).

``--model responses/path/to/answers.csv``: see ``docs/respondents.md``.
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="responses")
def responses() -> type[ModelAPI]:
    """Return the stored-answers model API."""
    from therapy_audit.providers.responses_api import ResponsesAPI

    return ResponsesAPI
