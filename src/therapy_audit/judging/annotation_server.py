"""The labelling page's HTTP server: Python's ThreadingHTTPServer on 127.0.0.1, no network.

The standard library is enough for one page and three JSON endpoints, so
this adds no dependency. The page (``report/templates/annotate.html``) is
self-contained (HTML, CSS and JS inline, nothing fetched from elsewhere).

Endpoints:

- ``GET /``: the page.
- ``GET /api/state``: the annotator, the number of items, which of them this
  annotator has saved, and where to resume (the first unsaved item).
- ``GET /api/item/<k>``: item ``k`` (0-based, in the drawn order) as the
  page may show it (:meth:`Item.public`) and this annotator's saved labels.
- ``POST /api/label``: ``{"item", "labels": {criterion id: yes|no}, "note"}``;
  written to the CSV before the reply (see :func:`save_labels`).

Requests whose ``Host`` is not this server's loopback address are refused
(a web page elsewhere cannot reach the API through DNS rebinding), and a
POST must be JSON (a cross-site form cannot send it without a preflight this
server never allows).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

from therapy_audit.judging.annotation import (
    AnnotationError,
    Item,
    Labels,
    annotator_labels,
    read_rows,
    save_labels,
)

HOST = "127.0.0.1"
MAX_BODY = 1_000_000


def page_html() -> str:
    """The packaged labelling page."""
    return (files("therapy_audit") / "report" / "templates" / "annotate.html").read_text(
        encoding="utf-8"
    )


class Session:
    """One annotator's labelling of the drawn items, backed by the labels CSV."""

    def __init__(self, items: list[Item], out: str | Path, annotator: str) -> None:
        if not annotator.strip() or annotator.startswith("judge:"):
            raise AnnotationError(f"--annotator must be a person's name, got {annotator!r}")
        self.items = items
        self.out = Path(out)
        self.annotator = annotator
        self.lock = threading.Lock()
        self.saved = {
            key: labels
            for key, labels in annotator_labels(read_rows(self.out), annotator).items()
            if key in {i.item for i in items}
        }

    def state(self) -> dict[str, Any]:
        """Progress and the first item this annotator has not saved (where to resume)."""
        with self.lock:
            done = [i.item in self.saved for i in self.items]
        resume = next((k for k, d in enumerate(done) if not d), len(self.items) - 1)
        return {
            "annotator": self.annotator,
            "total": len(self.items),
            "saved": done,
            "resume": max(resume, 0),
        }

    def item(self, index: int) -> dict[str, Any]:
        """Item ``index`` for the page, with this annotator's labels of it (if any)."""
        item = self.items[index]
        with self.lock:
            saved = self.saved.get(item.item)
        return {
            "index": index,
            **item.public(),
            "labels": dict(saved.labels) if saved else {},
            "note": saved.note if saved else "",
        }

    def label(self, body: dict[str, Any]) -> dict[str, Any]:
        """Save one item's labels (every criterion yes/no) to the CSV, then report progress."""
        key = body.get("item")
        item = next((i for i in self.items if i.item == key), None)
        if item is None:
            raise AnnotationError(f"unknown item {key!r}")
        labels = body.get("labels")
        if not isinstance(labels, dict):
            raise AnnotationError("labels must be an object of criterion id -> yes/no")
        saved = Labels(
            {str(k): str(v) for k, v in labels.items()},
            " ".join(str(body.get("note") or "").split()),
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        with self.lock:
            save_labels(self.out, item, self.annotator, saved)
            self.saved[item.item] = saved
        return self.state()


class Handler(BaseHTTPRequestHandler):
    """Routes the page's requests to the :class:`Session` on the server."""

    server: AnnotationServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the terminal shows only what the command prints."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'",
        )
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        if self.headers.get("Host") in (f"{HOST}:{port}", f"localhost:{port}"):
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "wrong Host header"})
        return False

    def do_GET(self) -> None:  # noqa: N802
        """The page, the state, or one item."""
        if not self._host_ok():
            return
        session = self.server.session
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, page_html().encode(), "text/html; charset=utf-8")
        elif path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        elif path == "/api/state":
            self._json(HTTPStatus.OK, session.state())
        elif path.startswith("/api/item/"):
            index = path.removeprefix("/api/item/")
            if not index.isdigit() or int(index) >= len(session.items):
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no item {index}"})
            else:
                self._json(HTTPStatus.OK, session.item(int(index)))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

    def do_POST(self) -> None:  # noqa: N802
        """Save labels."""
        if not self._host_ok():
            return
        if self.path != "/api/label":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {self.path}"})
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            self._json(HTTPStatus.OK, self.server.session.label(body))
        except (json.JSONDecodeError, AnnotationError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})


class AnnotationServer(ThreadingHTTPServer):
    """A loopback-only HTTP server holding one labelling :class:`Session`."""

    daemon_threads = True

    def __init__(self, session: Session, port: int = 0) -> None:
        super().__init__((HOST, port), Handler)
        self.session = session

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.server_address[1]}/"
