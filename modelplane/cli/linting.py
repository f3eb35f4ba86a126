"""`modelplane lint`: list the risks of valid spec files (no memory limit, no disruption budget, …).

Thin over `modelplane.spec.linting`: no rule lives here. Each finding is one line on stdout,
`FILE:LINE: Kind/name: field: message Fix: …`, LINE being where the object's document starts. Load
errors are printed as `validate` prints them (exit 1). Findings are warnings: exit 0, unless
`--strict`. `apply` prints the same lines, prefixed with `Warning: `, through `finding_lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from modelplane.cli.validating import filenames_option
from modelplane.spec import Loaded, load_paths
from modelplane.spec.linting import lint as lint_objects


def finding_lines(loaded: Sequence[Loaded]) -> list[str]:
    """`FILE:LINE: Kind/name: field: message Fix: …` for each finding of the loaded objects."""
    return [f"{item.file}:{item.line}: {finding}" for item in loaded for finding in lint_objects([item.obj])]


@click.command()
@filenames_option
@click.option("--strict", is_flag=True, help="Exit 1 when there is any finding, not only on invalid files.")
def lint(paths: tuple[Path, ...], strict: bool) -> None:
    """List risky settings of spec files, each with its fix: a missing memory limit or disruption
    budget, over-committed memory, a rollout that can stop every replica, batching off, slow readiness.

    Exits 1 when a file is invalid (every error printed as `validate` prints it); otherwise 0, or 1
    with --strict if anything was found.
    """
    result = load_paths(paths)
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        click.echo(f"{len(result.errors)} {noun} found.", err=True)
        raise SystemExit(1)
    lines = finding_lines(result.objects)
    for line in lines:
        click.echo(line)
    noun = "object" if len(result.objects) == 1 else "objects"
    if not lines:
        click.echo(f"No risks found in {len(result.objects)} {noun}.", err=True)
        return
    warnings = "warning" if len(lines) == 1 else "warnings"
    click.echo(f"{len(lines)} {warnings} in {len(result.objects)} {noun}.", err=True)
    if strict:
        raise SystemExit(1)
