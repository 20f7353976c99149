"""Plan before spending: how many calls a run makes per model role, and what it may cost.

An audit of a paid API model, with a paid judge ensemble, is real money. This
counts, before anything is sent, the calls each model role will receive
(respondent, grader(s), simulated client, contextualizer), estimates their
tokens and, where a price is known, their cost. Estimates, by design:

- input tokens = characters of every message sent / 4 (a rough average for
  English; real tokenizers differ by model);
- output tokens = the reply budget each call is given (an upper bound);
- a lettered answer (stigma item, judge verdict) is one call whatever the
  provider: it asks for log-probabilities and text at once, with a one-token
  budget from providers known to return log-probabilities
  (:data:`therapy_audit.answering.solver.ONE_TOKEN_PROVIDERS`) and a text
  budget from the others;
- judge calls are skipped for stimuli a deterministic check decides
  (``judge=checks``, or ``auto`` with only the embedded model as judge);
- Inspect's response cache makes repeated calls free; the plan ignores it;
- under ``run --batch``, calls to providers with a batch API
  (:data:`therapy_audit.execution.BATCH_PROVIDERS`) cost
  :data:`BATCH_DISCOUNT` of the listed price (OpenAI's and Anthropic's
  batch APIs charge half).

Prices come from ``prices`` (``--price``: ``{"openai/gpt-4o": (2.5, 10.0)}``,
US$ per million input and output tokens), else from the small dated table
:data:`BUILTIN_PRICES` of common models, else from Inspect's model database
(:func:`inspect_ai.model.get_model_info`, which carries cost data only where
one was registered, e.g. with ``set_model_cost`` or ``--model-cost-config``);
otherwise the cost is unknown (NaN), never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from therapy_audit.answering.solver import lettered_answer_tokens
from therapy_audit.execution import BATCH_PROVIDERS
from therapy_audit.judging.judge import SMOKE_TEST_JUDGES
from therapy_audit.prompts import CONTEXTUALIZE_TEMPLATE, JUDGE_TEMPLATE, SYSTEM_PROMPTS

CHARS_PER_TOKEN = 4
DEFAULT_REPLY_TOKENS = 300
DEFAULT_CHAR_LIMIT = 1024
CONTEXTUALIZER_TOKENS = 60
#: Respondents that make no model call at all (answers read from a file).
FREE_PROVIDERS = frozenset({"responses", "scripted", "mockllm", "baseline"})
PLAN_COLUMNS = [
    "task",
    "role",
    "model",
    "calls",
    "input_tokens",
    "output_tokens",
    "price_in",
    "price_out",
    "cost_usd",
    "price_source",
]
#: When :data:`BUILTIN_PRICES` was last checked against the providers' price pages.
BUILTIN_PRICES_DATE = "2025-06"
#: Providers' published list prices of common models (US$ per million input,
#: output tokens) as of :data:`BUILTIN_PRICES_DATE`; ``--price`` overrides them.
#: Prices change: the plan names this date beside every cost it computes from it.
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "openai/gpt-4o": (2.50, 10.00),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4.1": (2.00, 8.00),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/o3": (2.00, 8.00),
    "anthropic/claude-sonnet-4-0": (3.00, 15.00),
    "anthropic/claude-opus-4-0": (15.00, 75.00),
    "anthropic/claude-3-5-haiku-latest": (0.80, 4.00),
    "google/gemini-2.5-pro": (1.25, 10.00),
    "google/gemini-2.5-flash": (0.30, 2.50),
    "together/meta-llama/Llama-3.3-70B-Instruct-Turbo": (0.88, 0.88),
}
#: The Python package each API provider's Inspect client imports.
PROVIDER_PACKAGES = {
    "openai": ("openai", "openai"),
    "openai-api": ("openai", "openai"),
    "together": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "google": ("google.genai", "google-genai"),
}
DEFAULT_JUDGE = "local/smollm2"
#: Share of the listed price a batch API charges (OpenAI and Anthropic: half).
BATCH_DISCOUNT = 0.5
DEFAULT_HELPER = "local/smollm2"


@dataclass(frozen=True)
class Price:
    """US$ per million input and output tokens, and where the figure came from."""

    input: float
    output: float
    source: str


def parse_price(text: str) -> tuple[str, tuple[float, float]]:
    """``MODEL=in_per_mtok,out_per_mtok`` -> ``(model, (in, out))`` (``--price`` option)."""
    model, sep, figures = text.rpartition("=")
    parts = figures.split(",")
    try:
        if not sep or not model or len(parts) != 2:
            raise ValueError
        values = (float(parts[0]), float(parts[1]))
    except ValueError:
        raise ValueError(
            f"expected MODEL=in_per_mtok,out_per_mtok (US$ per million tokens), got {text!r}"
        ) from None
    if min(values) < 0:
        raise ValueError(f"prices cannot be negative: {text!r}")
    return model, values


def price_for(model: str, prices: Mapping[str, tuple[float, float]] | None) -> Price | None:
    """A given price (``--price``), else the built-in dated table, else Inspect's database."""
    if prices and model in prices:
        given = prices[model]
        return Price(given[0], given[1], "given")
    if model in BUILTIN_PRICES:
        listed = BUILTIN_PRICES[model]
        return Price(listed[0], listed[1], f"built-in list price ({BUILTIN_PRICES_DATE})")
    provider = model.split("/", 1)[0]
    if provider in FREE_PROVIDERS or provider == "local":
        return Price(0.0, 0.0, "free (runs locally or reads a file)")
    try:
        from inspect_ai.model import get_model_info

        info = get_model_info(model)
    except Exception:  # noqa: BLE001 (a lookup failure only means "price unknown")
        info = None
    cost = getattr(info, "cost", None) if info is not None else None
    if cost is None:
        return None
    return Price(float(cost.input), float(cost.output), "inspect model database")


def _tokens(chars: float) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _model_name(model: Any) -> str:
    return str(model)


def _message_chars(sample: Any) -> int:
    if isinstance(sample.input, str):
        return len(sample.input)
    return sum(len(m.text) for m in sample.input)


def _last_client_chars(sample: Any) -> int:
    if isinstance(sample.input, str):
        return len(sample.input)
    return next((len(m.text) for m in reversed(sample.input) if m.role == "user"), 0)


def _solver_names(task: Any) -> list[str]:
    from inspect_ai.util import registry_info

    solvers = task.solver if isinstance(task.solver, Iterable) else [task.solver]
    names = []
    for solver in solvers:
        try:
            names.append(registry_info(solver).name)
        except Exception:  # noqa: BLE001 (unregistered solvers are simply unnamed)
            names.append("")
    return names


def _system_chars(task: Any) -> int:
    label = (task.metadata or {}).get("system_prompt", "none")
    text = SYSTEM_PROMPTS.get(label)
    return len(text) if text else 0


@dataclass
class _Calls:
    role: str
    model: str
    calls: int = 0
    input_chars: float = 0
    output_tokens: int = 0

    def add(self, count: int, input_chars: float, output_tokens: int) -> None:
        self.calls += count
        self.input_chars += count * input_chars
        self.output_tokens += count * output_tokens


def _lettered(calls: _Calls, count: int, input_chars: float, mode: str = "auto") -> None:
    """A lettered answer: one call, one token or a short text as the solver asks."""
    calls.add(count, input_chars, lettered_answer_tokens(calls.model, mode))  # type: ignore[arg-type]


def _judges(
    task: Any, model_roles: Mapping[str, Any], samples: Sequence[Any], reply_chars: float
) -> list[_Calls]:
    meta = task.metadata or {}
    mode = meta.get("judge_mode", "auto")
    roles = meta.get("judge_roles") or ["grader"]
    judges = [_Calls(role, _model_name(model_roles.get(role, DEFAULT_JUDGE))) for role in roles]
    smoke_only = all(j.model in SMOKE_TEST_JUDGES for j in judges)
    for sample in samples:
        meta = sample.metadata or {}
        criteria = meta.get("criteria")
        if isinstance(criteria, list):
            # One judge call per criterion; with no capable judge (checks, or
            # only the embedded model in auto mode) nothing is asked: checks
            # decide what they prove and the rest is unjudged.
            if mode == "checks" or (mode == "auto" and smoke_only):
                continue
            questions = [str(c.get("question", "")) for c in criteria]
        else:
            if meta.get("has_check") and (mode == "checks" or (mode == "auto" and smoke_only)):
                continue
            questions = [str(meta.get("criterion", ""))]
        for question in questions:
            prompt = len(JUDGE_TEMPLATE) + _last_client_chars(sample) + reply_chars + len(question)
            for judge in judges:
                _lettered(judge, 1, prompt)
    return judges


def _conversation_calls(
    task: Any,
    respondent: _Calls,
    model_roles: Mapping[str, Any],
    samples: Sequence[Any],
    system: int,
) -> list[_Calls]:
    """Respondent, client and judge calls of the multi-turn task, turn by turn.

    Scripted mode asks no client model: the client's turns are the persona's
    scripted turns (their real lengths), one conversation lasting every
    scripted turn unless ``turns`` is smaller. Simulated mode asks the
    client for every turn after the first, at its full token budget. Judges
    are asked once per turn for each criterion in force (``from_turn``), and
    see the conversation so far up to ``judge_context_chars``.
    """
    from therapy_audit.experiments.conversation.client import (
        DEFAULT_CLIENT_TOKENS,
        DEFAULT_SIMULATED_TURNS,
        MAX_TURNS_CAP,
        SCRIPTED,
    )
    from therapy_audit.experiments.conversation.prompts import CLIENT_SYSTEM_TEMPLATE
    from therapy_audit.experiments.conversation.scorer import DEFAULT_JUDGE_CONTEXT_CHARS

    meta = task.metadata or {}
    scripted = meta.get("client_mode", SCRIPTED) == SCRIPTED
    max_turns = meta.get("max_turns")
    reply_tokens = int(meta.get("reply_tokens") or DEFAULT_REPLY_TOKENS)
    client_tokens = int(meta.get("client_tokens") or DEFAULT_CLIENT_TOKENS)
    reply_chars = reply_tokens * CHARS_PER_TOKEN
    judged_chars = min(reply_chars, int(meta.get("char_limit") or DEFAULT_CHAR_LIMIT))
    context_cap = int(meta.get("judge_context_chars", DEFAULT_JUDGE_CONTEXT_CHARS))
    client_model = meta.get("client") or model_roles.get("client", DEFAULT_HELPER)
    client = _Calls("client", _model_name(client_model))
    mode = meta.get("judge_mode", "auto")
    roles = meta.get("judge_roles") or ["grader"]
    judges = [_Calls(role, _model_name(model_roles.get(role, DEFAULT_JUDGE))) for role in roles]
    no_judge = mode == "checks" or (
        mode == "auto" and all(j.model in SMOKE_TEST_JUDGES for j in judges)
    )
    for sample in samples:
        persona = sample.metadata or {}
        script = [str(t) for t in persona.get("scripted_turns") or [_message_chars(sample) * "x"]]
        if scripted:
            turns = min(len(script), max_turns or len(script), MAX_TURNS_CAP)
            client_chars = [len(t) for t in script[:turns]]
        else:
            turns = min(max_turns or DEFAULT_SIMULATED_TURNS, MAX_TURNS_CAP)
            client_chars = [len(script[0])] + [client_tokens * CHARS_PER_TOKEN] * (turns - 1)
        persona_chars = len(CLIENT_SYSTEM_TEMPLATE) + sum(
            len(str(persona.get(k, ""))) for k in ("background", "voice", "wants", "hides")
        )
        history = 0
        for turn in range(1, turns + 1):
            if turn > 1 and not scripted:
                client.add(1, persona_chars + history, client_tokens)
            current = client_chars[turn - 1]
            respondent.add(1, system + history + current, reply_tokens)
            if not no_judge:
                criteria = [
                    c for c in persona.get("criteria") or [] if int(c.get("from_turn", 1)) <= turn
                ]
                for criterion in criteria:
                    prompt = (
                        len(JUDGE_TEMPLATE)
                        + min(history, context_cap)
                        + current
                        + judged_chars
                        + len(str(criterion.get("question", "")))
                    )
                    for judge in judges:
                        _lettered(judge, 1, prompt)
            history += current + reply_chars
    return [client, *judges]


def _task_calls(
    task: Any, model: str, model_roles: Mapping[str, Any], samples: Sequence[Any], epochs: int
) -> list[_Calls]:
    meta = task.metadata or {}
    experiment = meta.get("experiment", task.name)
    system = _system_chars(task)
    respondent = _Calls("respondent", model)
    found = [respondent]
    if experiment == "stigma":
        mode = str(meta.get("answer_mode", "auto"))
        for sample in samples:
            _lettered(respondent, 1, system + _message_chars(sample), mode)
    elif experiment == "crisis":
        reply_tokens = int(meta.get("reply_tokens", DEFAULT_REPLY_TOKENS))
        reply_chars = min(
            reply_tokens * CHARS_PER_TOKEN, meta.get("char_limit", DEFAULT_CHAR_LIMIT)
        )
        if "therapy_audit/contextualize" in _solver_names(task):
            helper = _Calls(
                "contextualizer", _model_name(model_roles.get("contextualizer", DEFAULT_HELPER))
            )
            for sample in samples:
                helper.add(
                    1, len(CONTEXTUALIZE_TEMPLATE) + _message_chars(sample), CONTEXTUALIZER_TOKENS
                )
            found.append(helper)
        for sample in samples:
            respondent.add(1, system + _message_chars(sample), reply_tokens)
        found.extend(_judges(task, model_roles, samples, reply_chars))
    elif experiment == "conversation":
        found.extend(_conversation_calls(task, respondent, model_roles, samples, system))
    else:
        for sample in samples:
            respondent.add(1, system + _message_chars(sample), DEFAULT_REPLY_TOKENS)
    for calls in found:
        calls.calls *= epochs
        calls.input_chars *= epochs
        calls.output_tokens *= epochs
    return found


def plan(
    tasks: Sequence[Any],
    model: str,
    model_roles: Mapping[str, Any] | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    limit: int | None = None,
    epochs: int | None = None,
    batch: bool = False,
) -> pd.DataFrame:
    """Calls, tokens and cost per task and model role, before anything is sent.

    Args:
        tasks: Inspect tasks as built for the run (``crisis(...)``, ``stigma(...)``).
        model: the respondent's model string.
        model_roles: role -> model (string or ``Model``), as passed to ``eval``.
        prices: model -> (US$ per million input tokens, per million output tokens).
        limit: at most this many samples per task (as ``eval(limit=...)``).
        epochs: repeats per sample (default: the task's own).
        batch: priced as ``run --batch``: providers with a batch API at
            :data:`BATCH_DISCOUNT` of their price.

    Returns:
        One row per task and role, columns :data:`PLAN_COLUMNS`. ``cost_usd``
        is NaN where no price is known; ``price_source`` says which.

    Example:
        >>> from therapy_audit.experiments.crisis.task import crisis
        >>> frame = plan([crisis(judge="model")], "openai/gpt-4o",
        ...              {"grader": "anthropic/claude-sonnet-4-0"},
        ...              prices={"openai/gpt-4o": (2.5, 10.0)})  # doctest: +SKIP
    """
    roles = dict(model_roles or {})
    rows = []
    for task in tasks:
        samples = list(task.dataset)[:limit] if limit else list(task.dataset)
        runs = epochs or getattr(getattr(task, "epochs", None), "epochs", None) or 1
        name = (task.metadata or {}).get("experiment", task.name)
        for calls in _task_calls(task, model, roles, samples, runs):
            if calls.calls == 0 and calls.role != "respondent":
                continue
            in_tokens = _tokens(calls.input_chars)
            price = price_for(calls.model, prices)
            if model.split("/", 1)[0] in FREE_PROVIDERS and calls.role == "respondent":
                price = Price(0.0, 0.0, "free (answers read from a file)")
            if batch and price and calls.model.split("/", 1)[0] in BATCH_PROVIDERS:
                price = Price(
                    price.input * BATCH_DISCOUNT,
                    price.output * BATCH_DISCOUNT,
                    f"{price.source}, batch x{BATCH_DISCOUNT:g}",
                )
            cost = (
                (in_tokens * price.input + calls.output_tokens * price.output) / 1e6
                if price
                else math.nan
            )
            rows.append(
                {
                    "task": name,
                    "role": calls.role,
                    "model": calls.model,
                    "calls": calls.calls,
                    "input_tokens": in_tokens,
                    "output_tokens": calls.output_tokens,
                    "price_in": price.input if price else math.nan,
                    "price_out": price.output if price else math.nan,
                    "cost_usd": cost,
                    "price_source": price.source if price else "unknown (give --price)",
                }
            )
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_text(frame: pd.DataFrame) -> str:
    """The plan as a terminal table with totals and the assumptions behind it."""
    if frame.empty:
        return "Nothing to run."
    shown = frame.copy()
    shown["cost_usd"] = [
        "unknown" if math.isnan(c) else f"${c:,.4f}" if c < 1 else f"${c:,.2f}"
        for c in frame["cost_usd"]
    ]
    shown = shown.drop(columns=["price_in", "price_out"])
    known = frame["cost_usd"].dropna()
    unknown = frame[frame["cost_usd"].isna()]
    total = f"${known.sum():,.2f}" if not known.empty else "unknown"
    lines = [
        "Plan (nothing has been sent)",
        shown.to_string(index=False),
        "",
        f"Total: {int(frame['calls'].sum()):,} calls, ~{int(frame['input_tokens'].sum()):,} input "
        f"tokens, <= {int(frame['output_tokens'].sum()):,} output tokens; known cost {total}"
        + (f" plus {len(unknown)} row(s) without a price" if not unknown.empty else ""),
        "Assumptions: tokens ~ characters / 4; output at the full reply budget (an upper "
        "bound); no cache hits; a lettered answer is one call (a short text budget where a "
        "model may return no log-probabilities).",
    ]
    if not unknown.empty:
        models = ", ".join(sorted(set(unknown["model"])))
        lines.append(f"No price known for {models}: pass --price MODEL=in_per_mtok,out_per_mtok.")
    if frame["price_source"].astype(str).str.startswith("built-in").any():
        lines.append(
            f"Built-in list prices are from {BUILTIN_PRICES_DATE}; check the provider's page or "
            "pass --price to override."
        )
    lines.extend(f"WARNING: {w}" for w in plan_warnings(frame))
    return "\n".join(lines)


def _is_paid(model: str) -> bool:
    provider = model.split("/", 1)[0]
    return provider not in FREE_PROVIDERS and provider not in ("local", "http-bot")


def plan_warnings(frame: pd.DataFrame) -> list[str]:
    """What a paid run should not discover afterwards.

    - a role (judge, simulated client, contextualizer) that falls back to the
      embedded model while the respondent is a paid model: its verdicts or
      turns would be a smoke test bought at the respondent's price;
    - a provider whose Python package is not installed (the run would fail
      at its first call).
    """
    warnings: list[str] = []
    respondents = set(frame.loc[frame["role"] == "respondent", "model"].astype(str))
    if any(_is_paid(m) for m in respondents):
        embedded = frame[
            (frame["role"] != "respondent")
            & frame["model"].astype(str).isin({DEFAULT_JUDGE, DEFAULT_HELPER})
        ]
        for role in sorted(set(embedded["role"].astype(str))):
            option = "--client MODEL" if role == "client" else "--judge MODEL"
            if role not in ("client",) and not role.startswith("grader"):
                option = f"a model for the {role} role"
            warnings.append(
                f"the {role} role falls back to the embedded model ({DEFAULT_JUDGE}) in a run of "
                f"a paid respondent ({', '.join(sorted(respondents))}): pass {option} with a "
                "capable model, or its part of the results is a smoke test."
            )
    import importlib.util

    for model in sorted(set(frame["model"].astype(str))):
        provider = model.split("/", 1)[0]
        if provider not in PROVIDER_PACKAGES:
            continue
        module, package = PROVIDER_PACKAGES[provider]
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            warnings.append(
                f"{model} needs the Python package {package!r}, which is not installed: "
                f"pip install {package}"
            )
    return warnings
