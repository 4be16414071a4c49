"""The Ray runner on a real local Ray cluster (a head and two worker nodes on this machine, one
CPU each, token authentication): the local runner's verdicts, nothing lost or doubled when a
worker or the engine dies, and a clear error, never a silent local run, when the cluster is
out of reach. Skipped, saying why, where Ray is not installed."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from analysis.runners import RayRunner, RunnerUnavailable
from collectors.post import Post
from data import queries
from subtext import batch, jobs
from subtext.api import create_app
from subtext.config import ConfigError, load
from subtext.engine import Engine
from tests.ray_analyzers import Echo, marks
from tests.ray_cluster import LocalCluster, free_port

# Ray is imported only once the cluster's token is in the environment: it reads it once.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="Ray is not installed (pip install 'ray[data]==2.60.0')")

ROOT = Path(__file__).resolve().parent.parent
VERDICT_FIELDS = ("label", "sentiment", "sarcasm", "sarcasm_score", "emotion", "confidence",
                  "explanation")


@pytest.fixture(scope="module")
def cluster():
    started = LocalCluster(workers=2).start()
    saved = {k: os.environ.get(k) for k in started.env}
    os.environ.update(started.env)  # this process (the driver) and its children need them
    import ray

    try:
        ray.init(address=started.address, log_to_driver=False, logging_level="WARNING")
        started.wait_for_nodes(ray)
        yield started
    finally:
        ray.shutdown()
        started.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_config(tmp_path: Path, analysis: str, replay_file: Path | None = None) -> Path:
    source = f"""
[[sources]]
name = "replay"
kind = "replay"
file = "{replay_file.as_posix()}"
""" if replay_file else ""
    path = tmp_path / "subtext.toml"
    path.write_text(f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"
[analysis]
{analysis}
[[brands]]
name = "Nimbus"
query = "nimbus OR 云朵"
[[brands]]
name = "Voltra"
query = "voltra OR 伏特拉"
{source}""", encoding="utf-8")
    return path


def verdict_rows(engine: Engine) -> dict[str, tuple]:
    rows = engine.store.reader().execute(
        f"SELECT post_id, {', '.join(VERDICT_FIELDS)} FROM verdicts ORDER BY post_id").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def verdict_counts(engine: Engine) -> dict[str, int]:
    return dict(engine.store.reader().execute(
        "SELECT post_id, count(*) FROM verdicts GROUP BY post_id").fetchall())


def echo_posts(n: int) -> list[Post]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [Post("import", f"p{i:02d}", f"Nimbus post {i:02d}" + (" bad" if i % 3 else ""),
                 created_at=start + timedelta(minutes=i)) for i in range(n)]


def echo_engine(config_path: Path, marks_dir: Path | None = None,
                delay_s: float = 0.0) -> Engine:
    config = load(config_path)
    runner = RayRunner(config.analysis, expect="echo@1",
                       factory=functools.partial(Echo, str(marks_dir) if marks_dir else None,
                                                 delay_s))
    return Engine(config, analyzer=Echo(), runner=runner)


def assert_one_echo_verdict_per_post(engine: Engine, n: int) -> None:
    assert engine.store.count_pending("echo@1") == 0
    assert verdict_counts(engine) == {f"import:p{i:02d}": 1 for i in range(n)}
    texts = dict(engine.store.reader().execute("SELECT id, text FROM posts").fetchall())
    assert {k: v[-1] for k, v in verdict_rows(engine).items()} == texts  # its own verdict


# -- the same verdicts ----------------------------------------------------------------------

def test_the_engine_on_ray_stores_the_local_runners_verdicts(cluster, tmp_path, replay_file):
    """The lite analyzer (embed = never) on the replay posts, one with an image (read by
    OCR on a worker from the bytes the engine sent), through the engine and the store."""
    results = {}
    for runner in ("local", "ray"):
        folder = tmp_path / runner
        folder.mkdir()
        analysis = (f'embed = "never"\nbatch_size = 2\nrunner = "{runner}"\n'
                    f'ray_address = "{cluster.address}"')
        engine = Engine(load(write_config(folder, analysis, replay_file)))
        try:
            engine.collect_all()
            assert engine.analyze_pending().new == 4
            results[runner] = verdict_rows(engine)
            assert engine.store.count_pending(engine.analyzer_id) == 0
        finally:
            engine.stop()
    assert len(results["ray"]) == 4
    assert results["ray"] == results["local"]


def test_analyze_cli_with_runner_ray_keeps_the_batch_contract(cluster, tmp_path):
    from analysis.lite import LiteAnalyzer

    lines = [json.dumps({"id": "1", "text": "Great, another update that breaks everything 🙄"}),
             json.dumps({"id": 2, "text": "这手机续航真厉害，让我三天没睡着", "lang": "zh"}),
             "{not json",
             json.dumps({"id": "4", "text": "Nimbus is nice"})]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(tmp_path, f'embed = "never"\nray_address = "{cluster.address}"')
    out = subprocess.run([sys.executable, "-m", "subtext", "--config", str(config), "analyze",
                          str(source), "--out", str(tmp_path / "ray.jsonl"), "--runner", "ray"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 1, out.stderr  # the bad line
    assert "analyzed 4/4 lines" in out.stderr and "1 failed" in out.stderr
    batch.run(LiteAnalyzer(embed="never"), source, tmp_path / "local.jsonl")

    def read(name):
        records = [json.loads(x) for x in (tmp_path / name).read_text("utf-8").splitlines()]
        return [{k: r.get(k) for k in ("id", "error", *VERDICT_FIELDS)} for r in records]

    assert read("ray.jsonl") == read("local.jsonl")
    assert read("ray.jsonl")[2]["error"].startswith("line 3:")


# -- nothing lost, nothing doubled ----------------------------------------------------------

def test_a_worker_killed_mid_batch_still_gives_every_post_one_verdict(cluster, tmp_path):
    config = write_config(tmp_path, f'batch_size = 3\nray_address = "{cluster.address}"\n'
                                    'runner = "ray"')
    marks_dir = tmp_path / "marks"
    marks_dir.mkdir()
    engine = echo_engine(config, marks_dir, delay_s=0.5)
    try:
        jobs.ingest(engine.store, echo_posts(24), engine.config.brands)
        done = []
        worker = threading.Thread(target=lambda: done.append(engine.analyze_pending()))
        worker.start()
        deadline = time.monotonic() + 120
        while not marks(marks_dir, "start") and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = next(iter(marks(marks_dir, "start").values()))[0]
        os.kill(killed, signal.SIGKILL)  # the actor's worker process, mid-batch
        finished = marks(marks_dir, "done")
        in_flight = {t for batch, (pid, texts) in marks(marks_dir, "start").items()
                     if pid == killed and batch not in finished for t in texts}
        assert in_flight, "the actor was killed between batches"
        worker.join(timeout=180)
        assert done and done[0] is not None and done[0].new == 24
        assert_one_echo_verdict_per_post(engine, 24)
        redone = {t for pid, texts in marks(marks_dir, "done").values() if pid != killed
                  for t in texts}
        assert in_flight <= redone  # the killed batch was retried by another process
    finally:
        engine.stop()


CHILD = """
import functools, sys
from analysis.runners import RayRunner
from subtext.config import load
from subtext.engine import Engine
from tests.ray_analyzers import Echo
config = load(sys.argv[1])
runner = RayRunner(config.analysis, expect="echo@1",
                   factory=functools.partial(Echo, sys.argv[2], 0.5))
Engine(config, analyzer=Echo(), runner=runner).analyze_pending()
"""


def test_the_engine_killed_while_a_batch_is_out_loses_and_doubles_nothing(cluster, tmp_path):
    config = write_config(tmp_path, f'batch_size = 2\nray_address = "{cluster.address}"\n'
                                    'runner = "ray"')
    marks_dir = tmp_path / "marks"
    marks_dir.mkdir()
    first = echo_engine(config)
    jobs.ingest(first.store, echo_posts(40), first.config.brands)
    first.stop()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(config), str(marks_dir)],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while not marks(marks_dir, "start") and time.monotonic() < deadline:
            assert child.poll() is None, "the engine finished before it could be killed"
            time.sleep(0.05)
        assert marks(marks_dir, "start"), "no batch went out"
    finally:
        child.send_signal(signal.SIGKILL)  # the engine dies with its batch on the cluster
        child.wait()
    restarted = echo_engine(config)
    try:
        pending = restarted.store.count_pending("echo@1")
        stored = len(verdict_rows(restarted))
        assert pending > 0 and pending + stored == 40  # what was out is still pending
        analyzed = 0
        for _ in range(3):  # the job stops after a 20 s budget; the scheduler runs it again
            analyzed += restarted.analyze_pending().new
            if not restarted.store.count_pending("echo@1"):
                break
        assert analyzed == pending  # only what was pending is analyzed again
        assert_one_echo_verdict_per_post(restarted, 40)
    finally:
        restarted.stop()


# -- a cluster out of reach -----------------------------------------------------------------

def test_an_unreachable_cluster_is_a_clear_error_and_never_runs_locally(tmp_path, replay_file):
    address = f"127.0.0.1:{free_port()}"  # nobody listens there
    config = load(write_config(tmp_path, f'runner = "ray"\nray_address = "{address}"',
                               replay_file))
    started = time.monotonic()
    with pytest.raises(RunnerUnavailable, match=f"ray_address = '{address}'"):
        RayRunner(config.analysis).connect()
    assert time.monotonic() - started < 10
    engine = Engine(config)  # starts, says why in /health, analyzes nothing
    try:
        engine.collect_all()
        with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
            health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert health["runner"]["ok"] is False and address in health["runner"]["error"]
        assert engine.analyze_pending() is None
        assert engine.store.count_pending(engine.analyzer_id) == 4  # nothing ran locally
        assert verdict_rows(engine) == {}
        run = next(r for r in queries.list_runs(engine.store, 10) if r["job"] == "analyze")
        assert run["status"] == "failed" and "ray_address" in run["last_error"]
    finally:
        engine.stop()


def test_the_cli_refuses_an_unreachable_cluster(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Nimbus is nice"}) + "\n")
    config = write_config(tmp_path, f'ray_address = "{address}"')
    out = subprocess.run([sys.executable, "-m", "subtext", "--config", str(config), "analyze",
                          str(source), "--out", str(tmp_path / "out.jsonl"), "--runner", "ray"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert f"ray_address = '{address}'" in out.stderr
    assert not (tmp_path / "out.jsonl").exists()  # no verdict from a local fall-back


def test_runner_ray_needs_an_address(tmp_path):
    with pytest.raises(ConfigError, match="analysis.ray_address"):
        load(write_config(tmp_path, 'runner = "ray"'))
    with pytest.raises(ConfigError, match="analysis.ray_concurrency"):
        load(write_config(tmp_path, "ray_concurrency = [3, 1]"))
    settings = load(write_config(tmp_path, "ray_concurrency = 4\nray_num_gpus = 0.5")).analysis
    assert (settings.runner, settings.ray_concurrency, settings.ray_num_gpus) == \
        ("local", (4, 4), 0.5)
    assert replace(settings, runner="ray").ray_address == ""


def test_a_hurried_batch_reaches_the_actors_analyzer():
    """The engine's backlog flag travels in the batch: each actor's lite analyzer then lets
    its auto gate choose (here one that picks nothing) instead of encoding every post."""
    import pyarrow as pa

    from analysis.lite import LiteAnalyzer
    from analysis.runners import _actor_class

    actor = _actor_class(lambda: LiteAnalyzer(read_images=False, auto_threshold=1.0))()
    for hurry in (True, False):
        out = actor(pa.table({"i": [0], "text": ["Oh great, it broke again"], "lang": ["en"],
                              "image": pa.array([None], pa.binary()),
                              "image_name": pa.array([None], pa.string()),
                              "hurry": [hurry]}))
        verdict = json.loads(out.column("verdict").to_pylist()[0])
        assert verdict["evidence"]["encoded"] is not hurry
