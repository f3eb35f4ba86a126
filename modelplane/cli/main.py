"""Entry point of the `modelplane` command; each group of commands lives in its own module."""

from __future__ import annotations

import click

from modelplane import __version__
from modelplane.cli import (
    draining,
    linting,
    loadtesting,
    objects,
    observing,
    recommending,
    rollouts,
    routing,
    running,
    serving,
    validating,
    waiting,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """modelplane: declare models in YAML; modelplane serves, scales and rolls them out."""


@cli.command()
def version() -> None:
    """Print the modelplane version."""
    click.echo(f"modelplane {__version__}")


for command in (
    running.up,
    running.down,
    objects.apply,
    objects.get,
    objects.describe,
    objects.delete,
    objects.scale,
    rollouts.rollout,
    draining.cordon,
    draining.uncordon,
    draining.drain,
    observing.logs,
    waiting.wait,
    observing.events,
    observing.top,
    loadtesting.loadtest,
    recommending.recommend,
    validating.validate,
    linting.lint,
    validating.schema,
    serving.serve,
    routing.router,
    running.controlplane,
):
    cli.add_command(command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
