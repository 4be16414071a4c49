"""Where a batch of items is analyzed: in this process (`local`) or on a Ray cluster (`ray`).

A runner looks like an analyzer to its callers (name, version, analyze): the engine's analyze
job and the batch CLI stay the same whichever runs the model. The Ray runner ships each batch
(text, language, image bytes) to a Ray Data `map_batches` over an actor pool; each actor loads
the configured analyzer once and writes the image bytes it receives to a content-addressed
file of its own, so no worker needs the engine's disk and none opens the database. Verdicts
come back to the caller, which stores them (exactly once: see jobs.analyze_pending).

A cluster that cannot be reached raises RunnerUnavailable naming ray_address; nothing falls
back to the local runner.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from analysis.base import Analyzer, analyze, load_analyzer
from analysis.verdict import Item, Verdict

log = logging.getLogger("subtext.runners")

ROOT = Path(__file__).resolve().parent.parent
RAY_PIN = "ray[data]==2.60.0"
# A dead actor is restarted and its batch retried this often; a model that kills its worker
# every time then fails the job (its posts stay pending) instead of looping for ever.
RETRIES = 3
# One Ray Data job per this many batches per actor: starting the actor pool (each actor loads
# the model) is paid once per job, so a job should give every actor several batches.
BATCHES_PER_ACTOR = 8
CONNECT_TIMEOUT_S = 5.0


class RunnerUnavailable(RuntimeError):
    """The configured runner cannot run here; the message says which setting and why."""


class LocalRunner:
    """The analyzer in this process: the default."""

    kind = "local"

    def __init__(self, analyzer: Analyzer, batch_size: int = 64):
        self.analyzer = analyzer
        self.name, self.version = analyzer.name, analyzer.version
        self.batch_posts = batch_size

    def analyze(self, items: Sequence[Item], hurry: bool = False) -> list[Verdict]:
        """`hurry`: a backlog is being caught up with (see analysis.base.analyze)."""
        return analyze(self.analyzer, items, hurry)

    def status(self) -> dict:
        return {"runner": "local", "ok": True}

    def close(self) -> None:
        pass


class RayRunner:
    """Batches analyzed by an actor pool on a Ray cluster.

    `factory` builds the analyzer inside each actor (default: load_analyzer of the settings);
    it must be importable on the workers. `expect` is the analyzer id (name@version) the
    caller stores verdicts under: a worker running another version is an error, not a verdict
    filed under the wrong analyzer."""

    kind = "ray"

    def __init__(self, settings, expect: str | None = None,
                 factory: Callable[[], Analyzer] | None = None):
        self.settings = settings
        self.address = settings.ray_address
        self.factory = factory or functools.partial(load_analyzer, settings)
        self.expect = expect
        self.name, _, self.version = (expect or "ray@-").partition("@")
        low, high = settings.ray_concurrency
        self.concurrency = (low, high)
        self.batch_posts = settings.batch_size * high * BATCHES_PER_ACTOR
        self.error: str | None = None
        self._connected = self._owns = False

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Join the cluster (once); RunnerUnavailable naming ray_address when it cannot."""
        if self._connected:
            return
        try:
            ray = _import_ray()
            _probe(self.address)
            self._owns = not ray.is_initialized()
            if self._owns:
                _init(ray, self.address)
            nodes = [n for n in ray.nodes() if n.get("Alive")]
        except RunnerUnavailable as exc:
            self.error = str(exc)
            raise
        except Exception as exc:  # Ray's own connection errors vary by version and address
            self.error = (f"cannot reach the Ray cluster at [analysis] ray_address = "
                          f"{self.address!r}: {type(exc).__name__}: {exc}")
            raise RunnerUnavailable(self.error) from None
        self._connected, self.error = True, None
        _quiet_ray_data()
        log.info("ray runner: connected to %s (%d nodes)", self.address, len(nodes))
        if not _loopback(self.address) and os.environ.get("RAY_AUTH_MODE") != "token":
            log.warning("the Ray cluster at %s runs without token authentication: anyone who "
                        "reaches it can run code there (set RAY_AUTH_MODE=token and "
                        "RAY_AUTH_TOKEN on every node and the engine)", self.address)

    def status(self) -> dict:
        return {"runner": "ray", "address": self.address, "ok": self.error is None,
                "error": self.error}

    def close(self) -> None:
        if self._connected and self._owns:
            import ray

            ray.shutdown()
        self._connected = False

    # -- analysis ---------------------------------------------------------------------------

    def analyze(self, items: Sequence[Item], hurry: bool = False) -> list[Verdict]:
        if not items:
            return []
        self.connect()
        try:
            rows = self._run(items, hurry)
        except Exception as exc:
            if _cluster_gone(exc):  # reconnect on the next call; say why in /health now
                self.error = (f"lost the Ray cluster at [analysis] ray_address = "
                              f"{self.address!r}: {type(exc).__name__}: {exc}")
                self.close()
            raise
        return self._in_order(rows, len(items))

    def _run(self, items: Sequence[Item], hurry: bool = False) -> list[dict]:
        import pyarrow as pa
        import ray

        table = pa.table({
            "i": pa.array(range(len(items)), pa.int64()),
            "text": pa.array([item.text or "" for item in items], pa.string()),
            "lang": pa.array([item.lang for item in items], pa.string()),
            "image": pa.array([_read(item.image) for item in items], pa.binary()),
            "image_name": pa.array([Path(item.image).name if item.image else None
                                    for item in items], pa.string()),
            "hurry": pa.array([hurry] * len(items), pa.bool_()),
        })
        s = self.settings
        with warnings.catch_warnings():
            # Ray 2.60 takes bounded actor retries only as "ray_remote_args", which it marks
            # deprecated (its default retries for ever: a model that kills its worker would
            # hang the analyze job). Revisit with the pin.
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            out = ray.data.from_arrow(table).map_batches(
                _actor_class(self.factory),
                batch_size=s.batch_size, batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(min_size=self.concurrency[0],
                                                   max_size=self.concurrency[1]),
                num_cpus=s.ray_num_cpus, num_gpus=s.ray_num_gpus or None,
                runtime_env=WORKER_ENV, max_restarts=RETRIES, max_task_retries=RETRIES)
        return out.take_all()

    def _in_order(self, rows: list[dict], count: int) -> list[Verdict]:
        """One verdict per item, in the items' order. A row Ray delivered twice (a retried
        batch) is kept once; a missing one fails the batch, so its posts stay pending."""
        by_index: dict[int, Verdict] = {}
        for row in rows:
            by_index.setdefault(int(row["i"]), Verdict(**json.loads(row["verdict"])))
        missing = [i for i in range(count) if i not in by_index]
        if missing:
            raise RuntimeError(f"the Ray job returned no verdict for {len(missing)} of "
                               f"{count} items")
        verdicts = [by_index[i] for i in range(count)]
        wrong = {v.analyzer for v in verdicts} - {self.expect} if self.expect else set()
        if wrong:
            raise RuntimeError(f"Ray workers run {', '.join(sorted(wrong))} but this engine "
                               f"stores verdicts of {self.expect}: install the same Subtext "
                               "version on every node")
        return verdicts


class AnalyzerActor:
    """One per Ray actor: loads the analyzer once, then analyzes batch after batch."""

    factory: Callable[[], Analyzer]  # set by _actor_class

    def __init__(self):
        self.analyzer = type(self).factory()
        self.images = Path(tempfile.gettempdir()) / "subtext-ray-images"
        self.images.mkdir(parents=True, exist_ok=True)

    def __call__(self, batch):
        import pyarrow as pa

        columns = {name: batch.column(name).to_pylist() for name in batch.column_names}
        items = [Item(text=text, lang=lang, image=self._image_file(data, name))
                 for text, lang, data, name in zip(columns["text"], columns["lang"],
                                                   columns["image"], columns["image_name"],
                                                   strict=True)]
        verdicts = analyze(self.analyzer, items, any(columns.get("hurry") or ()))
        return pa.table({"i": pa.array(columns["i"], pa.int64()),
                         "verdict": pa.array([json.dumps(asdict(v), ensure_ascii=False)
                                              for v in verdicts], pa.string())})

    def _image_file(self, data: bytes | None, name: str | None) -> Path | None:
        """The image bytes as a file named by their hash (written once per worker machine)."""
        if data is None:
            return None
        path = self.images / (hashlib.sha256(data).hexdigest() + Path(name or "").suffix)
        if not path.exists():
            partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
            partial.write_bytes(data)
            partial.replace(path)  # atomic: a parallel actor never reads half a file
        return path


def _actor_class(factory: Callable[[], Analyzer]) -> type:
    """The actor class with its factory built in: no constructor arguments for Ray to keep in
    its object store (a restart would need them)."""
    return type("AnalyzerActor", (AnalyzerActor,), {"factory": staticmethod(factory)})


def build_runner(settings, analyzer: Analyzer) -> LocalRunner | RayRunner:
    """The runner [analysis] runner asks for. A Ray cluster is joined now, so a bad address
    is logged at start; the runner keeps the reason for /health and retries on each job."""
    if settings.runner != "ray":
        return LocalRunner(analyzer, settings.batch_size)
    runner = RayRunner(settings, expect=f"{analyzer.name}@{analyzer.version}")
    try:
        runner.connect()
    except RunnerUnavailable as exc:
        log.error("%s; analysis waits for the cluster (the local runner is not used)", exc)
    return runner


# -- Ray plumbing ---------------------------------------------------------------------------

def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RunnerUnavailable(f"[analysis] runner = 'ray' needs Ray: pip install "
                                f"'{RAY_PIN}'") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast on a host:port nobody listens on (ray.init would retry for a minute)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as exc:
        raise RunnerUnavailable(f"cannot reach the Ray cluster at [analysis] ray_address = "
                                f"{address!r}: {exc}") from None


# Workers import Subtext from this checkout's path (the same path on every node) and never
# phone home.
WORKER_ENV = {"env_vars": {"PYTHONPATH": str(ROOT), "ORT_DISABLE_TELEMETRY": "1",
                           "HF_HUB_OFFLINE": "1"}}


def _init(ray, address: str) -> None:
    options = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        ray.init(include_dashboard=False, **options)  # a private Ray on this machine
    else:
        ray.init(address=address, **options)


def _quiet_ray_data() -> None:
    """No progress bars or per-job banners in the engine's log."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _read(path) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # the analyzer notes a missing image; the text is still analyzed


def _loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return address == "local" or host in ("127.0.0.1", "localhost", "::1")


def _cluster_gone(exc: Exception) -> bool:
    name = type(exc).__name__
    return isinstance(exc, ConnectionError) or name in (
        "RaySystemError", "GetTimeoutError", "RpcError", "ConnectionError")
