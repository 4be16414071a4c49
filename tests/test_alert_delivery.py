"""Delivery to real receivers on 127.0.0.1: HTTP servers for the webhooks (the HMAC and the
Slack body checked), aiosmtpd with STARTTLS and login for e-mail, Apprise's json:// to an
HTTP server; retries, give-ups, timeouts, cooldown, digest and filters, over a real DuckDB."""

import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import time
from datetime import timedelta

import pytest

from alerts import channels as built
from alerts import delivery
from alerts.settings import ChannelSettings
from collectors.post import utcnow
from data import alerts as db
from subtext.cli import main
from tests.fixtures.servers import Reply, Server

SECRET = "s3cret-hmac-key"
SLACK_TOKEN = "T000/B000/XXXXsecretXXXX"


@pytest.fixture
def receiver():
    running = Server()
    yield running
    running.close()


def alert(key="post:x:1", kind="sarcasm", brand="Voltra", severity="medium"):
    return {"key": key, "kind": kind, "post_id": None, "brand": brand, "score": 0.7,
            "severity": severity, "message": f"Disguised criticism of {brand}: “Love it 🙄”",
            "details": {"brands": [brand], "reach": 12.0, "links": ["https://x.test/1"]}}


def create(store, channels, *alerts):
    ev = db.Evaluation(routes=[], new_alerts=list(alerts), updates=[], ended=[])
    return db.save_evaluation(store, ev, delivery.router(channels))


def deliveries(store):
    return [dict(zip(("alert_id", "channel", "status", "attempts", "last_error"), row,
                     strict=True))
            for row in store.reader().execute(
                "SELECT alert_id, channel, status, attempts, last_error FROM deliveries "
                "ORDER BY id").fetchall()]


def webhook(url, **kw):
    kw.setdefault("timeout_seconds", 2)
    return ChannelSettings(name=kw.pop("name", "hook"), kind="webhook", url=url,
                           secret_env="SUBTEXT_HOOK_SECRET", **kw)


def make(*settings, env=None):
    return built.build(settings, env={"SUBTEXT_HOOK_SECRET": SECRET,
                                      "SUBTEXT_SLACK_URL": "", **(env or {})})


def verify(request) -> dict:
    stamp = request.headers["x-subtext-timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + request.body,
                        hashlib.sha256).hexdigest()
    assert request.headers["x-subtext-signature"] == f"sha256={expected}"
    return json.loads(request.body)


def test_signed_webhook_and_slack_body(store, receiver):
    receiver.route("/hook", Reply(200, "ok"))
    receiver.route(f"/services/{SLACK_TOKEN}", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/hook"),
                    ChannelSettings(name="slack", kind="slack", url_env="SUBTEXT_SLACK_URL"),
                    env={"SUBTEXT_SLACK_URL": f"{receiver.url}/services/{SLACK_TOKEN}"})
    [alert_id] = create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"sent": 2}
    [hit] = receiver.hits("/hook")
    body = verify(hit)
    assert body["type"] == "alert" and body["alerts"][0]["id"] == alert_id
    assert body["alerts"][0]["details"]["links"] == ["https://x.test/1"]
    assert hit.headers["x-subtext-delivery"].isdigit()
    [slack] = receiver.hits(f"/services/{SLACK_TOKEN}")
    sent = json.loads(slack.body)
    assert sent["text"] == "[medium] Disguised criticism · Voltra"
    assert sent["blocks"][0]["type"] == "section"
    assert "Love it 🙄" in sent["blocks"][0]["text"]["text"]
    assert [d["status"] for d in deliveries(store)] == ["sent", "sent"]
    assert delivery.deliver_due(store, channels) == {}  # nothing is sent twice


def test_a_tampered_body_fails_verification(store, receiver):
    receiver.route("/hook", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/hook"))
    create(store, channels, alert())
    delivery.deliver_due(store, channels)
    [hit] = receiver.hits("/hook")
    hit.body = hit.body.replace(b"Voltra", b"Nimbus")
    with pytest.raises(AssertionError):
        verify(hit)


def test_fails_twice_then_recovers_is_delivered_exactly_once(store, receiver):
    receiver.route("/hook", [Reply(500, "boom"), Reply(503, "busy"), Reply(200, "ok")])
    channels = make(webhook(f"{receiver.url}/hook", retry_seconds=10))
    create(store, channels, alert())
    t0 = utcnow()
    assert delivery.deliver_due(store, channels, t0) == {"failed": 1}
    assert deliveries(store)[0]["last_error"] == "HTTP 500: boom"
    assert delivery.deliver_due(store, channels, t0 + timedelta(seconds=5)) == {}  # backing off
    assert delivery.deliver_due(store, channels, t0 + timedelta(seconds=11)) == {"failed": 1}
    # the second wait is doubled: 20 s
    assert delivery.deliver_due(store, channels, t0 + timedelta(seconds=25)) == {}
    assert delivery.deliver_due(store, channels, t0 + timedelta(seconds=32)) == {"sent": 1}
    assert delivery.deliver_due(store, channels, t0 + timedelta(hours=1)) == {}
    assert len(receiver.hits("/hook")) == 3
    [row] = deliveries(store)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    ids = {h.headers["x-subtext-delivery"] for h in receiver.hits("/hook")}
    assert len(ids) == 1  # the same delivery id on each retry: a receiver can de-duplicate


def test_gives_up_after_max_attempts(store, receiver):
    receiver.route("/hook", Reply(500, "down"))
    channels = make(webhook(f"{receiver.url}/hook", retry_seconds=0, max_attempts=2))
    create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"failed": 1}
    assert delivery.deliver_due(store, channels) == {"gave_up": 1}
    assert delivery.deliver_due(store, channels) == {}
    [row] = deliveries(store)
    assert row["status"] == "gave_up" and row["last_error"] == "after 2 attempts: HTTP 500: down"


def test_a_hanging_channel_times_out_and_the_others_are_delivered(store, receiver):
    receiver.route("/slow", Reply(200, "late", delay=5))
    receiver.route("/hook", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/slow", name="slow", timeout_seconds=0.5),
                    webhook(f"{receiver.url}/hook", name="fast"))
    create(store, channels, alert())
    start = time.monotonic()
    assert delivery.deliver_due(store, channels) == {"failed": 1, "sent": 1}
    assert time.monotonic() - start < 3
    by_channel = {d["channel"]: d for d in deliveries(store)}
    assert by_channel["fast"]["status"] == "sent"
    assert by_channel["slow"]["status"] == "failed"
    assert by_channel["slow"]["last_error"] == "timed out after 0.5 s"


def test_brands_kinds_and_severity_choose_the_channels(store, receiver):
    receiver.route("/hook", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/hook", name="voltra", brands=("Voltra",)),
                    webhook(f"{receiver.url}/hook", name="spikes", kinds=("volume_spike",)),
                    webhook(f"{receiver.url}/hook", name="urgent", min_severity="high"))
    create(store, channels, alert(brand="Nimbus", key="a"), alert(key="b"),
           alert(key="c", kind="volume_spike", brand="Nimbus", severity="high"))
    got = {(d["alert_id"], d["channel"]) for d in deliveries(store)}
    assert got == {(2, "voltra"), (3, "spikes"), (3, "urgent")}


def test_cooldown_suppresses_a_second_alert_about_the_same_brand_and_kind(store, receiver):
    receiver.route("/hook", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/hook", cooldown_minutes=30))
    create(store, channels, alert(key="a"), alert(key="b"), alert(key="c", brand="Nimbus"))
    assert delivery.deliver_due(store, channels) == {"sent": 2, "suppressed": 1}
    rows = deliveries(store)
    assert [r["status"] for r in rows] == ["sent", "suppressed", "sent"]
    assert rows[1]["last_error"].startswith("cooldown: a sarcasm alert about Voltra went out")


def test_digest_sends_one_message_per_period(store, receiver):
    receiver.route("/hook", Reply(200, "ok"))
    channels = make(webhook(f"{receiver.url}/hook", digest_minutes=10))
    create(store, channels, alert(key="a"), alert(key="b"), alert(key="c"))
    t0 = utcnow()
    assert delivery.deliver_due(store, channels, t0) == {"sent": 3}
    [hit] = receiver.hits("/hook")
    body = verify(hit)
    assert body["type"] == "digest" and len(body["alerts"]) == 3
    create(store, channels, alert(key="d"))
    assert delivery.deliver_due(store, channels, t0 + timedelta(minutes=5)) == {}  # held
    assert delivery.deliver_due(store, channels, t0 + timedelta(minutes=11)) == {"sent": 1}
    assert len(receiver.hits("/hook")) == 2


def test_secrets_never_appear_in_errors(store):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{SLACK_TOKEN}"
    channels = make(ChannelSettings(name="slack", kind="slack", url_env="SUBTEXT_SLACK_URL",
                                    timeout_seconds=1), env={"SUBTEXT_SLACK_URL": url})
    create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"failed": 1}
    error = deliveries(store)[0]["last_error"]
    assert error == "ConnectError: cannot reach the receiver" and SLACK_TOKEN not in error
    redacted = channels["slack"].redact(f"boom at {url}")
    assert SLACK_TOKEN not in redacted and "***" in redacted


def test_a_missing_secret_names_the_key():
    with pytest.raises(built.MissingSecret, match=r"alerts.channels\[0\].secret_env: "
                                                  "environment variable SUBTEXT_HOOK_SECRET"):
        built.build((webhook("http://127.0.0.1:9/x"),), env={})


def test_apprise_json_channel(store, receiver):
    receiver.route("/notify", Reply(200, "ok"))
    host = receiver.url.removeprefix("http://")
    channels = make(ChannelSettings(name="chat", kind="apprise", url_env="SUBTEXT_APPRISE_URL",
                                    timeout_seconds=2),
                    env={"SUBTEXT_APPRISE_URL": f"json://{host}/notify"})
    create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"sent": 1}, deliveries(store)[0]["last_error"]
    [hit] = receiver.hits("/notify")
    sent = json.loads(hit.body)
    assert sent["title"] == "[medium] Disguised criticism · Voltra"
    assert "Love it 🙄" in sent["message"]


# -- e-mail: aiosmtpd with STARTTLS required and a login ---------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True)
    return key, cert


@pytest.fixture
def smtp(certificate):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((session.authenticated, envelope))
            return "250 OK"

    def login(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"pr-bot" and auth_data.password == b"mail-pass"
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[1]), str(certificate[0]))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True, authenticator=login,
                            auth_exclude_mechanism=["LOGIN"])  # smtplib then uses PLAIN
    controller.start()
    yield inbox, port, str(certificate[1])
    controller.stop()


def email_channel(port, ca, **kw):
    return ChannelSettings(name="mail", kind="email", host="127.0.0.1", port=port,
                           sender="subtext@x.test", to=("pr@x.test",), ca_file=ca,
                           username_env="SUBTEXT_SMTP_USER", password_env="SUBTEXT_SMTP_PASS",
                           timeout_seconds=5, **kw)


def test_email_over_starttls_with_login(store, smtp):
    inbox, port, ca = smtp
    channels = make(email_channel(port, ca),
                    env={"SUBTEXT_SMTP_USER": "pr-bot", "SUBTEXT_SMTP_PASS": "mail-pass"})
    create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"sent": 1}
    [(authenticated, envelope)] = inbox.messages
    assert authenticated and envelope.rcpt_tos == ["pr@x.test"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "[medium] Disguised criticism · Voltra"
    assert "Disguised criticism of Voltra: “Love it 🙄”" in message.get_content()


def test_email_wrong_password_is_a_clear_failure(store, smtp):
    inbox, port, ca = smtp
    channels = make(email_channel(port, ca),
                    env={"SUBTEXT_SMTP_USER": "pr-bot", "SUBTEXT_SMTP_PASS": "wrong"})
    create(store, channels, alert())
    assert delivery.deliver_due(store, channels) == {"failed": 1}
    error = deliveries(store)[0]["last_error"]
    assert error == "SMTP login refused (535)" and "wrong" not in error
    assert inbox.messages == []


# -- `python -m subtext alerts test` -----------------------------------------------------------

def test_alerts_test_command_prints_each_channel(tmp_path, receiver, monkeypatch, capsys):
    receiver.route("/hook", Reply(200, "ok"))
    receiver.route("/down", Reply(500, "nope"))
    monkeypatch.setenv("SUBTEXT_HOOK_SECRET", SECRET)
    config = tmp_path / "subtext.toml"
    config.write_text(f"""
[[brands]]
name = "Voltra"
[[alerts.channels]]
name = "ops"
kind = "webhook"
url = "{receiver.url}/hook"
secret_env = "SUBTEXT_HOOK_SECRET"
[[alerts.channels]]
name = "broken"
kind = "webhook"
url = "{receiver.url}/down"
secret_env = "SUBTEXT_HOOK_SECRET"
""", encoding="utf-8")
    assert main(["alerts", "test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "ops (webhook): sent" in out and "broken (webhook): failed: HTTP 500: nope" in out
    assert verify(receiver.hits("/hook")[0])["type"] == "test"
    assert main(["alerts", "test", "--channel", "ops", "--config", str(config)]) == 0
    assert main(["alerts", "test", "--channel", "nope", "--config", str(config)]) == 2
    monkeypatch.delenv("SUBTEXT_HOOK_SECRET")
    assert main(["alerts", "test", "--config", str(config)]) == 2
    assert "SUBTEXT_HOOK_SECRET is not set" in capsys.readouterr().err
