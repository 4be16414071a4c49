"""`python -m subtext up`: the engine and the dashboard as two supervised child processes.

Each child runs in its own process group, so stopping it also stops anything it spawned. If one
child dies the other is stopped too; Ctrl-C (or SIGTERM) stops both and waits for them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from subtext.access import API_TOKEN_ENV, INTERNAL_TOKEN_ENV, new_token
from subtext.config import ROOT, Config

# A stop: the engine's HTTP server closes open requests within HTTP_GRACE_S, then the running
# analysis batch finishes (jobs check `stopping` between batches) and the store closes. The
# grace covers both; only past it is a child killed.
HTTP_GRACE_S = 3
BATCH_ALLOWANCE_S = 12.0
STOP_GRACE_S = HTTP_GRACE_S + BATCH_ALLOWANCE_S


def dashboard_command(config: Config) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
            "--server.port", str(config.dashboard_port),
            "--server.address", config.api_host,
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            "--global.showWarningOnDirectExecution", "false",
            "--client.toolbarMode", "viewer"]


def dashboard_env(config: Config, api_token: str | None = None) -> dict[str, str]:
    """The dashboard's environment: where the API is, its token (from `up`, else the user's
    SUBTEXT_API_TOKEN), where the dashboard listens and how long a login lasts."""
    env = {k: v for k, v in os.environ.items() if k != INTERNAL_TOKEN_ENV}
    env.update({"SUBTEXT_API_URL": config.api_url, "SUBTEXT_DASHBOARD_HOST": config.api_host,
                "SUBTEXT_SESSION_MINUTES": str(config.dashboard_session_minutes)})
    if api_token:
        env[API_TOKEN_ENV] = api_token
    return env


def up(config: Config, engine_args: list[str]) -> int:
    children: dict[str, subprocess.Popen] = {}
    # SIGTERM from a process manager stops both children the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    # The dashboard's token for this run: known to the engine only through its environment.
    token = new_token()[0]
    try:
        children["engine"] = _spawn([sys.executable, "-m", "subtext", *engine_args, "engine"],
                                    env={**os.environ, INTERNAL_TOKEN_ENV: token})
        if not _wait_for_engine(config, children["engine"]):
            print("subtext: the engine did not start; see its messages above", file=sys.stderr)
            return 1
        children["dashboard"] = _spawn(dashboard_command(config),
                                       env=dashboard_env(config, token))
        print(f"Subtext is running{' the demo' if config.is_demo else ''}.\n"
              f"  dashboard: http://localhost:{config.dashboard_port}\n"
              f"  API:       {config.api_url}  (docs at {config.api_url}/docs)\n"
              f"  data:      {config.data_dir}\n"
              "Press Ctrl-C to stop.", flush=True)
        return _watch(children)
    except KeyboardInterrupt:
        print("\nsubtext: stopping…", file=sys.stderr)
        return 0
    finally:
        _stop_all(children)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _spawn(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def _wait_for_engine(config: Config, engine: subprocess.Popen, timeout_s: float = 120) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine.poll() is not None:
            return False
        try:
            if httpx.get(f"{config.api_url}/health", timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _watch(children: dict[str, subprocess.Popen]) -> int:
    while True:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"subtext: the {name} stopped (exit code {code}); stopping the rest",
                      file=sys.stderr)
                return code or 1
        time.sleep(0.5)


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    # The dashboard first: it is a client of the engine.
    for child in reversed(list(children.values())):
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass  # already gone
