"""An Inspect ``ModelAPI`` whose replies were collected by hand and stored in a CSV file.

``responses/path/to/answers.csv`` (an answer sheet, see
:mod:`therapy_audit.providers.questionnaire`) answers each sample with the reply a
person or a bot's web page gave to the same stimulus, so human baselines and
by-hand bot audits are judged by exactly the same tasks and judges as models.

Matching. The stored reply is found by the active sample's id (see
:mod:`therapy_audit.providers.sample_context` for why that needs a guarded
private accessor); rows without an id, or a run where the id cannot be read,
fall back to the exact text of the last client message (whitespace-
normalised), disambiguated by the earlier turns when several rows share it.
Epoch k takes the sample's k-th stored answer, so several people's answers
to one stimulus are judged as epochs.

No answer is never a verdict: a sample with no stored row, too few rows for
its epoch, or an empty response raises :class:`NoStoredAnswer`, which Inspect
records as the sample's error (outcome ``error``); it is never retried.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from therapy_audit.providers.questionnaire import (
    StoredAnswer,
    context_text,
    last_client_text,
    normalise,
    read_answer_sheet,
)
from therapy_audit.providers.sample_context import current_sample

CHARS_PER_TOKEN = 4


class NoStoredAnswer(RuntimeError):
    """The answer sheet has no (non-empty) answer for this sample and epoch."""


def resolve_sheet_path(name: str) -> Path:
    """The CSV a model name points at (relative, or absolute as ``responses//abs/path.csv``)."""
    path = Path(name)
    if not path.exists() and not path.is_absolute() and Path("/", name).exists():
        path = Path("/", name)
    return path


class ResponsesAPI(ModelAPI):
    """``responses/<answers.csv>``: stored replies, matched by sample id (else by text).

    Model arg (``-M``): ``respondent``, a name recorded in each output's metadata
    (default: the file's stem).
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's own signature)
        respondent: str | None = None,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        if model_args:
            raise ValueError(
                f"unknown model args for responses/{model_name}: {sorted(model_args)}; "
                "allowed: respondent"
            )
        self.path = resolve_sheet_path(model_name)
        self.respondent = respondent or self.path.stem
        self._loaded: tuple[int, int] | None = None
        self._load()

    def _load(self) -> None:
        """(Re)read the sheet when the file changed since it was read.

        Inspect reuses a model instance within a process and keys its response
        cache on the base URL (read before each call), not on file contents:
        the base URL carries a fingerprint of the file, checked on every read,
        so an edited sheet is never answered from a stale copy or the cache.
        """
        stat = self.path.stat() if self.path.exists() else None
        stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
        if stamp is not None and stamp == self._loaded:
            return
        self.sheet = read_answer_sheet(self.path)
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        self._fingerprint_url = f"file://{self.path.resolve()}#sha256={digest}"
        self.by_id: dict[str, list[StoredAnswer]] = defaultdict(list)
        self.by_text: dict[str, list[StoredAnswer]] = defaultdict(list)
        for answer in self.sheet.answers:
            if answer.sample_id:
                self.by_id[answer.sample_id].append(answer)
            self.by_text[normalise(answer.client_message)].append(answer)
        self._loaded = stamp

    @property  # type: ignore[override]
    def base_url(self) -> str | None:
        """The sheet's path and content fingerprint (what Inspect's cache keys on)."""
        if not hasattr(self, "path"):
            return None
        self._load()
        return self._fingerprint_url

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        """Ignored: the base URL is always the sheet's fingerprint."""

    def max_connections(self) -> int:
        """Reading a file needs no throttle."""
        return 100

    def connection_key(self) -> str:
        """One pool per answer sheet."""
        return str(self.path.resolve())

    def should_retry(self, ex: Exception) -> bool:
        """A missing answer stays missing: never retried."""
        return False

    def _candidates(self, input: list[ChatMessage]) -> tuple[list[StoredAnswer], str, str]:
        """The rows for this sample, how they were matched, and the sample's label.

        By id first. By text only among rows that carry no id (a row with
        another sample's id never answers this one), unless the sample itself
        is unknown; several contexts for one message are told apart by context.
        """
        sample = current_sample()
        if sample is not None and sample.id in self.by_id:
            return self.by_id[sample.id], "sample_id", f"sample {sample.id}"
        label = f"sample {sample.id}" if sample is not None else "this conversation"
        rows = self.by_text.get(normalise(last_client_text(input)), [])
        if sample is not None:
            rows = [a for a in rows if not a.sample_id]
        if len({normalise(a.context) for a in rows}) > 1:
            context = normalise(context_text(input))
            rows = [a for a in rows if normalise(a.context) == context]
        return rows, "client_message", label

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput | Exception, ModelCall]:
        """Return the stored reply for this sample and epoch."""
        self._load()
        rows, matched_by, label = self._candidates(input)
        sample = current_sample()
        epoch = sample.epoch if sample is not None else 1
        request = {"answers": str(self.path), "matched_by": matched_by, "epoch": epoch}
        if not rows:
            message = last_client_text(input)
            raise NoStoredAnswer(
                f"{self.path}: no stored answer for {label} (matched by sample id, then by the "
                f"client message {message[:80]!r}); it is recorded as an error, not a verdict"
            )
        if epoch > len(rows):
            raise NoStoredAnswer(
                f"{self.path}: {label} has {len(rows)} stored answer(s); epoch {epoch} has none"
            )
        answer = rows[epoch - 1]
        if not answer.response.strip():
            raise NoStoredAnswer(
                f"{self.path}: line {answer.line}, column response: empty for {label}; "
                "recorded as an error, not a verdict"
            )
        text = answer.response
        prompt_chars = sum(len(m.text) for m in input)
        output = ModelOutput.from_content(self.model_name, text)
        output.usage = ModelUsage(
            input_tokens=math.ceil(prompt_chars / CHARS_PER_TOKEN),
            output_tokens=math.ceil(len(text) / CHARS_PER_TOKEN),
            total_tokens=math.ceil(prompt_chars / CHARS_PER_TOKEN)
            + math.ceil(len(text) / CHARS_PER_TOKEN),
        )
        output.metadata = {
            "respondent": answer.respondent or self.respondent,
            "answers_file": str(self.path),
            "line": answer.line,
            "matched_by": matched_by,
            "usage_estimated": f"characters / {CHARS_PER_TOKEN}",
        }
        call = ModelCall.create(
            request={**request, "line": answer.line}, response={"response": text}, time=0.0
        )
        return output, call
