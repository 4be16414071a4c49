"""The command line, run as a user runs it: `python -m subtext ...` in a subprocess."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from subtext.api import create_app
from subtext.cli import COMMANDS
from subtext.engine import Engine
from tests.conftest import png_bytes

ROOT = Path(__file__).resolve().parent.parent


def subtext(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "subtext", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_help_explains_every_command():
    out = subtext("--help")
    assert out.returncode == 0
    for name, help_text in COMMANDS.items():
        assert name in out.stdout and help_text.split(";")[0][:40] in " ".join(out.stdout.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"python -m subtext {name}" in readme, f"README does not document {name}"


def test_bad_config_exits_2_naming_file_key_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[api]\nport = 'x'\n")
    out = subtext("--config", str(bad), "analyze", "whatever.jsonl", "--out", "o.jsonl")
    assert out.returncode == 2
    assert str(bad) in out.stderr and "api.port" in out.stderr and "integer" in out.stderr


def test_batch_contract(tmp_path):
    (tmp_path / "meme.png").write_bytes(png_bytes())
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    lines = [
        json.dumps({"id": "1", "text": "Great, another update that breaks everything 🙄"}),
        json.dumps({"id": 2, "text": "这手机续航真厉害，让我三天没睡着", "lang": "zh",
                    "image": "meme.png"}),
        "{not json",
        json.dumps({"id": "4"}),
        json.dumps({"id": "5", "text": "Love it", "image": "corrupt.png"}),
        "",
        json.dumps({"id": "6", "text": "ok", "image": "missing.png", "extra": "ignored"}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out_path = tmp_path / "out.jsonl"
    out = subtext("analyze", str(source), "--out", str(out_path))
    assert out.returncode == 1, out.stderr  # some lines failed
    assert "analyzed 6/6 lines" in out.stderr and "2 failed" in out.stderr
    records = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["1", 2, None, "4", "5", "6"]
    assert records[0]["label"] == "sarcastic" and records[0]["sentiment"] == "negative"
    assert records[1]["label"] == "sarcastic"
    assert records[2]["error"].startswith("line 3:")
    assert records[3]["error"].startswith("line 4: text")
    for record in (records[0], records[1], records[4], records[5]):
        assert "error" not in record
        assert set(record) >= {"id", "label", "sentiment", "sarcasm", "sarcasm_score", "emotion",
                               "emotions", "confidence", "explanation", "ocr_text", "analyzer",
                               "latency_ms"}
    assert any("image rejected" in n for n in records[4]["evidence"]["notes"])
    assert any("image rejected" in n for n in records[5]["evidence"]["notes"])


def test_batch_all_good_exits_0(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Nimbus is nice"}) + "\n")
    out = subtext("analyze", str(source), "--out", str(tmp_path / "out.jsonl"))
    assert out.returncode == 0, out.stderr


def config_for(tmp_path: Path, port: int = 8765) -> Path:
    path = tmp_path / "subtext.toml"
    path.write_text(f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"
[api]
port = {port}
[[brands]]
name = "Nimbus"
query = "nimbus OR 云朵"
""", encoding="utf-8")
    return path


IMPORT_CSV = """id,text,created_at,author,images,likes
1,Nimbus 7 is lovely,2026-11-01T10:00:00Z,ann,pic.png,3
2,云朵手机太卡了,2026-11-02T10:00:00+08:00,小李,,0
3,Nimbus with a bad date,next tuesday,bob,,0
4,Nimbus with a broken picture,2026-11-03T10:00:00Z,cat,broken.png,0
5,Nimbus with negative likes,2026-11-03T10:00:00Z,dan,,-4
"""


def write_import(tmp_path: Path) -> Path:
    (tmp_path / "pic.png").write_bytes(png_bytes())
    (tmp_path / "broken.png").write_bytes(b"nope")
    path = tmp_path / "posts.csv"
    path.write_text(IMPORT_CSV, encoding="utf-8")
    return path


def stored_ids(tmp_path: Path) -> list[str]:
    from data.store import Store

    with Store.open(tmp_path / "var") as store:
        rows = store.reader().execute("SELECT id FROM posts ORDER BY id").fetchall()
    return [r[0] for r in rows]


def test_import_csv_reports_bad_rows_by_line_and_keeps_the_rest(tmp_path):
    out = subtext("--config", str(config_for(tmp_path, port=1)), "import",
                  str(write_import(tmp_path)))
    assert out.returncode == 1
    assert "line 4: created_at" in out.stderr and "line 6: likes" in out.stderr
    assert "imported 3 of 5 rows via store: 3 new, 0 updated, 2 failed" in out.stdout
    assert stored_ids(tmp_path) == ["import:1", "import:2", "import:4"]
    again = subtext("--config", str(config_for(tmp_path, port=1)), "import",
                    str(write_import(tmp_path)))
    assert "0 new, 3 updated" in again.stdout  # idempotent


def test_import_jsonl_with_bad_lines(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_text('{"id": "a", "text": "Nimbus"}\n[1, 2]\n{"id": "b", "text": "x", '
                    '"colour": 1}\n{"id": "c", "text": "Nimbus again"}\n', encoding="utf-8")
    out = subtext("--config", str(config_for(tmp_path, port=1)), "import", str(path))
    assert "line 2: not a JSON object" in out.stderr and "line 3: colour" in out.stderr
    assert stored_ids(tmp_path) == ["import:a", "import:c"]


def test_import_goes_through_a_running_engine(tmp_path, unused_port):
    config_path = config_for(tmp_path, port=unused_port)
    from subtext.config import load

    engine = Engine(load(config_path))
    server = uvicorn.Server(uvicorn.Config(create_app(engine, schedule=False), host="127.0.0.1",
                                           port=unused_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        out = subtext("--config", str(config_path), "import", str(write_import(tmp_path)))
        assert f"via engine API at http://127.0.0.1:{unused_port}" in out.stdout, out.stderr
        assert "3 new" in out.stdout
        ids = [r[0] for r in engine.store.reader().execute(
            "SELECT id FROM posts ORDER BY id").fetchall()]
        assert ids == ["import:1", "import:2", "import:4"]
        statuses = sorted(r[0] for r in engine.store.reader().execute(
            "SELECT status FROM images").fetchall())
        assert statuses == ["ok", "rejected: not an image"]  # the local file went inline
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.stop()


def test_collect_once(config_file, tmp_path):
    out = subtext("--config", str(config_file), "collect", "--once")
    assert out.returncode == 0, out.stderr
    assert "replay × Nimbus: 2 fetched, 2 new" in out.stdout
    assert "replay × Voltra: 3 fetched, 2 new" in out.stdout


def test_missing_input_file(tmp_path):
    out = subtext("analyze", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert out.returncode == 2 and "no such file" in out.stderr


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
