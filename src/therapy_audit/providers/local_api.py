"""An Inspect ``ModelAPI`` that runs a GGUF chat model in-process with llama.cpp.

Why in-process: the default audit must run offline on a laptop with nothing
but pip. ``xllamacpp`` ships prebuilt llama.cpp wheels and exposes the
server's chat-completions handler directly, which applies the GGUF's chat
template and returns top log-probabilities. The server can have several
slots decoded together (continuous batching, ``-M slots=N``); they pay only
with two or more llama.cpp threads, and batched decoding is not
bit-identical to decoding one sequence, so one slot is the default (see
:data:`DEFAULT_SLOTS`). Each slot keeps its evaluated prompt, and llama.cpp gives a request the slot
whose prompt it shares most, so questions about the same vignette pay only
for the question.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
    TopLogprob,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from therapy_audit.providers.model_files import DEFAULT_LOCAL_MODEL, resolve_model_file

#: The context window of each request. 8,192 is what SmolLM2 (the default model) was
#: trained for; it lets a default scripted conversation (up to 18 turns of 300-token
#: replies) fit.
DEFAULT_N_CTX = 8192
#: Sequences decoded together. One, so that a rerun reproduces every reply.
#: Measured on an idle 2-core machine (crisis set, 205 stimuli, 300-token
#: replies): at 2 threads one slot generated 109 tokens/s and eight 162
#: (1.49x; llama.cpp alone 142 vs 254), but 3 of 205 replies changed by a
#: token and the outcome counts with them (llama.cpp's batched decoding is not
#: bit-identical); at one thread slots were slower (0.8-0.9x at 2 and 4 slots).
#: ``-M n_threads=2 -M slots=8`` is the fast setting when exact replay does
#: not matter.
DEFAULT_SLOTS = 1
DEFAULT_MAX_TOKENS = 512
DEFAULT_SEED = 0


def default_threads() -> int:
    """All cores but one (at least one).

    llama.cpp's threads spin while they wait for each other; when another
    process takes a core, two threads on a 2-core machine slow generation
    several-fold (measured: 9-21 vs 44 tokens/s), while one thread holds its
    speed. Leaving a core to Inspect's event loop and the rest of the machine
    is the robust default; ``-M n_threads=N`` overrides it.
    """
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True)
class _EngineKey:
    path: Path
    n_ctx: int
    n_threads: int
    slots: int = 1


def server_params(key: _EngineKey) -> Any:
    """llama.cpp server settings for a loaded model with ``key.slots`` slots.

    ``n_ctx`` is per slot: llama.cpp divides its context among the slots, so
    the server is given ``n_ctx x slots`` and every slot keeps the window a
    single slot had. A prompt that fit one slot fits each of them; slots
    never turn a prompt into ``context_overflow``.
    """
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(key.path)
    params.n_ctx = key.n_ctx * key.slots
    params.n_parallel = key.slots
    params.kv_unified = False  # each slot owns its n_ctx (no slot can starve another)
    params.cont_batching = True
    params.cpuparams.n_threads = key.n_threads
    params.cpuparams_batch.n_threads = key.n_threads
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs every request otherwise
    return params


class _Engine:
    """One loaded model whose slots serve up to ``slots`` requests at once."""

    def __init__(self, key: _EngineKey) -> None:
        import xllamacpp

        self.server = xllamacpp.Server(server_params(key))
        self.slots = threading.BoundedSemaphore(key.slots)
        self.one_token = threading.Lock()

    def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        """One chat completion; one-token requests are taken one at a time.

        A one-token answer (a stigma item, a judge's verdict read by
        log-probability) costs only prompt evaluation, which batching does not
        speed up. In order, each lands on the slot that already holds its
        vignette, so only the question is evaluated; several at once would
        spread one vignette's questions across slots and evaluate its prefix
        in each.
        """
        if request.get("max_tokens") == 1:
            with self.one_token, self.slots:
                return self.server.handle_chat_completions(request)
        with self.slots:
            return self.server.handle_chat_completions(request)


_ENGINES: dict[_EngineKey, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(key: _EngineKey) -> _Engine:
    """Load each (file, context, threads) once per process; every model role shares it."""
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _Engine(key)
        return _ENGINES[key]


def _role(message: ChatMessage) -> str:
    return "assistant" if message.role == "assistant" else message.role


def _to_request(
    messages: list[ChatMessage], config: GenerateConfig, default_max_tokens: int
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "messages": [
            {"role": _role(m), "content": m.text}
            for m in messages
            if m.role in ("system", "user", "assistant")
        ],
        "max_tokens": config.max_tokens or default_max_tokens,
        "temperature": config.temperature if config.temperature is not None else 0.0,
        "seed": config.seed if config.seed is not None else DEFAULT_SEED,
    }
    if config.top_p is not None:
        request["top_p"] = config.top_p
    if config.top_k is not None:
        request["top_k"] = config.top_k
    if config.stop_seqs:
        request["stop"] = list(config.stop_seqs)
    if config.logprobs:
        request["logprobs"] = True
        request["top_logprobs"] = config.top_logprobs or 5
    return request


def _logprobs(choice: dict[str, Any]) -> Logprobs | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    return Logprobs(
        content=[
            Logprob(
                token=item["token"],
                logprob=item["logprob"],
                bytes=item.get("bytes"),
                top_logprobs=[
                    TopLogprob(token=t["token"], logprob=t["logprob"], bytes=t.get("bytes"))
                    for t in item.get("top_logprobs") or []
                ],
            )
            for item in content
        ]
    )


def _usage(response: dict[str, Any]) -> ModelUsage:
    usage = response.get("usage") or {}
    prompt = int(usage.get("prompt_tokens", 0))
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
    output = int(usage.get("completion_tokens", 0))
    return ModelUsage(
        input_tokens=prompt - cached,
        input_tokens_cache_read=cached,
        output_tokens=output,
        total_tokens=prompt + output,
    )


def _output(model: str, response: dict[str, Any], n_ctx: int | None = None) -> ModelOutput:
    choice = response["choices"][0]
    finish = choice.get("finish_reason")
    stop_reason = {"stop": "stop", "length": "max_tokens"}.get(finish, "unknown")
    usage = response.get("usage") or {}
    total = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    if finish == "length" and n_ctx and total >= n_ctx:
        # The context filled up mid-reply: an overflow, not a reply cut at its budget.
        stop_reason = "model_length"
    message = ChatMessageAssistant(
        content=choice["message"].get("content") or "", model=model, source="generate"
    )
    return ModelOutput(
        model=model,
        choices=[
            ChatCompletionChoice(
                message=message, stop_reason=stop_reason, logprobs=_logprobs(choice)
            )
        ],
        usage=_usage(response),
    )


class LocalModelAPI(ModelAPI):
    """``local/<alias or path.gguf>``: a GGUF chat model run in this process.

    Model args (``-M``): ``n_ctx`` (context window of each request,
    default 8192), ``n_threads`` (default: all cores but one, see
    :func:`default_threads`), ``slots`` (sequences decoded together,
    default :data:`DEFAULT_SLOTS`; ``1`` serves one request at a time).
    Each slot keeps the whole ``n_ctx`` window (its key-value cache: about
    23 KB per token for the bundled model, 190 MB per slot at 8,192).
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's own signature)
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        slots: int = DEFAULT_SLOTS,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        if model_args:
            raise ValueError(
                f"unknown model args for local/{model_name}: {sorted(model_args)}; "
                "allowed: n_ctx, n_threads, slots"
            )
        threads = int(n_threads or default_threads())
        slots = int(slots)
        if slots < 1:
            raise ValueError(f"slots must be at least 1 for local/{model_name}, got {slots}")
        if config.max_connections is None:
            # Inspect's adaptive concurrency ignores max_connections() unless the
            # config names a limit; one request per slot.
            config.max_connections = slots
        self.path = resolve_model_file(model_name or DEFAULT_LOCAL_MODEL)
        self.n_ctx = int(n_ctx)
        self.key = _EngineKey(self.path, self.n_ctx, threads, slots)

    def max_connections(self) -> int:
        """One request per slot: more would only queue on the slots."""
        return self.key.slots

    def connection_key(self) -> str:
        """Every role using the same loaded model shares one connection pool."""
        return str(self.key)

    def max_tokens(self) -> int | None:
        """Default reply budget when the task sets none."""
        return DEFAULT_MAX_TOKENS

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput | Exception, ModelCall]:
        """Run one chat completion on a worker thread (the event loop stays free)."""
        engine = _engine(self.key)
        request = _to_request(input, config, DEFAULT_MAX_TOKENS)
        started = time.monotonic()
        response = await anyio.to_thread.run_sync(engine.chat, request)
        call = ModelCall.create(request=request, response=response, time=time.monotonic() - started)
        error = response.get("error")
        if error:
            if error.get("type") == "exceed_context_size_error":
                # Inspect's convention for "the prompt did not fit": nothing was generated.
                overflow = ModelOutput.from_content(
                    self.model_name, error.get("message", ""), stop_reason="model_length"
                )
                overflow.usage = ModelUsage()
                return overflow, call
            return RuntimeError(f"llama.cpp error: {error.get('message', error)}"), call
        return _output(self.model_name, response, self.n_ctx), call
