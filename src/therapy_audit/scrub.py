"""Keep secrets out of everything a run writes: logs, replies, errors, stdout and traces.

A secret is any value the run reads from the environment as a credential:
every variable whose name says it is one (``*_API_KEY``, ``*_TOKEN``,
``*_SECRET``, ``*PASSWORD*``...), and every ``${VAR}`` an ``http-bot`` config
names. Wherever one would be written it is replaced by :data:`REDACTED`:

- in an ``http-bot`` reply and in what the bot sends back (by the provider,
  before Inspect sees it, so the response cache never holds it either);
- in the ``.eval`` log, rewritten after the run when any secret is found in
  it (an OpenAI-compatible server that answers 401 with the key in its
  message puts the key into the sample's error and traceback);
- in every log record (Inspect's trace file) and on stdout/stderr while a
  run is under way (:func:`scrubbed_output`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, TextIO

REDACTED: Final = "[redacted]"
#: Environment variable names that hold credentials.
SECRET_NAME: Final = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
#: Shorter values are not scrubbed: they would redact ordinary words.
MIN_SECRET_CHARS: Final = 6


def env_secrets(names: Iterable[str] = ()) -> list[str]:
    """Values of the credential variables in the environment, plus those of ``names``.

    Longest first, so a secret that contains another is replaced whole.
    """
    chosen = {k for k in os.environ if SECRET_NAME.search(k)} | set(names)
    values = {os.environ.get(k, "") for k in chosen}
    return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def model_secret_names(models: Iterable[str | None]) -> set[str]:
    """Every ``${VAR}`` the ``http-bot`` configs among ``models`` name (others: none)."""
    from therapy_audit.providers.http_bot_config import (
        HttpBotConfigError,
        env_names,
        load_config,
    )

    names: set[str] = set()
    for model in models:
        if model and model.startswith("http-bot/"):
            try:
                bot, _ = load_config(model.removeprefix("http-bot/"))
            except HttpBotConfigError:
                continue
            names |= env_names(bot.model_dump())
    return names


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by :data:`REDACTED`."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_value(value: Any, secrets: Iterable[str]) -> Any:
    """:func:`scrub_text` applied to every string of a nested value."""
    secrets = list(secrets)
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, secrets) for v in value]
    return value


def scrub_log(path: str | Path, secrets: Iterable[str]) -> bool:
    """Rewrite the log at ``path`` without the secrets; True when it held any.

    Every part of the log is covered (messages, outputs, events, errors,
    tracebacks, attachments), in the forms JSON writes them.
    """
    from inspect_ai.log import EvalLog, read_eval_log, write_eval_log

    secrets = [s for s in secrets if s]
    if not secrets:
        return False
    log = read_eval_log(str(path))
    text = log.model_dump_json()
    forms = sorted(
        {form for s in secrets for form in (s, json.dumps(s)[1:-1])}, key=len, reverse=True
    )
    if not any(form in text for form in forms):
        return False
    for form in forms:
        text = text.replace(form, REDACTED)
    write_eval_log(EvalLog.model_validate_json(text), str(path))
    return True


class _ScrubbedStream:
    """A text stream that scrubs what is written to it."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(scrub_text(text, self._secrets))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def scrubbed_output(secrets: list[str]) -> Iterator[None]:
    """While active, stdout, stderr and every log record (trace files) are scrubbed."""
    if not secrets:
        yield
        return
    previous_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous_factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left for logging to report
            return record
        record.msg, record.args = scrub_text(message, secrets), None
        if record.exc_info:
            text = "".join(logging.Formatter().formatException(record.exc_info))
            record.exc_text = scrub_text(text, secrets)
            record.exc_info = None
        return record

    out, err = sys.stdout, sys.stderr
    logging.setLogRecordFactory(factory)
    sys.stdout = _ScrubbedStream(out, secrets)  # type: ignore[assignment]
    sys.stderr = _ScrubbedStream(err, secrets)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        logging.setLogRecordFactory(previous_factory)
