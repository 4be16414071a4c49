"""`python -m subtext alerts test [--channel NAME]`: a test alert to each channel, each
outcome printed. It needs no database, so it runs beside a running engine."""

from __future__ import annotations

import sys

from alerts import channels as built
from alerts.delivery import send_test
from subtext.config import Config, ConfigError


def test_channels(config: Config, only: str | None) -> int:
    settings = config.alerts.settings.channels
    if only is not None:
        settings = tuple(c for c in settings if c.name == only)
        if not settings:
            known = ", ".join(c.name for c in config.alerts.settings.channels) or "none"
            print(f"subtext: no channel named {only!r} (configured: {known})", file=sys.stderr)
            return 2
    if not settings:
        print("No channels configured: alerts go to the dashboard inbox only. Add "
              "[[alerts.channels]] to the config (see README).")
        return 0
    try:
        channels = built.build(config.alerts.settings.channels, only=only)
    except built.MissingSecret as exc:
        raise ConfigError(config.path or "-", exc.key, exc.reason) from None
    failed = 0
    for name, reason in send_test(channels).items():
        kind = channels[name].settings.kind
        if reason is None:
            print(f"{name} ({kind}): sent")
        else:
            failed += 1
            print(f"{name} ({kind}): failed: {reason}")
    return 1 if failed else 0
