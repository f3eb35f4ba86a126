"""The HTTP server against fuzzed requests over real sockets: whatever bytes a client sends, in whatever
pieces, the server answers with well-formed HTTP responses or closes, never with anything else, never
hangs past its timeouts, and keeps serving the next client."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane.net.http import Limits
from tests.net.test_http_limits import ServerThread, get

_REQUESTS = [
    b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n",
    b'POST /echo HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}',
    b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n",
    b"HEAD /health HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
    b"GET /slow HTTP/1.0\r\n\r\n",
]
_STATUS_LINE = re.compile(rb"HTTP/1\.1 [1-5]\d\d [ -~]*\r\n")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    thread = ServerThread(Limits(keep_alive_s=1, head_s=1, body_s=1))
    yield thread
    thread.stop()


@st.composite
def client_bytes(draw: st.DrawFn) -> list[bytes]:
    """One or two valid requests, mutated (bytes flipped, cut, junk inserted), split into pieces."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(_REQUESTS), min_size=1, max_size=2))))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(max_size=60))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    return [bytes(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=client_bytes())
def test_any_bytes_get_well_formed_answers_or_a_close(server: ServerThread, pieces: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with contextlib.suppress(OSError):  # the server may close (and answer) before all is sent
            for piece in pieces:
                sock.sendall(piece)
            sock.shutdown(socket.SHUT_WR)  # no more: the server answers what it has, then closes
        received = b""
        try:
            while chunk := sock.recv(65536):  # 5 s: beyond every timeout of the server (1 s + sweep)
                received += chunk
        except ConnectionResetError:
            return  # a reset may cut an answer short: nothing to check
    rest = received
    while rest:
        match = _STATUS_LINE.match(rest)
        assert match, f"not an HTTP response: {rest[:80]!r}"
        head_end = rest.index(b"\r\n\r\n") + 4
        lengths = re.findall(rb"(?i)\r\ncontent-length: (\d+)\r\n", rest[:head_end])
        assert len(lengths) == 1, f"one content-length per answer: {rest[:head_end]!r}"
        after_head = rest[head_end:]
        if not after_head or after_head.startswith(b"HTTP/1.1 "):
            rest = after_head  # a HEAD answer: no body (the handler's bodies are JSON)
        else:
            rest = rest[head_end + int(lengths[0]) :]
    assert get(socket.create_connection(("127.0.0.1", server.port), timeout=5)).startswith(b"HTTP/1.1 200")
