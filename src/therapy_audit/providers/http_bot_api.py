"""An Inspect ``ModelAPI`` for a deployed chatbot that is not OpenAI-shaped.

``http-bot/path/to/bot.yaml`` talks to the bot the config file describes
(:mod:`therapy_audit.providers.http_bot_config`). Why a provider rather than a
script: the paper audited five commercial therapy bots by hand; as an Inspect
provider a bot is judged by exactly the same tasks, scorers and logs as a
model, and Inspect supplies retries, concurrency, caching and resume.

What it adds to a plain HTTP call:

- **Sessions.** A bot that keeps history server-side (``mode: latest``) gets a
  fresh session for every sample and epoch: the session id lives in the
  active sample's :func:`inspect_ai.util.store`, which Inspect keeps per
  sample and epoch. Earlier client turns of a stimulus are replayed into a
  new session in order (the bot's own replies to them stand in for the
  scripted therapist turns), and later turns of the same conversation send
  only the client messages the session has not seen.
- **Faults.** 429, 5xx, 408, timeouts and connection errors are retried by
  Inspect (``should_retry``); other 4xx are not. A 200 whose body is not JSON
  is retried as a glitch, but only while fewer than
  :data:`MAX_MALFORMED_STREAK` such answers came in a row, so a bot that never
  answers JSON fails fast instead of retrying forever. A ``reply_path`` that
  matches nothing is a config error, never retried.
- **Rate limit.** ``rate_limit`` requests per second, shared by every
  instance that talks to the same config (one limiter per config file).
- **Secrets.** ``${VAR}`` values are read from the environment for each
  request and never logged: the raw call in the transcript shows the
  template (``Bearer ${BOT_TOKEN}``), and anything the server sends back is
  scrubbed of the secret values before it is logged or raised.
- **Usage.** Bots report no token counts, so usage is *estimated* as
  characters / 4 (sent text in, reply out) and marked so in the output
  metadata; Inspect would otherwise try to download a tokenizer.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
    RetryDecision,
)
from inspect_ai.tool import ToolChoice, ToolInfo
from inspect_ai.util import store
from tenacity.wait import WaitBaseT, wait_exponential_jitter

from therapy_audit.providers.http_bot_config import (
    fill,
    load_config,
    redact,
    render_body,
    secret_values,
    with_secrets,
)

#: Consecutive non-JSON answers after which they stop being retried.
MAX_MALFORMED_STREAK = 5
#: Characters of a bad response quoted in an error message.
ERROR_SNIPPET_CHARS = 300
#: Upper bound of the retry backoff when ``retry_backoff`` is set.
MAX_RETRY_WAIT = 60.0
CHARS_PER_TOKEN = 4
RETRYABLE_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
STORE_PREFIX = "therapy_audit.http_bot"


class HttpBotError(RuntimeError):
    """A failed exchange with a bot; the message names the config file and never a secret."""


class BotStatusError(HttpBotError):
    """The bot answered with an HTTP error status."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BotTransportError(HttpBotError):
    """The request did not complete: timeout, refused or dropped connection."""


class BotMalformedResponse(HttpBotError):
    """The bot answered 200 with a body that is not JSON."""


class BotReplyNotFound(HttpBotError):
    """The JSON path of the reply (or session id) matched nothing: a config error."""


class RateLimiter:
    """At most ``rate`` requests per second, shared across tasks, threads and event loops.

    Each caller reserves the next free slot under a thread lock (no awaiting
    while holding it) and then sleeps until its slot: no async primitive is
    bound to an event loop, so one limiter serves every ``eval()`` in a process.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    async def wait(self) -> None:
        """Sleep until this caller's slot."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await anyio.sleep(slot - now)


_LIMITERS: dict[tuple[str, float], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(key: str, rate: float) -> RateLimiter:
    """The process-wide limiter for one bot config (created on first use)."""
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault((key, rate), RateLimiter(rate))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_SNIPPET_CHARS else text[:ERROR_SNIPPET_CHARS] + "..."


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass
class _Exchange:
    """What is logged of one ``generate``: rendered templates (no secrets) and scrubbed answers."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    chars_sent: int = 0


class HttpBotAPI(ModelAPI):
    """``http-bot/<config file>``: a deployed chatbot described by a YAML or TOML file."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's own signature)
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        if model_args:
            raise ValueError(
                f"http-bot/{model_name} takes no model args (got {sorted(model_args)}): "
                "everything is in the config file"
            )
        self.bot, self.path = load_config(model_name)
        self.source = str(self.path)
        # Inspect's response cache keys on the base URL: with the config's
        # fingerprint in it, an edited config (another bot, another body) is
        # never answered from the cache. The URL is the template: no secrets.
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        self.base_url = f"{self.bot.url}#config={digest}"
        self._secrets()  # fail before the run starts when a variable is missing
        if config.max_connections is None:
            # Inspect's adaptive concurrency ignores max_connections() unless the
            # config names a limit.
            config.max_connections = self.bot.max_connections
        self._limiter = (
            shared_limiter(self.connection_key(), self.bot.rate_limit)
            if self.bot.rate_limit
            else None
        )
        self._malformed_streak = 0

    # -- Inspect hooks -------------------------------------------------------

    def max_connections(self) -> int:
        """The config's ``max_connections`` (bots are often small services)."""
        return self.bot.max_connections

    def connection_key(self) -> str:
        """Every role using the same config file shares one pool (and one rate limiter)."""
        return str(self.path.resolve())

    def should_retry(self, ex: Exception) -> bool | RetryDecision:
        """429 and other overload signals, 5xx, timeouts and dropped connections: retry."""
        failure = _bot_failure(ex)
        if isinstance(failure, BotStatusError):
            if failure.status == 429:
                return RetryDecision.rate_limit(failure.retry_after)
            if failure.status in RETRYABLE_STATUS:
                return RetryDecision.transient(failure.retry_after)
            return RetryDecision.no()
        if isinstance(failure, BotTransportError):
            return RetryDecision.transient()
        if isinstance(failure, BotMalformedResponse):
            if self._malformed_streak < MAX_MALFORMED_STREAK:
                return RetryDecision.transient()
            return RetryDecision.no()
        if isinstance(ex, httpx.TransportError):
            return RetryDecision.transient()
        return RetryDecision.no()

    def is_auth_failure(self, ex: Exception) -> bool:
        """401/403: the token is wrong or missing (never retried)."""
        failure = _bot_failure(ex)
        return isinstance(failure, BotStatusError) and failure.status in (401, 403)

    def retry_wait(self) -> WaitBaseT | None:
        """The config's ``retry_backoff`` (exponential, jittered), else Inspect's default."""
        if self.bot.retry_backoff is None:
            return None
        return wait_exponential_jitter(
            initial=self.bot.retry_backoff, max=MAX_RETRY_WAIT, jitter=self.bot.retry_backoff
        )

    # -- generate ------------------------------------------------------------

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput | Exception, ModelCall]:
        """Send the conversation (or its new client turns) and read the reply."""
        secrets = self._secrets()
        exchange = _Exchange()
        started = time.monotonic()
        state_key = f"{STORE_PREFIX}:{self.connection_key()}"
        state: dict[str, Any] = dict(store().get(state_key) or {})
        try:
            async with httpx.AsyncClient(timeout=self.bot.timeout) as client:
                if self.bot.mode == "history":
                    reply = await self._history(client, input, state, secrets, exchange)
                else:
                    reply = await self._latest(client, input, state, secrets, exchange)
        except HttpBotError as failure:
            if isinstance(failure, BotMalformedResponse):
                self._malformed_streak += 1
            call = self._call(exchange, state, time.monotonic() - started)
            return failure, call
        self._malformed_streak = 0
        store().set(state_key, state)
        call = self._call(exchange, state, time.monotonic() - started)
        output = ModelOutput.from_content(self.model_name, reply)
        output.usage = ModelUsage(
            input_tokens=_tokens(exchange.chars_sent),
            output_tokens=_tokens(len(reply)),
            total_tokens=_tokens(exchange.chars_sent) + _tokens(len(reply)),
        )
        output.metadata = {
            "session_id": state.get("session_id"),
            "requests": len(exchange.requests),
            "usage_estimated": f"characters / {CHARS_PER_TOKEN}",
        }
        return output, call

    async def _history(
        self,
        client: httpx.AsyncClient,
        input: list[ChatMessage],
        state: dict[str, Any],
        secrets: dict[str, str],
        exchange: _Exchange,
    ) -> str:
        """Stateless bot: the whole conversation in one request."""
        messages = [
            {"role": self.bot.roles[m.role], "content": m.text}
            for m in input
            if m.role in self.bot.roles and self.bot.roles[m.role] is not None
        ]
        session_id = await self._session(client, state, secrets, exchange)
        exchange.chars_sent += sum(len(m["content"]) for m in messages)
        values = {
            "messages": messages,
            "message": _last_user_text(input),
            "session_id": session_id,
            "system": _system_text(input),
        }
        return await self._chat(client, values, secrets, exchange)

    async def _latest(
        self,
        client: httpx.AsyncClient,
        input: list[ChatMessage],
        state: dict[str, Any],
        secrets: dict[str, str],
        exchange: _Exchange,
    ) -> str:
        """Stateful bot: send each client message the session has not seen, in order."""
        client_messages = [m.text for m in input if m.role == "user"]
        session_id = await self._session(client, state, secrets, exchange)
        sent = int(state.get("sent", 0))
        if sent > len(client_messages):
            raise HttpBotError(
                f"{self.source}: this sample's session {session_id} has seen {sent} client "
                f"messages but the conversation now has {len(client_messages)}: a stateful "
                "bot cannot forget turns"
            )
        if sent == len(client_messages) and "last_reply" in state:
            # The same conversation asked again (e.g. a retried solver step): the
            # bot already answered it in this session, and asking twice would
            # put the message into its server-side history twice.
            return str(state["last_reply"])
        reply = ""
        for text in client_messages[sent:]:
            exchange.chars_sent += len(text)
            values = {
                "messages": [{"role": "user", "content": text}],
                "message": text,
                "session_id": session_id,
                "system": _system_text(input),
            }
            reply = await self._chat(client, values, secrets, exchange)
            sent += 1
            state.update(sent=sent, last_reply=reply)
        return reply

    async def _session(
        self,
        client: httpx.AsyncClient,
        state: dict[str, Any],
        secrets: dict[str, str],
        exchange: _Exchange,
    ) -> str:
        """This sample's session id: created on first use, then kept in the sample's store."""
        if state.get("session_id"):
            return str(state["session_id"])
        call = self.bot.session
        if call is None:
            session_id = uuid.uuid4().hex
        else:
            data = await self._send(
                client,
                "session",
                call.method,
                call.url,
                {**self.bot.headers, **call.headers},
                call.body,
                {},
                secrets,
                exchange,
            )
            found = [m.value for m in self.bot.json_path("session").find(data)]
            if not found or found[0] in (None, ""):
                raise BotReplyNotFound(
                    f"{self.source}: session.id_path {call.id_path!r} found no session id in "
                    f"the response: {_snippet(str(redact(data, secrets)))}"
                )
            session_id = str(found[0])
        state.update(session_id=session_id, sent=0)
        return session_id

    async def _chat(
        self,
        client: httpx.AsyncClient,
        values: dict[str, Any],
        secrets: dict[str, str],
        exchange: _Exchange,
    ) -> str:
        data = await self._send(
            client,
            "message",
            self.bot.method,
            self.bot.url,
            self.bot.headers,
            self.bot.body,
            values,
            secrets,
            exchange,
        )
        found = [m.value for m in self.bot.json_path("reply_path").find(data)]
        if not found or found[0] is None:
            raise BotReplyNotFound(
                f"{self.source}: reply_path {self.bot.reply_path!r} found nothing in the "
                f"response: {_snippet(str(redact(data, secrets)))}"
            )
        reply = found[0]
        return redact(reply if isinstance(reply, str) else str(reply), secrets)

    async def _send(
        self,
        client: httpx.AsyncClient,
        label: str,
        method: str,
        url_template: str,
        header_templates: dict[str, str],
        body_template: Any,
        values: dict[str, Any],
        secrets: dict[str, str],
        exchange: _Exchange,
    ) -> Any:
        """One HTTP request: log the template rendering, send the secret rendering."""
        url = fill(url_template, values, url_quote=True)
        headers = fill(header_templates, values)
        body = render_body(body_template, values)
        exchange.requests.append(
            {"call": label, "method": method, "url": url, "headers": headers, "body": body}
        )
        if self._limiter is not None:
            await self._limiter.wait()
        try:
            response = await client.request(
                method,
                with_secrets(url, secrets),
                headers=with_secrets(headers, secrets),
                json=with_secrets(body, secrets) if body is not None else None,
            )
        except httpx.TimeoutException:
            exchange.responses.append({"call": label, "error": "timeout"})
            raise BotTransportError(
                f"{self.source}: {label} request to {url} timed out after {self.bot.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            reason = redact(f"{type(exc).__name__}: {exc}", secrets)
            exchange.responses.append({"call": label, "error": reason})
            raise BotTransportError(
                f"{self.source}: {label} request to {url} failed: {reason}"
            ) from None
        text = redact(response.text, secrets)
        if response.status_code >= 400:
            exchange.responses.append(
                {"call": label, "status": response.status_code, "body": _snippet(text)}
            )
            raise BotStatusError(
                f"{self.source}: {label} request to {url}: HTTP {response.status_code}: "
                f"{_snippet(text)}",
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        try:
            data = response.json()
        except ValueError:
            exchange.responses.append(
                {"call": label, "status": response.status_code, "body": _snippet(text)}
            )
            raise BotMalformedResponse(
                f"{self.source}: {label} request to {url}: HTTP {response.status_code} but the "
                f"body is not JSON: {_snippet(text)}"
            ) from None
        exchange.responses.append(
            {"call": label, "status": response.status_code, "body": redact(data, secrets)}
        )
        return data

    # -- helpers ---------------------------------------------------------------

    def _secrets(self) -> dict[str, str]:
        """Every ``${VAR}`` the config uses, read from the environment now."""
        bot = self.bot
        found = secret_values(bot.url, self.source, "url")
        for name, value in bot.headers.items():
            found |= secret_values(value, self.source, f"headers.{name}")
        found |= secret_values(bot.body, self.source, "body")
        if bot.session is not None:
            found |= secret_values(bot.session.url, self.source, "session.url")
            for name, value in bot.session.headers.items():
                found |= secret_values(value, self.source, f"session.headers.{name}")
            found |= secret_values(bot.session.body, self.source, "session.body")
        return found

    def _call(self, exchange: _Exchange, state: dict[str, Any], elapsed: float) -> ModelCall:
        return ModelCall.create(
            request={
                "bot": self.source,
                "mode": self.bot.mode,
                "session_id": state.get("session_id"),
                "requests": exchange.requests,
            },
            response={"responses": exchange.responses},
            time=elapsed,
        )


def _bot_failure(ex: BaseException) -> BaseException:
    """Our own error behind Inspect's wrapper (a returned error is re-raised wrapped)."""
    seen = ex
    while seen is not None and not isinstance(seen, HttpBotError):
        seen = seen.__cause__
    return seen if seen is not None else ex


def _last_user_text(messages: list[ChatMessage]) -> str:
    return next((m.text for m in reversed(messages) if m.role == "user"), "")


def _system_text(messages: list[ChatMessage]) -> str:
    return "\n\n".join(m.text for m in messages if m.role == "system")
