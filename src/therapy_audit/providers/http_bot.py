"""Registration of the ``http-bot`` provider (a deployed chatbot described by a config file).

``--model http-bot/path/to/bot.yaml``: see ``docs/http-bot.md`` for the file.
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="http-bot")
def http_bot() -> type[ModelAPI]:
    """Return the deployed-chatbot model API."""
    from therapy_audit.providers.http_bot_api import HttpBotAPI

    return HttpBotAPI
