"""Subcommands living in their own modules, added to the ``therapy-audit`` group by ``cli``.

Each module defines one click command; list it here (one import, one entry).
"""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
