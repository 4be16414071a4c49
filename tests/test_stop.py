"""A stop under load: the engine, busy with a backlog of analysis, gets SIGTERM and exits in a
few seconds, cleanly (no WAL left, every post kept, every verdict whole)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

from data.store import DB_FILE, Store
from subtext import supervisor
from tests.test_startup import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
BACKLOG = 3000


def make_backlog(data_dir: Path) -> None:
    """BACKLOG pending posts, written in one statement (the store's per-post path is slow)."""
    Store.open(data_dir).close()  # the schema
    con = duckdb.connect(str(data_dir / DB_FILE))
    con.execute("""
        INSERT INTO posts (id, source, native_id, text, lang, created_at, collected_at,
                           content_hash)
        SELECT 'load:' || i, 'load', i::VARCHAR,
               'Nimbus update ' || i || ' broke my battery again, great 🙄', 'en',
               now()::TIMESTAMP - INTERVAL (i) MINUTE, now()::TIMESTAMP, md5(i::VARCHAR)
          FROM range(?) t(i)""", [BACKLOG])
    con.execute("INSERT INTO post_brands SELECT id, 'Nimbus' FROM posts")
    con.close()


def test_sigterm_under_load_stops_in_seconds_and_loses_nothing(tmp_path):
    data_dir, port = tmp_path / "var", free_port()
    make_backlog(data_dir)
    config = tmp_path / "stop.toml"
    config.write_text(f"""
[storage]
data_dir = "{data_dir.as_posix()}"
[api]
port = {port}
[[brands]]
name = "Nimbus"
query = "nimbus"
[analysis]
batch_size = 16
every_seconds = 1
""")
    engine = subprocess.Popen([sys.executable, "-m", "subtext", "--config", str(config),
                               "engine"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 90)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # analysis under way, far from done
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
            if health["counts"]["verdicts"] >= 32:
                break
            time.sleep(0.2)
        assert 32 <= health["counts"]["verdicts"] < BACKLOG, health["jobs"]
        engine.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = engine.communicate(timeout=supervisor.STOP_GRACE_S + 30)
        took = time.monotonic() - started
    finally:
        if engine.poll() is None:
            engine.kill()
            print(engine.communicate()[0][-3000:])
    # uvicorn re-raises the signal once it has shut down cleanly: -SIGTERM is a clean exit
    assert engine.returncode in (0, -signal.SIGTERM), output[-2000:]
    assert "engine stopped" in output
    assert took < supervisor.STOP_GRACE_S, f"stop took {took:.1f} s"
    print(f"stop under load took {took:.1f} s")
    assert not (data_dir / f"{DB_FILE}.wal").exists()
    with Store.open(data_dir) as store:
        posts, verdicts, orphans = store.reader().execute("""
            SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM verdicts),
                   (SELECT count(*) FROM verdicts v LEFT JOIN posts p ON p.id = v.post_id
                     WHERE p.id IS NULL OR v.content_hash <> p.content_hash)""").fetchone()
    assert posts == BACKLOG and 32 <= verdicts < BACKLOG and orphans == 0
