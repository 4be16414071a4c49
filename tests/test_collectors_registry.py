"""Building sources from the config: settings checked, secrets from the environment only, and
the README's Sources section kept true (every kind documented, every example valid)."""

import re
from pathlib import Path

import pytest

from collectors.registry import KINDS, SettingError, build_collector, secret_variable
from subtext.config import ConfigError, load
from subtext.engine import build_collectors

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Sources", 1)[1].split("\n## ", 1)[0]
BRANDS = '[[brands]]\nname = "Nimbus"\nquery = "nimbus OR 云朵"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subtext.toml"
    path.write_text(BRANDS + text, encoding="utf-8")
    return path


def test_every_kind_is_documented():
    for kind in KINDS:
        assert f"| `{kind}` |" in SECTION, f"kind {kind!r} is missing from README's Sources"


def test_the_readme_examples_build(tmp_path, monkeypatch):
    (example,) = re.findall(r"```toml\n(.*?)```", SECTION, re.S)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drop").mkdir()
    for name, value in {"SUBTEXT_BLUESKY_APP_PASSWORD": "x", "SUBTEXT_REDDIT_CLIENT_ID": "x",
                        "SUBTEXT_REDDIT_CLIENT_SECRET": "x", "SUBTEXT_YOUTUBE_API_KEY": "x",
                        "SUBTEXT_MASTODON_TOKEN": "x"}.items():
        monkeypatch.setenv(name, value)
    config = load(write(tmp_path, example))
    collectors = build_collectors(config)
    try:
        assert {s.kind for s in config.sources} == set(KINDS) - {"replay"}
    finally:
        for collector in collectors.values():
            getattr(collector, "close", lambda: None)()


@pytest.mark.parametrize("table, key, reason", [
    ('kind = "hackernews"\nper_minut = 5\n', "sources[0].per_minut", "unknown setting"),
    ('kind = "hackernews"\nper_minute = 0\n', "sources[0].per_minute", "positive"),
    ('kind = "hackernews"\nretries = "many"\n', "sources[0].retries", "integer"),
    ('kind = "mastodon"\n', "sources[0].instance", "instance"),
    ('kind = "mastodon"\ninstance = "mastodon.social"\n', "sources[0].instance", "http(s) URL"),
    ('kind = "mastodon"\ninstance = "https://m.example"\ntoken = "abc"\n', "sources[0].token",
     "SUBTEXT_S_TOKEN"),
    ('kind = "reddit"\nusername = "me"\n', "sources[0]", "SUBTEXT_S_CLIENT_ID"),
    ('kind = "rss"\nfeeds = []\n', "sources[0].feeds", "at least one"),
    ('kind = "telegram"\n', "sources[0].kind", "unknown source kind"),
])
def test_bad_source_settings_name_the_key(tmp_path, monkeypatch, table, key, reason):
    monkeypatch.delenv("SUBTEXT_S_CLIENT_ID", raising=False)
    config = load(write(tmp_path, f'[[sources]]\nname = "s"\n{table}'))
    with pytest.raises(ConfigError) as error:
        build_collectors(config)
    assert (error.value.key, error.value.file) == (key, str(config.path))
    assert reason in error.value.reason


def test_a_bad_brand_query_fails_the_start_with_its_position(tmp_path):
    path = tmp_path / "subtext.toml"
    path.write_text('[[brands]]\nname = "Nimbus"\nquery = \'nimbus OR "night mode\'\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load(path)
    assert error.value.key == "brands[0].query"
    assert "unterminated quote at position 11" in error.value.reason


def test_secret_variables_are_named_after_the_source():
    assert secret_variable("reddit-main", "client_secret") == "SUBTEXT_REDDIT_MAIN_CLIENT_SECRET"
    collector = build_collector("yt", "youtube", {"videos": ["v"]},
                                env={"SUBTEXT_YT_API_KEY": "k"})
    assert collector.api_key == "k"
    collector.close()
    with pytest.raises(SettingError, match="SUBTEXT_YT_API_KEY"):
        build_collector("yt", "youtube", {"videos": ["v"]}, env={})
