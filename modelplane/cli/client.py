"""A small synchronous HTTP client of the control-plane API, and the `--server` / `--token` options.

Every command of the CLI talks to the API through `ApiClient`; nothing else opens a socket to it.
Errors are `ApiError`s: click prints their message (one or two sentences that say what to do) to
stderr and exits 1, so a user never sees a traceback.

    click.ClickException
    └── ApiError                  status (None when there was no HTTP answer), reason, details
        ├── Unreachable           no control plane listening, or the network failed
        ├── Unauthorized          401 / 403 about the token
        └── RequestFailed         404, 409, 422, 5xx…: the API's own error text (+ each detail of a 422)

Settings are read when a command runs, never at import: `--server`, else `MODELPLANE_SERVER`, else
the `api` URL that `modelplane up` wrote to `up.json` in the state dir, else http://127.0.0.1:8090;
`--token`, else `MODELPLANE_TOKEN`, else the file `token` in the state dir
(`MODELPLANE_STATE_DIR`, else `.modelplane/`) when it exists, as `modelplane up` writes it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

DEFAULT_SERVER = "http://127.0.0.1:8090"
DEFAULT_STATE_DIR = ".modelplane"
DEFAULT_TIMEOUT = 30.0

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(click.ClickException):
    """A request to the control plane failed; `message` says what to do about it."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.details = details or []


class Unreachable(ApiError):
    """Nothing answered at the server's address."""


class Unauthorized(ApiError):
    """The API refused the token (or its absence)."""


class RequestFailed(ApiError):
    """The API answered with an error about the request itself."""


def is_loopback(url: str) -> bool:
    """True when `url` names this machine only (127.0.0.0/8, ::1, localhost)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_url(request: urllib.request.Request | str, *, timeout: float) -> Any:
    """`urlopen`, except that a loopback address never goes through an HTTP(S)_PROXY of the environment."""
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    if is_loopback(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=timeout)
    return urllib.request.urlopen(request, timeout=timeout)


def recorded_url(key: str) -> str | None:
    """The URL `modelplane up` recorded in the state dir's up.json (`api` or `ingress`), if any."""
    try:
        record = json.loads((state_dir() / "up.json").read_text())
    except (OSError, ValueError):
        return None
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, str) and value else None


def resolve_server(option: str | None) -> str:
    """--server, else MODELPLANE_SERVER, else what `up` recorded in the state dir, else the default."""
    server = option or os.environ.get("MODELPLANE_SERVER") or recorded_url("api") or DEFAULT_SERVER
    if "://" not in server:
        server = f"http://{server}"
    return server.rstrip("/")


def state_dir() -> Path:
    return Path(os.environ.get("MODELPLANE_STATE_DIR") or DEFAULT_STATE_DIR)


def resolve_token(option: str | None) -> str | None:
    """The bearer token to send: --token, MODELPLANE_TOKEN, or the state dir's `token` file."""
    token = option or os.environ.get("MODELPLANE_TOKEN")
    if token:
        return token.strip()
    try:
        # The server may listen on all addresses and ask for the token even over loopback; sending
        # the token of our own state dir to it is harmless, so it goes whenever the file exists.
        return (state_dir() / "token").read_text().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class ApiClient:
    server: str
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def get(self, path: str, query: Mapping[str, str | int | None] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, query=query, **kw)

    def post_json(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=json.dumps(body).encode(), content_type="application/json")

    def post_yaml(self, path: str, text: str, query: Mapping[str, str | int | None] | None = None) -> Any:
        return self.request("POST", path, query=query, body=text.encode(), content_type="application/yaml")

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | None] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer of `method path`; an `ApiError` for anything else."""
        url = self.server + path
        params = {key: str(value) for key, value in (query or {}).items() if value is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with open_url(request, timeout=timeout or self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc.code, _read_error_body(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise self._unreachable(exc) from None
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise RequestFailed(
                f"The server at {self.server} did not answer with JSON; is --server pointing at the "
                "modelplane control plane (not the router)?"
            ) from None

    def _unreachable(self, exc: BaseException) -> Unreachable:
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(cause, ConnectionRefusedError):
            return Unreachable(
                f"No control plane at {self.server}. Start one with `modelplane up`, or point --server at it."
            )
        if isinstance(cause, TimeoutError | socket.timeout):
            return Unreachable(
                f"The control plane at {self.server} did not answer within {self.timeout:g} s. "
                "Check that it is running (`modelplane up`) and not overloaded."
            )
        text = getattr(cause, "strerror", None) or str(cause)
        return Unreachable(
            f"Cannot reach the control plane at {self.server}: {text}. Check --server (or MODELPLANE_SERVER)."
        )

    def _http_error(self, status: int, answer: dict[str, Any]) -> ApiError:
        text = str(answer.get("error") or "").strip().rstrip(".")
        reason = answer.get("reason") if isinstance(answer.get("reason"), str) else None
        raw_details = answer.get("details") or []
        details = [
            _detail_line(detail)
            for detail in (raw_details if isinstance(raw_details, list) else [raw_details])
        ]
        if status == 401 or (status == 403 and (not text or "token" in text.lower())):
            said = f" ({text})" if text else ""
            return Unauthorized(
                f"The control plane at {self.server} refused the request{said}. Pass --token or set "
                f"MODELPLANE_TOKEN to the contents of the file `token` in its state dir.",
                status=status,
                reason=reason,
            )
        if not text:
            text = f"the control plane at {self.server} answered HTTP {status}"
        message = text + "."
        if status >= 500:
            message += " This is a bug or an outage of the control plane; see its log in the state dir."
        if details:
            message += "\n" + "\n".join(f"  {line}" for line in details)
        return RequestFailed(message, status=status, reason=reason, details=details)


def _read_error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        answer = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _detail_line(detail: Any) -> str:
    """One detail of a 422: a string, or `{field, message, line?}` as the spec's errors are."""
    if not isinstance(detail, dict):
        return str(detail)
    message = str(detail.get("message") or detail.get("error") or "")
    where = detail.get("field") or detail.get("path")
    line = detail.get("line")
    prefix = ""
    if line is not None:
        prefix += f"line {line}: "
    if where:
        prefix += f"{where}: "
    return (prefix + message) or json.dumps(detail)


def connect(server: str | None, token: str | None) -> ApiClient:
    """The client for a command's `--server` and `--token` options (environment read now)."""
    return ApiClient(server=resolve_server(server), token=resolve_token(token))


def connection_options(command: F) -> F:
    """Add `--server` and `--token` to a command; it receives them as `server` and `token`."""
    command = click.option(
        "--token",
        default=None,
        metavar="TOKEN",
        help="Bearer token [default: $MODELPLANE_TOKEN, else the file `token` in $MODELPLANE_STATE_DIR "
        "or .modelplane/].",
    )(command)
    command = click.option(
        "--server",
        "-s",
        default=None,
        metavar="URL",
        help="Control-plane API [default: $MODELPLANE_SERVER, else the URL `modelplane up` recorded in the "
        f"state dir, else {DEFAULT_SERVER}].",
    )(command)
    return command
