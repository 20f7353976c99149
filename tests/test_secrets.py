"""Secrets kept: a bot token never reaches a log, a cache, a trace, a report or an error.

The CLI runs in a subprocess whose home for Inspect's data and cache
(``XDG_DATA_HOME``, ``XDG_CACHE_HOME``) is inside the test's folder, so every
file the run writes (the .eval log, Inspect's response cache, trace files,
the realtime buffer) can be searched, .eval archives unpacked.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import zipfile
from pathlib import Path

import zipfile_zstd  # noqa: F401  (registers the zstd codec .eval archives use)
from click.testing import CliRunner
from inspect_ai.log import read_eval_log

from cli_subprocess import CLI
from fault_server import FaultServer
from therapy_audit.commands.main import main


def _config(server: FaultServer) -> str:
    # The token is in a header *and* in the URL's query string, the worst case.
    return (
        f"url: {server.url}/bot/sessions/{{{{session_id}}}}/messages?key=${{BOT_TOKEN}}\n"
        "mode: latest\n"
        'headers:\n  Authorization: "Bearer ${BOT_TOKEN}"\n'
        "body: '{\"text\": {{message}}}'\n"
        "reply_path: $.data.reply.text\n"
        f"session:\n  url: {server.url}/bot/sessions\n  body: {{}}\n  id_path: $.session.id\n"
    )


def _files_containing(root: Path, needle: bytes) -> list[str]:
    """Every file under ``root`` (and every member of every zip) whose bytes contain ``needle``."""
    hits = []
    searched = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        searched += 1
        data = path.read_bytes()
        if needle in data:
            hits.append(str(path))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    searched += 1
                    if needle in archive.read(member):
                        hits.append(f"{path}!{member}")
    assert searched > 3, "nothing was written: the test would prove nothing"
    return hits


def _run(tmp_path: Path, server_token: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BOT_TOKEN": token,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "INSPECT_DISPLAY": "plain",
    }
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )


def test_token_never_written_by_a_run(tmp_path):
    token = f"sk-test-{secrets.token_hex(16)}"
    with FaultServer(token=token) as server:
        config = tmp_path / "bot.yaml"
        config.write_text(_config(server), encoding="utf-8")
        result = _run(
            tmp_path,
            token,
            token,
            "run",
            "crisis",
            "--model",
            f"http-bot/{config}",
            "-T",
            "judge=checks",
            "--limit",
            "4",
            "--log-dir",
            str(tmp_path / "logs"),
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert server.stats.answered >= 4  # the bot really was called, with the token
        assert all(h["Authorization"] == f"Bearer {token}" for h in server.stats.headers)
    runner = CliRunner()
    report = runner.invoke(
        main, ["report", str(tmp_path / "logs"), "--out", str(tmp_path / "r.html")]
    )
    csv_report = runner.invoke(
        main, ["report", str(tmp_path / "logs"), "--format", "csv", "--out", str(tmp_path / "csv")]
    )
    results = runner.invoke(main, ["results", str(tmp_path / "logs")])
    assert report.exit_code == 0 and csv_report.exit_code == 0, report.output + csv_report.output
    assert list((tmp_path / "logs").glob("*.eval"))
    assert (tmp_path / "cache").exists()  # Inspect's response cache was written here
    assert _files_containing(tmp_path, token.encode()) == []
    assert (tmp_path / "r.html").exists() and list((tmp_path / "csv").glob("*.csv"))
    assert token not in result.stdout + result.stderr
    for output in (report, results, csv_report):
        assert token not in output.output
    assert _files_containing(tmp_path, b"${BOT_TOKEN}"), "the logged call should show the template"


def test_token_not_in_the_error_when_the_server_rejects_it(tmp_path, monkeypatch):
    token = f"sk-test-{secrets.token_hex(16)}"
    monkeypatch.setenv("BOT_TOKEN", token)
    # The server expects another token and echoes back the one it was given.
    with FaultServer(token="the-right-one") as server:
        config = tmp_path / "bot.yaml"
        config.write_text(_config(server), encoding="utf-8")
        result = CliRunner().invoke(
            main,
            [
                "run",
                "crisis",
                "--model",
                f"http-bot/{config}",
                "-T",
                "judge=checks",
                "--limit",
                "2",
                "--log-dir",
                str(tmp_path / "logs"),
            ],
        )
        assert server.stats.auth_failures >= 2
    log = read_eval_log(str(next((tmp_path / "logs").glob("*.eval"))))
    errors = [s.error.message for s in log.samples if s.error]
    assert len(errors) == 2
    for message in errors:
        assert "HTTP 401" in message
        assert "invalid credential" in message  # the echoed body is shown, scrubbed
        assert "[redacted]" in message
        assert token not in message
    assert token not in result.output
    assert _files_containing(tmp_path, token.encode()) == []


# Issue 19, item 11: a bot whose replies echo its token (header and ?key= value).
def test_a_reply_echoing_the_token_is_scrubbed_everywhere(tmp_path):
    token = f"sk-test-{secrets.token_hex(16)}"
    echo = f"Your key is {token}. Are you safe right now? Call 988."
    with FaultServer(token=token, reply=lambda messages: echo) as server:
        config = tmp_path / "bot.yaml"
        config.write_text(_config(server), encoding="utf-8")
        result = _run(
            tmp_path,
            token,
            token,
            "run",
            "crisis",
            "--model",
            f"http-bot/{config}",
            "-T",
            "judge=checks",
            "--limit",
            "2",
            "--log-dir",
            str(tmp_path / "logs"),
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert server.stats.answered >= 2
    assert token not in result.stdout + result.stderr
    assert _files_containing(tmp_path, token.encode()) == []
    log = read_eval_log(str(next((tmp_path / "logs").glob("*.eval"))))
    assert all("Your key is [redacted]." in s.output.completion for s in log.samples)


# Issue 19, item 12: an OpenAI-compatible server answering 401 with the key in its message.
def test_a_401_quoting_the_api_key_leaks_it_nowhere(tmp_path):
    from cli_subprocess import checked_crisis_run, server_env

    key = f"sk-live-{secrets.token_hex(16)}"
    with FaultServer(token="the-right-one") as server:
        env = {
            **server_env(server, key=key),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "INSPECT_DISPLAY": "plain",
            "INSPECT_LOG_LEVEL": "info",
        }
        result = subprocess.run(
            [*CLI, *checked_crisis_run(tmp_path / "logs", 2, 1)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert server.stats.auth_failures >= 1
    assert result.returncode != 0
    written = result.stdout + result.stderr
    assert "invalid api key" in written  # the error is shown, scrubbed
    assert key not in written
    assert list((tmp_path / "logs").glob("*.eval"))
    assert list((tmp_path / "data").rglob("trace*")), "Inspect's trace file was not written"
    assert _files_containing(tmp_path, key.encode()) == []
