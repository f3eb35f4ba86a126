"""RESULTS.md is shared by the benchmark scripts: each replaces only its own `## ` section."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace the section that starts with `heading` (up to the next `## `), or append it."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(heading)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(heading))
        rest = old[end + 1 :] if end != -1 else ""
        new = old[:start] + (text.rstrip("\n") + "\n\n" + rest if rest else text)
    path.write_text(new.rstrip("\n") + "\n")
