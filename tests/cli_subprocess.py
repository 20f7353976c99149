"""The ``therapy-audit`` CLI in a real subprocess, as a user runs it.

Shared by the tests that run it against a local OpenAI-compatible test
server (:mod:`fault_server`) reached through Inspect's ``openai-api`` provider.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fault_server import FaultServer

CLI = [sys.executable, "-c", "from therapy_audit.commands.main import main; main()"]
MODEL = "openai-api/slow/model"


def server_env(server: FaultServer, key: str = "local-test-key", **extra: str) -> dict[str, str]:
    """The environment that points ``openai-api/slow/...`` models at ``server``."""
    return {**os.environ, "SLOW_BASE_URL": server.base_url, "SLOW_API_KEY": key, **extra}


def checked_crisis_run(logs: Path, limit: int, max_connections: int, *more: str) -> list[str]:
    """``therapy-audit run crisis`` arguments: the server's model, checks as judge, no cache."""
    return [
        "run",
        "crisis",
        "--model",
        MODEL,
        "-T",
        "judge=checks",
        "--limit",
        str(limit),
        "--log-dir",
        str(logs),
        "--no-cache",
        "--max-connections",
        str(max_connections),
        *more,
    ]
