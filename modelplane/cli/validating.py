"""`modelplane validate` and `modelplane schema`: check spec files, print the JSON Schema.

Thin over `modelplane.spec`: no validation logic lives here. `validate` prints every error on its own
line to stderr and exits 1 if there is any; it never shows a traceback for bad input.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import click

from modelplane.spec import KINDS, Loaded, json_schema, load_paths


def _summary(file: Path, objects: list[Loaded]) -> str:
    names = ", ".join(loaded.obj.display_name for loaded in objects)
    noun = "object" if len(objects) == 1 else "objects"
    return f"{file}: {len(objects)} {noun} valid ({names})"


filenames_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A spec file, or a directory of *.yaml / *.yml files. Repeat for several.",
)
"""The `-f FILE|DIR` option of the commands that read spec files."""


@click.command()
@filenames_option
def validate(paths: tuple[Path, ...]) -> None:
    """Check spec files and report every error with its file, line and field.

    Exits 0 when every object is valid, 1 otherwise.
    """
    result = load_paths(paths)
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        click.echo(f"{len(result.errors)} {noun} found.", err=True)
        raise SystemExit(1)
    by_file: dict[Path, list[Loaded]] = defaultdict(list)
    for loaded in result.objects:
        by_file[loaded.file].append(loaded)
    for file, objects in by_file.items():
        click.echo(_summary(file, objects))


@click.command()
@click.option(
    "--kind",
    type=click.Choice(list(KINDS), case_sensitive=False),
    default=None,
    help="Print the schema of one kind only.",
)
def schema(kind: str | None) -> None:
    """Print the JSON Schema of spec objects (for editor completion).

    Without --kind: one schema whose `oneOf` covers every kind, told apart by `kind`.
    """
    click.echo(json.dumps(json_schema(kind), indent=2))
