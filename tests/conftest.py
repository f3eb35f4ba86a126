"""Shared test helpers: wait for a condition, start a real modelplane process (a model server, a
router, a control plane) and talk HTTP to it, and find and kill every process a test left behind.

A test that uses a control-plane fixture (`CONTROL_PLANE_FIXTURES`) is marked `slow` at collection
(`pytest -m "not slow"` leaves them out); a test that starts one otherwise carries the mark itself,
and `require_slow` fails one that does not."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import settings

# Property tests check what holds, not how fast: on this shared 2-core machine one example of a
# pure function has taken 580 ms under load, past hypothesis' 200 ms default deadline.
settings.register_profile("modelplane", deadline=None)
settings.load_profile("modelplane")

CONTROL_PLANE_FIXTURES: Final = frozenset({"control_plane"})
"""Fixtures that start a real control plane (tests/api/conftest.py): each test using one is slow."""

_current: dict[str, pytest.Item] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CONTROL_PLANE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current["item"] = item


def require_slow(what: str) -> None:
    """Fail the running test unless it is marked slow (it `what`, which takes seconds)."""
    item = _current.get("item")
    if item is not None and item.get_closest_marker("slow") is None:
        pytest.fail(f"{item.nodeid} {what}: mark it @pytest.mark.slow (or use a fixture that does).")


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll `condition` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop_process(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a process started in a session of its own, with all its children, and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass(frozen=True, slots=True)
class Proc:
    """A process seen in /proc; its start time tells it apart from a later one given the same pid."""

    pid: int
    pgid: int
    start: int


def _stat(pid: int) -> tuple[int, int, int, str] | None:
    """(ppid, pgid, start time, state) of `pid` from /proc/PID/stat; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[2]), int(fields[19]), fields[0]


def processes_of(marker: str, pids: Iterable[int] = ()) -> set[Proc]:
    """Every live process whose command line contains `marker` (a control plane's state dir: the
    control plane, its router and its model replicas name it), or whose pid is in `pids`, and all
    their descendants (a Job's command names no state dir). Empty without /proc."""
    table: dict[int, tuple[int, int, int, str]] = {}
    roots = {pid for pid in pids if pid > 1}
    # the path as a whole argument or a folder of one: /x/state, not /x/state2
    names = (marker.encode() + b"\0", marker.encode() + b"/")
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None or stat[3] == "Z":
            continue
        table[pid] = stat
        try:
            command = (entry / "cmdline").read_bytes() + b"\0"
            if any(name in command for name in names):
                roots.add(pid)
        except OSError:
            continue
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    found -= {os.getpid(), os.getppid()}
    return {Proc(pid, table[pid][1], table[pid][2]) for pid in found}


def alive(proc: Proc) -> bool:
    """Whether the process recorded in `proc` still runs (a zombie does not)."""
    stat = _stat(proc.pid)
    return stat is not None and stat[2] == proc.start and stat[3] != "Z"


def kill_processes(procs: Iterable[Proc]) -> None:
    """SIGKILL each recorded process that still runs, with its whole process group when it leads
    one (replicas, the control plane and the router each run in a session of their own)."""
    own_group = os.getpgid(0)
    for proc in procs:
        if not alive(proc):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if proc.pgid == proc.pid and proc.pgid != own_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)


def exchange(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, Any, http.client.HTTPResponse]:
    """One request on `conn`: its status, its answer (JSON, or text when it is not JSON), the response."""
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    try:
        return response.status, json.loads(data), response
    except ValueError:
        return response.status, data.decode(), response


class ListeningProcess:
    """A real modelplane process in a session of its own, its output captured, on the port it prints as
    `modelplane <what> listening on http://HOST:PORT` once it accepts connections."""

    def __init__(self, command: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
        self.output: list[str] = []
        self._listening = re.compile(rf"modelplane {what} listening on http://([\d.]+):(\d+)")
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.port = 0
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(
            lambda: self.port != 0 or self.proc.poll() is not None, timeout=60, what=f"the {what} to listen"
        )
        if self.port == 0:
            raise AssertionError(f"{what} exited early:\n" + self.log)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            match = self._listening.search(line)
            if match:
                self.port = int(match.group(2))

    @property
    def log(self) -> str:
        return "".join(self.output)

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send `sig` and wait for the exit code; SIGKILL (and fail) after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise


class ServerProcess(ListeningProcess):
    """A real model-server process (`modelplane serve -f spec`) on a free port."""

    def __init__(self, spec: Path, *args: str, env: dict[str, str] | None = None) -> None:
        serve = [sys.executable, "-m", "modelplane.cli.main", "serve", "-f", str(spec)]
        super().__init__([*serve, "--port", "0", *args], what="server", env=env)

    def request(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, Any]:
        conn = self.connection()
        try:
            payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            status, answer, _ = exchange(conn, method, path, payload)
            return status, answer
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.log)
            try:
                return self.request("GET", "/v2/health/ready")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=timeout, what="/v2/health/ready to be 200", interval=0.05)


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(spec: Path, *args: str, ready: bool = True, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(spec, *args, env=env)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        stop_process(server.proc)
