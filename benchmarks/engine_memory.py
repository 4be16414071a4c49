"""The engine's memory and catch-up time on the demo: start `python -m subtext engine` on a
fresh data directory, wait until the 30-day back-fill is collected and analyzed, and print the
engine process's peak and current RSS.

    python -m benchmarks.engine_memory
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "data" / "demo" / "subtext.toml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "demo.toml"
        config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + f"\n[api]\nport = {port}\n",
                          encoding="utf-8")
        start = time.perf_counter()
        engine = subprocess.Popen([sys.executable, "-m", "subtext", "--config", str(config),
                                   "--data-dir", str(Path(tmp) / "var"), "engine"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            health = wait_until_analyzed(f"http://127.0.0.1:{port}/health", timeout_s=900)
            took = time.perf_counter() - start
            memory = memory_mb(engine.pid)
            print(f"demo back-fill: {health['counts']['posts']} posts, "
                  f"{health['counts']['verdicts']} verdicts, {health['counts']['images']} images "
                  f"in {took:.1f} s from start ({health['analyzer']})")
            print(f"engine RSS now {memory['VmRSS']:.0f} MB, peak {memory['VmHWM']:.0f} MB")
        finally:
            engine.send_signal(signal.SIGINT)
            engine.wait(timeout=60)


def wait_until_analyzed(url: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            health = httpx.get(url, timeout=5).json()
            if health["counts"]["posts"] >= 300 and health["pending"] == 0:
                return health
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the engine did not finish the back-fill in time")


if __name__ == "__main__":
    main()
