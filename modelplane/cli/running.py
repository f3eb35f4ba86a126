"""`modelplane up`, `modelplane down` and the process entry point of the control plane.

`up` starts two processes in their own sessions — the control plane (API + store + controllers +
scheduler + runtime) and the router — writes their pids and URLs into the state dir, and either
stays in the foreground showing their logs (Ctrl-C runs `down`) or, with --detach, returns once both
answer. `down` asks the control plane to drain and stop every replica, then stops both processes.
Replicas are processes of their own: a crash or restart of the control plane does not stop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from modelplane.api import auth
from modelplane.local import RuntimeKind, Settings
from modelplane.local import run as run_control_plane
from modelplane.scheduler import ScoringStrategy
from modelplane.store import open_private, private_dir, write_private

LISTENING = re.compile(r"listening on (http://[^\s]+)")
DOWN_TIMEOUT_S = 180.0
"""How long `down` waits for the control plane to drain every replica and exit."""
ROUTER_STOP_S = 35.0
"""The router's drain grace (30 s) and a margin: SIGKILL after that."""
STATE_HELP = "State directory [default: $MODELPLANE_STATE_DIR or .modelplane]."


def state_dir_of(value: Path | None) -> Path:
    return (value or Path(os.environ.get("MODELPLANE_STATE_DIR", ".modelplane"))).resolve()


@click.command("controlplane", hidden=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed for random choices (tests).")
@click.option(
    "--scheduler-strategy", type=click.Choice([s.value for s in ScoringStrategy]), default="LeastAllocated"
)
@click.option("--runtime", type=click.Choice([r.value for r in RuntimeKind]), default="processes")
def controlplane(
    state_dir: Path | None, host: str, port: int, seed: int | None, scheduler_strategy: str, runtime: str
) -> None:
    """Run the control plane in this process (what `up` starts)."""
    logging.basicConfig(
        level="INFO", stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(
        state_dir=state_dir_of(state_dir),
        host=host,
        port=port,
        seed=seed,
        strategy=ScoringStrategy(scheduler_strategy),
        runtime=RuntimeKind(runtime),
    )

    def announce(bound: int) -> None:
        print(f"modelplane control plane listening on http://{host}:{bound}", flush=True)

    raise SystemExit(asyncio.run(run_control_plane(settings, on_listening=announce)))


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab", opener=open_private)  # noqa: SIM115 - the child owns it from here
    return subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )


def _wait_url(proc: subprocess.Popen[bytes], log_path: Path, *, offset: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_bytes()[offset:].decode(errors="replace")
        match = LISTENING.search(text)
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise click.ClickException(f"{log_path.stem} exited with code {proc.returncode}:\n{text[-2000:]}")
        time.sleep(0.05)
    raise click.ClickException(f"{log_path.stem} did not start within {timeout:.0f} s; see {log_path}.")


def _alive(pid: int) -> bool:
    """Whether `pid` still runs. A child of ours that exited is reaped here (a foreground `up` is
    the router's parent), and a zombie waiting for another parent to reap it counts as gone."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): signal 0 is all there is
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _read_state(state: Path) -> dict[str, Any] | None:
    path = state / "up.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@click.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the API.")
@click.option("--port", default=8090, show_default=True, help="API port (0 picks a free one).")
@click.option("--ingress-port", default=8080, show_default=True, help="Router port (0 picks a free one).")
@click.option("--detach", is_flag=True, help="Return once both processes answer; stop them with `down`.")
@click.option(
    "--scheduler-strategy",
    type=click.Choice([s.value for s in ScoringStrategy]),
    default="LeastAllocated",
    show_default=True,
    help="How replicas are spread over pools: LeastAllocated spreads, MostAllocated bin-packs (for GPUs).",
)
@click.option("--seed", type=int, default=None, hidden=True)
def up(
    state_dir: Path | None,
    host: str,
    port: int,
    ingress_port: int,
    detach: bool,
    scheduler_strategy: str,
    seed: int | None,
) -> None:
    """Start the control plane (API on --port) and the router (inference on --ingress-port)."""
    state = state_dir_of(state_dir)
    private_dir(state)  # objects, events, logs, token: nothing other users may read
    previous = _read_state(state)
    if previous and _call(previous["api"] + "/healthz", auth.read_token(state)):
        raise click.ClickException(
            f"a control plane is already running for {state} at {previous['api']}; stop it with "
            "`modelplane down` or use another --state-dir."
        )
    auth.ensure_token(state)
    python = [sys.executable, "-m", "modelplane.cli.main"]
    if previous and _alive(previous["router"]["pid"]):
        # The control plane died but the router (and the replicas) still serve: start only a new
        # control plane on the same address; it re-adopts the replicas and the router follows it.
        _restart_control_plane(state, previous, python, scheduler_strategy=scheduler_strategy, seed=seed)
        click.echo(f"control plane restarted: {previous['api']}; router still at {previous['ingress']}")
        return
    cp_log, router_log = state / "controlplane.log", state / "router.log"
    cp_offset = cp_log.stat().st_size if cp_log.exists() else 0
    router_offset = router_log.stat().st_size if router_log.exists() else 0
    cp_args = [*python, "controlplane", "--state-dir", str(state), "--host", host, "--port", str(port)]
    cp_args += ["--scheduler-strategy", scheduler_strategy]
    if seed is not None:
        cp_args += ["--seed", str(seed)]
    cp = _spawn(cp_args, cp_log)
    api = _wait_url(cp, cp_log, offset=cp_offset, timeout=60)
    router = _spawn(
        [
            *python,
            "router",
            "--api",
            api,
            "--token-file",
            str(state / auth.TOKEN_FILE),
            "--port",
            str(ingress_port),
        ],
        router_log,
    )
    try:
        ingress = _wait_url(router, router_log, offset=router_offset, timeout=60)
    except click.ClickException:
        _stop(cp.pid, timeout=10)
        raise
    record = {
        "api": api,
        "ingress": ingress,
        "controlplane": {"pid": cp.pid},
        "router": {"pid": router.pid},
    }
    write_private(state / "up.json", json.dumps(record, indent=1))
    click.echo(f"control plane: {api}   (logs: {cp_log})")
    click.echo(f"router:        {ingress}   (logs: {router_log})")
    if detach:
        click.echo("running in the background; stop everything with `modelplane down`.")
        return
    click.echo("Ctrl-C stops the control plane, the router and every replica.")
    with contextlib.suppress(KeyboardInterrupt):
        _follow([cp_log, router_log], [cp_offset, router_offset], cp)
    _down(state)
    for child in (cp, router):  # reaped: no zombie left behind while `up` returns
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)


def _restart_control_plane(
    state: Path, previous: dict[str, Any], python: list[str], *, scheduler_strategy: str, seed: int | None
) -> None:
    host, port = previous["api"].removeprefix("http://").rsplit(":", 1)
    cp_log = state / "controlplane.log"
    offset = cp_log.stat().st_size if cp_log.exists() else 0
    args = [*python, "controlplane", "--state-dir", str(state), "--host", host, "--port", port]
    args += ["--scheduler-strategy", scheduler_strategy] + (["--seed", str(seed)] if seed is not None else [])
    cp = _spawn(args, cp_log)
    _wait_url(cp, cp_log, offset=offset, timeout=60)
    previous["controlplane"] = {"pid": cp.pid}
    write_private(state / "up.json", json.dumps(previous, indent=1))


def _follow(paths: list[Path], offsets: list[int], proc: subprocess.Popen[bytes]) -> None:
    while proc.poll() is None:
        for i, path in enumerate(paths):
            data = path.read_bytes()[offsets[i] :]
            if data:
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
                offsets[i] += len(data)
        time.sleep(0.2)


def _stop(pid: int, *, timeout: float) -> None:
    if pid <= 1 or not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _down(state: Path) -> bool:
    """Ask the control plane at the recorded URL to drain and stop (whatever its pid now is: it may
    have been restarted by hand), wait until it stops answering, then stop the router."""
    record = _read_state(state)
    if record is None:
        return False
    api = record["api"]
    token = auth.read_token(state)
    if _call(api + "/api/v1/down", token, method="POST"):
        # the control plane drains every replica at once, stops answering, then exits at once
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while _call(api + "/healthz", token) and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        click.echo(f"no control plane answered at {api}; replicas it started may still run.")
    _stop(record["controlplane"]["pid"], timeout=5)
    _stop(record["router"]["pid"], timeout=ROUTER_STOP_S)
    (state / "up.json").unlink(missing_ok=True)
    return True


def _call(url: str, token: str | None, *, method: str = "GET") -> bool:
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return True
    except (urllib.error.URLError, OSError):
        return False


@click.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_HELP)
def down(state_dir: Path | None) -> None:
    """Stop every replica (drained), the control plane and the router started by `up`."""
    state = state_dir_of(state_dir)
    if not _down(state):
        raise click.ClickException(f"nothing is running for {state} (no up.json); did you pass --state-dir?")
    click.echo("stopped: replicas, control plane, router.")
