"""A real local control plane for integration tests: `modelplane up --detach` in a temporary state
dir, the API and the router on free ports, `modelplane down` afterwards. Plus a closed-loop load
generator that counts every failed request.

Whatever `down` does (fails, hangs, leaves a replica behind), the fixture leaves no process: it
records the control plane, the router, the replicas and all their descendants before `down`, and
SIGKILLs (by process group) whichever of them still runs after it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kill_processes, processes_of, require_slow, wait_for

CLI = [sys.executable, "-m", "modelplane.cli.main"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@dataclass
class ControlPlane:
    state: Path
    api: str
    ingress: str
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--server", self.api, env=self.env, timeout=timeout)

    def cli_plain(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.env, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        return _exchange(method, self.api + path, body)

    def infer(self, model: str, body: bytes, *, prefix: str = "") -> tuple[int, Any]:
        """POST `body` to `model` through the router (`prefix` "/ns/<namespace>" for another namespace)."""
        return _exchange("POST", f"{self.ingress}{prefix}/v2/models/{model}/infer", body, json_body=True)

    def apply(self, text: str, folder: Path) -> None:
        path = folder / "applied.yaml"
        path.write_text(text)
        done = self.cli("apply", "-f", str(path))
        assert done.returncode == 0, done.stdout + done.stderr

    def replicas(self, deployment: str | None = None) -> list[dict[str, Any]]:
        items = self.request("GET", "/api/v1/replicas")[1]["items"]
        return [r for r in items if deployment is None or r["spec"]["deployment"] == deployment]

    def deployment(self, name: str, namespace: str = "default") -> dict[str, Any]:
        status, body = self.request("GET", f"/api/v1/modeldeployments/{namespace}/{name}")
        assert status == 200, body
        return dict(body)

    def wait_ready(self, name: str, count: int, timeout: float = 90) -> None:
        def ready() -> bool:
            return sum(r["status"].get("ready", False) for r in self.replicas(name)) == count

        wait_for(ready, timeout=timeout, what=f"{count} ready replica(s) of {name}", interval=0.1)

        def routed() -> bool:  # the router learns of readiness within a second, not at once
            try:
                with urllib.request.urlopen(self.ingress + "/router/endpoints", timeout=10) as response:
                    table = json.loads(response.read())
            except (urllib.error.URLError, OSError):
                return False
            return any(
                d["name"] == name and sum(e["ready"] for e in d["endpoints"]) == count
                for d in table["deployments"]
            )

        wait_for(
            routed, timeout=10, what=f"the router to route to {count} replica(s) of {name}", interval=0.05
        )

    @property
    def controlplane_pid(self) -> int:
        return int(json.loads((self.state / "up.json").read_text())["controlplane"]["pid"])


@contextlib.contextmanager
def running_control_plane(
    tmp_path: Path, env: dict[str, str], *, down_timeout: float = 180
) -> Iterator[ControlPlane]:
    require_slow("starts a control plane")
    state = tmp_path / "state"
    done = run_cli("up", "--detach", "--state-dir", str(state), "--port", "0", "--ingress-port", "0", env=env)
    if done.returncode != 0:
        kill_processes(processes_of(str(state)))
        raise AssertionError(done.stdout + done.stderr)
    urls = json.loads((state / "up.json").read_text())
    plane = ControlPlane(state=state, api=urls["api"], ingress=urls["ingress"], env=env)
    try:
        yield plane
    finally:
        started = processes_of(str(state), _started_pids(plane))
        try:
            down = run_cli("down", "--state-dir", str(state), timeout=down_timeout)
        except subprocess.TimeoutExpired:
            late = f"modelplane down took over {down_timeout} s"
            down = subprocess.CompletedProcess(["down"], -1, "", late)
        finally:  # a replica `down` left behind, or everything when it failed
            kill_processes(started | processes_of(str(state)))
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    """A control plane on a machine with no GPU (the inventory is injected empty)."""
    with running_control_plane(tmp_path, {"MODELPLANE_GPUS": "[]"}) as plane:
        yield plane


def _exchange(method: str, url: str, body: bytes | None, *, json_body: bool = False) -> tuple[int, Any]:
    """(status, JSON answer) of one request; an error status is an answer too, not an exception.
    `json_body`: say so (urllib would send application/x-www-form-urlencoded, which the router refuses)."""
    headers = {"Content-Type": "application/json"} if json_body else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _started_pids(plane: ControlPlane) -> list[int]:
    """The control plane and router in up.json, and every replica the API knows (one restarted by hand
    adopts replicas that are not its children)."""
    try:
        record = json.loads((plane.state / "up.json").read_text())
        pids = [int(record["controlplane"]["pid"]), int(record["router"]["pid"])]
    except (OSError, ValueError, KeyError):
        pids = []
    try:
        # a short timeout: an API that hangs must not hold the teardown
        with urllib.request.urlopen(plane.api + "/api/v1/replicas", timeout=5) as response:
            items = json.loads(response.read())["items"]
    except (OSError, ValueError, KeyError):
        items = []
    return pids + [int(r["status"]["pid"]) for r in items if r.get("status", {}).get("pid")]


@dataclass
class Load:
    """`clients` threads sending requests in a closed loop over keep-alive connections."""

    url: str
    path: str
    body: bytes
    clients: int = 32
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        host, port = self.url.removeprefix("http://").split(":")
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, args=(host, int(port)), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self, host: str, port: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while not self._stop.is_set():
            try:
                conn.request("POST", self.path, body=self.body, headers={"content-type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                with self._lock:
                    if response.status == 200:
                        self.ok += 1
                    else:
                        self.failures.append(f"{response.status} {data[:200]!r}")
            except (OSError, http.client.HTTPException) as error:
                with self._lock:
                    self.failures.append(repr(error))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.close()

    def wait_for_more(self, count: int, timeout: float = 60) -> None:
        start = self.ok
        wait_for(lambda: self.ok >= start + count, timeout=timeout, what=f"{count} more answered requests")
