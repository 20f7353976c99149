"""A real local HTTP server that misbehaves on purpose, for fault, resume and secret tests.

It speaks two dialects on 127.0.0.1 (a free port):

- OpenAI chat completions (``POST /v1/chat/completions``), so Inspect's
  ``openai-api/<service>/<model>`` provider can talk to it with
  ``<SERVICE>_BASE_URL=<server.base_url>`` and ``<SERVICE>_API_KEY``;
- a deployed chatbot that is *not* OpenAI-shaped, for the ``http-bot``
  provider: ``POST /bot/chat`` (whole history in, ``{"data": {"reply":
  {"text": ...}}}`` out) and a stateful variant with server-side history
  (``POST /bot/sessions`` then ``POST /bot/sessions/{id}/messages``).

A :class:`FaultPlan` says what share of chat requests get a 429, a 500, a hang
longer than the client's attempt timeout, or a 200 whose body is not JSON.
Faults are drawn from a seeded generator, and every request and injected fault
is counted, so tests can report and assert real figures. The server runs its
own event loop on a daemon thread, stops itself after ``max_lifetime``
seconds, and answers 503 once ``max_requests`` is reached (a bounded loop).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAULT_KINDS = ("rate_limit", "server_error", "hang", "malformed")
DEFAULT_REPLY = (
    "That sounds really hard, and I'm glad you told me. Are you safe right now? "
    "If you are thinking about ending your life, please call or text 988."
)


@dataclass
class FaultPlan:
    """Share of chat requests that get each fault (the rest are answered normally)."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    hang: float = 0.0
    malformed: float = 0.0
    hang_seconds: float = 5.0
    latency: float = 0.0
    seed: int = 0
    logprobs: bool = True

    def draw(self, rng: random.Random) -> str | None:
        """The fault for one request, or None for a normal answer."""
        x = rng.random()
        for kind in FAULT_KINDS:
            share = getattr(self, kind)
            if x < share:
                return kind
            x -= share
        return None


@dataclass
class ServerStats:
    """What the server saw: every figure a fault or resume test reports."""

    requests: int = 0
    chat_requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    by_client_message: Counter[str] = field(default_factory=Counter)
    answered_by_client_message: Counter[str] = field(default_factory=Counter)
    sessions_created: int = 0
    auth_failures: int = 0
    chat_times: list[float] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


ReplyFn = Callable[[list[dict[str, Any]]], str]


def default_reply(messages: list[dict[str, Any]]) -> str:
    return DEFAULT_REPLY


class FaultServer:
    """An OpenAI-compatible and bot-shaped HTTP server with injected faults.

    Use as a context manager::

        with FaultServer(FaultPlan(rate_limit=0.2)) as server:
            os.environ["FAULT_BASE_URL"] = server.base_url
    """

    def __init__(
        self,
        plan: FaultPlan | None = None,
        reply: ReplyFn = default_reply,
        token: str | None = None,
        letter: str = "A",
        logprob_letters: tuple[tuple[str, float], ...] = (("B", -0.1), ("A", -2.5)),
        max_lifetime: float = 300.0,
        max_requests: int = 5000,
        answer_first: int | None = None,
    ) -> None:
        self.plan = plan or FaultPlan()
        self.reply = reply
        self.token = token
        self.letter = letter
        self.logprob_letters = logprob_letters
        self.max_lifetime = max_lifetime
        self.max_requests = max_requests
        #: Answer this many chat requests, then hold every later one until the server stops.
        self.answer_first = answer_first
        self.stats = ServerStats()
        self.port: int | None = None
        self._rng = random.Random(self.plan.seed)
        self._lock = threading.Lock()
        self._sessions: dict[str, list[str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def __enter__(self) -> FaultServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("fault server did not start within 10 s")

    def stop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._cleanup(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # the loop already stopped itself (max_lifetime)
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
            loop.call_later(self.max_lifetime, lambda: loop.create_task(self._shutdown()))
            self._ready.set()
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/bot/chat", self._bot_chat)
        app.router.add_post("/bot/sessions", self._bot_session)
        app.router.add_post("/bot/sessions/{session}/messages", self._bot_session_message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=0.5)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _cleanup(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _shutdown(self) -> None:
        await self._cleanup()
        asyncio.get_running_loop().stop()

    # -- shared request handling ---------------------------------------------

    def _count(self, request: web.Request, body: Any, client_message: str | None) -> bool:
        with self._lock:
            self.stats.requests += 1
            self.stats.bodies.append(body)
            self.stats.headers.append(dict(request.headers))
            if client_message is not None:
                self.stats.chat_requests += 1
                self.stats.chat_times.append(time.monotonic())
                self.stats.by_client_message[client_message] += 1
            return self.stats.requests <= self.max_requests

    def _authorised(self, request: web.Request) -> str | None:
        """None when the token matches (or none is required), else what was presented."""
        if self.token is None:
            return None
        presented = request.headers.get("Authorization", "")
        if presented == f"Bearer {self.token}":
            return None
        with self._lock:
            self.stats.auth_failures += 1
        return presented

    async def _fault(self) -> web.Response | None:
        """Inject this request's fault, if the plan draws one; None means answer normally."""
        with self._lock:
            kind = self.plan.draw(self._rng)
            if kind:
                self.stats.faults[kind] += 1
        if kind == "rate_limit":
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                status=429,
                headers={"Retry-After": "0"},
            )
        if kind == "server_error":
            return web.json_response(
                {"error": {"message": "internal error", "type": "server_error"}}, status=500
            )
        if kind == "hang":
            assert self._stopping is not None
            try:
                await asyncio.wait_for(self._stopping.wait(), self.plan.hang_seconds)
            except TimeoutError:
                pass
            return web.json_response({"error": {"message": "hung"}}, status=504)
        if kind == "malformed":
            return web.Response(
                text='{"id": "chatcmpl-broken", "choices": [{"mess', content_type="application/json"
            )
        if self.plan.latency:
            await asyncio.sleep(self.plan.latency)
        return None

    def _answered(self, client_message: str) -> None:
        with self._lock:
            self.stats.answered += 1
            self.stats.answered_by_client_message[client_message] += 1

    # -- OpenAI dialect ------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "model", "object": "model"}]})

    async def _openai_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        messages = body.get("messages", [])
        client_message = _last_user_text(messages)
        if not self._count(request, body, client_message):
            return web.json_response({"error": {"message": "request budget spent"}}, status=503)
        presented = self._authorised(request)
        if presented is not None:
            # Careless, like some real servers: the message quotes the key it was given.
            return web.json_response(
                {
                    "error": {
                        "message": f"invalid api key {presented!r}",
                        "type": "invalid_request_error",
                    }
                },
                status=401,
            )
        if self.answer_first is not None and self.stats.answered >= self.answer_first:
            assert self._stopping is not None
            await self._stopping.wait()
            return web.json_response({"error": {"message": "server stopping"}}, status=503)
        fault = await self._fault()
        if fault is not None:
            return fault
        one_token = body.get("max_tokens") == 1 or body.get("max_completion_tokens") == 1
        text = self.letter if one_token else self.reply(messages)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "length" if one_token else "stop",
        }
        if body.get("logprobs") and self.plan.logprobs:
            top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in self.logprob_letters]
            choice["logprobs"] = {
                "content": [
                    {"token": top[0]["token"], "logprob": top[0]["logprob"], "bytes": None}
                    | {"top_logprobs": top}
                ]
            }
        self._answered(client_message)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        return web.json_response(
            {
                "id": f"chatcmpl-{self.stats.requests}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "model"),
                "choices": [choice],
                "usage": {
                    "prompt_tokens": prompt_chars // 4,
                    "completion_tokens": max(1, len(text) // 4),
                    "total_tokens": prompt_chars // 4 + max(1, len(text) // 4),
                },
            }
        )

    # -- bot dialect (not OpenAI-shaped) ---------------------------------------

    def _unauthorised(self, presented: str) -> web.Response:
        # A careless real-world server: it echoes the credential it was given.
        return web.json_response({"error": f"invalid credential {presented!r}"}, status=401)

    async def _bot_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        history = body.get("history", [])
        client_message = _last_user_text(history)
        if not self._count(request, body, client_message):
            return web.json_response({"error": "request budget spent"}, status=503)
        presented = self._authorised(request)
        if presented is not None:
            return self._unauthorised(presented)
        fault = await self._fault()
        if fault is not None:
            return fault
        self._answered(client_message)
        return web.json_response({"data": {"reply": {"text": self.reply(history)}}})

    async def _bot_session(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self._count(request, body, None)
        presented = self._authorised(request)
        if presented is not None:
            return self._unauthorised(presented)
        with self._lock:
            self.stats.sessions_created += 1
            session = f"s-{self.stats.sessions_created}"
            self._sessions[session] = []
        return web.json_response({"session": {"id": session}})

    async def _bot_session_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        session = request.match_info["session"]
        text = str(body.get("text", ""))
        if not self._count(request, body, text):
            return web.json_response({"error": "request budget spent"}, status=503)
        presented = self._authorised(request)
        if presented is not None:
            return self._unauthorised(presented)
        if session not in self._sessions:
            return web.json_response({"error": f"unknown session {session}"}, status=404)
        fault = await self._fault()
        if fault is not None:
            return fault
        with self._lock:
            self._sessions[session].append(text)
            seen = len(self._sessions[session])
        self._answered(text)
        history = [{"role": "user", "content": t} for t in self._sessions[session]]
        reply = f"[{session} turn {seen}] {self.reply(history)}"
        return web.json_response({"data": {"reply": {"text": reply}}})

    def session_history(self, session: str) -> list[str]:
        """The client messages a stateful session has received, in order."""
        with self._lock:
            return list(self._sessions.get(session, []))


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content)
    return ""


def bot_config(
    server: FaultServer,
    mode: str = "history",
    token_var: str | None = "BOT_TOKEN",
    extra: str = "",
) -> str:
    """YAML config text for the ``http-bot`` provider pointing at this server's bot dialect."""
    auth = f'headers:\n  Authorization: "Bearer ${{{token_var}}}"\n' if token_var else ""
    if mode == "history":
        return (
            f"url: {server.url}/bot/chat\n{auth}"
            'body:\n  history: "{{messages}}"\n  channel: audit\n'
            "reply_path: $.data.reply.text\n" + extra
        )
    return (
        f"url: {server.url}/bot/sessions/{{{{session_id}}}}/messages\nmode: latest\n{auth}"
        "body: '{\"text\": {{message}}}'\n"
        "reply_path: $.data.reply.text\n"
        f"session:\n  url: {server.url}/bot/sessions\n  body: {{}}\n  id_path: $.session.id\n"
        + extra
    )
