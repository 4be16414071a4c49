"""Shared fixtures: a real DuckDB store in a temp dir, a small config, an engine and its API."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from data.store import Store
from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine
from tests.fixtures.servers import Server

REPLAY_ROWS = [
    {"id": "r1", "text": "Love my Nimbus 7, the camera is amazing", "lang": "en",
     "author": "ann", "days_ago": 3.5, "image": "pic.png", "likes": 5, "reposts": 1,
     "replies": 0},
    {"id": "r2", "text": "Voltra X2 battery drains in two hours, terrible", "lang": "en",
     "author": "bob", "days_ago": 2.25, "image": None, "likes": 1, "reposts": 0, "replies": 2},
    {"id": "r3", "text": "伏特拉真厉害，让我三天没睡着 🙂", "lang": "zh", "author": "小王",
     "days_ago": 1.5, "image": "pic.png", "likes": 40, "reposts": 9, "replies": 3},
    {"id": "r4", "text": "Nimbus or Voltra? Comparing both this weekend", "lang": "en",
     "author": "cat", "days_ago": 0.5, "image": "broken.png", "likes": 0, "reposts": 0,
     "replies": 0},
]


def png_bytes(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    folder = tmp_path / "replay"
    folder.mkdir()
    (folder / "pic.png").write_bytes(png_bytes())
    (folder / "broken.png").write_bytes(b"this is not a png")
    path = folder / "posts.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in REPLAY_ROWS) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path, replay_file: Path) -> Path:
    path = tmp_path / "subtext.toml"
    path.write_text(f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"

[[brands]]
name = "Nimbus"
query = "nimbus OR 云朵"

[[brands]]
name = "Voltra"
query = "voltra OR 伏特拉"

[[sources]]
name = "replay"
kind = "replay"
every_seconds = 60
file = "{replay_file.as_posix()}"
trickle = 2
""", encoding="utf-8")
    return path


@pytest.fixture
def config(config_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    return load(config_file)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store") as opened:
        yield opened


@pytest.fixture
def engine(config):
    built = Engine(config)
    yield built
    built.stop()


@pytest.fixture
def client(engine):
    """The real app over a real engine; the scheduler stays off so tests drive the jobs."""
    # A loopback Host: the API refuses Host names off its allow-list (DNS rebinding).
    with TestClient(create_app(engine, schedule=False),
                    base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def loaded(engine, client):
    """An engine that has collected the replay posts once, analyzed them and routed alerts."""
    engine.collect_all()
    engine.analyze_pending()
    engine.evaluate_alerts()
    return client


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 serving recorded source responses."""
    running = Server()
    yield running
    running.close()


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def offline(monkeypatch):
    """Any socket opened under this fixture fails the test: models must load offline."""
    def refuse(*args, **kwargs):
        raise NetworkUsed("a model tried to open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module of tiny-model tests: with tiny matrices, thread
    hand-offs cost more than the maths on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
