"""[alerts] in the config: thresholds per brand, channels, and clear errors for bad keys."""

import pytest

from subtext.config import ConfigError, load

BRANDS = """
[[brands]]
name = "Voltra"
[[brands]]
name = "Nimbus"
"""


def write(tmp_path, text):
    path = tmp_path / "subtext.toml"
    path.write_text(BRANDS + text, encoding="utf-8")
    return path


def test_defaults_per_brand_overrides_and_channels(tmp_path):
    config = load(write(tmp_path, """
[alerts]
sensitivity = "fewer"
window_minutes = 30
[alerts.brands.Voltra]
sensitivity = "more"
min_posts = 3
[[alerts.channels]]
name = "pr"
kind = "webhook"
url = "https://hooks.example.com/x"
secret_env = "SUBTEXT_HOOK"
brands = ["Voltra"]
kinds = ["volume_spike"]
digest_minutes = 15
"""))
    settings = config.alerts.settings
    assert settings.rules_for("Nimbus").k == 3.0 and settings.rules_for("Nimbus").min_posts == 10
    voltra = settings.rules_for("Voltra")
    assert (voltra.k, voltra.min_posts, voltra.window_minutes) == (1.5, 3, 30)  # inherits 30
    [channel] = settings.channels
    assert (channel.name, channel.brands, channel.kinds, channel.digest_minutes) == (
        "pr", ("Voltra",), ("volume_spike",), 15)


@pytest.mark.parametrize(("text", "key", "reason"), [
    ('[alerts]\nsensitivity = "loud"', "alerts.sensitivity", "expected one of fewer"),
    ("[alerts]\nmin_posts = 0", "alerts.min_posts", "must be positive"),
    ("[alerts]\nbaseline_windows = 2", "alerts.baseline_windows", "at least 3"),
    ("[alerts]\nsurprise = 1", "alerts.surprise", "unknown key"),
    ("[alerts.brands.Acme]\nmin_posts = 3", "alerts.brands.Acme", "no brand named 'Acme'"),
    ('[[alerts.channels]]\nkind = "pager"', "alerts.channels[0].kind", "expected one of"),
    ('[[alerts.channels]]\nkind = "slack"', "alerts.channels[0].url_env", "is required"),
    ('[[alerts.channels]]\nkind = "webhook"\nurl = "https://x"\nsecret_env = "HOOK"',
     "alerts.channels[0].secret_env", "SUBTEXT_* variables"),
    ('[[alerts.channels]]\nkind = "slack"\nurl_env = "SUBTEXT_S"\nkinds = ["spam"]',
     "alerts.channels[0].kinds", "unknown alert kind 'spam'"),
    ('[[alerts.channels]]\nkind = "slack"\nurl_env = "SUBTEXT_S"\nbrands = ["Acme"]',
     "alerts.channels[0].brands", "no brand named 'Acme'"),
    ('[[alerts.channels]]\nkind = "email"\nhost = "smtp.x"\nsender = "a@x"',
     "alerts.channels[0].to", "is required"),
])
def test_bad_alert_settings_name_the_key(tmp_path, text, key, reason):
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path, text))
    assert raised.value.key == key and reason in raised.value.reason


def test_a_missing_channel_secret_fails_the_engine_start(tmp_path, monkeypatch):
    from subtext.engine import Engine

    monkeypatch.delenv("SUBTEXT_SLACK", raising=False)
    config = load(write(tmp_path, f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"
[[alerts.channels]]
kind = "slack"
url_env = "SUBTEXT_SLACK"
"""))
    with pytest.raises(ConfigError, match=r"alerts.channels\[0\].url_env.*SUBTEXT_SLACK is not"):
        Engine(config)
