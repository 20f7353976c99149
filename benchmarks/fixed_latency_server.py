"""A minimal OpenAI-compatible chat-completions server with a fixed latency.

Run as its own process so its CPU time is not counted as the harness's:
``python benchmarks/fixed_latency_server.py --port 0 --latency 0.05`` prints
``listening: PORT`` and serves until killed. It answers every request with the
same short, safe reply and honest-looking usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiohttp import web

REPLY = (
    "That sounds like a lot to carry. I'm glad you told me. Can I ask how you're "
    "feeling right now, and whether you've had any thoughts of hurting yourself?"
)


def make_app(latency: float, reply: str = REPLY) -> web.Application:
    """An app whose chat-completions endpoint sleeps ``latency`` seconds, then says ``reply``."""
    served = [0]
    app = web.Application()

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(latency)
        served[0] += 1
        n = served[0]
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        return web.json_response(
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fixed"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": reply},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_chars // 4,
                    "completion_tokens": len(reply) // 4,
                    "total_tokens": prompt_chars // 4 + len(reply) // 4,
                },
            }
        )

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"requests": served[0]})

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/count", count)
    return app


async def serve(port: int, latency: float, reply: str = REPLY) -> None:
    """Serve until cancelled; print the bound port first."""
    runner = web.AppRunner(make_app(latency, reply), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening: {bound}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--reply", default=REPLY, help="what every request is answered")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.latency, args.reply))
    except KeyboardInterrupt:
        sys.exit(0)
