"""Headless Chromium driven through its DevTools protocol (CDP) with aiohttp's websocket client.

Debian's ``chromium`` needs no driver binary and no download: it is started
with ``--remote-debugging-port=0``, prints the port it chose, and every
command (navigate, press a key, run a script) is a JSON message on the
page's websocket. Console errors, uncaught exceptions and failed loads are
collected from the protocol's events, so a test can assert there were none.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
#: Keys the page reacts to that have no text (windowsVirtualKeyCode for each).
SPECIAL_KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "ArrowUp": 38, "ArrowDown": 40, "Escape": 27}


class Page:
    """One Chromium tab: send CDP commands, collect errors, press keys, read the DOM."""

    def __init__(self, process: asyncio.subprocess.Process, http: aiohttp.ClientSession) -> None:
        self.process = process
        self.http = http
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []
        self.reader: asyncio.Task | None = None

    @classmethod
    async def launch(cls, profile: Path) -> Page:
        """Start headless Chromium and attach to its blank tab."""
        assert CHROMIUM, "chromium is not installed"
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        endpoint = None
        while endpoint is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
            if not line:
                raise RuntimeError("chromium exited before it opened its DevTools port")
            found = re.search(r"DevTools listening on ws://([\d.]+:\d+)/", line)
            endpoint = found.group(1) if found else None
        asyncio.get_running_loop().create_task(_drain(process.stderr))
        page = cls(process, aiohttp.ClientSession())
        async with page.http.get(f"http://{endpoint}/json/list") as response:
            targets = await response.json()
        target = next(t for t in targets if t["type"] == "page")
        page.ws = await page.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page.reader = asyncio.get_running_loop().create_task(page._read())
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        return page

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self.pending.pop(data["id"], None)
                if future and not future.done():
                    future.set_result(data)
                continue
            self._event(data.get("method"), data.get("params", {}))

    def _event(self, method: str | None, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(
                f"exception: {details.get('exception', {}).get('description') or details['text']}"
            )
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(
                "console.error: " + " ".join(str(a.get("value")) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"log: {params['entry']['text']} ({params['entry'].get('url')})")

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (an error reply raises)."""
        assert self.ws is not None
        key = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        await self.ws.send_json({"id": key, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll until ``expression`` is truthy; its last value is in the error otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still falsy after {timeout}s: {expression} -> {value!r}")
            await asyncio.sleep(0.05)

    async def goto(self, url: str) -> None:
        """Load ``url`` and wait until the document has loaded."""
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    async def press(self, key: str) -> None:
        """Press and release one key, as a person typing would."""
        if key in SPECIAL_KEYS:
            down = {"type": "rawKeyDown", "windowsVirtualKeyCode": SPECIAL_KEYS[key]}
        else:
            down = {"type": "keyDown", "text": key}
        await self.send("Input.dispatchKeyEvent", key=key, code=_code(key), **down)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=_code(key))

    async def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element."""
        await self.send("Input.insertText", text=text)

    async def close(self) -> None:
        """Close the websocket and end the Chromium process this object started."""
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()
        if self.reader is not None:
            self.reader.cancel()
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def _code(key: str) -> str:
    if len(key) == 1 and key.isalpha():
        return f"Key{key.upper()}"
    if len(key) == 1 and key.isdigit():
        return f"Digit{key}"
    return key


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read Chromium's stderr to the end so a full pipe never blocks it."""
    while await stream.readline():
        pass
