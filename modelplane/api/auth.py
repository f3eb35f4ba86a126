"""Bearer-token authentication for the API when it listens off loopback.

On loopback (127.0.0.0/8, ::1, localhost) the machine's users are trusted, as with a local Docker or
kind cluster. Anywhere else every request needs `Authorization: Bearer <token>`, the token being
the file `token` in the state dir (mode 0600, created by `modelplane up`). The API refuses to start
off loopback without one.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from modelplane.api.errors import Forbidden, Unauthorized
from modelplane.net.cross_site import check_origin

TOKEN_FILE = "token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_token(state_dir: Path) -> str:
    """The state dir's token, created (0600) when missing."""
    path = state_dir / TOKEN_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def read_token(state_dir: Path) -> str | None:
    path = state_dir / TOKEN_FILE
    return path.read_text().strip() or None if path.exists() else None


_LOCAL_HOSTS = frozenset({b"127.0.0.1", b"localhost", b"[::1]", b"::1"})


def check_local(headers: dict[bytes, bytes]) -> None:
    """On loopback, refuse what a web page could send: any request with an Origin (browsers add it to
    cross-site and fetch requests), and a Host that is not a loopback name (DNS rebinding)."""
    check_origin(headers)  # shared with the router and the model server
    host = headers.get(b"host", b"127.0.0.1")
    host = host[: host.index(b"]") + 1] if host.startswith(b"[") and b"]" in host else host.split(b":")[0]
    if host not in _LOCAL_HOSTS:
        raise Forbidden(f"Host {host.decode(errors='replace')!r} is not this machine's loopback; refused.")


def check(authorization: bytes | None, token: str) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one."""
    if not authorization or not authorization.lower().startswith(b"bearer "):
        raise Unauthorized(
            "this API is not on loopback: send 'Authorization: Bearer <token>' with the token from the "
            "state dir's 'token' file (the CLI reads it from MODELPLANE_TOKEN or --token)."
        )
    if not hmac.compare_digest(authorization[7:].strip(), token.encode()):
        raise Forbidden("the bearer token is wrong; use the one in the state dir's 'token' file.")
