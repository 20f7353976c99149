"""llama.cpp's own HTTP server for a GGUF model, as an OpenAI-compatible endpoint.

``xllamacpp.Server`` runs llama.cpp's server (the code behind
``llama-server``) in this process and listens on 127.0.0.1. Nothing here
implements the protocol: Inspect's ``openai-api`` provider talks to a
server nobody in this project wrote, which is what a real deployment of a
local model looks like. Used by tests and ``benchmarks/llama_server.py``::

    with llama_server("smollm2", slots=4) as base_url:
        eval(task, model="openai-api/llamacpp/smollm2", model_base_url=base_url)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from therapy_audit.providers.local_api import (
    DEFAULT_N_CTX,
    DEFAULT_SLOTS,
    _EngineKey,
    default_threads,
    server_params,
)
from therapy_audit.providers.model_files import DEFAULT_LOCAL_MODEL, resolve_model_file


@contextmanager
def llama_server(
    model: str = DEFAULT_LOCAL_MODEL,
    slots: int = DEFAULT_SLOTS,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
) -> Iterator[str]:
    """Serve ``model`` (alias or path) on a free 127.0.0.1 port; yields the ``.../v1`` base URL.

    ``n_ctx`` is each slot's window, as for the ``local`` provider. The
    server stops when the last reference to it goes, on leaving the block.
    """
    import xllamacpp

    key = _EngineKey(resolve_model_file(model), n_ctx, n_threads or default_threads(), slots)
    params = server_params(key)
    params.port = 0  # a free port, chosen by the server
    params.hostnames = ["127.0.0.1"]
    server = xllamacpp.Server(params)
    try:
        yield f"{server.listening_address}/v1"
    finally:
        del server
