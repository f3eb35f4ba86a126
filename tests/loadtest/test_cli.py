"""`modelplane loadtest` end to end: the real CLI against a real router and simulated replicas; and the
flags it refuses before sending anything."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelplane.cli.main import cli
from tests.conftest import ServerProcess, stop_process
from tests.router.conftest import (
    EndpointsFile,
    RouterProcess,
    deployment,
    endpoint,
    simulated_spec,
    start_replica,
)

CLI = [sys.executable, "-m", "modelplane.cli.main"]


def closed_port() -> int:
    """A port nothing listens on (the control plane the replica reader will not find)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def router(tmp_path: Path) -> Iterator[RouterProcess]:
    """A router in front of `sim` (namespace default) and `sim` in namespace `team`, one replica each."""
    replicas: list[ServerProcess] = []
    started: list[RouterProcess] = []
    try:
        for namespace in ("default", "team"):
            replicas.append(start_replica(simulated_spec(tmp_path, "sim", latency_ms=2, namespace=namespace)))
        table = EndpointsFile(tmp_path / "endpoints.json")
        version = table.write(
            deployment("sim", [endpoint("sim-0", replicas[0])]),
            deployment("sim", [endpoint("sim-1", replicas[1])], namespace="team"),
        )
        started.append(RouterProcess(table.path, "--log-level", "warning"))
        started[0].wait_table(version, timeout=30)
        yield started[0]
    finally:
        for process in [*started, *replicas]:
            stop_process(process.proc)


@pytest.mark.slow
def test_open_loop_report_and_plot(router: RouterProcess, tmp_path: Path) -> None:
    out = tmp_path / "report" / "run.json"
    env = {**os.environ, "MODELPLANE_STATE_DIR": str(tmp_path / "nostate")}
    done = subprocess.run(
        [
            *CLI,
            "loadtest",
            "sim:3",
            "team/sim:1",
            "--rate",
            "200",
            "--duration",
            "3s",
            "--ingress",
            f"http://127.0.0.1:{router.port}",
            "--server",
            f"http://127.0.0.1:{closed_port()}",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert (report["mode"], report["latencyFrom"], report["duration"]) == ("open", "intended", 3.0)
    main, team = report["targets"]
    assert (main["path"], team["path"]) == ("/v2/models/sim/infer", "/ns/team/v2/models/sim/infer")
    for target, rate in ((main, 150), (team, 50)):
        totals = target["totals"]
        assert totals["offered"] == pytest.approx(rate * 3, abs=2)
        assert totals["served"] == totals["offered"]
        assert totals["errors"] == 0, totals["errorsByKind"]
        latency = totals["latencyMs"]
        assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
        seconds = target["seconds"]
        assert [s["offered"] for s in seconds[:3]] == pytest.approx([rate] * 3, abs=2)
        assert sum(s["served"] for s in seconds) == totals["served"]
        assert all(s["readyReplicas"] is None for s in seconds)  # no control plane answered
    assert report["replicaErrors"]
    assert "replicas not read" in done.stderr
    assert "report: " in done.stdout and "plot: " in done.stdout


@pytest.mark.slow
def test_closed_loop(router: RouterProcess, tmp_path: Path) -> None:
    out = tmp_path / "closed.json"
    done = subprocess.run(
        [
            *CLI,
            "loadtest",
            "sim",
            "--clients",
            "4",
            "-d",
            "2",
            "--ingress",
            f"127.0.0.1:{router.port}",
            "--no-replicas",
            "--no-plot",
            "-q",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    totals = report["targets"][0]["totals"]
    assert (report["mode"], report["latencyFrom"]) == ("closed", "send")
    assert totals["served"] == totals["offered"] > 50  # 4 clients of a ~2 ms model for 2 s
    assert totals["errors"] == 0
    assert not out.with_suffix(".png").exists()


@pytest.mark.slow
def test_unknown_deployment_is_named(router: RouterProcess) -> None:
    done = subprocess.run(
        [
            *CLI,
            "loadtest",
            "nosuch",
            "-d",
            "1",
            "--ingress",
            f"http://127.0.0.1:{router.port}",
            "--no-replicas",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "serves no deployment 'nosuch'" in done.stderr


@pytest.mark.parametrize(
    ("arguments", "flag"),
    [
        (["--rate", "-5"], "--rate"),
        (["--rate", "nan"], "--rate"),
        (["--profile", "wave"], "--profile"),
        (["--profile", "spike", "--to", "100", "--at", "50s", "-d", "10s"], "--at"),
        (["--profile", "step"], "--to"),
        (["--profile", "ramp", "--to", "10", "--for", "0"], "--for"),
        (["--clients", "0"], "--clients"),
        (["--clients", "3", "--rate", "10"], "--clients"),
        (["--profile", "replay"], "--rates-file"),
        (["--timeout", "0"], "--timeout"),
        (["--ingress", "https://example.com"], "--ingress"),
    ],
)
def test_nonsense_flag_is_named(arguments: list[str], flag: str) -> None:
    result = CliRunner().invoke(cli, ["loadtest", "sim", "--ingress", "http://127.0.0.1:1", *arguments])
    assert result.exit_code == 2, result.output
    assert f"Error: {flag}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("target", ["Sim", "sim:0", "sim:x", "a/b/c", "/sim"])
def test_bad_target_is_named(target: str) -> None:
    result = CliRunner().invoke(cli, ["loadtest", target, "--ingress", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert repr(target) in result.output
