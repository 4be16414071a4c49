from pathlib import Path

import pytest

from subtext.config import DEMO_CONFIG, ConfigError, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subtext.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_is_the_default(monkeypatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    config = load()
    assert config.path == DEMO_CONFIG and config.is_demo
    assert {b.name for b in config.brands} == {"Nimbus", "Voltra"}
    assert [s.kind for s in config.sources] == ["replay"]
    assert config.data_dir == Path("./var")
    assert config.api_url == "http://127.0.0.1:8765" and config.dashboard_port == 8501


def test_data_dir_precedence(tmp_path, monkeypatch):
    path = write(tmp_path, '[storage]\ndata_dir = "from-file"\n')
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    assert load(path).data_dir == Path("from-file")
    monkeypatch.setenv("SUBTEXT_DATA_DIR", "from-env")
    assert load(path).data_dir == Path("from-env")
    assert load(path, data_dir="from-option").data_dir == Path("from-option")


@pytest.mark.parametrize("text, key, reason", [
    ("[api]\nport = 'eighty'\n", "api.port", "expected an integer"),
    ("[api]\nport = 70000\n", "api.port", "not a TCP port"),
    ("[api]\nport = true\n", "api.port", "expected an integer"),
    ("[apii]\nport = 1\n", "apii", "unknown key"),
    ("[[brands]]\nquery = 'x'\n", "brands[0].name", "is required"),
    ("[[brands]]\nname = 'A'\n[[brands]]\nname = 'A'\n", "brands", "used twice"),
    ("[[sources]]\nname = 's'\n", "sources[0].kind", "is required"),
    ("[[sources]]\nkind = 'replay'\nevery_seconds = 0\n", "sources[0].every_seconds",
     "must be positive"),
    ("[analysis]\nbackend = 'magic'\n", "analysis.backend", "unknown backend"),
    ("[analysis]\nembed = 'sometimes'\n", "analysis.embed", "expected one of always"),
    ("[analysis]\nsarcasm_prior = 1.5\n", "analysis.sarcasm_prior", "between 0 and 1"),
    ("[analysis]\nsarcasm_prior = 'high'\n", "analysis.sarcasm_prior", "between 0 and 1"),
    ("[analysis]\nauto_threshold = -0.1\n", "analysis.auto_threshold", "between 0 and 1"),
    ("[analysis]\nauto_threshold = true\n", "analysis.auto_threshold", "expected a number"),
    ("[analysis]\nbacklog_auto = -1\n", "analysis.backlog_auto", "must be 0 (off)"),
    ("[analysis]\nbacklog_auto = 'big'\n", "analysis.backlog_auto", "expected an integer"),
    ("[alerts]\nsarcasm_threshold = 1.5\n", "alerts.sarcasm_threshold", "between 0 and 1"),
    ("brands = 3\n", "brands", "expected an array"),
    ("this is = not toml [", "-", "not valid TOML"),
])
def test_bad_config_names_file_key_and_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")


def test_source_settings_are_kept_for_the_collector(tmp_path):
    config = load(write(tmp_path, "[[sources]]\nname = 'd'\nkind = 'replay'\n"
                                  "file = 'x.jsonl'\ntrickle = 5\n"))
    assert config.sources[0].settings == {"file": "x.jsonl", "trickle": 5}


def test_lite_embed_mode_reaches_the_analyzer(tmp_path):
    from analysis.base import load_analyzer

    config = load(write(tmp_path, "[analysis]\nembed = 'auto'\n"))
    assert config.analysis.embed == "auto"
    assert load_analyzer(config.analysis).embed == "auto"
    assert load_analyzer("lite").embed == "always"  # the default: the better dev figures


def test_sarcasm_prior_reaches_the_lite_analyzer(tmp_path):
    from analysis.base import load_analyzer

    config = load(write(tmp_path, "[analysis]\nsarcasm_prior = 0.6\n"))
    assert config.analysis.sarcasm_prior == 0.6
    assert load_analyzer(config.analysis).sarcasm_prior == 0.6


def test_auto_threshold_decides_which_posts_get_the_encoders(tmp_path):
    """0: every post is unsure enough (as embed = "always"); 1: none is (as "never")."""
    from analysis.base import Item, load_analyzer

    assert load(write(tmp_path, "[analysis]\n")).analysis.auto_threshold is None
    posts = [Item("I love this phone, best purchase ever"), Item("Oh great, it broke again")]
    for threshold, embedded in ((0, True), (1, False)):
        toml = f"[analysis]\nembed = 'auto'\nauto_threshold = {threshold}\n"
        text = load_analyzer(load(write(tmp_path, toml)).analysis)._text_model()
        assert text.auto_threshold == threshold
        scores = text.predict([p.text for p in posts], ["en", "en"], embed="auto")
        assert [s.embedded for s in scores] == [embedded, embedded]
