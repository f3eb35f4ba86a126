"""The HTTP server limits that `modelplane serve` and `modelplane router` share, as click options.

One definition, so both commands spell, default and document them alike (docs/server.md, docs/router.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelplane.cli.durations import DURATION
from modelplane.net.http import Limits

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULTS = Limits()


def limit_options(command: F) -> F:
    """Add --keep-alive-timeout, --header-timeout, --body-timeout and --limit-connections."""
    options = [
        click.option(
            "--keep-alive-timeout",
            metavar="DURATION",
            default=_DEFAULTS.keep_alive_s,
            show_default=True,
            type=DURATION,
            help="Close a keep-alive connection idle this long between requests (5, 5s, 1m).",
        ),
        click.option(
            "--header-timeout",
            metavar="DURATION",
            default=_DEFAULTS.head_s,
            show_default=True,
            type=DURATION,
            help="The request line and headers must arrive within this of their first byte; else 408.",
        ),
        click.option(
            "--body-timeout",
            metavar="DURATION",
            default=_DEFAULTS.body_s,
            show_default=True,
            type=DURATION,
            help="The whole request body must arrive within this of its headers; else 408.",
        ),
        click.option(
            "--limit-connections",
            metavar="N",
            default=None,
            type=click.IntRange(min=1),
            help="Client connections held at once; more get 503 and are closed "
            "[default: 1000, or half the open-file limit when lower].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def limits_from(
    keep_alive_timeout: float, header_timeout: float, body_timeout: float, limit_connections: int | None
) -> Limits:
    flags = {
        "--keep-alive-timeout": keep_alive_timeout,
        "--header-timeout": header_timeout,
        "--body-timeout": body_timeout,
    }
    for flag, seconds in flags.items():
        if seconds <= 0:
            raise click.UsageError(f"{flag} must be more than 0 (a duration such as 5, 5s or 250ms).")
    return Limits(
        keep_alive_s=keep_alive_timeout,
        head_s=header_timeout,
        body_s=body_timeout,
        max_connections=limit_connections,
    )
