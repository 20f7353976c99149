"""The config file of an ``http-bot`` respondent, and the templates it renders.

A deployed chatbot is rarely OpenAI-shaped, so a small YAML or TOML file says
how to talk to it: where to send a request, how to build its body from the
conversation, and where the reply sits in the answer. Secrets never live in
the file: header (and URL or body) values may name environment variables as
``${BOT_TOKEN}``, read at request time. Everything that is logged is rendered
*without* that substitution, so the log shows ``Bearer ${BOT_TOKEN}``, never
the token.

Placeholders in ``url``, ``headers`` and ``body``:

- ``{{messages}}``: the whole conversation as ``[{"role": ..., "content": ...}]``
  (role names mapped by ``roles``), for ``mode: history``;
- ``{{message}}``: the newest client message, for ``mode: latest``;
- ``{{session_id}}``: the conversation's session id (one per sample and epoch);
- ``{{system}}``: the system prompt, or an empty string.

In a structured body (a mapping or list) a string that *is* a placeholder is
replaced by its JSON value; a placeholder inside a longer string is replaced
by its text. In a string body (JSON text), each placeholder becomes a JSON
value, so write it unquoted: ``{"text": {{message}}}``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import yaml
from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_json_path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from therapy_audit.stimuli.schema import format_validation_error
from therapy_audit.textfiles import TextFileError, read_text

PLACEHOLDERS = ("messages", "message", "session_id", "system")
PLACEHOLDER_PATTERN = re.compile(r"\{\{\s*(\w+)\s*\}\}")
ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 4
DEFAULT_ROLES = {"system": "system", "user": "user", "assistant": "assistant"}

JsonBody = dict[str, Any] | list[Any] | str


#: What a secret value is replaced by wherever it would be written.
REDACTED = "[redacted]"


class HttpBotConfigError(ValueError):
    """A bot config file is unreadable or invalid; the message names file and field."""


class MissingSecretError(HttpBotConfigError):
    """An environment variable named in a config file is not set (its value is never shown)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _placeholders(value: Any) -> set[str]:
    """Every ``{{name}}`` used anywhere in a (nested) template value."""
    if isinstance(value, str):
        return set(PLACEHOLDER_PATTERN.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value), set())
    return set()


def env_names(value: Any) -> set[str]:
    """Every ``${VAR}`` used anywhere in a (nested) template value."""
    if isinstance(value, str):
        return set(ENV_PATTERN.findall(value))
    if isinstance(value, dict):
        return set().union(*(env_names(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(env_names(v) for v in value), set())
    return set()


def _check_url(url: str) -> str:
    """An absolute http(s) URL once its placeholders are filled, else a ValueError.

    Checked when the config loads: a URL that cannot be requested would
    otherwise be retried as a connection error until the run's time runs out.
    """
    sample = ENV_PATTERN.sub("x", PLACEHOLDER_PATTERN.sub("x", url.strip()))
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in sample:
        raise ValueError(
            f"{url!r} is not an http:// or https:// URL with a host "
            "(e.g. https://bot.example.com/api/chat)"
        )
    return url


def _check_placeholders(value: Any) -> Any:
    unknown = _placeholders(value) - set(PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; known: "
            + ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
        )
    return value


def _check_json_path(path: str) -> str:
    try:
        parse_json_path(path)
    except (JsonPathParserError, Exception) as exc:  # the parser raises several types
        raise ValueError(f"not a valid JSON path ({exc})") from None
    return path


def _check_string_body(body: JsonBody | None) -> JsonBody | None:
    if isinstance(body, str):
        probe = PLACEHOLDER_PATTERN.sub('"x"', body)
        probe = ENV_PATTERN.sub("x", probe)
        try:
            json.loads(probe)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"a string body must be JSON text once each placeholder is a JSON value "
                f"(write placeholders unquoted); {exc}"
            ) from None
    return _check_placeholders(body)


class SessionCall(_Strict):
    """The call that opens a conversation on a bot that keeps history server-side."""

    url: str
    method: Literal["GET", "POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict, description="Merged over the bot's own headers."
    )
    body: JsonBody | None = None
    id_path: str = Field(description="JSON path of the session id in the response.")

    @field_validator("url", "headers", "body")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        if "session_id" in _placeholders(value):
            raise ValueError("the session call creates the session id; it cannot use it")
        if info.field_name == "url":
            _check_url(value)
        return (
            _check_string_body(value) if info.field_name == "body" else _check_placeholders(value)
        )

    @field_validator("id_path")
    @classmethod
    def _id_path(cls, path: str) -> str:
        return _check_json_path(path)


class HttpBotConfig(_Strict):
    """How to talk to one deployed chatbot (see the module docstring for placeholders)."""

    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    mode: Literal["history", "latest"] = "history"
    body: JsonBody
    reply_path: str = Field(description="JSON path of the reply text in the response.")
    roles: dict[str, str | None] = Field(
        default_factory=lambda: dict(DEFAULT_ROLES),
        description="Role names sent in {{messages}}; null drops that role's messages.",
    )
    session: SessionCall | None = None
    rate_limit: float | None = Field(default=None, gt=0, description="Requests per second.")
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, description="Seconds per request.")
    max_connections: int = Field(default=DEFAULT_MAX_CONNECTIONS, ge=1)
    retry_backoff: float | None = Field(
        default=None,
        gt=0,
        description="Initial seconds between retries (exponential, jittered); "
        "default: Inspect's own backoff.",
    )

    @field_validator("url", "headers", "body")
    @classmethod
    def _templates(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "url":
            _check_url(value)
        return (
            _check_string_body(value) if info.field_name == "body" else _check_placeholders(value)
        )

    @field_validator("reply_path")
    @classmethod
    def _reply_path(cls, path: str) -> str:
        return _check_json_path(path)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, str | None]) -> dict[str, str | None]:
        unknown = set(roles) - set(DEFAULT_ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; known: {sorted(DEFAULT_ROLES)}")
        return {**DEFAULT_ROLES, **roles}

    @model_validator(mode="after")
    def _placeholders_fit_mode(self) -> HttpBotConfig:
        used = _placeholders([self.url, self.headers, self.body])
        if self.mode == "history" and "messages" not in used:
            raise ValueError("mode 'history' needs {{messages}} in the body (or url/headers)")
        if self.mode == "latest":
            if "message" not in used:
                raise ValueError("mode 'latest' needs {{message}} in the body (or url/headers)")
            if "session_id" not in used:
                raise ValueError(
                    "mode 'latest' is for bots that keep history server-side: put "
                    "{{session_id}} in the url, headers or body"
                )
        if self.session is not None and self.mode == "history" and "session_id" not in used:
            raise ValueError("a session call is configured but {{session_id}} is never sent")
        return self

    def json_path(self, field: Literal["reply_path", "session"]) -> JSONPath:
        """The compiled JSON path of the reply or of the session id."""
        if field == "session":
            assert self.session is not None
            return parse_json_path(self.session.id_path)
        return parse_json_path(self.reply_path)


def resolve_config_path(name: str) -> Path:
    """The config file a model name points at.

    ``http-bot/bots/x.yaml`` is relative to the working directory. Inspect
    keeps everything after the provider's slash, so an absolute path may be
    written ``http-bot//srv/bots/x.yaml`` or, when no such relative path
    exists, ``http-bot/srv/bots/x.yaml``.
    """
    path = Path(name)
    if not path.exists() and not path.is_absolute() and Path("/", name).exists():
        path = Path("/", name)
    return path


def load_config(name: str) -> tuple[HttpBotConfig, Path]:
    """Read and validate a bot config (``.yaml``/``.yml`` or ``.toml``)."""
    path = resolve_config_path(name)
    if path.suffix.lower() not in (".yaml", ".yml", ".toml"):
        raise HttpBotConfigError(f"{path}: a bot config must be a .yaml, .yml or .toml file")
    try:
        text = read_text(path, "bot config")
    except TextFileError as exc:
        raise HttpBotConfigError(str(exc)) from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise HttpBotConfigError(f"{path}: invalid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise HttpBotConfigError(f"{path}:{line}: invalid YAML: {exc}") from None
    try:
        return HttpBotConfig.model_validate(data), path
    except ValidationError as exc:
        raise HttpBotConfigError(format_validation_error(str(path), exc)) from None


# --------------------------------------------------------------------------- #
# Rendering
# --------------------------------------------------------------------------- #
def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def fill(template: Any, values: dict[str, Any], url_quote: bool = False) -> Any:
    """Replace placeholders in a structured template (see the module docstring)."""
    if isinstance(template, str):
        whole = PLACEHOLDER_PATTERN.fullmatch(template.strip())
        if whole and not url_quote:
            return values.get(whole.group(1), "")

        def text(match: re.Match[str]) -> str:
            piece = _text_of(values.get(match.group(1), ""))
            return quote(piece, safe="") if url_quote else piece

        return PLACEHOLDER_PATTERN.sub(text, template)
    if isinstance(template, dict):
        return {k: fill(v, values, url_quote) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, url_quote) for v in template]
    return template


def fill_json_text(template: str, values: dict[str, Any]) -> Any:
    """A string body: each placeholder becomes a JSON value, then the text is parsed."""
    text = PLACEHOLDER_PATTERN.sub(
        lambda m: json.dumps(values.get(m.group(1), ""), ensure_ascii=False), template
    )
    return json.loads(text)


def render_body(body: JsonBody | None, values: dict[str, Any]) -> Any:
    """The JSON body to send, placeholders filled (``${VAR}`` left for :func:`with_secrets`)."""
    if body is None:
        return None
    if isinstance(body, str):
        return fill_json_text(body, values)
    return fill(body, values)


def secret_values(template: Any, source: str, where: str) -> dict[str, str]:
    """The environment values a template names, read now; a missing one is a clear error."""
    found = {}
    for name in sorted(env_names(template)):
        value = os.environ.get(name)
        if value is None:
            raise MissingSecretError(
                f"{source}: {where}: environment variable {name} is not set "
                f"(the config refers to it as ${{{name}}})"
            )
        found[name] = value
    return found


def with_secrets(value: Any, secrets: dict[str, str]) -> Any:
    """Substitute ``${VAR}`` in every string of ``value`` (done only for what is sent)."""
    if isinstance(value, str):
        return ENV_PATTERN.sub(lambda m: secrets.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: with_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [with_secrets(v, secrets) for v in value]
    return value


def redact(value: Any, secrets: dict[str, str]) -> Any:
    """Replace every secret value found in ``value``'s strings by ``[redacted]``.

    Applied to anything a server sends back (its replies included) before it
    is logged, cached or put in an error message: a careless server may echo
    the credential it was given.
    """
    if isinstance(value, str):
        for secret in sorted(secrets.values(), key=len, reverse=True):
            if secret:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    return value
