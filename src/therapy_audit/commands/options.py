"""Options shared by several subcommands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from therapy_audit.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED

F = TypeVar("F", bound=Callable[..., object])


def bootstrap_options(resamples_help: str = "Bootstrap resamples.") -> Callable[[F], F]:
    """``--seed`` and ``--resamples`` for commands that compute bootstrap CIs."""

    def decorate(command: F) -> F:
        command = click.option(
            "--resamples",
            type=int,
            default=DEFAULT_RESAMPLES,
            show_default=True,
            help=resamples_help,
        )(command)
        return click.option(
            "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Bootstrap seed."
        )(command)

    return decorate


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """Parse ``key=value`` pairs (values read as YAML scalars: 1, true, 0.5, text)."""
    import yaml

    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint=option)
        parsed[key.replace("-", "_")] = yaml.safe_load(value)
    return parsed
