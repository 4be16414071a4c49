"""Alerting end to end: a post ingested through the API becomes exactly one signed webhook
delivery; the workflow API; a kill -9 of the engine between "alert created" and "delivered"
delivers once after the restart."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine
from tests.fixtures.servers import Reply, Server
from tests.test_alert_delivery import SECRET, verify

ROOT = Path(__file__).resolve().parent.parent
SARCASTIC = {"id": "c1", "text": "伏特拉真厉害，让我三天没睡着 🙂", "lang": "zh", "likes": 40}
SINCERE = {"id": "n1", "text": "Nimbus 7 camera is great, happy with it", "lang": "en"}


@pytest.fixture
def receiver():
    running = Server()
    running.route("/hook", Reply(200, "ok"))
    yield running
    running.close()


def write_config(tmp_path: Path, hook: str, port: int = 8765, fast: bool = False) -> Path:
    path = tmp_path / "subtext.toml"
    path.write_text(f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"
[api]
port = {port}
[[brands]]
name = "Nimbus"
query = "nimbus OR 云朵"
[[brands]]
name = "Voltra"
query = "voltra OR 伏特拉"
[analysis]
every_seconds = 1
[alerts]
every_seconds = 1
deliver_every_seconds = {3600 if fast else 5}
[[alerts.channels]]
name = "pr-hook"
kind = "webhook"
url = "{hook}"
secret_env = "SUBTEXT_HOOK_SECRET"
brands = ["Voltra"]
""", encoding="utf-8")
    return path


@pytest.fixture
def wired(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("SUBTEXT_HOOK_SECRET", SECRET)
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    engine = Engine(load(write_config(tmp_path, f"{receiver.url}/hook")))
    with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
        yield engine, client
    engine.stop()


def cycle(engine):
    engine.analyze_pending()
    engine.evaluate_alerts()
    engine.deliver_alerts()


def test_a_disguised_criticism_post_yields_exactly_one_webhook_delivery(wired, receiver):
    engine, client = wired
    assert client.post("/v1/ingest", json={"posts": [SARCASTIC, SINCERE]}).status_code == 200
    cycle(engine)
    cycle(engine)  # again, and after a re-ingest of the same post: still one
    client.post("/v1/ingest", json={"posts": [SARCASTIC]})
    cycle(engine)
    [hit] = receiver.hits("/hook")
    body = verify(hit)
    [alert] = body["alerts"]
    assert (alert["kind"], alert["brand"], alert["post_id"]) == ("sarcasm", "Voltra",
                                                                "import:c1")
    listed = client.get("/v1/alerts").json()["items"]
    assert [a["post_id"] for a in listed] == ["import:c1"]
    assert listed[0]["deliveries"][0]["channel"] == "pr-hook"
    assert listed[0]["deliveries"][0]["status"] == "sent"
    assert listed[0]["route"] == "alert" and listed[0]["route_rule"] == "disguised_criticism"
    route = client.get("/v1/posts/import:n1/route").json()
    assert route["route"] in {"pass", "review", "archive"} and route["rule"]
    assert client.get("/v1/posts/import:nope/route").status_code == 404
    counts = {(r["route"], r["rule"]): r["count"] for r in client.get("/v1/routes").json()[
        "items"]}
    assert counts[("alert", "disguised_criticism")] == 1 and sum(counts.values()) == 2
    assert SECRET not in json.dumps(client.get(f"/v1/alerts/{listed[0]['id']}").json())


def test_workflow_ack_resolve_and_false_alarm_feedback(wired):
    engine, client = wired
    client.post("/v1/ingest", json={"posts": [SARCASTIC]})
    cycle(engine)
    [alert] = client.get("/v1/alerts").json()["items"]
    url = f"/v1/alerts/{alert['id']}"
    ack = client.post(f"{url}/ack", json={"by": "ann", "note": "looking"}).json()
    assert ack["status"] == "acknowledged" and ack["acknowledged"] is True
    assert client.post(f"{url}/ack", json={"by": "bob"}).json()["changed"] is False
    assert client.get("/v1/alerts").json()["total"] == 0
    assert client.get("/v1/alerts", params={"status": "acknowledged"}).json()["total"] == 1
    done = client.post(f"{url}/false-alarm", json={"by": "ann", "note": "a sincere fan"})
    assert done.status_code == 200 and done.json()["status"] == "false_alarm"
    feedback = engine.store.reader().execute(
        "SELECT post_id, label, sarcasm, reviewer, note FROM feedback").fetchall()
    assert feedback == [("import:c1", "positive", False, "ann",
                         f"false alarm on alert {alert['id']}: a sincere fan")]
    again = client.post(f"{url}/resolve", json={"by": "bob"})
    assert again.status_code == 409 and "false alarm already" in again.json()["detail"]
    detail = client.get(url).json()
    assert [(e["action"], e["by"]) for e in detail["events"]] == [("acknowledged", "ann"),
                                                                   ("false_alarm", "ann")]
    assert detail["status_by"] == "ann" and detail["note"] == "a sincere fan"
    assert client.post("/v1/alerts/999/resolve").status_code == 404
    assert client.post(f"{url}/resolve", json={"who": "x"}).status_code == 422
    assert client.get("/v1/alerts", params={"kind": "bogus"}).status_code == 422


def test_resolve_from_open(wired):
    engine, client = wired
    client.post("/v1/ingest", json={"posts": [SARCASTIC]})
    cycle(engine)
    [alert] = client.get("/v1/alerts").json()["items"]
    done = client.post(f"/v1/alerts/{alert['id']}/resolve", json={"by": "cy"}).json()
    assert done["status"] == "resolved" and done["feedback_id"] is None
    resolved = client.get("/v1/alerts", params={"status": "resolved"}).json()["items"]
    assert resolved[0]["acknowledged_by"] == "cy"  # resolving counts as seen
    assert engine.store.reader().execute("SELECT count(*) FROM feedback").fetchone()[0] == 0


# -- kill -9 between "alert created" and "delivered" -------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_engine(config: Path, log) -> subprocess.Popen:
    env = {**os.environ, "SUBTEXT_HOOK_SECRET": SECRET, "ORT_DISABLE_TELEMETRY": "1"}
    env.pop("SUBTEXT_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "subtext", "engine", "--config", str(config)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(check, what: str, process: subprocess.Popen, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the engine exited while waiting for {what}"
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_between_created_and_delivered_delivers_once_after_restart(tmp_path, receiver):
    port = free_port()
    # The delivery job runs a second after start, then not for an hour: the alert created
    # later in the first run waits, undelivered, when the engine is killed.
    config = write_config(tmp_path, f"{receiver.url}/hook", port=port, fast=True)
    api = f"http://127.0.0.1:{port}"
    with (tmp_path / "engine.log").open("ab") as log:
        _kill_then_restart(config, api, log, receiver)
    [hit] = receiver.hits("/hook")
    assert verify(hit)["alerts"][0]["post_id"] == "import:c1"


def _kill_then_restart(config: Path, api: str, log, receiver: Server) -> None:
    first = start_engine(config, log)
    try:
        wait_for(lambda: httpx.get(f"{api}/health").is_success, "the API", first)
        httpx.post(f"{api}/v1/ingest", json={"posts": [SARCASTIC]}).raise_for_status()
        wait_for(lambda: httpx.get(f"{api}/v1/alerts").json()["total"] == 1, "the alert",
                 first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert receiver.hits("/hook") == []  # created, not delivered
    for _ in range(2):  # a restart delivers it; a second restart does not send it again
        again = start_engine(config, log)
        try:
            wait_for(lambda: httpx.get(f"{api}/health").is_success, "the API", again)
            wait_for(lambda: receiver.hits("/hook"), "the delivery", again, timeout=30)
            time.sleep(2)  # the delivery job's first run is 1 s after start
        finally:
            again.terminate()
            again.wait(20)
