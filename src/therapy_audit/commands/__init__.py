"""Subcommands living in their own modules, added to the ``therapy-audit`` group by ``main``.

Each module defines one click command; list it here (one import, one entry).
"""

from __future__ import annotations

import click

from therapy_audit.commands.compare import compare
from therapy_audit.commands.gate import gate
from therapy_audit.commands.report import report

COMMANDS: list[click.Command] = []
COMMANDS.append(compare)
COMMANDS.append(report)
COMMANDS.append(gate)

from therapy_audit.commands.replicate import replicate  # noqa: E402

COMMANDS.append(replicate)

from therapy_audit.commands.validate_judge import validate_judge  # noqa: E402

COMMANDS.append(validate_judge)

from therapy_audit.commands.questionnaire import questionnaire  # noqa: E402

COMMANDS.append(questionnaire)

from therapy_audit.commands.results import results  # noqa: E402

COMMANDS.append(results)

from therapy_audit.commands.annotate import annotate  # noqa: E402

COMMANDS.append(annotate)
