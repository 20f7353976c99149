"""Everything Inspect discovers through the ``inspect_ai`` entry point."""

# ruff: noqa: F401
from therapy_audit.experiments.conversation.task import conversation
from therapy_audit.experiments.crisis.task import crisis
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.providers.baseline import baseline
from therapy_audit.providers.http_bot import http_bot
from therapy_audit.providers.local import local
from therapy_audit.providers.responses import responses
from therapy_audit.replication.tasks import paper_crisis, paper_stigma
