"""Errors of the spec package.

    SpecError                 one problem in the user's YAML: file, line, object, field path, message
    └── DocumentRefused       a document refused before it is built into data: its YAML aliases
                              expand it beyond MAX_ALIAS_EXPANSION nodes, or it refers to itself
    InvalidSpecError          raised by `LoadResult.raise_for_errors()`; carries every SpecError
    ValueError
    ├── QuantityError         a string that is not a Kubernetes quantity, duration or int-or-percent
    └── FieldProblems         raised inside model validators: one or more (field path, message) pairs
                              relative to the model being validated; the loader turns each into a
                              SpecError that points at the offending field's line

Invariant: every message is a sentence a user can act on — what is wrong and what to write instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FieldPath = tuple[str | int, ...]


class QuantityError(ValueError):
    """A value that is not a valid quantity; the message shows valid examples."""


class FieldProblems(ValueError):
    """Problems found by a cross-field check, each with a path relative to the checked model.

    Paths use the YAML (camelCase) names, e.g. `("resources", "limits", "gpu")`.
    """

    def __init__(self, problems: Sequence[tuple[FieldPath, str]]) -> None:
        self.problems: list[tuple[FieldPath, str]] = list(problems)
        super().__init__("; ".join(message for _, message in self.problems))

    @classmethod
    def one(cls, path: FieldPath, message: str) -> FieldProblems:
        return cls([(path, message)])


@dataclass
class SpecError(Exception):
    """One problem in a spec file, rendered as `file:line: Kind/name: field.path: message`.

    Not frozen: Python sets attributes such as `__notes__` on exceptions.
    """

    message: str
    file: Path | None = None
    line: int | None = None
    kind: str | None = None
    name: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else str(self.file))
        if self.kind is not None:
            parts.append(f"{self.kind}/{self.name}" if self.name else self.kind)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class DocumentRefused(SpecError):
    """A document refused whole before any object is built from it (an API answers 400, not 422)."""


class InvalidSpecError(Exception):
    """The spec files had errors; `errors` holds every one of them, in file and line order."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = list(errors)
        noun = "error" if len(self.errors) == 1 else "errors"
        lines = "\n".join(str(error) for error in self.errors)
        super().__init__(f"{len(self.errors)} {noun} in the spec:\n{lines}")
