"""How loaders fail: every failure is a `ModelLoadError` whose message names the model, the place it
was loaded from, the cause, and what the user can do about it.

    Model 'sentiment' failed to load from /abs/models/s.onnx: file not found. Check spec.model.uri.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelplane.server.errors import ModelLoadError
from modelplane.server.model import LoadRequest


def load_error(request: LoadRequest, reason: str, hint: str, *, source: str | None = None) -> ModelLoadError:
    """`source` describes where the model came from when it is not `request.uri` (e.g. a packaged model)."""
    where = source if source is not None else request.uri
    origin = f" from {where}" if where else ""
    return ModelLoadError(
        f"Model '{request.name}' failed to load{origin}: {reason}. {hint}",
        model=request.name,
        uri=request.uri,
    )


def describe(exc: BaseException) -> str:
    """An exception as `Type: message`, the way a user would search for it."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_BINARY_STARTS = (
    b"\x80",  # pickle protocol 2 and later (joblib writes 3 or more)
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"]\x00\x00",  # lzma
    b"ZF",  # joblib's old zlib container
    b"\x78\x01",  # zlib, fast to best
    b"\x78\x5e",
    b"\x78\x9c",
    b"\x78\xda",
)


def describe_unreadable(exc: BaseException, path: Path) -> str:
    """`describe(exc)` for a file a parser refused, without the exception's message unless the file
    starts like a binary model file: a parser's message may quote the text it choked on (pickle's
    protocol 0 reads lines), and a text file behind spec.model.uri may be anyone's secret."""
    try:
        with open(path, "rb") as file:
            head = file.read(8)
    except OSError:
        head = b""
    if head.startswith(_BINARY_STARTS):
        return describe(exc)
    return f"{type(exc).__name__}; not a binary model file, its contents are not shown"


@contextmanager
def needs(request: LoadRequest, library: str, *, extra: str) -> Iterator[None]:
    """Wrap the import of an optional library: a missing one names the extra that installs it."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != library.split(".")[0]:
            raise load_error(
                request,
                f"format '{request.format}' needs {library}, whose import failed ({describe(exc)})",
                f"Reinstall it with: pip install --force-reinstall 'modelplane[{extra}]'",
            ) from exc
        raise load_error(
            request,
            f"format '{request.format}' needs {library}, which is not installed",
            f"Install it with: pip install 'modelplane[{extra}]'",
        ) from exc
    except ImportError as exc:
        raise load_error(
            request,
            f"format '{request.format}' needs {library}, whose import failed ({describe(exc)})",
            f"Reinstall it with: pip install --force-reinstall 'modelplane[{extra}]'",
        ) from exc
