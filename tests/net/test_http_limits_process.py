"""`modelplane serve` under a low open-file limit: idle sockets no longer starve the health checks.

Before the HTTP core had timeouts and a connection limit, 30 idle sockets against a server with a low
file limit made accept() fail and /v2/health/ready went unanswered."""

from __future__ import annotations

import resource
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import ListeningProcess, stop_process, wait_for
from tests.router.conftest import simulated_spec

pytestmark = pytest.mark.slow

FILE_LIMIT = 128  # enough for python and the model server, far fewer than the idle sockets below
IDLE_SOCKETS = 150


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


class LimitedServer(ListeningProcess):
    def __init__(self, spec: Path) -> None:
        command = [sys.executable, "-m", "modelplane.cli.main", "serve", "-f", str(spec), "--port", "0"]
        command += ["--keep-alive-timeout", "1", "--log-level", "warning"]
        super().__init__(["prlimit", f"--nofile={FILE_LIMIT}", "--", *command], what="server")


def ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nhost: test\r\n\r\n")
            return sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    except OSError:
        return False


def test_health_checks_answer_while_idle_sockets_exceed_the_file_limit(tmp_path: Path) -> None:
    server = LimitedServer(simulated_spec(tmp_path, "sim"))
    idle: list[socket.socket] = []
    try:
        wait_for(lambda: ready(server.port), timeout=60, what="the server to be ready")
        for _ in range(IDLE_SOCKETS):  # connect and say nothing
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        # the ones over the limit (half the file limit) get 503 at once; the rest close when idle 1 s
        wait_for(lambda: ready(server.port), timeout=10, what="/v2/health/ready while idle sockets are open")
        answers = [sock.recv(65536) for sock in idle]  # each is refused at once or closed when idle
        assert all(a == b"" or a.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for a in answers)
        assert any(b"limit of 64 connections" in a for a in answers)
        assert server.proc.poll() is None, server.log
    finally:
        for sock in idle:
            sock.close()
        stop_process(server.proc)
