"""`subtext import` through a running engine (uvicorn on 127.0.0.1, a real DuckDB file): the
importer sends the JSONL lines as they are and the engine checks them, so every refused row
must still be named by its file line, the good rows stored, a re-import must update (a
corrected date included), and a post given twice keeps its later version even when the two
lines travel in requests that are in flight together."""

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn

from subtext import importer
from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine
from tests.conftest import png_bytes
from tests.test_cli import config_for
from tests.test_startup import free_port


@pytest.fixture
def engine(tmp_path):
    config = load(config_for(tmp_path, port=free_port()))
    engine = Engine(config)
    server = uvicorn.Server(uvicorn.Config(create_app(engine, schedule=False), host="127.0.0.1",
                                           port=config.api_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield engine
    server.should_exit = True
    thread.join(timeout=10)
    engine.stop()


def row(i: int, **changes) -> dict:
    return {"id": str(i), "text": f"Nimbus {i}", "created_at": "2026-11-01T10:00:00Z",
            **changes}


def write(path, rows: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")


def stored(engine, post_id: str) -> tuple:
    return engine.store.reader().execute(
        "SELECT text, created_at FROM posts WHERE id = ?", [post_id]).fetchone()


def test_refused_rows_are_named_by_line_and_the_rest_is_stored(engine, tmp_path, capsys):
    rows = [row(i) for i in range(2500)]
    rows[3] = "not json"
    rows[4] = "[1, 2]"
    rows[1200] = row(1200, brands=["Acme"])  # only the engine knows the configured brands
    rows[2400] = row(2400, likes=-1)
    rows[2499] = row(2499, created_at=float("nan"))  # read by the standard library
    path = tmp_path / "rows.jsonl"
    write(path, rows)
    report = importer.run(engine.config, path)
    assert report.via.startswith("engine API")
    assert (report.rows, report.new, report.updated, report.failed) == (2500, 2495, 0, 5)
    errors = capsys.readouterr().err
    for expected in ("line 4: not valid JSON", "line 5: not a JSON object", "line 1201: brands",
                     "line 2401: likes", "line 2500: created_at"):
        assert expected in errors
    assert engine.store.reader().execute("SELECT count(*) FROM posts").fetchone()[0] == 2495


def test_a_reimport_updates_and_the_later_line_of_a_post_wins(engine, tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [row(i) for i in range(3000)]
    rows[1500] = row(7, text="Nimbus 7, corrected later in the file")  # 7 is also line 8
    write(path, rows)
    first = importer.run(engine.config, path)
    assert (first.new, first.updated) == (2999, 1)
    assert stored(engine, "import:7")[0] == "Nimbus 7, corrected later in the file"
    rows[10] = row(10, created_at="2026-10-01T08:30:00Z")  # a date correction
    write(path, rows)
    again = importer.run(engine.config, path)
    assert (again.new, again.updated, again.failed) == (0, 3000, 0)
    assert stored(engine, "import:10")[1] == datetime(2026, 10, 1, 8, 30)
    assert stored(engine, "import:7")[0] == "Nimbus 7, corrected later in the file"
    assert engine.store.reader().execute("SELECT count(*) FROM posts").fetchone()[0] == 2999


def test_clashing_items_wait_for_the_one_in_flight():
    log, lock = [], threading.Lock()

    def work(item: tuple[int, str]) -> dict:
        with lock:
            log.append(("start", item[0]))
        time.sleep(0.05)  # long enough that a second item would start meanwhile, if let
        with lock:
            log.append(("end", item[0]))
        return {"item": item[0]}

    items = [(0, "a"), (1, "a"), (2, "b")]
    results = importer._pipelined(iter(items), work, window=2,
                                  clash=lambda x, y: x[1] == y[1])
    assert [r["item"] for r in results] == [0, 1, 2]
    assert log.index(("end", 0)) < log.index(("start", 1))  # item 1 shares "a" with item 0


def test_the_import_command_loads_neither_pandas_nor_httpx(tmp_path):
    """Their imports were half a second of a 50,000-post import's start-up."""
    path = tmp_path / "rows.jsonl"
    write(path, [row(1), row(2)])
    config = config_for(tmp_path, port=free_port())
    code = ("import sys; from subtext.cli import main; "
            f"rc = main(['--config', {str(config)!r}, 'import', {str(path)!r}]); "
            "print(rc, sorted({'pandas', 'httpx', 'duckdb'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert "2 new" in out.stdout, out.stderr
    assert out.stdout.strip().endswith("0 ['duckdb']")  # the store path, without the others


def test_local_images_of_jsonl_rows_go_inline(engine, tmp_path):
    (tmp_path / "pic.png").write_bytes(png_bytes())
    path = tmp_path / "rows.jsonl"
    write(path, [row(1, image="pic.png"), row(2, images=["pic.png", "missing.png"]), row(3)])
    report = importer.run(engine.config, path)
    assert (report.new, report.failed) == (3, 0)
    links = engine.store.reader().execute(
        "SELECT pi.post_id, i.status FROM post_images pi JOIN images i USING (sha256) "
        "ORDER BY pi.post_id, pi.position").fetchall()
    assert links[0] == ("import:1", "ok") and links[1] == ("import:2", "ok")
    assert links[2][0] == "import:2" and links[2][1].startswith("rejected")


def test_an_engine_that_goes_away_mid_import_is_a_clear_error(tmp_path):
    """A real HTTP server on 127.0.0.1 that answers /health like an engine and then drops
    every ingest connection: the import ends with one error line that says the file can be
    imported again, not a traceback."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Vanishing(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            self.close_connection = True  # no answer: the connection just closes

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Vanishing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "posts.jsonl"
        write(path, [row(i) for i in range(10)])
        config = load(config_for(tmp_path, port=server.server_address[1]))
        with pytest.raises(RuntimeError, match="stopped answering.*importing the file again"):
            importer.run(config, path)
        done = subprocess.run([sys.executable, "-m", "subtext", "--config",
                               str(config_for(tmp_path, port=server.server_address[1])),
                               "import", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 1
        assert "stopped answering" in done.stderr and "Traceback" not in done.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("via", ["engine", "store"])
def test_a_malformed_images_field_is_a_row_error_either_way(via, tmp_path, request, capsys):
    """`image` folds into `images` only when `images` is a list: a number had crashed the
    import through the store, a string had become a list of its letters."""
    config = (request.getfixturevalue("engine").config if via == "engine"
              else load(config_for(tmp_path, port=free_port())))
    path = tmp_path / "rows.jsonl"
    write(path, [row(0, image="https://example.com/a.png"), row(1, images=5, image="x.png"),
                 row(2, images="ab.png", image="x.png"), row(3)])
    report = importer.run(config, path)
    assert report.via.startswith("engine API" if via == "engine" else "store")
    assert (report.new, report.failed) == (2, 2)
    errors = capsys.readouterr().err
    assert "line 2: images" in errors and "line 3: images" in errors
