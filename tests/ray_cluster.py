"""A throwaway Ray cluster on this machine: a head and worker nodes, each its own `ray start`
process, with token authentication (Ray's GCS listens on every interface, so it gets a
credential). Used by tests/test_ray.py and benchmarks/ray_runner.py.

Each node runs `ray start --block`, so stopping it (SIGTERM to that one process) stops exactly
that node's Ray processes: no `ray stop`, which would stop every Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalCluster:
    def __init__(self, workers: int = 2, cpus_per_node: int = 1, timeout_s: float = 90):
        self.workers, self.cpus, self.timeout_s = workers, cpus_per_node, timeout_s
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: socket paths
        # Every node and every driver of this cluster needs these (set them in os.environ
        # before connecting: Ray reads them from the environment).
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: list[subprocess.Popen] = []

    def start(self) -> LocalCluster:
        self.nodes.append(self._node(["--head", "--port", str(self.port),
                                      "--include-dashboard=false"], "head"))
        self._wait_for_port()
        for n in range(self.workers):
            # One at a time, each retried once: Ray gives a starting node 30 s to register,
            # which several nodes starting together on a loaded 2-core machine can miss.
            for _ in range(2):
                self.nodes.append(self._node(["--address", self.address], f"worker{n}"))
                if self._started(f"worker{n}"):
                    break
                self.nodes.pop().wait()
            else:
                raise RuntimeError(f"ray worker{n} did not start: {self.log(f'worker{n}')}")
        return self

    def _started(self, name: str) -> bool:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline and self.nodes[-1].poll() is None:
            if "Ray runtime started" in self.log(name):
                return True
            time.sleep(0.3)
        return False

    def _node(self, role: list[str], name: str) -> subprocess.Popen:
        # A worker-port range per node, below the kernel's ephemeral range (32768 and up) that
        # free_port() draws the single ports from, so the two can never overlap.
        low = 20000 + (self.port % 12) * 1000 + 300 * len(self.nodes)
        ports = ["--node-manager-port", "--object-manager-port", "--metrics-export-port",
                 "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
                 "--runtime-env-agent-port"]
        args = [shutil.which("ray") or "ray", "start", *role, "--block",
                "--num-cpus", str(self.cpus), "--disable-usage-stats",
                "--temp-dir", str(self.temp), "--min-worker-port", str(low),
                "--max-worker-port", str(low + 199)]
        for option in ports:
            args += [option, str(free_port())]
        with (self.temp / f"{name}.log").open("w") as log:  # the child keeps its own copy
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, **self.env}, start_new_session=True)

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.nodes[0].poll() is not None:
                raise RuntimeError(f"ray head exited: {self.log('head')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"ray head did not listen in {self.timeout_s}s: {self.log('head')}")

    def wait_for_nodes(self, ray) -> None:
        """Until every node has joined (call with the driver connected)."""
        deadline = time.monotonic() + self.timeout_s
        while sum(n["Alive"] for n in ray.nodes()) < 1 + self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sum(n['Alive'] for n in ray.nodes())} of "
                                   f"{1 + self.workers} Ray nodes joined")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        path = self.temp / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes
        for node in self.nodes:
            try:
                node.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        shutil.rmtree(self.temp, ignore_errors=True)
