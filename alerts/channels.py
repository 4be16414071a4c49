"""Delivery channels: a Slack-compatible webhook, a JSON webhook signed with HMAC-SHA256,
e-mail over SMTP (STARTTLS), and the chat apps Apprise covers (WeCom, DingTalk, Feishu,
Telegram, Teams, ntfy...). Each sends one message (one alert, or a digest of several) within
its timeout, and raises SendError with a reason that never holds a secret.

Verifying the webhook: X-Subtext-Signature is "sha256=" + hex HMAC-SHA256, keyed with the
secret, of "<X-Subtext-Timestamp>.<raw body>". X-Subtext-Delivery names the delivery ids, the
same on a retry, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import httpx

from alerts import format as fmt
from alerts.settings import ChannelSettings

log = logging.getLogger("subtext.alerts")


class SendError(Exception):
    """A failed send; str() is the reason, safe to log and store."""


class Channel:
    def __init__(self, settings: ChannelSettings, secrets: dict[str, str]):
        self.settings = settings
        self.name = settings.name
        self._secrets = secrets

    def send(self, alerts: list[dict], delivery_ids: list[int], test: bool = False) -> None:
        try:
            self._send(alerts, delivery_ids, test)
        except SendError as exc:
            raise SendError(self.redact(str(exc))) from None
        except Exception as exc:  # a library's own error: keep its kind, hide any secret
            raise SendError(self.redact(f"{type(exc).__name__}: {exc}")) from None

    def redact(self, text: str) -> str:
        for secret in self._secrets.values():
            if secret:
                text = text.replace(secret, "***")
        return text

    def _send(self, alerts: list[dict], delivery_ids: list[int], test: bool) -> None:
        raise NotImplementedError


def _post(url: str, timeout: float, **kwargs) -> None:
    try:
        response = httpx.post(url, timeout=timeout, **kwargs)
    except httpx.TimeoutException:
        raise SendError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:  # its message may hold the URL: give its kind only
        raise SendError(f"{type(exc).__name__}: cannot reach the receiver") from None
    if not response.is_success:
        raise SendError(f"HTTP {response.status_code}: {response.text[:200]}")


class Slack(Channel):
    def _send(self, alerts: list[dict], delivery_ids: list[int], test: bool) -> None:
        _post(self._secrets["url"], self.settings.timeout_seconds, json=fmt.slack(alerts))


class Webhook(Channel):
    def _send(self, alerts: list[dict], delivery_ids: list[int], test: bool) -> None:
        body = json.dumps(fmt.payload(alerts, "test" if test else "alert"), ensure_ascii=False,
                          default=str).encode()
        stamp = str(int(time.time()))
        _post(self._secrets.get("url") or self.settings.url, self.settings.timeout_seconds,
              content=body, headers={
                  "Content-Type": "application/json",
                  "X-Subtext-Timestamp": stamp,
                  "X-Subtext-Signature": "sha256=" + sign(self._secrets["secret"], stamp, body),
                  "X-Subtext-Delivery": ",".join(str(i) for i in delivery_ids) or "test"})


def sign(secret: str, stamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Email(Channel):
    def _send(self, alerts: list[dict], delivery_ids: list[int], test: bool) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = fmt.subject(alerts)
        message["From"] = s.sender
        message["To"] = ", ".join(s.to)
        message.set_content(fmt.text(alerts))
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file or None))
                if self._secrets.get("username"):
                    smtp.login(self._secrets["username"], self._secrets.get("password", ""))
                smtp.send_message(message)
        except TimeoutError:
            raise SendError(f"timed out after {s.timeout_seconds:g} s") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPException as exc:
            raise SendError(f"SMTP: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise SendError(f"cannot reach {s.host}:{s.port}: {exc.strerror or exc}") from None


class Apprise(Channel):
    """Any service Apprise knows, from its URL (held in the environment: it carries tokens)."""

    def _send(self, alerts: list[dict], delivery_ids: list[int], test: bool) -> None:
        import apprise

        url = self._secrets["url"]
        timeout = f"{self.settings.timeout_seconds:g}"
        url += ("&" if "?" in url else "?") + f"cto={timeout}&rto={timeout}"
        client = apprise.Apprise()
        if not client.add(url):
            raise SendError("Apprise does not recognise the URL in " + self.settings.url_env)
        logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs URLs with tokens
        if not client.notify(title=fmt.subject(alerts), body=fmt.text(alerts)):
            raise SendError("Apprise could not deliver the notification")


KINDS = {"slack": Slack, "webhook": Webhook, "email": Email, "apprise": Apprise}
SECRET_FIELDS = {"url": "url_env", "secret": "secret_env", "username": "username_env",
                 "password": "password_env"}


class MissingSecret(ValueError):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


def build(channels: tuple[ChannelSettings, ...], env: dict | None = None,
          only: str | None = None) -> dict[str, Channel]:
    """A channel per setting (or only the one named), with its secrets read from the
    environment; a missing one is a MissingSecret naming the key."""
    env = os.environ if env is None else env
    out = {}
    for i, c in enumerate(channels):
        if only is not None and c.name != only:
            continue
        secrets = {}
        for name, field in SECRET_FIELDS.items():
            variable = getattr(c, field)
            if variable:
                if not env.get(variable):
                    raise MissingSecret(f"alerts.channels[{i}].{field}",
                                        f"environment variable {variable} is not set")
                secrets[name] = env[variable]
        if c.ca_file and not Path(c.ca_file).is_file():
            raise MissingSecret(f"alerts.channels[{i}].ca_file", f"no such file: {c.ca_file}")
        out[c.name] = KINDS[c.kind](c, secrets)
    return out
