"""Registration of the ``local`` provider (the embedded GGUF model, in-process).

The heavy import (``xllamacpp``) happens only when the provider is used, so
``therapy_audit`` stays importable without the ``local`` extra.
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="local")
def local() -> type[ModelAPI]:
    """Return the in-process llama.cpp model API."""
    from therapy_audit.providers.local_api import LocalModelAPI

    return LocalModelAPI
