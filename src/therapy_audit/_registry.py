"""Everything Inspect discovers through the ``inspect_ai`` entry point."""

# ruff: noqa: F401
from therapy_audit.providers.http_bot import http_bot
from therapy_audit.providers.local import local
from therapy_audit.providers.responses import responses
from therapy_audit.replication.tasks import paper_crisis, paper_stigma
from therapy_audit.tasks.conversation import conversation
from therapy_audit.tasks.crisis import crisis
from therapy_audit.tasks.stigma import stigma
