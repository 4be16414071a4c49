"""`python -m subtext up` as a user runs it: both servers answer, then Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout_s: float) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_up_starts_engine_and_dashboard_then_stops_cleanly(tmp_path, config_file):
    api_port, dash_port = free_port(), free_port()
    config = tmp_path / "up.toml"
    config.write_text(config_file.read_text() + f"\n[api]\nport = {api_port}\n"
                      f"[dashboard]\nport = {dash_port}\n")
    up = subprocess.Popen([sys.executable, "-m", "subtext", "--config", str(config)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = wait_for(f"http://127.0.0.1:{api_port}/health", 90).json()
        assert health["status"] == "ok"
        wait_for(f"http://127.0.0.1:{dash_port}/_stcore/health", 90)
        # the demo-style replay source back-fills at once and analysis follows
        deadline = time.monotonic() + 90  # the first batch loads the models: slow under load
        while time.monotonic() < deadline:
            counts = httpx.get(f"http://127.0.0.1:{api_port}/health").json()["counts"]
            if counts["verdicts"] == 4:
                break
            time.sleep(0.5)
        assert counts["posts"] == 4 and counts["verdicts"] == 4
        up.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:  # a failed check: still stop it the way a user would, so the
            up.send_signal(signal.SIGINT)  # supervisor takes its children down with it
            try:
                up.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.communicate()
    assert up.returncode == 0, output
    assert f"dashboard: http://localhost:{dash_port}" in output
    assert f"API:       http://127.0.0.1:{api_port}" in output
    assert not port_open(api_port) and not port_open(dash_port)
    assert processes_mentioning(str(config)) == []
    assert processes_mentioning(f"--server.port\x00{dash_port}") == []
